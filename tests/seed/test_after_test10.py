"""Issue 16, after the test10 score: the Spanish resignation and the abdication, a rescue of
trapped people, and a dropped inquiry as a later chapter (invented sentences)."""

from __future__ import annotations

from pipeline.seed.draft import build_draft
from pipeline.seed.events import event_counts, sequels, thread_events
from pipeline.seed.text import parse_seed_text


def test_spanish_renuncia_and_an_abdication_are_a_resignation():
    assert event_counts("La alcaldesa presentó su renuncia el lunes", lang="es")["resignation"]
    assert event_counts("El ministro renunció tras el escándalo", lang="es")["resignation"]
    assert event_counts("La reina abdicará en su hija", lang="es")["resignation"]
    assert event_counts("The queen abdicates after forty years", lang="en")["resignation"]
    assert event_counts("Der König dankt nach vierzig Jahren ab", lang="de")["resignation"]
    assert not event_counts("A renunciation of violence", lang="en")  # tagged Spanish


def test_a_rescue_of_trapped_people_is_its_own_event():
    assert thread_events(["Rescatan con vida a los mineros atrapados"], lang="es") == ["rescue"]
    assert thread_events(["Divers rescue the trapped hikers"], lang="en") == ["rescue"]
    assert thread_events(["Die Bergung der Verschütteten dauert an"], lang="de") == ["rescue"]
    assert thread_events(["Les sauveteurs ont dégagé trois personnes"], lang="fr") == ["rescue"]


def test_a_dropped_inquiry_is_a_resignation_s_later_chapter():
    terms, _ = sequels(["resignation"], lede="Minister Zorbach tritt zurück", lang="de")
    assert {"eingestellt", "charges dropped", "non-lieu", "sobreseimiento"} <= set(terms)
    assert "eingestellt" not in sequels(["resignation"], lede="Zorbach resigns", lang="en")[0]
    # a story whose news is the dropped case keeps it
    assert "non-lieu" not in sequels(["fraud"], lede="Non-lieu pour Zorbac", lang="fr")[0]
    assert "eingestellt" not in sequels(["strike"], lede="Streik bei Zorbag", lang="de")[0]


def test_a_contest_won_is_a_victory():
    assert event_counts("Zorbina gewinnt das Finale in Zorbstadt", lang="de")["victory"]
    assert event_counts("Die Siegerin feiert mit ihren Fans", lang="de")["victory"]
    assert event_counts("Zorbac remporte la victoire", lang="fr")["victory"]
    assert event_counts("La selección ganó la copa", lang="es")["victory"]
    assert event_counts("Zorbina wins the contest", lang="en")["victory"]


CONTEST = (
    "date 2021-05-23 Zorbina Kessler gewinnt den Zorbovision Song Contest\n"
    "Zorbina Kessler hat den Zorbovision Song Contest in Bergen gewonnen. "
    "Zorbina Kessler siegte mit großem Vorsprung vor der Konkurrenz. "
    "Der Zorbovision Song Contest wird jedes Jahr in einem anderen Land ausgetragen."
)


def test_a_recurring_contest_is_no_actor_of_its_victory(watchlists, background):
    draft = build_draft(parse_seed_text(CONTEST), watchlists, background, slug="x")
    [contest] = [e for e in draft.entities if e.name.endswith("Zorbovision Song Contest")]
    assert contest.kind == "event"
    assert draft.storylines
    for s in draft.storylines:
        assert "victory" in s.events, s.title
        refs = {r for rule in (s.all_of, *s.alternatives) for group in rule for r in group}
        assert contest.id not in refs, s.title


ELECTION_WIN = (
    "date 2024-11-06 Zorbach wins the presidential election in Zorbia\n"
    "Karl Zorbach won the presidential election in Zorbia on Tuesday, a victory his rival "
    "Anna Quorble conceded at midnight. Zorbach's victory gives his party a second chance."
)


def test_a_win_in_an_election_is_the_election_not_a_contest(watchlists, background):
    # the shipped seed's dev figure fell to 0.898 with a victory class beside its election
    draft = build_draft(parse_seed_text(ELECTION_WIN), watchlists, background, slug="x")
    assert draft.storylines
    assert all("victory" not in s.events for s in draft.storylines), [
        (s.title, s.events) for s in draft.storylines
    ]


def test_a_family_s_firm_is_called_by_the_family_name(background):
    from pipeline.seed.entities import EntityExtractor

    sentences = [
        "US investment giant Zorbman Brothers filed for bankruptcy on Monday.",
        "The bank Zorbman Brothers had lost billions in mortgages.",
    ]
    [firm] = [
        e
        for e in EntityExtractor(background, language="en").extract(sentences)
        if e.name == "Zorbman Brothers"
    ]
    assert firm.kind == "org"
    assert "Zorbman" in firm.aliases
