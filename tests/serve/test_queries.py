"""The feed-health file read as it grows (``FeedHealthIndex``) and the feed table from it."""

from __future__ import annotations

import datetime as dt
import doctest
import json
import os

import pipeline.serve.queries
from pipeline.serve.queries import FeedHealthIndex, feed_table

NOW = dt.datetime(2024, 10, 26, 12, 0, tzinfo=dt.UTC)


def _line(feed_id: str, at: str, outcome: str, **extra) -> str:
    return (
        json.dumps(
            {
                "feed_id": feed_id,
                "url": f"https://{feed_id}.example.org/rss",
                "status": "failing" if outcome == "failed" else "ok",
                "consecutive_failures": 1 if outcome == "failed" else 0,
                "last_error": "HTTP 503" if outcome == "failed" else "",
                "last_attempt_at": at,
                "last_outcome": outcome,
                **extra,
            }
        )
        + "\n"
    )


def test_doctests() -> None:
    assert doctest.testmod(pipeline.serve.queries).failed == 0


def test_only_the_appended_lines_are_read_and_a_half_written_line_waits(tmp_path):
    path = tmp_path / "feed-health.jsonl"
    path.write_text(
        _line("a", "2024-10-25T09:00:00Z", "new") + _line("b", "2024-10-26T09:00:00Z", "new")
    )
    index = FeedHealthIndex(path).refresh()
    assert set(index.latest) == {"a", "b"}
    first = index.stamp
    assert index.refresh().stamp == first  # nothing new: nothing read
    with path.open("a") as handle:
        handle.write(_line("a", "2024-10-26T10:00:00Z", "new"))
        handle.write('{"feed_id": "a", "status": "fail')  # being written
    index.refresh()
    assert index.per_day["a"] == {dt.date(2024, 10, 25): 1, dt.date(2024, 10, 26): 1}
    assert index.latest["a"]["status"] == "ok"
    with path.open("a") as handle:
        handle.write('ing", "consecutive_failures": 4, "last_outcome": "failed"}\n')
    index.refresh()
    assert index.latest["a"]["consecutive_failures"] == 4
    assert index.per_day["a"][dt.date(2024, 10, 26)] == 1  # a failure is no new items


def test_a_replaced_or_shorter_file_is_read_again_from_its_start(tmp_path):
    path = tmp_path / "feed-health.jsonl"
    path.write_text(_line("a", "2024-10-26T09:00:00Z", "new") * 3)
    index = FeedHealthIndex(path).refresh()
    assert index.per_day["a"][dt.date(2024, 10, 26)] == 3
    replacement = tmp_path / "new.jsonl"
    replacement.write_text(_line("z", "2024-10-26T09:00:00+02:00", "new"))
    os.replace(replacement, path)
    index.refresh()
    assert set(index.latest) == {"z"} and index.per_day["z"][dt.date(2024, 10, 26)] == 1
    path.write_text("")
    assert index.refresh().latest == {}
    path.unlink()
    assert index.refresh().latest == {}


def test_the_table_from_the_index_equals_the_table_from_the_lines(tmp_path):
    lines = [
        _line("a", "2024-10-24T09:00:00Z", "new"),
        _line("b", "2024-10-26T08:00:00Z", "failed"),
        _line("a", "2024-10-26T09:00:00.5+00:00", "new"),
        _line("c", "2024-10-26", "new"),  # a coarse stamp: parse_time's fallback
    ]
    path = tmp_path / "feed-health.jsonl"
    path.write_text("".join(lines))
    from_index = feed_table(None, FeedHealthIndex(path).refresh(), now=NOW)
    from_lines = feed_table(None, [json.loads(x) for x in lines], now=NOW)
    assert from_index == from_lines
    by_id = {v.feed_id: v for v in from_index}
    assert [v.feed_id for v in from_index][0] == "b"  # failing first
    assert by_id["a"].new_per_day == [0, 0, 0, 0, 1, 0, 1]
    assert by_id["c"].new_per_day[-1] == 1
