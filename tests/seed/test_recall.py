"""Issue 16, recall on unseen articles: the story's actor when the headline names no one,
a town's adjective as the town."""

from __future__ import annotations

from pipeline.seed import german
from pipeline.seed.draft import build_draft
from pipeline.seed.entities import EntityExtractor
from pipeline.seed.text import parse_seed_text

NO_NAME_HEADLINE = (
    "date 2020-05-04 Así escapó el capo más buscado\n"
    'A través de un túnel de 900 metros, "el Zorbo" Ramírez escapó de la celda del penal. '
    "Los guardias no vieron nada, dijo Anselmo Quiroga, portavoz del Gobierno de Zorbia. "
    'Según Quiroga, "el Zorbo" bajó por un conducto de diez metros hasta el túnel.'
)


def test_a_headline_naming_no_one_gives_the_lede_s_actor_a_storyline(watchlists, background):
    draft = build_draft(parse_seed_text(NO_NAME_HEADLINE), watchlists, background, slug="x")
    anchors = {s.thread.anchors[0].name for s in draft.storylines}
    assert "Zorbo" in anchors, [s.title for s in draft.storylines]


def test_a_town_s_adjective_names_the_town(background):
    assert german.town_adjectives("Köln") == ["Kölner"]
    assert german.town_adjectives("Bayern") == []  # a region's adjective is everyone's
    [town] = [
        e
        for e in EntityExtractor(background, language="de").extract(
            ["In Zorbingen ist ein Archiv eingestürzt.", "Die Feuerwehr sucht in Ulm."]
        )
        if e.name == "Ulm"
    ]
    assert "Ulmer" in town.aliases


def test_a_death_s_tributes_and_mourning_are_its_story():
    from pipeline.seed.events import event_counts

    assert event_counts("Un hommage populaire sera rendu samedi au chanteur", lang="fr")["death"]
    assert event_counts("El estadio rindió homenaje a los jugadores", lang="es")["death"]
    assert event_counts("Tres días de luto oficial", lang="es")["death"]
    assert event_counts("Fans mourn the singer", lang="en")["death"]


def test_an_affair_by_its_name_and_a_confession_are_a_fraud_story():
    from pipeline.seed.events import event_counts

    assert event_counts("L'affaire Zorbac rebondit", lang="fr")["fraud"]
    assert event_counts("Les aveux de Zorbac devant les juges", lang="fr")["fraud"]
    assert event_counts("Zorbmann gesteht die Fälschungen", lang="de")["fraud"]
    assert not event_counts("Les affaires étrangères", lang="de")  # tagged French
