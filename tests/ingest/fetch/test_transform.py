"""Concurrent fetching against real loopback servers: total deadline, no cross-host stalls,
the per-host gap kept, and the Beam stage end to end."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator

import apache_beam as beam
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.util import assert_that, equal_to

from pipeline.ingest.fetch.guard import FetchError
from pipeline.ingest.fetch.http import FetchPolicy, fetch_feed, make_client
from pipeline.ingest.fetch.transform import FetchFeeds, FetchPool, Poller, host_of
from pipeline.records import FeedSource

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
POLICY = FetchPolicy(connect_timeout_seconds=2, read_timeout_seconds=1, total_timeout_seconds=1)


@pytest.fixture
def header_drip() -> Iterator[str]:
    """A raw socket server that sends its status line and headers one byte every 0.1 s,
    for 5 s: each read gets a byte well within the read timeout."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            reply = b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 50 + b"\r\n\r\n" + FEED
            try:
                for byte in reply:
                    if stop.is_set():
                        return
                    conn.sendall(bytes([byte]))
                    time.sleep(0.1)
            except OSError:
                pass

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/feed"
    stop.set()
    server.close()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    delays: dict[str, float] = {}
    starts: list[tuple[str, float]] = []

    def do_GET(self) -> None:
        _Handler.starts.append((self.path, time.monotonic()))
        time.sleep(_Handler.delays.get(self.path, 0.0))
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(FEED)))
        self.end_headers()
        self.wfile.write(FEED)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def feed_server() -> Iterator[str]:
    _Handler.delays, _Handler.starts = {}, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _stub_resolver(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]  # hosts a.test, b.test, ... all served by the loopback server


def test_a_server_dripping_its_headers_is_cut_at_the_total_deadline(header_drip) -> None:
    started = time.monotonic()
    with make_client(POLICY) as client, pytest.raises(FetchError, match="over 1 s") as caught:
        fetch_feed(client, FeedSource("drip", header_drip, allow_private=True), policy=POLICY)
    assert caught.value.kind == "timeout"
    assert time.monotonic() - started < 1.6


def _poller_and_pool(gap_seconds: float = 5.0) -> tuple[Poller, FetchPool, object]:
    client = make_client(POLICY)

    def fetch(source: FeedSource, **kwargs: object) -> object:
        return fetch_feed(client, source, policy=POLICY, resolver=_stub_resolver, **kwargs)

    poller = Poller(fetch, host_gap_seconds=gap_seconds)
    pool = FetchPool(max_concurrent_fetches=8, max_fetches_per_host=2, host_gap_seconds=gap_seconds)
    return poller, pool, client


def test_a_slow_feed_on_one_host_does_not_delay_a_fast_feed_on_another(feed_server) -> None:
    port = feed_server.split(":")[1]
    slow = FeedSource("slow", f"http://a.test:{port}/slow", allow_private=True)
    fast = FeedSource("fast", f"http://b.test:{port}/fast", allow_private=True)
    _Handler.delays["/slow"] = 0.8  # within the 1 s deadline
    poller, pool, client = _poller_and_pool()
    states = {host: poller.new_state() for host in ("a.test", "b.test")}
    started = time.monotonic()
    poller.start("a.test", states["a.test"], [slow], time.time(), pool)  # host A first
    poller.start("b.test", states["b.test"], [fast], time.time(), pool)
    fast_attempts = poller.finish("b.test", states["b.test"], pool, wait_seconds=2.0)
    fast_done = time.monotonic() - started
    assert [a.health.feed_id for a in fast_attempts] == ["fast"] and fast_done < 0.5
    assert fast_attempts[0].result is not None  # new content, emitted at once
    assert poller.finish("a.test", states["a.test"], pool) == []  # still in flight
    slow_attempts = poller.finish("a.test", states["a.test"], pool, wait_seconds=5.0)
    assert [a.health.status for a in slow_attempts] == ["ok"]
    pool.close()
    client.close()


def test_the_per_host_gap_is_kept_between_real_request_starts(feed_server) -> None:
    port = feed_server.split(":")[1]
    feeds = [
        FeedSource(f"f{i}", f"http://h.test:{port}/f{i}", allow_private=True) for i in range(3)
    ]
    poller, pool, client = _poller_and_pool(gap_seconds=0.4)
    poller.max_gate_wait_seconds = 1.0  # plan all three in one tick: the pool must space them
    pool.max_fetches_per_host = 3
    state = poller.new_state()
    poller.start("h.test", state, feeds, time.time(), pool)
    attempts = poller.finish("h.test", state, pool, wait_seconds=5.0)
    assert sorted(a.health.feed_id for a in attempts) == ["f0", "f1", "f2"]
    starts = sorted(at for _, at in _Handler.starts)
    assert len(starts) == 3
    assert all(b - a >= 0.38 for a, b in zip(starts, starts[1:], strict=False))
    pool.close()
    client.close()


def test_the_per_host_limit_bounds_fetches_in_flight(feed_server) -> None:
    port = feed_server.split(":")[1]
    _Handler.delays.update({f"/f{i}": 0.5 for i in range(4)})
    feeds = [
        FeedSource(f"f{i}", f"http://h.test:{port}/f{i}", allow_private=True) for i in range(4)
    ]
    poller, pool, client = _poller_and_pool(gap_seconds=0.0)
    state = poller.new_state()
    poller.start("h.test", state, feeds, time.time(), pool)
    assert pool.in_flight("h.test") == {"f0", "f1"}
    poller.start("h.test", state, feeds, time.time(), pool)  # next tick: still full
    assert pool.in_flight("h.test") == {"f0", "f1"}
    assert len(poller.finish("h.test", state, pool, wait_seconds=3.0)) == 2
    poller.start("h.test", state, feeds, time.time(), pool)
    assert pool.in_flight("h.test") == {"f2", "f3"}
    pool.close()
    client.close()


def test_a_crashing_fetch_fails_one_feed_not_the_pool() -> None:
    def broken(source: FeedSource, **kwargs: object) -> object:
        raise RuntimeError("bug")

    poller, pool = Poller(broken), FetchPool(host_gap_seconds=0.0)
    state = poller.new_state()
    poller.start("x", state, [FeedSource("f", "http://x/f")], time.time(), pool)
    [attempt] = poller.finish("x", state, pool, wait_seconds=2.0)
    assert attempt.failure is not None and "RuntimeError" in attempt.failure.reason
    pool.close()


def test_fetch_feeds_stage_fetches_hosts_concurrently(feed_server) -> None:
    feeds = tuple(
        FeedSource(f"f{i}", f"http://{feed_server}/f{i}", allow_private=True) for i in range(2)
    )
    with beam.Pipeline(runner=FnApiRunner()) as p:
        out = p | beam.Create([(feeds[0],), (feeds[1],)]) | FetchFeeds(host_gap_seconds=0.0)
        assert_that(
            out.main | beam.Map(lambda raw: raw.feed_id), equal_to(["f0", "f1"]), label="main"
        )
    assert host_of(feeds[0].url) == "127.0.0.1"
