"""Publication times: coarse dates as ranges, replay order, expected separations."""

from __future__ import annotations

import datetime as dt

from pipeline.jsonl_io import article_from_json
from pipeline.records import Match
from pipeline.storylines.timing import LATEST, gap, order_time, published_range


def dated(aid: str, title: str, published) -> Match:
    """A match whose ``published`` is given as written in a labeled file (may be coarse or null)."""
    return Match(
        article_from_json({"id": aid, "title": title, "published": published}), "s", 0.9, ()
    )


def test_published_range_widens_coarse_dates_and_keeps_timestamps_exact():
    day = dt.datetime(2024, 2, 29, tzinfo=dt.UTC)
    assert (
        published_range(dated("a", "t", "2024-02-29T10:00Z").article) == (day.replace(hour=10),) * 2
    )
    assert published_range(dated("b", "t", "2024-02-29").article) == (
        day,
        day + dt.timedelta(days=1),
    )
    assert published_range(dated("c", "t", "2024-02").article) == (
        day.replace(day=1),
        day.replace(month=3, day=1),
    )
    assert published_range(dated("d", "t", "2024-12").article)[1] == dt.datetime(
        2025, 1, 1, tzinfo=dt.UTC
    )
    assert published_range(dated("e", "t", "2024").article) == (
        day.replace(month=1, day=1),
        day.replace(year=2025, month=1, day=1),
    )
    lo, hi = published_range(dated("f", "t", None).article)
    assert lo.year == 1 and hi.year == 9999
    for last in ("9999-12-31", "9999-12", "9999"):  # the end of the calendar is no crash
        assert published_range(dated("g", "t", last).article)[1].year == 9999


def test_replay_order_is_the_start_of_the_period_and_undated_last():
    assert order_time(dated("a", "t", "2024-02").article) == dt.datetime(2024, 2, 1, tzinfo=dt.UTC)
    assert order_time(dated("b", "t", None).article) == LATEST


def test_gap_is_zero_for_overlapping_ranges():
    t = dt.datetime(2024, 2, 1, tzinfo=dt.UTC)
    hour = dt.timedelta(hours=1)
    assert gap((t, t + 2 * hour), (t + hour, t + 3 * hour)) == dt.timedelta(0)
    assert gap((t, t), (t + 3 * hour, t + 4 * hour)) == 3 * hour
