"""The Beam side of WebSub: slowed fallback polling, Pub/Sub pushes, and a live run in which
a signed push alerts without a poll and a forged one does not."""

from __future__ import annotations

import datetime as dt
import http.server
import os
import threading
import time

import apache_beam as beam
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

from bench.live_latency import dev_item, rss_item
from pipeline.ingest.fetch.schedule import HostGate, HostState
from pipeline.ingest.fetch.transform import FetchFeeds
from pipeline.ingest.poll import PollFeeds, load_feed_sources
from pipeline.ingest.websub.client import WebSubClient, WebSubConfig
from pipeline.ingest.websub.transform import WebSubTap, fallback_source, raw_feed_from_pubsub
from pipeline.records import Failure, FeedSource
from pipeline.run import fnapi_live
from pipeline.run.graph import build_pipeline
from pipeline.run.inputs import load_run_inputs
from pipeline.run.options import StorywatchOptions, pipeline_options
from tests.ingest.websub.loopback_hub import LoopbackHub
from tests.ingest.websub.test_client import free_port
from tests.paths import WATCHLISTS

CONFIG = WebSubConfig("http://127.0.0.1:1/websub", port=1)


def test_fallback_polling_is_the_floor_times_the_factor_bounded():
    hot = FeedSource("a", "u", min_poll_seconds=60, max_poll_seconds=3600)
    assert fallback_source(hot, CONFIG).min_poll_seconds == 600
    slow = FeedSource("b", "u", min_poll_seconds=900, max_poll_seconds=3600)
    assert fallback_source(slow, CONFIG).min_poll_seconds == 3600  # bounded
    rare = FeedSource("c", "u", min_poll_seconds=7200, max_poll_seconds=7200)
    assert fallback_source(rare, CONFIG).min_poll_seconds == 7200  # never below the floor


class _Tap(WebSubTap):
    """A tap over an unstarted client whose subscriptions the test sets by hand."""

    def __init__(self) -> None:
        super().__init__(CONFIG)
        self.client = WebSubClient(CONFIG)


def test_polling_slows_while_a_subscription_is_live_and_is_due_at_once_when_it_lapses():
    tap = _Tap()
    source = FeedSource("a", "https://news.example/a", min_poll_seconds=60)
    state = HostState(HostGate(0.0))
    state.offered([source], 0.0)
    subs = tap.client.subscriptions
    subs.want("a", source.url, ["https://hub.example/"], 0.0)
    (request,) = subs.due_requests(0.0)
    subs.verify_intent(request.token, "subscribe", source.url, "c", 100, 0.0)  # live until 100

    (polled,) = tap.polled_sources(state, [source], 10.0)
    assert polled.min_poll_seconds == 600
    state.offered([polled], 10.0)
    state.schedules["a"].record_success(10.0, changed=True)
    assert state.schedules["a"].next_due_at == 610.0  # slowed: every 600 s, not 60

    (polled,) = tap.polled_sources(state, [source], 101.0)  # the lease ended unrenewed
    assert polled == source
    assert state.schedules["a"].next_due_at == 101.0  # due now: pushes may have been missed
    state.offered([polled], 101.0)
    state.schedules["a"].record_success(101.0, changed=False)
    assert state.schedules["a"].next_due_at <= 101.0 + 3 * 60  # back on the normal cadence


def test_a_pubsub_push_becomes_the_feeds_raw_feed_or_a_failure():
    sources = {"a": FeedSource("a", "https://news.example/a", name="News", language="en")}
    raw = raw_feed_from_pubsub(
        b"<rss/>",
        {
            "feed_id": "a",
            "content_type": "application/rss+xml",
            "received_at": "2026-12-02T10:00:00Z",
        },
        sources,
    )
    assert (raw.feed_id, raw.url, raw.name, raw.language, raw.body) == (
        "a",
        "https://news.example/a",
        "News",
        "en",
        b"<rss/>",
    )
    assert raw.fetched_at == dt.datetime(2026, 12, 2, 10, tzinfo=dt.UTC)
    assert raw.header("content-type") == "application/rss+xml"
    failure = raw_feed_from_pubsub(b"x", {"feed_id": "gone"}, sources)
    assert isinstance(failure, Failure) and "not in the feed list" in failure.reason


# --- a live run ----------------------------------------------------------------------------


class FeedServer:
    """RSS feeds on loopback (any path, each its own rel=self) advertising ``hub_url``;
    they never hold the pushed item."""

    def __init__(self, hub_url: str, item_xml: str) -> None:
        self.gets = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                server.gets += 1
                body = feed_xml(server.base + self.path, hub_url, item_xml).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_port}"
        self.url = f"{self.base}/feed.xml"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def feed_xml(self_url: str, hub_url: str, items: str) -> str:
    return (
        "<?xml version='1.0'?><rss version='2.0' xmlns:atom='http://www.w3.org/2005/Atom'>"
        f"<channel><title>Loopback Wire</title><link>http://127.0.0.1/</link>"
        f"<atom:link rel='hub' href='{hub_url}'/><atom:link rel='self' href='{self_url}'/>"
        f"<description>d</description>{items}</channel></rss>"
    )


