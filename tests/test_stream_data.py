"""The labeled development stream (tests/data/labeled/STREAM.md): its format, its split and the
frozen test part.

``stream_test.jsonl`` is scored once, at the end of issue 13's method change. Its sha256 is
defined once, in ``stream_test.sha256`` (``sha256sum -c`` reads it); the README quotes it, and
these tests fail if the file, the digest file or the quote drift apart. The tuning part may
grow; the test part may not change. ``stream_valid.jsonl`` is a third part on three other
storylines, with its own watchlists, for checking that a decision tuned on the tuning part
generalises before the test part is spent. ``stream_test2.jsonl``, ``stream_test3.jsonl`` and
``stream_test4.jsonl`` are later frozen parts, each on three stories of its own with its own
watchlists, to be scored once by the coordinator; their checks are the same, parametrized over
``FROZEN_PARTS``.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.config.watchlists import load_watchlists
from pipeline.dates import parse_time
from pipeline.storylines.evaluate import developments_of, load_labeled
from tests.paths import DATA, WATCHLISTS

LABELED = DATA / "labeled"
TUNE = LABELED / "stream_tune.jsonl"
TEST = LABELED / "stream_test.jsonl"
DIGEST = LABELED / "stream_test.sha256"
STREAM_WATCHLISTS = LABELED / "stream_watchlists"
VALID = LABELED / "stream_valid.jsonl"
VALID_WATCHLISTS = LABELED / "stream_valid_watchlists"
VALID_STORYLINES = {"g20-delhi-summit", "raac-school-concrete", "rubiales-kiss-scandal"}
NEW_STORYLINES = {
    "uk-truss-government-crisis",
    "khalife-prison-escape",
    "morocco-earthquake",
    "hungary-after-orban",
    "us-iran-talks-blockade",
}


def frozen_sha256() -> str:
    """The frozen test part's sha256, as ``stream_test.sha256`` records it."""
    digest, name = DIGEST.read_text(encoding="utf-8").split()
    assert name == TEST.name
    return digest


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def development_keys(path: Path, watchlists: Path = STREAM_WATCHLISTS) -> set[str]:
    """storyline + labeled development of every labeled item (``developments_of``)."""
    ids = {s.id for s in load_watchlists(watchlists).storylines}
    items = load_labeled(path, storyline_ids=ids)
    return {f"{storyline}|{name}" for (storyline, _), name in developments_of(items).items()}


def test_frozen_test_part_is_unchanged() -> None:
    digest = hashlib.sha256(TEST.read_bytes()).hexdigest()
    assert digest == frozen_sha256(), (
        f"{TEST} changed (sha256 {digest}); the test part is frozen: put new items in "
        "stream_tune.jsonl, or restore the file"
    )


def test_readme_quotes_the_frozen_digest() -> None:
    readme = (LABELED / "README.md").read_text(encoding="utf-8")
    assert f"stream test-part sha256: {frozen_sha256()}" in readme


def test_both_parts_load_with_the_stream_watchlists() -> None:
    ids = {s.id for s in load_watchlists(STREAM_WATCHLISTS).storylines}
    assert NEW_STORYLINES <= ids
    for path in (TUNE, TEST):
        load_labeled(path, storyline_ids=ids)  # raises a UserError on any bad line


def test_shipped_watchlists_keep_their_four_storylines() -> None:
    assert {s.id for s in load_watchlists(WATCHLISTS).storylines} == {
        "musk-kremlin-contacts",
        "starlink-taiwan",
        "starlink-ukraine-war",
        "musk-government-role",
    }


def test_every_item_is_sourced_and_labeled() -> None:
    for path in (TUNE, TEST, VALID):
        for row in rows(path):
            where = f"{path.name} {row['id']}"
            assert row["title"].strip() and row["outlet"] and row["url"].startswith("http"), where
            # a timestamp, a day, a month, or null (as found): what the replay can place
            assert row["published"] is None or parse_time(row["published"]), where
            assert row["source"].startswith(("feeds:", "pages")), where
            assert isinstance(row["borderline"], bool), where
            # a labeled item belongs to a development; an unlabeled one to none
            assert (row["development"] is not None) == bool(row["labels"]), where


def test_split_is_by_development() -> None:
    """No development (nor copy group) has items in both parts; ids and URLs are unique."""
    assert not development_keys(TUNE) & development_keys(TEST)
    tune, test = rows(TUNE), rows(TEST)
    groups = [{r["dup_group"] for r in part if r["dup_group"]} for part in (tune, test)]
    assert not groups[0] & groups[1]
    ids = Counter(r["id"] for r in tune + test)
    urls = Counter(r["url"] for r in tune + test)
    assert max(ids.values()) == 1 and max(urls.values()) == 1


