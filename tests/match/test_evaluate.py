"""Scoring predictions against labels (pipeline.match.evaluate.score) and the report text."""

from __future__ import annotations

import doctest

import pytest

from pipeline.match import evaluate
from pipeline.match.evaluate import score
from pipeline.records import Evidence


def test_doctests() -> None:
    assert doctest.testmod(evaluate).failed == 0


def test_counts_per_storyline_and_micro() -> None:
    gold = {"a": {"s1"}, "b": {"s1", "s2"}, "c": set(), "d": {"s2"}}
    pred = {"a": {"s1"}, "b": {"s2"}, "c": {"s1"}}
    report = score(gold, pred, ["s1", "s2"])
    s1, s2 = report.by_storyline()["s1"], report.by_storyline()["s2"]
    assert (s1.tp, s1.fp, s1.fn) == (1, 1, 1)
    assert (s2.tp, s2.fp, s2.fn) == (1, 0, 1)
    assert (report.micro.tp, report.micro.fp, report.micro.fn) == (2, 1, 2)
    assert report.micro.precision == pytest.approx(2 / 3)
    assert report.micro.recall == pytest.approx(0.5)
    assert report.micro.f1 == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert {(m.item_id, m.storyline_id, m.kind) for m in report.mistakes} == {
        ("c", "s1", "false_positive"),
        ("b", "s1", "miss"),
        ("d", "s2", "miss"),
    }
    assert report.items == 4


def test_predictions_for_unlabeled_items_and_unknown_storylines_are_ignored() -> None:
    report = score({"a": {"s1", "other"}}, {"a": {"s1"}, "zz": {"s1"}}, ["s1"])
    assert (report.micro.tp, report.micro.fp, report.micro.fn) == (1, 0, 0)
    assert [s.storyline_id for s in report.storylines] == ["s1"]


def test_default_storyline_ids_are_all_seen_sorted() -> None:
    report = score({"a": {"b-story"}}, {"a": {"a-story"}})
    assert [s.storyline_id for s in report.storylines] == ["a-story", "b-story"]


def test_no_predictions_and_no_gold_is_not_scored_rather_than_perfect() -> None:
    report = score({"a": set()}, {}, ["s1"])
    assert not report.micro.scored
    assert (report.micro.precision, report.micro.recall, report.micro.f1) == (None, None, None)
    assert "s1       n/a    n/a    n/a     0     0     0" in report.format()
    assert "n/a: no labeled item carries s1 and none was predicted" in report.format()


def test_an_unscored_storyline_adds_nothing_to_the_micro_average() -> None:
    gold = {"a": {"s1"}, "b": set(), "c": {"s1"}}
    report = score(gold, {"a": {"s1"}, "b": {"s1"}}, ["s1", "s2"])
    s1, s2 = report.by_storyline()["s1"], report.by_storyline()["s2"]
    assert s1.scored and not s2.scored and s2.f1 is None
    assert (report.micro.tp, report.micro.fp, report.micro.fn) == (1, 1, 1)
    assert report.micro.f1 == pytest.approx(s1.f1) == pytest.approx(0.5)
    # Gold positives but no prediction is scored: F1 0, not n/a.
    missed = score({"a": {"s1"}}, {}, ["s1"]).micro
    assert (missed.precision, missed.recall, missed.f1) == (1.0, 0.0, 0.0)


def test_all_wrong_is_zero_f1() -> None:
    report = score({"a": {"s1"}, "b": set()}, {"b": {"s1"}}, ["s1"])
    assert report.micro.f1 == 0.0


def test_format_lists_mistakes_with_evidence() -> None:
    ev = Evidence("elon-musk", "Musk", "title", 0, 4, "Musk", "exact")
    report = score(
        {"a": set()},
        {"a": {"s1"}},
        ["s1"],
        titles={"a": "Musk deer"},
        evidence={("a", "s1"): (ev,)},
        scores={("a", "s1"): 0.75},
    )
    text = report.format()
    assert "micro" in text and "false positives: 1" in text and "misses: 0" in text
    assert "a  s1 score=0.75  'Musk deer'" in text
    assert "elon-musk <- 'Musk' title[0:4] exact" in text


def test_a_label_naming_an_unknown_storyline_is_a_bad_line_not_a_silent_miss(tmp_path) -> None:
    path = tmp_path / "labeled.jsonl"
    path.write_text(
        '{"id": "1", "title": "Musk met Putin", "labels": ["musk-kremlin-contact"]}\n'
        '{"id": "2", "title": "Starlink", "labels": []}\n'
    )
    items, bad = evaluate.read_labeled(
        path, storyline_ids=["musk-kremlin-contacts", "starlink-taiwan"]
    )
    assert [i.article.article_id for i in items] == ["2"]
    assert bad == [
        f"{path}:1: labels name unknown storyline(s) musk-kremlin-contact; use the watchlists' ids "
        "(musk-kremlin-contacts, starlink-taiwan) or fix the spelling"
    ]
    assert len(evaluate.read_labeled(path)[0]) == 2  # without ids, any label goes
