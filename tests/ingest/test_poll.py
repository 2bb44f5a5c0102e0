"""Live polling ticks: each feed is offered on every tick and fetched only when due; the feed
list is re-read while running."""

from __future__ import annotations

import logging
import os
import threading
import time

import apache_beam as beam
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

from pipeline.ingest.fetch.http import FetchPolicy
from pipeline.ingest.fetch.transform import FetchFeeds
from pipeline.ingest.parse import ParseFeeds
from pipeline.ingest.poll import OfferFeeds, PollFeeds, load_feed_sources
from pipeline.records import FeedSource
from pipeline.run import fnapi_live
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


FEEDS_YAML = """
allow_private_addresses: true
feeds:
{entries}
"""


def write_feeds(path, *feed_ids: str) -> None:
    entries = "\n".join(f"  - url: http://127.0.0.1:9/{f}\n    id: {f}" for f in feed_ids)
    path.write_text(FEEDS_YAML.format(entries=entries), encoding="utf-8")
    # Edits within the same mtime tick must still register.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_a_feed_removed_from_the_file_stops_being_offered_and_a_new_one_starts(tmp_path) -> None:
    """Live, on the FnApiRunner: feeds.yaml is edited while PollFeeds ticks; within one
    reload interval the removed feed is no longer offered and the added one is."""
    fnapi_live.apply()  # as `storywatch run` does: unpatched, the live runner's metrics recurse
    feeds_file = tmp_path / "feeds.yaml"
    write_feeds(feeds_file, "a", "b")
    sources = load_feed_sources(feeds_file)
    out = tmp_path / "offered.txt"

    def record(host_feeds) -> None:
        with out.open("a", encoding="utf-8") as handle:
            handle.write(",".join(s.feed_id for s in host_feeds) + "\n")

    def edit() -> None:
        time.sleep(1.5)
        write_feeds(feeds_file, "a", "c")

    editor = threading.Thread(target=edit)
    with beam.Pipeline(runner=FnApiRunner()) as pipeline:
        offered = pipeline | PollFeeds(
            sources,
            tick_seconds=0.25,
            stop_after_seconds=4,
            feeds_file=feeds_file,
            reload_interval_seconds=0.5,
        )
        offered | beam.Map(record)
        editor.start()
    editor.join()
    ticks = out.read_text().split()
    assert ticks[0] == "a,b" and ticks[-4:] == ["a,c"] * 4
    assert set(ticks) == {"a,b", "a,c"} and ticks.index("a,c") < len(ticks) - 4
    counters = {
        c.key.metric.name: c.committed for c in pipeline.result.metrics().query()["counters"]
    }
    assert counters["feed_list_reloads"] == 1


def test_offer_feeds_keeps_the_last_good_list_on_a_bad_edit(tmp_path, caplog) -> None:
    """The DoFn alone, with an injected clock: a bad edit is reported once and ignored."""
    feeds_file = tmp_path / "feeds.yaml"
    write_feeds(feeds_file, "a", "b")
    now = [0.0]
    poll = PollFeeds(
        load_feed_sources(feeds_file),
        feeds_file=feeds_file,
        reload_interval_seconds=30,
        clock=lambda: now[0],
    )
    fn = OfferFeeds(poll.sources, watcher=poll.watcher)

    def offered() -> list[list[str]]:
        return [[s.feed_id for s in host] for host in fn.process(None)]

    assert offered() == [["a", "b"]]
    feeds_file.write_text("feeds:\n  - url: not a url\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="storywatch.config"):
        for step in range(1, 4):
            now[0] = 30.0 * step
            assert offered() == [["a", "b"]]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"{feeds_file}:2:" in warnings[0]
    write_feeds(feeds_file, "b")
    now[0] = 120.0
    assert offered() == [["b"]]
