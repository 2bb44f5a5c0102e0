"""eval-alerts scoring: BCubed of the grouping and per-storyline misses and false alarms."""

from __future__ import annotations

from pipeline.alerts.decide import decide_alerts
from pipeline.jsonl_io import article_from_json
from pipeline.match.evaluate import LabeledItem
from pipeline.records import Match, StorylineEvent
from pipeline.storylines.evaluate import score_alerts
from pipeline.storylines.tracker import COVERAGE, NEW_DEVELOPMENT


def _item(aid: str, group: str) -> LabeledItem:
    raw = {"id": aid, "title": f"headline {aid}", "labels": ["s"], "dup_group": group}
    return LabeledItem(0, article_from_json(raw), frozenset(["s"]), raw)


def _events(items: list[LabeledItem], plan: list[tuple[str, str, str]]) -> list[StorylineEvent]:
    """plan: (article id, kind, tracked development id); a development's lead is its first."""
    by_id = {i.article.article_id: Match(i.article, "s", 1.0, ()) for i in items}
    leads: dict[str, Match] = {}
    out = []
    for aid, kind, dev in plan:
        lead = leads.setdefault(dev, by_id[aid])
        out.append(StorylineEvent("s", dev, kind, lead, (aid,), article=by_id[aid]))
    return out


ITEMS = [_item("1", "A"), _item("2", "A"), _item("3", "B"), _item("4", "B")]


def test_a_wrong_grouping_with_the_right_alert_count_does_not_score_as_right():
    right = _events(
        ITEMS,
        [
            ("1", NEW_DEVELOPMENT, "x"),
            ("2", COVERAGE, "x"),
            ("3", NEW_DEVELOPMENT, "y"),
            ("4", COVERAGE, "y"),
        ],
    )
    # Same two alerts on the same leads, but each development's coverage put in the other.
    wrong = _events(
        ITEMS,
        [
            ("1", NEW_DEVELOPMENT, "x"),
            ("3", NEW_DEVELOPMENT, "y"),
            ("2", COVERAGE, "y"),
            ("4", COVERAGE, "x"),
        ],
    )
    good = score_alerts(ITEMS, decide_alerts(right), events=right)
    bad = score_alerts(ITEMS, decide_alerts(wrong), events=wrong)
    # The alert figures cannot tell them apart...
    assert (bad.precision, bad.recall, bad.duplicate_rate) == (1.0, 1.0, 0.0)
    assert (good.precision, good.recall, good.duplicate_rate) == (1.0, 1.0, 0.0)
    # ...the grouping figures can.
    assert (good.bcubed_precision, good.bcubed_recall) == (1.0, 1.0)
    assert bad.bcubed_precision == 0.5 and bad.bcubed_recall == 0.5


def test_one_merged_development_costs_bcubed_precision_and_an_unseen_item_recall():
    merged = _events(
        ITEMS,
        [("1", NEW_DEVELOPMENT, "x"), ("2", COVERAGE, "x"), ("3", COVERAGE, "x")],
    )
    s = score_alerts(ITEMS, decide_alerts(merged), events=merged)
    assert s.missed == [("s", "B")] and s.per_storyline == {"s": (2, 1, 0, 0)}
    # 1, 2: 2/3 of their tracked development is theirs; 3: 1/3; 4 (never seen): alone, 1.
    assert round(s.bcubed_precision, 4) == round((2 / 3 + 2 / 3 + 1 / 3 + 1) / 4, 4)
    # 1, 2: whole; 3 and 4: half of B each.
    assert s.bcubed_recall == (1 + 1 + 0.5 + 0.5) / 4
