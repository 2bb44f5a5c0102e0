"""Live polling ticks: each feed is offered on every tick and fetched only when due."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

from pipeline.ingest.fetch.http import FetchPolicy
from pipeline.ingest.fetch.transform import FetchFeeds
from pipeline.ingest.parse import ParseFeeds
from pipeline.ingest.poll import PollFeeds
from pipeline.records import FeedSource
from tests.paths import FEEDS_DIR


def test_live_polling_fetches_each_feed_only_when_due(httpserver, tmp_path) -> None:
    """PeriodicImpulse ticks every 0.5 s for ~3 s; the feed's 60 s minimum interval means
    the server sees exactly one request, and its items flow on to parsing. (The stream is
    unbounded, so results go to a file rather than through assert_that's GroupByKey.)"""
    feed = (FEEDS_DIR / "stream_gesab001" / "wsj_world@dc4f379b.xml").read_bytes()
    httpserver.expect_request("/wsj").respond_with_data(feed, headers={"ETag": '"1"'})
    sources = [
        FeedSource("wsj", httpserver.url_for("/wsj"), allow_private=True, min_poll_seconds=60)
    ]
    out = tmp_path / "items.txt"

    def record(item) -> None:
        with out.open("a", encoding="utf-8") as handle:
            handle.write(item.feed_id + "\n")

    with beam.Pipeline(runner=FnApiRunner()) as pipeline:
        offered = pipeline | PollFeeds(sources, tick_seconds=0.5, stop_after_seconds=3)
        fetched = offered | FetchFeeds(
            policy=FetchPolicy(read_timeout_seconds=2), host_gap_seconds=0, tick_seconds=0.5
        )
        parsed = fetched.main | ParseFeeds()
        parsed.main | beam.Map(record)
    counters = {
        c.key.metric.name: c.committed for c in pipeline.result.metrics().query()["counters"]
    }
    assert counters["poll_ticks"] >= 3 and counters["feeds_polled"] == 1
    assert out.read_text().split() == ["wsj"] * 7
    assert len(httpserver.log) == 1
