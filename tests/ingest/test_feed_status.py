"""ingest.feed_status: the feed list joined with the newest feed-health line of each feed."""

from __future__ import annotations

import doctest
import json

import pipeline.ingest.feed_status
from pipeline.config.feeds import Feed, FeedList
from pipeline.ingest.feed_status import feed_rows, format_feed_rows, latest_feed_health


def test_doctests() -> None:
    result = doctest.testmod(pipeline.ingest.feed_status)
    assert result.failed == 0 and result.attempted > 0


def test_the_newest_line_per_feed_wins_and_a_half_written_line_is_skipped(tmp_path) -> None:
    path = tmp_path / "feed-health.jsonl"
    lines = [
        {"feed_id": "a", "status": "failing", "consecutive_failures": 1, "last_error": "DNS"},
        {"feed_id": "b", "status": "ok", "consecutive_failures": 0, "interval_seconds": 600.0},
        {"feed_id": "a", "status": "failing", "consecutive_failures": 2, "last_error": "HTTP 404"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines) + '{"feed_id": "b", "sta')
    health = latest_feed_health(path)
    assert health["a"]["consecutive_failures"] == 2 and health["b"]["status"] == "ok"
    assert latest_feed_health(tmp_path / "missing.jsonl") == {}
    feeds = FeedList(
        feeds=[Feed(url="https://b.example/rss", id="b"), Feed(url="https://a.example/rss", id="a")]
    )
    rows = feed_rows(feeds, health)
    assert [r.feed_id for r in rows] == ["a", "b"]  # failing first
    table = format_feed_rows(rows).splitlines()
    assert table[0].startswith("ID") and "HTTP 404" in table[1] and "600" in table[2]


def test_feed_text_cannot_drive_the_terminal() -> None:
    feeds = FeedList(feeds=[Feed(url="https://a.example/rss", id="a", name="Evil\x1b[31m")])
    rows = feed_rows(feeds, {"a": {"status": "failing", "last_error": "x\x1b]0;pwned\x07" * 30}})
    table = format_feed_rows(rows)
    assert "\x1b" not in table and "\x07" not in table
    assert max(len(line) for line in table.splitlines()) < 200  # a long error is cut
