"""pipeline.seed.german: what German capitals say, in the entity extractor."""

from __future__ import annotations

from pipeline.seed import german
from pipeline.seed.entities import EntityExtractor
from pipeline.seed.events import event_counts


def _entities(background, *sentences: str):
    return EntityExtractor(background, language="de").extract(list(sentences))


def test_the_story_s_event_written_as_a_noun_is_no_entity(background):
    names = {
        e.name
        for e in _entities(
            background,
            "Nach dem Einsturz suchten Helfer in Zorbstadt nach Vermissten.",
            "Der Einsturz kam ohne Vorwarnung, sagte Ulla Zorbek.",
        )
    }
    assert "Einsturz" not in names and "Ulla Zorbek" in names, names


def test_a_place_s_genitive_names_the_place(background):
    [koeln] = [
        e
        for e in _entities(
            background,
            "Kölns Archiv liegt in Trümmern",
            "Die Feuerwehr sucht in Köln nach drei Vermissten.",
        )
        if e.name == "Köln"
    ]
    assert koeln.kind == "place" and "Kölns" in koeln.aliases
    assert german.genitive_place("Lars") is None  # a given name, not "Lar"'s


def test_capitalised_adjectives_before_a_noun_are_one_name_in_all_its_forms(background):
    entities = _entities(
        background,
        "Einbrecher sind in das Grüne Gewölbe eingedrungen.",
        "Aus dem Grünen Gewölbe fehlen drei Garnituren, sagte Ulla Zorbek.",
    )
    [vault] = [e for e in entities if "Gewölbe" in e.name]
    assert {"Grüne Gewölbe", "Grünen Gewölbe", "Grünes Gewölbe"} <= {vault.name, *vault.aliases}


def test_a_sentence_s_first_capital_makes_no_adjective_name():
    tokens = [german.Token(w, 0, 0) for w in ("Historischen", "Stadtarchivs")]
    assert not german.adjective_name(tokens, 0, 2)
    tokens = [german.Token(w, 0, 0) for w in ("des", "Historischen", "Stadtarchivs")]
    assert german.adjective_name(tokens, 1, 3)


def test_the_lexicon_counts_a_death_s_funeral_and_a_theft():
    assert event_counts("Tausende kamen zur Trauerfeier für den Sänger", lang="de")["death"]
    assert event_counts("Les obsèques du chanteur auront lieu samedi", lang="fr")["death"]
    assert event_counts("Juwelendiebstahl im Museum: Belohnung ausgesetzt", lang="de")["theft"]
    assert event_counts("Atraco en la joyería del centro", lang="es")["theft"]


def test_a_family_name_alone_after_the_full_name_stays_even_when_it_is_a_word(background):
    # "Fischer" is a common noun too; named alone once after "Anton Fischer", it is him.
    [fischer] = _entities(
        background,
        "Pleite: Anton Fischer gibt auf",
        "So einfach, wie Fischer es darstellt, wird es nicht.",
    )
    assert fischer.name == "Anton Fischer" and "Fischer" in fischer.aliases


def test_a_family_name_two_full_names_share_joins_the_first(background):
    people = _entities(
        background,
        "Urteil gegen Udo Zorbmann",
        "Der Zorbia-Chef Ulrich Zorbmann muss ins Gefängnis.",
        "Das Gericht verurteilte Zorbmann wegen Betrugs.",
    )
    first = next(e for e in people if e.name == "Udo Zorbmann")
    assert "Zorbmann" in first.aliases and "Zorbmann" not in {e.name for e in people}


def test_a_name_the_lexicon_spells_with_ss_is_no_common_noun(monkeypatch):
    from pipeline.seed import language

    monkeypatch.setattr(language.simplemma, "lemmatize", lambda w, lang: w.replace("ß", "ss"))
    assert not language.german_common_noun("Zorbeß")