def test_no_item_of_the_other_labeled_sets() -> None:
    others = {r["url"].split("?")[0] for r in rows(LABELED / "dev.jsonl") if r.get("url")}
    for row in rows(TUNE) + rows(TEST):
        assert row["url"].split("?")[0] not in others, row["id"]
    stream = {r["url"].split("?")[0] for r in rows(TUNE) + rows(TEST)}
    for row in rows(VALID):
        assert row["url"].split("?")[0] not in others | stream, row["id"]


def test_size_and_spread() -> None:
    """Issue 13's targets: at least 400 items, 100 developments, other languages."""
    all_rows = rows(TUNE) + rows(TEST)
    assert len(all_rows) >= 400
    assert len(development_keys(TUNE)) + len(development_keys(TEST)) >= 100
    labeled_languages = {r.get("language", "en") for r in all_rows if r["labels"]}
    assert {"fr", "de", "es"} <= labeled_languages
    assert {s for r in all_rows for s in r["labels"]} >= NEW_STORYLINES


def test_validation_part_loads_with_its_own_watchlists() -> None:
    watchlists = load_watchlists(VALID_WATCHLISTS)
    assert {s.id for s in watchlists.storylines} == VALID_STORYLINES
    load_labeled(VALID, storyline_ids=VALID_STORYLINES)  # raises a UserError on any bad line


def test_validation_part_is_other_stories() -> None:
    """Its storylines are in neither the tuning nor the test part, nor in their watchlists;
    its ids and addresses are its own, and a copy group stays inside one development."""
    stream_ids = {s.id for s in load_watchlists(STREAM_WATCHLISTS).storylines}
    assert not VALID_STORYLINES & stream_ids
    valid = rows(VALID)
    assert {s for r in rows(TUNE) + rows(TEST) for s in r["labels"]}.isdisjoint(
        {s for r in valid for s in r["labels"]}
    )
    assert len({r["id"] for r in valid}) == len(valid)
    assert len({r["url"].split("?")[0] for r in valid}) == len(valid)
    groups: dict[str, set[str]] = {}
    for r in valid:
        if r["dup_group"]:
            groups.setdefault(r["dup_group"], set()).add(json.dumps(r["development"]))
    assert all(len(developments) == 1 for developments in groups.values()), groups


def test_validation_part_size_and_spread() -> None:
    """The brief's targets: 120 items, 35 developments, about 30 hard negatives, other
    languages, and in each storyline a breaking day (one development from many outlets)."""
    valid = rows(VALID)
    labeled = [r for r in valid if r["labels"]]
    assert len(valid) >= 120
    assert len(development_keys(VALID, VALID_WATCHLISTS)) >= 35
    assert len(valid) - len(labeled) >= 25
    assert {"es", "de", "fr"} <= {r.get("language", "en") for r in labeled}
    outlets: dict[tuple[str, str], set[str]] = {}
    for r in labeled:
        key = (r["labels"][0], f"{r['development']['chain']}#{r['development']['order']}")
        outlets.setdefault(key, set()).add(r["outlet"])
    for storyline in VALID_STORYLINES:
        mine = [len(names) for (s, _), names in outlets.items() if s == storyline]
        assert len(mine) >= 10 and max(mine) >= 8, storyline


@dataclass(frozen=True)
class FrozenPart:
    """A test part scored once, at the end: its file, digest, watchlists and the brief's sizes."""

    name: str
    storylines: frozenset[str]
    min_items: int
    min_developments: int
    min_languages: int

    def file(self, suffix: str) -> Path:
        """Its file of that suffix: ``.jsonl``, ``.sha256``, ``_watchlists``, ``_build.py``."""
        return LABELED / f"{self.name}{suffix}"

    @property
    def path(self) -> Path:
        return self.file(".jsonl")


FROZEN_PARTS = [
    FrozenPart(
        "stream_test2",
        frozenset({"thomas-cook-collapse", "titan-submersible-loss", "letby-nurse-trial"}),
        min_items=150,
        min_developments=40,
        min_languages=4,
    ),
    FrozenPart(
        "stream_test3",
        frozenset({"crowdstrike-it-outage", "skripal-novichok-poisoning", "louvre-jewel-heist"}),
        min_items=180,
        min_developments=45,
        min_languages=5,
    ),
    FrozenPart(
        "stream_test4",
        frozenset(
            {"volkswagen-emissions-scandal", "baltimore-key-bridge-collapse", "notre-dame-fire"}
        ),
        min_items=300,
        min_developments=55,
        min_languages=9,
    ),
    FrozenPart(
        "stream_test5",
        frozenset({"openai-altman-ouster", "air-india-171-crash", "yoon-martial-law"}),
        min_items=260,
        min_developments=50,
        min_languages=11,
    ),
    FrozenPart(
        "stream_test6",
        frozenset(
            {"djokovic-australia-visa", "lahaina-maui-wildfire", "venezuela-2024-election-dispute"}
        ),
        min_items=250,
        min_developments=55,
        min_languages=9,
    ),
    FrozenPart(
        "stream_test7",
        frozenset({"valieva-doping-case", "kinder-salmonella-recall", "brumadinho-dam-collapse"}),
        min_items=240,
        min_developments=55,
        min_languages=10,
    ),
]
frozen_parts = pytest.mark.parametrize("part", FROZEN_PARTS, ids=lambda part: part.name)


