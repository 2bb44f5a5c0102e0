"""A thread's later chapters (``sequel_lexicon``, ``events.sequels``): drafted as a veto in
the headline or lede, so the same actors' appeal or re-election is not the story."""

from __future__ import annotations

import doctest
import json

import yaml

from pipeline.jsonl_io import article_from_json
from pipeline.seed import events
from pipeline.seed.draft import (
    build_draft,
    labeled_items,
    predictions,
    render_draft,
    validate_draft,
)
from pipeline.seed.events import sequels
from pipeline.seed.text import parse_seed_text, read_seed
from tests.paths import DATA, WATCHLISTS

VERDICT = (
    "date 2021-03-01 Nicolas Sarkozy condamné à trois ans de prison dont un ferme\n"
    "L'ancien président Nicolas Sarkozy a été condamné lundi à trois ans de prison dont un "
    "ferme pour corruption et trafic d'influence. Nicolas Sarkozy a dix jours pour faire appel "
    "de sa condamnation devant la cour d'appel de Paris."
)


def test_doctests() -> None:
    assert doctest.testmod(events).failed == 0


def test_a_verdicts_later_chapters_are_the_appeal_and_prison_not_its_own_words() -> None:
    terms, patterns = sequels(["verdict"], lede=VERDICT.lower(), lang="fr")
    assert {"en appel", "upheld", "cassation", "indultado*"} <= set(terms)
    assert not {"condamn*", "condamné*"} & set(terms)  # the thread's own event
    assert any("ingresa" in p for p in patterns)
    # a story whose news is the appeal keeps it
    appeal_lede = "Nicolas Sarkozy condamné en appel à trois ans de prison"
    assert "en appel" not in sequels(["verdict"], lede=appeal_lede)[0]
    # a kind whose later fights are its own story has none
    assert sequels(["strike"], lede="Dockers strike") == ([], [])


def test_a_resignation_or_an_arrest_is_followed_by_a_trial_an_election_by_a_reelection():
    assert "freispruch*" in sequels(["resignation"], lede="Wulff tritt zurück", lang="de")[0]
    assert "revision" not in sequels(["resignation"], lede="May resigns", lang="en")[0]
    assert "réélu*" in sequels(["election"], lede="Macron élu président")[0]
    assert "blocked" in sequels(["takeover"], lede="Microsoft to buy Activision")[0]
    assert "arrested" in sequels(["bankruptcy"], lede="FTX files for bankruptcy")[0]
    assert "réduit*" in sequels(["doping"], lede="Pogba suspendu quatre ans pour dopage")[0]
    # French "procès" is written with its article: its skeleton is English "process"
    assert "procès" not in sequels(["resignation"], lede="May resigns")[0]


def test_the_draft_vetoes_an_appeal_headline_and_keeps_the_verdicts_coverage(
    watchlists, background
) -> None:
    draft = build_draft(parse_seed_text(VERDICT), watchlists, background, slug="v")
    text = render_draft(draft, watchlists_dir=WATCHLISTS)
    data = yaml.safe_load(text)
    later = [t for t in data["topics"] if t["id"].endswith("-later")]
    assert later and all("en appel" in t["terms"] for t in later)
    for s in data["storylines"]:
        for rule in (s["rule"], *s.get("alternatives", [])):
            assert len(rule["none_of_in_lede"]) == 1
            assert rule["none_of_in_lede"][0].endswith("-later")
    assert "&id" not in text  # every rule its own list, not a YAML alias
    combined = validate_draft(text, WATCHLISTS)
    items = [
        {"id": "same", "title": "Nicolas Sarkozy condamné à de la prison ferme", "published": ""},
        {"id": "appeal", "title": "Nicolas Sarkozy condamné en appel à un an ferme"},
        {
            "id": "recalled",
            "title": "Nicolas Sarkozy condamné à trois ans de prison",
            "summary": "Lundi. " + "Il le dit. " * 200 + "Il fera appel, puis la cassation.",
        },
    ]
    hits = predictions(
        [article_from_json(i) for i in items], combined, [s.id for s in draft.storylines]
    )
    assert sorted(hits) == ["recalled", "same"]


def test_on_a_real_verdict_the_appeal_judgment_and_prison_entry_are_kept_out(
    watchlists, background
) -> None:
    """The spent seventh part's Urdangarin verdict (seed_eval7): its real items reporting
    the Supreme Court's ruling or the prison entry, labeled look-alikes, no longer match."""
    root = DATA / "seed_eval7"
    article_id = "sentencia-caso-noos-urdangarin"
    meta = json.loads((root / "manifest.json").read_text(encoding="utf-8"))[article_id]
    article = read_seed(root / "articles" / f"{article_id}.txt")
    draft = build_draft(article, watchlists, background, slug=article_id, date=meta["date"])
    combined = validate_draft(render_draft(draft, watchlists_dir=WATCHLISTS), WATCHLISTS)
    articles, gold, _ = labeled_items(root / "items" / f"{article_id}.jsonl")
    hits = set(predictions(articles, combined, [s.id for s in draft.storylines]))
    later = [a for a in articles if "ingresa en la cárcel" in a.title or "ingresado" in a.title]
    assert later and not gold[later[0].article_id]
    assert not hits & {a.article_id for a in later}
    same_story = {a.article_id for a in articles if gold[a.article_id]}
    assert len(hits & same_story) >= 6
