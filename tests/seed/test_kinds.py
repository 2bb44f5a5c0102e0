"""Entity kinds from list and class-noun cues (pipeline.seed.cues, pipeline.seed.lists)."""

from __future__ import annotations

from pipeline.seed.entities import EntityExtractor


def _kinds(background, *sentences: str) -> dict[str, str]:
    return {
        e.name: e.kind for e in EntityExtractor(background, language="en").extract(list(sentences))
    }


def test_a_class_noun_before_including_and_a_small_place_between_two_companies(background):
    kinds = _kinds(
        background,
        "Several airlines, including Delta, United, and American Airlines, grounded flights.",
    )
    assert kinds == {"Delta": "org", "United": "org", "American Airlines": "org"}, kinds


def test_a_big_city_listed_between_companies_stays_a_place(background):
    kinds = _kinds(background, "Talks between Acme Corp, Paris and Zorb Inc ended.")
    assert kinds["Paris"] == "place", kinds


def test_countries_listed_together_stay_places(background):
    kinds = _kinds(background, "Leaders from the United States, Canada and Mexico met.")
    assert set(kinds.values()) == {"place"}, kinds


def test_a_team_doing_something_is_no_product_and_an_academy_is_an_organisation(background):
    kinds = _kinds(
        background,
        "Kobe Bryant spent 20 years with the Los Angeles Lakers.",
        "He retired in 2016, with the Lakers honoring his achievement.",
        "He founded the Mamba Academy for young players.",
    )
    assert kinds["Los Angeles Lakers"] != "product" and kinds["Mamba Academy"] == "org", kinds


def test_a_headline_opening_with_a_verb_keeps_it_out_of_the_name(background):
    from pipeline.seed.gazetteer import inflected_verb

    names = {
        e.name
        for e in EntityExtractor(background, language="es").extract(
            [
                "Muere Ramiro Zorbano",
                "El escritor Ramiro Zorbano murió en Zorbia.",
                "Zorbano tenía 90 años.",
            ]
        )
    }
    assert "Ramiro Zorbano" in names and not any(n.startswith("Muere") for n in names), names
    assert inflected_verb("Dimite", "es") and not inflected_verb("Carlos", "es")
