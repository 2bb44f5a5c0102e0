"""A draft's span of publication dates: built from the article's date, rendered, matched."""

from __future__ import annotations

import datetime as dt
import doctest
import shutil
import subprocess
import sys

import pytest
import yaml

from pipeline.jsonl_io import article_from_json
from pipeline.seed import timespan
from pipeline.seed.draft import build_draft, predictions, render_draft, seed, validate_draft
from pipeline.seed.text import parse_seed_text
from tests.paths import ROOT, WATCHLISTS

STRIKE = (
    "{date}Rotterdam dockworkers strike over automation\n"
    "Dockworkers at the Port of Rotterdam went on strike on Monday, the union FNV Havens said. "
    "The strike at the container terminals began at noon, FNV Havens spokesman Nick Stam said."
)
TAKEOVER = (
    "date 2016-09-14 Bayer agrees takeover of Monsanto\n"
    "Bayer agreed to buy Monsanto for 66 billion dollars, the biggest takeover of the year. "
    "The Monsanto takeover needs the approval of regulators in Brussels and Washington."
)


def test_doctests() -> None:
    assert doctest.testmod(timespan).failed == 0


def test_a_story_is_followed_a_year_and_a_long_running_one_two(watchlists, background) -> None:
    strike = build_draft(
        parse_seed_text(STRIKE.format(date="date 2025-01-09 ")), watchlists, background, slug="s"
    )
    assert strike.storylines
    assert {(s.published_from, s.published_until) for s in strike.storylines} == {
        (dt.date(2024, 11, 10), dt.date(2026, 1, 9))
    }
    takeover = build_draft(parse_seed_text(TAKEOVER), watchlists, background, slug="t")
    assert any("takeover" in s.events for s in takeover.storylines)
    assert {s.published_until for s in takeover.storylines if "takeover" in s.events} == {
        dt.date(2018, 9, 14)
    }
    undated = build_draft(parse_seed_text(STRIKE.format(date="")), watchlists, background, slug="u")
    assert {s.published_until for s in undated.storylines} == {None}
    given = build_draft(
        parse_seed_text(STRIKE.format(date="")), watchlists, background, slug="g", date="2019-05"
    )
    assert {s.published_until for s in given.storylines} == {dt.date(2020, 5, 30)}


def test_the_rendered_span_keeps_other_chapters_out_but_not_undated_items(
    watchlists, background
) -> None:
    draft = build_draft(
        parse_seed_text(STRIKE.format(date="date 2025-01-09 ")), watchlists, background, slug="s"
    )
    text = render_draft(draft, watchlists_dir=WATCHLISTS)
    assert "# watched for articles published from 2024-11-10 to 2026-01-09" in text
    kept = yaml.safe_load(text)["storylines"][0]
    assert (kept["published_from"], kept["published_until"]) == (
        dt.date(2024, 11, 10),
        dt.date(2026, 1, 9),
    )
    combined = validate_draft(text, WATCHLISTS)
    title = "Rotterdam dockworkers strike again over automation, FNV Havens says"
    items = [
        article_from_json({"id": "soon", "title": title, "published": "2025-01-20"}),
        article_from_json({"id": "later", "title": title, "published": "2027-03-02"}),
        article_from_json({"id": "earlier", "title": title, "published": "2023-05-02"}),
        article_from_json({"id": "undated", "title": title}),
    ]
    hits = predictions(items, combined, [s.id for s in draft.storylines])
    assert sorted(hits) == ["soon", "undated"]


def test_seed_dates_a_dateless_article_today_or_by_the_date_given(tmp_path) -> None:
    article = tmp_path / "strike.txt"
    article.write_text(STRIKE.format(date=""), encoding="utf-8")
    draft, _, _ = seed(article, watchlists_dir=WATCHLISTS, today=dt.date(2026, 12, 3))
    assert {s.published_until for s in draft.storylines} == {dt.date(2027, 12, 3)}
    draft, _, _ = seed(article, watchlists_dir=WATCHLISTS, date="2019-05-02")
    assert {s.published_until for s in draft.storylines} == {dt.date(2020, 5, 1)}


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_cli_date_flag_a_bad_date_and_validate_noting_an_ended_span(tmp_path) -> None:
    folder = tmp_path / "watchlists"
    folder.mkdir()
    for path in WATCHLISTS.glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    article = tmp_path / "strike.txt"
    article.write_text(STRIKE.format(date=""), encoding="utf-8")
    today = run("seed", article, "--watchlists", folder, "--dry-run")
    assert today.returncode == 0, today.stderr
    assert "shows no date, so its storylines follow the story from today" in today.stderr
    assert "published_until:" in today.stdout and "note:" not in today.stdout
    bad = run("seed", article, "--watchlists", folder, "--date", "last week", "--dry-run")
    assert bad.returncode == 2 and "--date 'last week': not a date" in bad.stderr
    assert "Traceback" not in bad.stderr
    out = folder / "strike.yaml"
    made = run("seed", article, "--watchlists", folder, "--date", "2019-05", "--out", out)
    assert made.returncode == 0, made.stderr
    assert "published_until: 2020-05-30" in out.read_text(encoding="utf-8")
    checked = run("validate", "--watchlists", folder)
    assert checked.returncode == 0, checked.stderr
    assert "follows articles published until 2020-05-30, which has passed" in checked.stdout


def test_a_story_the_lede_says_runs_since_a_year_is_followed_from_that_year(
    watchlists, background
) -> None:
    article = parse_seed_text(
        "date 2024-10-25 Musk has been in secret talks with Putin since 2022\n"
        "Elon Musk has been in regular contact with Vladimir Putin since late 2022, the paper "
        "reported. The talks covered business and geopolitics."
    )
    draft = build_draft(article, watchlists, background, slug="w")
    assert draft.storylines
    assert {s.published_from for s in draft.storylines} == {dt.date(2022, 1, 1)}
