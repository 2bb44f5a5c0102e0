"""The third, unseen part of the seed evaluation set (tests/data/seed_eval3/README.md): its
format, its labels and its frozen digest.

The part is scored once, at the end of issue 16, by ``bench/seed_eval.py --split test3``. These
tests only read and hash it; they score nothing, so the seed never sees it here. They fail if
a file stops parsing, an item or entity breaks the set's conventions, or the files, the
bench's constant and the README's quote of the digest drift apart.
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

PART = DATA / "seed_eval3"
FIRST = DATA / "seed_eval"
SECOND = DATA / "seed_eval2"
META = manifest(PART)
IDS = sorted(META)
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


def test_part_size_languages_and_split():
    assert len(IDS) >= 12
    languages = [META[k]["language"] for k in IDS]
    assert {lang: languages.count(lang) for lang in ("en", "de", "fr", "es")} == {
        "en": 3,
        "de": 3,
        "fr": 3,
        "es": 3,
    }
    assert {META[k]["split"] for k in IDS} == {"test"}
    assert not set(IDS) & set(manifest(FIRST)), "an article of the first part reused"
    assert not set(IDS) & set(manifest(SECOND)), "an article of the second part reused"


@pytest.mark.parametrize("article_id", IDS)
def test_article_parses_with_its_manifest_headline_and_date(article_id):
    meta = META[article_id]
    seed = read_seed(PART / "articles" / f"{article_id}.txt")
    assert seed.headline == meta["headline"]
    assert seed.date == (meta["date"] if len(meta["date"]) == 10 else "")
    assert len(seed.paragraphs) >= 2
    assert meta["url"].startswith("http") and meta["outlet"] and meta["date_note"]


@pytest.mark.parametrize("article_id", IDS)
def test_items_parse_and_match_the_manifest(article_id):
    path = PART / "items" / f"{article_id}.jsonl"
    articles, gold, bad = labeled_items(path)
    assert bad == []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(articles) == len(rows) == META[article_id]["items"]
    assert 15 <= len(rows) <= 30
    assert sum(1 for labels in gold.values() if labels) == META[article_id]["positives"]
    assert [r["id"] for r in rows] == [f"{article_id}-{n:02d}" for n in range(1, len(rows) + 1)]
    for row in rows:
        assert set(row) == FIELDS, row["id"]
        assert row["labels"] in ([], [article_id]), row["id"]
        assert row["title_source"] in ("headline", "first_sentence"), row["id"]
        assert row["title"] and row["outlet"] and row["url"].startswith("http"), row["id"]
        assert row["url"] != META[article_id]["url"], "the seed itself is not an item"
    positives = sum(1 for r in rows if r["labels"])
    assert 0 < positives < len(rows), "each article needs same-story items and look-alikes"


@pytest.mark.parametrize("article_id", IDS)
def test_gold_entities_are_named_in_the_article_with_known_kinds(article_id):
    gold = json.loads((PART / "entities" / f"{article_id}.json").read_text(encoding="utf-8"))
    seed = read_seed(PART / "articles" / f"{article_id}.txt")
    text = "\n".join((seed.headline, *seed.paragraphs))
    assert gold
    for name, kinds in gold.items():
        assert name in text, f"{article_id}: {name} is not in the article"
        assert set(kinds.split("|")) <= KINDS, f"{article_id}: {name}: {kinds}"


def test_no_item_url_is_in_two_articles():
    urls = [
        json.loads(line)["url"]
        for article_id in IDS
        for line in (PART / "items" / f"{article_id}.jsonl").read_text().splitlines()
    ]
    assert len(urls) == len(set(urls))


def test_frozen_digest_matches_the_bench_and_the_readme():
    bench = _bench()
    digest = frozen_digest(PART)
    assert bench.DATA3 == PART
    assert digest == bench.FROZEN_TEST3_SHA256
    assert f"test3 sha256: {digest}" in (PART / "README.md").read_text(encoding="utf-8")


def test_any_changed_byte_changes_the_digest(tmp_path: Path):
    copy = tmp_path / "seed_eval3"
    shutil.copytree(PART, copy)
    before = frozen_digest(copy)
    item = copy / "items" / f"{IDS[0]}.jsonl"
    item.write_bytes(item.read_bytes().replace(b'"labels": []', b'"labels": [ ]', 1))
    assert frozen_digest(copy) != before


def test_bench_refuses_test3_before_scoring_if_a_file_changed(tmp_path: Path, monkeypatch, capsys):
    copy = tmp_path / "seed_eval3"
    shutil.copytree(PART, copy)
    entities = copy / "entities" / f"{IDS[0]}.json"
    entities.write_bytes(entities.read_bytes() + b"\n")
    bench = _bench()

    def never(*args, **kwargs):
        raise AssertionError("the bench scored a changed part")

    monkeypatch.setattr(bench, "DATA3", copy)
    monkeypatch.setattr(bench, "score_article", never)
    monkeypatch.setattr("sys.argv", ["seed_eval.py", "--split", "test3"])
    assert bench.main() == 2
    assert "test3 part has changed" in capsys.readouterr().err
