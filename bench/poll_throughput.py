"""Poll throughput of one worker: the concurrent fetcher beside the sequential one.

A loopback feed server (its own process, so its work does not share our GIL) serves
``--feeds`` feeds spread over ``--hosts`` host names (``h17.bench.test``; a resolver stub
sends every name to 127.0.0.1, so the per-host gap and limit apply per name). Every
response waits ``--latency_ms`` first; ``--slow_percent`` of the feeds answer after 3 s
more and ``--failing_percent`` answer HTTP 500. Both sides use the real fetch path
(``fetch_feed`` with the same policy; all feeds due at the start):

- sequential: ``fetch_feed`` in a loop, as FetchFeeds did before (``--sequential_seconds``);
- concurrent: the calls FetchFeeds' DoFn makes, ``Poller.tick`` per host every
  ``--tick_seconds`` with a 1 s wait budget per tick, on one ``FetchPool``
  (``--concurrency`` fetches at once, 2 per host, ``--host_gap_seconds`` between the starts
  of requests to one host), for ``--seconds``.

It prints fetches/s of each, the bound min(concurrency / latency, hosts / gap), and the
smallest gap the server saw between two request starts to one host (politeness check).

    .venv/bin/python bench/poll_throughput.py [--seconds 60] [--feeds 5000] [--hosts 500]
"""

from __future__ import annotations

import argparse
import http.server
import itertools
import multiprocessing
import sys
import time
import zlib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.ingest.fetch.http import FetchPolicy, fetch_feed, make_client  # noqa: E402
from pipeline.ingest.fetch.transform import FetchPool, Poller, host_of  # noqa: E402
from pipeline.records import FeedSource  # noqa: E402

FEED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>bench</title>'
    b"<item><title>one</title><link>https://example.org/1</link></item></channel></rss>"
)
POLICY = FetchPolicy(connect_timeout_seconds=5, read_timeout_seconds=5, total_timeout_seconds=10)


def _kind(feed_number: int, slow_percent: float, failing_percent: float) -> str:
    bucket = zlib.crc32(str(feed_number).encode()) % 1000
    if bucket < slow_percent * 10:
        return "slow"
    if bucket < (slow_percent + failing_percent) * 10:
        return "failing"
    return "ok"


def _serve(port_out, latency_seconds: float, slow_percent: float, failing_percent: float, log):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:
            log.put((self.headers.get("Host", ""), time.time()))
            kind = _kind(int(self.path.rsplit("/", 1)[-1]), slow_percent, failing_percent)
            time.sleep(latency_seconds + (3.0 if kind == "slow" else 0.0))
            status, body = (500, b"oops") if kind == "failing" else (200, FEED)
            self.send_response(status)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    http.server.ThreadingHTTPServer.request_queue_size = 1024
    http.server.ThreadingHTTPServer.daemon_threads = True
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_out.put(server.server_address[1])
    server.serve_forever()


