"""The unseen parts of the seed evaluation set (tests/data/seed_eval2 to seed_eval12;
each README explains its part): their format, their labels and their frozen digests.

Each part is scored once, at the end, by ``bench/seed_eval.py --split testN`` and is then
spent. These tests only read and hash the parts; they score nothing, so the seed never sees
them here. They fail if a file stops parsing, an item or entity breaks the set's conventions,
an article is reused across parts, the files, the bench's table and the README's quote of
the digest drift apart, or the bench would score a changed part.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from pipeline.seed.draft import labeled_items
from pipeline.seed.evaluation import frozen_digest, manifest
from pipeline.seed.text import read_seed
from tests.paths import DATA, ROOT

FIRST = DATA / "seed_eval"
# directory -> (the bench's split name, articles per language)
PARTS = {
    "seed_eval2": ("test2", {"en": 4, "de": 3, "fr": 3, "es": 3}),
    "seed_eval3": ("test3", {"en": 3, "de": 3, "fr": 3, "es": 3}),
    "seed_eval4": ("test4", {"en": 3, "de": 3, "fr": 3, "es": 3}),
    "seed_eval5": ("test5", {"en": 3, "de": 3, "fr": 3, "es": 3}),
    "seed_eval6": ("test6", {"en": 3, "de": 3, "fr": 3, "es": 3}),
    "seed_eval7": ("test7", {"en": 3, "de": 3, "fr": 3, "es": 3}),
    "seed_eval8": ("test8", {"en": 3, "de": 3, "fr": 3, "es": 3}),
    "seed_eval9": ("test9", {"en": 3, "de": 3, "fr": 3, "es": 3}),
    "seed_eval10": ("test10", {"en": 3, "de": 3, "fr": 3, "es": 3}),
    "seed_eval11": ("test11", {"en": 3, "de": 3, "fr": 3, "es": 3}),
    "seed_eval12": ("test12", {"en": 3, "de": 3, "fr": 3, "es": 3}),
}
META = {part: manifest(DATA / part) for part in PARTS}
ARTICLES = [(part, article_id) for part in PARTS for article_id in sorted(META[part])]
KINDS = {"person", "org", "place", "product", "event"}
FIELDS = {"id", "title", "summary", "outlet", "published", "url", "labels", "title_source"}


def _bench() -> object:
    spec = importlib.util.spec_from_file_location(
        "seed_eval_bench", ROOT / "bench" / "seed_eval.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _article_id(value: object) -> str:
    return "/".join(value) if isinstance(value, tuple) else str(value)


@pytest.mark.parametrize("part", PARTS)
def test_part_size_languages_and_split(part):
    meta = META[part]
    ids = sorted(meta)
    assert len(ids) >= 12
    languages = [meta[k]["language"] for k in ids]
    assert {lang: languages.count(lang) for lang in ("en", "de", "fr", "es")} == PARTS[part][1]
    assert {meta[k]["split"] for k in ids} == {"test"}
    assert not set(ids) & set(manifest(FIRST)), "an article of the first part reused"
    for other in PARTS:
        if other != part:
            assert not set(ids) & set(META[other]), f"an article of {other} reused"


@pytest.mark.parametrize(("part", "article_id"), ARTICLES, ids=_article_id)
def test_article_parses_with_its_manifest_headline_and_date(part, article_id):
    meta = META[part][article_id]
    seed = read_seed(DATA / part / "articles" / f"{article_id}.txt")
    assert seed.headline == meta["headline"]
    assert seed.date == (meta["date"] if len(meta["date"]) == 10 else "")
    assert len(seed.paragraphs) >= 2
    assert meta["url"].startswith("http") and meta["outlet"] and meta["date_note"]


@pytest.mark.parametrize(("part", "article_id"), ARTICLES, ids=_article_id)
def test_items_parse_and_match_the_manifest(part, article_id):
    path = DATA / part / "items" / f"{article_id}.jsonl"
    articles, gold, bad = labeled_items(path)
    assert bad == []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(articles) == len(rows) == META[part][article_id]["items"]
    assert 15 <= len(rows) <= 30
    assert sum(1 for labels in gold.values() if labels) == META[part][article_id]["positives"]
    assert [r["id"] for r in rows] == [f"{article_id}-{n:02d}" for n in range(1, len(rows) + 1)]
    for row in rows:
        assert set(row) == FIELDS, row["id"]
        assert row["labels"] in ([], [article_id]), row["id"]
        assert row["title_source"] in ("headline", "first_sentence"), row["id"]
        assert row["title"] and row["outlet"] and row["url"].startswith("http"), row["id"]
        assert row["url"] != META[part][article_id]["url"], "the seed itself is not an item"
    positives = sum(1 for r in rows if r["labels"])
    assert 0 < positives < len(rows), "each article needs same-story items and look-alikes"


@pytest.mark.parametrize(("part", "article_id"), ARTICLES, ids=_article_id)
def test_gold_entities_are_named_in_the_article_with_known_kinds(part, article_id):
    gold = json.loads((DATA / part / "entities" / f"{article_id}.json").read_text("utf-8"))
    seed = read_seed(DATA / part / "articles" / f"{article_id}.txt")
    text = "\n".join((seed.headline, *seed.paragraphs))
    assert gold
    for name, kinds in gold.items():
        assert name in text, f"{article_id}: {name} is not in the article"
        assert set(kinds.split("|")) <= KINDS, f"{article_id}: {name}: {kinds}"


@pytest.mark.parametrize("part", PARTS)
def test_no_item_url_is_in_two_articles(part):
    urls = [
        json.loads(line)["url"]
        for article_id in sorted(META[part])
        for line in (DATA / part / "items" / f"{article_id}.jsonl").read_text().splitlines()
    ]
    assert len(urls) == len(set(urls))


@pytest.mark.parametrize("part", PARTS)
def test_frozen_digest_matches_the_bench_and_the_readme(part):
    split = PARTS[part][0]
    directory, frozen = _bench().PARTS[split]
    digest = frozen_digest(DATA / part)
    assert directory == DATA / part
    assert digest == frozen
    assert f"{split} sha256: {digest}" in (DATA / part / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("part", PARTS)
def test_any_changed_byte_changes_the_digest(part, tmp_path: Path):
    copy = tmp_path / part
    shutil.copytree(DATA / part, copy)
    before = frozen_digest(copy)
    item = copy / "items" / f"{sorted(META[part])[0]}.jsonl"
    item.write_bytes(item.read_bytes().replace(b'"labels": []', b'"labels": [ ]', 1))
    assert frozen_digest(copy) != before


@pytest.mark.parametrize("part", PARTS)
def test_bench_refuses_the_part_before_scoring_if_a_file_changed(
    part, tmp_path: Path, monkeypatch, capsys
):
    split = PARTS[part][0]
    copy = tmp_path / part
    shutil.copytree(DATA / part, copy)
    entities = copy / "entities" / f"{sorted(META[part])[0]}.json"
    entities.write_bytes(entities.read_bytes() + b"\n")
    bench = _bench()

    def never(*args, **kwargs):
        raise AssertionError("the bench scored a changed part")

    monkeypatch.setitem(bench.PARTS, split, (copy, bench.PARTS[split][1]))
    monkeypatch.setattr(bench, "score_article", never)
    monkeypatch.setattr("sys.argv", ["seed_eval.py", "--split", split])
    assert bench.main() == 2
    assert f"{split} part has changed" in capsys.readouterr().err