@pytest.mark.slow
def test_live_run_a_signed_push_alerts_without_a_poll_and_a_forged_one_is_refused(tmp_path):
    fnapi_live.apply()  # as `storywatch run` does (tests/run/test_fnapi_live.py)
    quiet, matching = dev_item("H001"), dev_item("H282")
    hub = LoopbackHub()
    feed = FeedServer(hub.url, rss_item(quiet, dt.datetime.now(dt.UTC)))
    port = free_port()
    (tmp_path / "feeds.yaml").write_text(
        "allow_private_addresses: true\n"
        f"feeds:\n  - url: {feed.url}\n    id: wire\n    name: Loopback Wire\n    tags: [hot]\n"
    )
    alerts = tmp_path / "alerts.jsonl"
    options = pipeline_options(
        [
            f"--watchlists={WATCHLISTS}",
            f"--feeds_file={tmp_path / 'feeds.yaml'}",
            f"--ledger={tmp_path / 'ledger.sqlite'}",
            f"--alerts_out={alerts}",
            f"--dead_letter_out={tmp_path / 'dead.jsonl'}",
            f"--feed_health_out={tmp_path / 'health.jsonl'}",
            "--console_alerts=false",
            "--tick_seconds=1",
            "--reload_interval_seconds=0",
            "--run_duration_seconds=20",
            f"--websub-callback-url=http://127.0.0.1:{port}/websub",
        ]
    )
    sw = options.view_as(StorywatchOptions)
    inputs = load_run_inputs(sw, live=True)
    seen: dict[str, object] = {}

    def alerted() -> bool:
        return alerts.exists() and matching["title"] in alerts.read_text(encoding="utf-8")

    def drive() -> None:
        if not hub.wait_until(lambda: bool(hub.subscribers), 15):
            seen["error"] = "no verified subscription within 15 s"
            return
        body = feed_xml(feed.url, hub.url, rss_item(matching, dt.datetime.now(dt.UTC))).encode()
        seen["forged"] = hub.publish(feed.url, body, secret="not-the-secret")
        time.sleep(3)  # three ticks: a forged push would have alerted by now
        seen["alerted_after_forged"] = alerted()
        seen["pushed_at"] = time.monotonic()
        seen["signed"] = hub.publish(feed.url, body, method="sha1")
        deadline = time.monotonic() + 10
        while not alerted() and time.monotonic() < deadline:
            time.sleep(0.05)
        seen["alerted_at"] = time.monotonic() if alerted() else None
        seen["gets"] = feed.gets

    driver = threading.Thread(target=drive, daemon=True)
    try:
        p = beam.Pipeline(options=options)
        build_pipeline(p, sw, inputs.watchlists, feed_sources=inputs.feed_sources)
        driver.start()
        result = p.run()
        result.wait_until_finish()
        driver.join(15)
    finally:
        hub.close()
        feed.close()
    assert "error" not in seen, seen
    assert seen["forged"] == [202] and seen["alerted_after_forged"] is False
    assert seen["signed"] == [202] and seen["alerted_at"] is not None
    assert seen["alerted_at"] - seen["pushed_at"] < 5.0
    assert seen["gets"] == 1  # the alert came from the push: the feed was polled once, quiet
    counters = {c.key.metric.name: c.committed for c in result.metrics().query()["counters"]}
    assert counters["websub_pushes"] == 1 and counters["websub_pushes_rejected"] == 1
    assert counters["websub_verified"] == 1


@pytest.mark.slow
def test_live_a_feed_removed_from_feeds_yaml_is_unsubscribed_at_its_hub(tmp_path):
    """Live, on the FnApiRunner: two feeds on one host advertise the hub and are subscribed;
    one is removed from feeds.yaml while running; after the reload and
    ``forget_after_seconds`` its subscription is unsubscribed (verified) at the hub, the
    other's is kept."""
    fnapi_live.apply()
    hub = LoopbackHub()
    feed = FeedServer(hub.url, "")
    url_a, url_b = feed.url, feed.url.replace("feed.xml", "other.xml")
    feeds_file = tmp_path / "feeds.yaml"

    def write(*urls: str) -> None:
        entries = "".join(f"  - url: {u}\n    id: {u.rsplit('/', 1)[-1][:-4]}\n" for u in urls)
        feeds_file.write_text(f"allow_private_addresses: true\nfeeds:\n{entries}")
        stat = feeds_file.stat()
        os.utime(feeds_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    write(url_a, url_b)
    port = free_port()
    config = WebSubConfig(f"http://127.0.0.1:{port}/websub", port=port, forget_after_seconds=1.0)
    seen: dict[str, object] = {}

    def edit() -> None:
        seen["both"] = hub.wait_until(lambda: len(hub.subscribers) == 2, 10)
        write(url_a)
        seen["left"] = hub.wait_until(
            lambda: (
                any(r["hub.mode"] == "unsubscribe" for r in hub.requests)
                and len(hub.subscribers) == 1
            ),
            10,
        )

    editor = threading.Thread(target=edit, daemon=True)
    try:
        with beam.Pipeline(runner=FnApiRunner()) as pipeline:
            offered = pipeline | PollFeeds(
                load_feed_sources(feeds_file),
                tick_seconds=0.25,
                stop_after_seconds=9,
                feeds_file=feeds_file,
                reload_interval_seconds=0.5,
            )
            offered | FetchFeeds(host_gap_seconds=0, tick_seconds=0.25, websub=config)
            editor.start()
        editor.join(10)
    finally:
        hub.close()
        feed.close()
    assert seen == {"both": True, "left": True}
    (unsubscribe,) = [r for r in hub.requests if r["hub.mode"] == "unsubscribe"]
    assert unsubscribe["hub.topic"] == url_b
    assert [s.topic for s in hub.subscribers.values()] == [url_a]