def _resolver(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


def _feeds(port: int, feeds: int, hosts: int) -> list[FeedSource]:
    return [
        FeedSource(f"f{i}", f"http://h{i % hosts}.bench.test:{port}/feed/{i}", allow_private=True)
        for i in range(feeds)
    ]


def sequential(sources: list[FeedSource], seconds: float) -> tuple[int, float]:
    done, started = 0, time.monotonic()
    with make_client(POLICY) as client:
        for source in sources:
            if time.monotonic() - started >= seconds:
                break
            try:
                fetch_feed(client, source, policy=POLICY, resolver=_resolver)
            except Exception:  # a failing feed counts as an attempt, as in FetchFeeds
                pass
            done += 1
    return done, time.monotonic() - started


def concurrent(sources: list[FeedSource], args: argparse.Namespace) -> tuple[int, int, float]:
    client = make_client(POLICY)

    def fetch(source: FeedSource, **kwargs: object):
        return fetch_feed(client, source, policy=POLICY, resolver=_resolver, **kwargs)

    poller = Poller(
        fetch, host_gap_seconds=args.host_gap_seconds, tolerance_seconds=args.tick_seconds / 2
    )
    pool = FetchPool(
        max_concurrent_fetches=args.concurrency, host_gap_seconds=args.host_gap_seconds
    )
    by_host: dict[str, list[FeedSource]] = defaultdict(list)
    for source in sources:
        by_host[host_of(source.url)].append(source)
    states = {host: poller.new_state() for host in by_host}
    attempts = failures = 0
    started = time.monotonic()
    while time.monotonic() - started < args.seconds:
        tick_at = time.monotonic()
        wait_until = tick_at + 1.0  # the DoFn's result_wait_seconds per bundle
        for host, host_sources in by_host.items():
            done = poller.tick(
                host,
                states[host],
                host_sources,
                time.time(),
                pool,
                wait_seconds=wait_until - time.monotonic(),
            )
            attempts += len(done)
            failures += sum(1 for a in done if a.failure is not None)
        time.sleep(max(0.0, tick_at + args.tick_seconds - time.monotonic()))
    elapsed = time.monotonic() - started
    pool.close()
    client.close()
    return attempts, failures, elapsed


def _min_host_gap(log) -> tuple[float, int]:
    starts: dict[str, list[float]] = defaultdict(list)
    while not log.empty():
        host, at = log.get()
        starts[host].append(at)
    gaps = [b - a for times in starts.values() for a, b in itertools.pairwise(sorted(times))]
    return (min(gaps) if gaps else float("inf")), sum(len(t) for t in starts.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--sequential_seconds", type=float, default=15.0)
    parser.add_argument("--feeds", type=int, default=5000)
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--latency_ms", type=float, default=300.0)
    parser.add_argument("--slow_percent", type=float, default=2.5)
    parser.add_argument("--failing_percent", type=float, default=2.5)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--host_gap_seconds", type=float, default=5.0)
    parser.add_argument("--tick_seconds", type=float, default=5.0)
    args = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    port_out, log = context.Queue(), context.Queue()
    server = context.Process(
        target=_serve,
        args=(port_out, args.latency_ms / 1000, args.slow_percent, args.failing_percent, log),
        daemon=True,
    )
    server.start()
    port = port_out.get(timeout=30)
    sources = _feeds(port, args.feeds, args.hosts)
    latency = args.latency_ms / 1000

    seq_done, seq_elapsed = sequential(sources, args.sequential_seconds)
    while not log.empty():  # the politeness check covers the concurrent run only
        log.get()
    attempts, failures, elapsed = concurrent(sources, args)
    time.sleep(0.5)
    min_gap, requests = _min_host_gap(log)
    server.terminate()

    bound = min(args.concurrency / latency, args.hosts / args.host_gap_seconds)
    print(
        f"{args.feeds} feeds on {args.hosts} hosts, {args.latency_ms:g} ms latency, "
        f"{args.slow_percent:g}% slow (+3 s), {args.failing_percent:g}% HTTP 500"
    )
    print(f"{'fetcher':<34} {'attempts':>9} {'seconds':>8} {'fetches/s':>10}")
    print(
        f"{'sequential (fetch_feed in a loop)':<34} {seq_done:>9} {seq_elapsed:>8.1f} "
        f"{seq_done / seq_elapsed:>10.1f}"
    )
    print(
        f"{'concurrent (Poller.tick + FetchPool)':<34} {attempts:>9} {elapsed:>8.1f} "
        f"{attempts / elapsed:>10.1f}"
    )
    print(
        f"bound: min(concurrency {args.concurrency} / latency {latency:g} s = "
        f"{args.concurrency / latency:.0f}, hosts {args.hosts} / gap {args.host_gap_seconds:g} s = "
        f"{args.hosts / args.host_gap_seconds:.0f}) = {bound:.0f} fetches/s"
    )
    print(
        f"failures {failures}; server saw {requests} requests, smallest gap between two "
        f"starts to one host {min_gap:.2f} s (gap {args.host_gap_seconds:g} s)"
    )


if __name__ == "__main__":
    main()