def other_labeled_files(part: FrozenPart) -> list[Path]:
    """Every labeled file but this part (the *_pages.jsonl files hold the parts' own pages)."""
    return [
        path
        for path in sorted(LABELED.glob("*.jsonl"))
        if path != part.path and not path.name.endswith("_pages.jsonl")
    ]


@frozen_parts
def test_frozen_part_is_unchanged(part: FrozenPart) -> None:
    """Each later test part is frozen like the first: scored once, at the end."""
    digest, name = part.file(".sha256").read_text(encoding="utf-8").split()
    assert name == part.path.name
    assert hashlib.sha256(part.path.read_bytes()).hexdigest() == digest, (
        f"{part.path} changed; it is frozen: rebuild it with {part.name}_build.py from "
        f"{part.name}_pages.jsonl unchanged, or restore the file"
    )
    stream_md = (LABELED / "STREAM.md").read_text(encoding="utf-8")
    assert f"stream {part.name.removeprefix('stream_')}-part sha256: {digest}" in stream_md


@frozen_parts
def test_frozen_part_loads_with_its_own_watchlists(part: FrozenPart) -> None:
    watchlists = load_watchlists(part.file("_watchlists"))
    assert {s.id for s in watchlists.storylines} == part.storylines
    load_labeled(part.path, storyline_ids=set(part.storylines))  # a UserError on any bad line


@frozen_parts
def test_frozen_part_is_sourced_and_labeled(part: FrozenPart) -> None:
    for row in rows(part.path):
        where = f"{part.path.name} {row['id']}"
        assert row["title"].strip() and row["summary"].strip(), where
        assert row["outlet"] and row["url"].startswith("http"), where
        assert row["published"] is None or parse_time(row["published"]), where
        assert row["source"] == "pages (search tool)" and row["title_source"], where
        assert isinstance(row["borderline"], bool), where
        assert (row["development"] is not None) == bool(row["labels"]), where
        assert set(row["labels"]) <= part.storylines and len(row["labels"]) <= 1, where


@frozen_parts
def test_frozen_part_is_other_stories_and_pages(part: FrozenPart) -> None:
    """Its storylines and addresses are in no other labeled file; ids are its own; a copy
    group stays inside one development."""
    others = [rows(path) for path in other_labeled_files(part)]
    other_urls = {r["url"].split("?")[0] for other in others for r in other if r.get("url")}
    other_labels = {s for other in others for r in other for s in r.get("labels", [])}
    mine = rows(part.path)
    assert not part.storylines & other_labels
    assert not {r["url"].split("?")[0] for r in mine} & other_urls
    assert len({r["url"].split("?")[0] for r in mine}) == len(mine)
    assert len({r["id"] for r in mine}) == len(mine)
    groups: dict[str, set[str]] = {}
    for r in mine:
        if r["dup_group"]:
            groups.setdefault(r["dup_group"], set()).add(json.dumps(r["development"]))
    assert groups and all(len(developments) == 1 for developments in groups.values()), groups


@frozen_parts
def test_frozen_part_size_and_spread(part: FrozenPart) -> None:
    """The briefs' targets: items, developments, about 30 hard negatives, other languages,
    and in each storyline a breaking day (one development from many outlets)."""
    mine = rows(part.path)
    labeled = [r for r in mine if r["labels"]]
    assert len(mine) >= part.min_items
    assert len(development_keys(part.path, part.file("_watchlists"))) >= part.min_developments
    assert len(mine) - len(labeled) >= 25
    languages = {r.get("language", "en") for r in labeled}
    assert {"es", "de", "fr"} <= languages and len(languages) >= part.min_languages
    outlets: dict[tuple[str, str], set[str]] = {}
    for r in labeled:
        key = (r["labels"][0], f"{r['development']['chain']}#{r['development']['order']}")
        outlets.setdefault(key, set()).add(r["outlet"])
    for storyline in part.storylines:
        counts = [len(names) for (s, _), names in outlets.items() if s == storyline]
        assert len(counts) >= 10 and max(counts) >= 8, storyline
