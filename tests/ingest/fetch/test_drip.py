"""Defect 2 of issue 14: a server that drips its status line and headers byte by byte is cut
by the total deadline (connect + headers + body), alone and inside the worker's fetch pool,
where another host's feed is fetched while the drip is in progress."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from pipeline.ingest.fetch.guard import FetchError
from pipeline.ingest.fetch.http import FetchPolicy, fetch_feed, make_client
from pipeline.ingest.fetch.transform import FetchPool
from pipeline.records import FeedSource
from tests.paths import FEEDS_DIR

FEED = (FEEDS_DIR / "stream_gesab001" / "wsj_world@dc4f379b.xml").read_bytes()
# Each byte comes well within the read timeout, so only a total deadline can stop it.
POLICY = FetchPolicy(connect_timeout_seconds=2, read_timeout_seconds=1, total_timeout_seconds=1.5)
DRIP_SECONDS = 0.1
HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
    + b"".join(b"X-Pad-%d: %s\r\n" % (n, b"y" * 20) for n in range(40))
    + b"\r\n"
)


class _RawServer:
    """A plain-socket server on 127.0.0.1: sends ``HEAD`` one byte every ``drip_seconds``
    (0: at once), then the body. Bounded: it stops after the head or when the peer goes."""

    def __init__(self, *, drip_seconds: float, body: bytes = b"") -> None:
        self.drip_seconds = drip_seconds
        self.body = body
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        self.bytes_sent = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/feed"

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                if self.drip_seconds == 0:
                    conn.sendall(
                        HEAD.replace(
                            b"\r\n\r\n", b"\r\nContent-Length: %d\r\n\r\n" % len(self.body)
                        )
                        + self.body
                    )
                    return
                for byte in HEAD:
                    if self.stopped.is_set():
                        return
                    conn.sendall(bytes([byte]))
                    self.bytes_sent += 1
                    time.sleep(self.drip_seconds)
            except OSError:  # the client hung up: what the deadline should do
                return

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def dripping() -> Iterator[_RawServer]:
    server = _RawServer(drip_seconds=DRIP_SECONDS)
    yield server
    server.close()


@pytest.fixture
def prompt() -> Iterator[_RawServer]:
    server = _RawServer(drip_seconds=0, body=FEED)
    yield server
    server.close()


def _to_loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


def test_a_dripped_status_line_and_headers_hit_the_total_deadline(dripping) -> None:
    started = time.monotonic()
    with make_client(POLICY) as client, pytest.raises(FetchError) as caught:
        fetch_feed(client, FeedSource("drip", dripping.url(), allow_private=True), policy=POLICY)
    took = time.monotonic() - started
    assert caught.value.kind == "timeout"
    assert "1.5 s (connect, headers and body)" in str(caught.value)
    # The head takes ~8 s at this pace; the fetch ends at the deadline, still inside it.
    assert POLICY.total_timeout_seconds <= took < POLICY.total_timeout_seconds + 1.0
    assert dripping.bytes_sent < len(HEAD)


def test_a_dripping_feed_delays_no_other_hosts_fetch_in_the_pool(dripping, prompt) -> None:
    pool = FetchPool(max_concurrent_fetches=2, max_fetches_per_host=2, host_gap_seconds=0.0)
    try:
        with make_client(POLICY) as client:
            drip = FeedSource("drip", dripping.url("drip.test"), allow_private=True)
            fast = FeedSource("fast", prompt.url("fast.test"), allow_private=True)

            def fetch(source: FeedSource):
                return lambda: fetch_feed(client, source, policy=POLICY, resolver=_to_loopback)

            started = time.monotonic()
            pool.submit("drip.test", drip, 0.0, fetch(drip))
            time.sleep(0.3)  # the drip is in progress (a few header bytes sent)
            assert 0 < dripping.bytes_sent < len(HEAD)
            pool.submit("fast.test", fast, 0.0, fetch(fast))
            (fast_done,) = _wait_for(pool, "fast.test", seconds=POLICY.total_timeout_seconds)
            fast_at = time.monotonic() - started
            assert fast_done[2].status == 200 and fast_done[2].raw.body == FEED
            assert fast_at < POLICY.total_timeout_seconds  # not behind the drip
            (drip_done,) = _wait_for(pool, "drip.test", seconds=POLICY.total_timeout_seconds + 1)
            drip_at = time.monotonic() - started
            assert isinstance(drip_done[2], FetchError) and drip_done[2].kind == "timeout"
            assert drip_at < POLICY.total_timeout_seconds + 1.0
    finally:
        pool.close()


def _wait_for(pool: FetchPool, host: str, *, seconds: float) -> list:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done = pool.completed(host, wait_seconds=0.05)
        if done:
            return done
    return []
