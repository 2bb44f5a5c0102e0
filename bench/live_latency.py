"""Latency of a live `storywatch run`: publish -> alert and fetch -> alert on a hot feed.

    python bench/live_latency.py [--trials 10] [--parallel 5] [--baseline-tick-seconds 60]
                                 [--websub]

Each trial starts a loopback feed server (127.0.0.1 only, ETag/304 answers) and the real
``storywatch run`` as a subprocess, with a temporary ledger, alerts, dead-letter and
feed-health file, no subscribers, and a feeds file holding that one feed tagged ``hot``
(60 s floor); every other setting is the default. The feed first holds a non-matching
headline (dev H001). At a random moment, uniform in [0, 60) s after the run's first
fetch, it gains a real headline that matches a shipped storyline (dev H282, dated now).

- publish -> alert: the server's clock when the item appeared -> the bench sees the alert
  line in ``--alerts_out`` (the file is polled every 0.1 s);
- fetch -> alert: the server's clock when it first served a body holding the item ->
  the same alert line.

The same trials run with ``--tick_seconds=<baseline>`` (the old tick alignment) beside
the defaults, and the theoretical mean for polling alone is printed (floor / 2).

``--websub`` adds the same trials with WebSub push: the feed advertises a loopback hub
(``tests/ingest/websub/loopback_hub.py``), the run gets ``--websub-callback-url`` and
subscribes; at the random moment the item is added to the feed and the hub, as a real hub
does on the publisher's ping, POSTs the new feed body, signed, to the callback. publish ->
alert is then the push path (fetch -> alert does not apply: no poll carries the item first).
The wait starts once the hub has verified the subscription. Trials run
``--parallel`` at a time, each its own process. Every trial is bounded: 40 s for the first
fetch, 60 s of random wait, ``--alert-timeout-seconds`` (120) for the alert; the child is
killed at the end.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import email.utils
import hashlib
import http.server
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the loopback hub is the tests' own stand-in

from tests.ingest.websub.loopback_hub import LoopbackHub  # noqa: E402 (after the path)

STORYWATCH = Path(sys.executable).with_name("storywatch")
DEV = ROOT / "tests" / "data" / "labeled" / "dev.jsonl"
FLOOR_SECONDS = 60.0  # the hot-feed floor (pipeline.config.feeds.HOT_MIN_POLL_SECONDS)


def dev_item(item_id: str) -> dict:
    with DEV.open(encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            if item["id"] == item_id:
                return item
    raise SystemExit(f"{DEV}: no item {item_id}")


def rss_item(item: dict, published_at: dt.datetime) -> str:
    link = escape(item["url"])
    return (
        f"<item><title>{escape(item['title'])}</title><link>{link}</link><guid>{link}</guid>"
        f"<description>{escape(item['summary'])}</description>"
        f"<pubDate>{email.utils.format_datetime(published_at)}</pubDate></item>"
    )


class FeedServer:
    """One feed on loopback; ``publish()`` adds the matching item; fetch times are logged."""

    def __init__(self, quiet: dict, matching: dict, *, hub_url: str = "") -> None:
        self.hub_url = hub_url
        self.quiet_xml = rss_item(quiet, dt.datetime.now(dt.UTC))
        self.matching = matching
        self.items_xml = self.quiet_xml
        self.published_at: float | None = None
        self.first_fetch_at: float | None = None
        self.fetch_with_item_at: float | None = None
        self.gets = 0
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                with server.lock:
                    body = server.body()
                    has_item = server.published_at is not None
                    server.gets += 1
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                now = time.time()
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                else:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/rss+xml")
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    if has_item and server.fetch_with_item_at is None:
                        server.fetch_with_item_at = now
                if server.first_fetch_at is None:
                    server.first_fetch_at = now

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/feed.xml"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def body(self) -> bytes:
        hub = (
            f"<atom:link rel='hub' href='{self.hub_url}'/><atom:link rel='self' href='{self.url}'/>"
            if self.hub_url
            else ""
        )
        return (
            "<?xml version='1.0'?><rss version='2.0' xmlns:atom='http://www.w3.org/2005/Atom'>"
            f"<channel><title>Bench Wire</title><link>http://127.0.0.1/</link>{hub}"
            f"<description>d</description>{self.items_xml}</channel></rss>"
        ).encode()

    def publish(self) -> None:
        with self.lock:
            self.published_at = time.time()
            published = dt.datetime.fromtimestamp(self.published_at, dt.UTC)
            self.items_xml = rss_item(self.matching, published) + self.quiet_xml

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def alert_seen_at(path: Path, title: str, deadline: float, proc: subprocess.Popen) -> float | None:
    while time.time() < deadline and proc.poll() is None:
        if path.exists() and title in path.read_text(encoding="utf-8"):
            return time.time()
        time.sleep(0.1)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def trial(
    index: int,
    *,
    tick_seconds: float | None,
    alert_timeout_seconds: float,
    seed: int,
    websub: bool = False,
) -> dict:
    quiet, matching = dev_item("H001"), dev_item("H282")
    rng = random.Random(seed)
    hub = LoopbackHub() if websub else None
    server = FeedServer(quiet, matching, hub_url=hub.url if hub else "")
    with tempfile.TemporaryDirectory(prefix="storywatch-latency-") as tmp_dir:
        tmp = Path(tmp_dir)
        (tmp / "feeds.yaml").write_text(
            "allow_private_addresses: true\n"
            f"feeds:\n  - url: {server.url}\n    id: bench-wire\n    name: Bench Wire\n"
            "    tags: [hot]\n"
        )
        argv = [
            str(STORYWATCH),
            "run",
            f"--feeds_file={tmp / 'feeds.yaml'}",
            f"--ledger={tmp / 'ledger.sqlite'}",
            f"--alerts_out={tmp / 'alerts.jsonl'}",
            f"--dead_letter_out={tmp / 'dead.jsonl'}",
            f"--feed_health_out={tmp / 'health.jsonl'}",
        ] + ([f"--tick_seconds={tick_seconds:g}"] if tick_seconds else [])
        if hub is not None:
            port = free_port()
            argv.append(f"--websub-callback-url=http://127.0.0.1:{port}/websub")
        log = (tmp / "run.log").open("w")
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True)
        row: dict = {"trial": index, "tick_seconds": tick_seconds or 5.0}
        try:
            deadline = time.time() + 40
            while server.first_fetch_at is None and time.time() < deadline:
                time.sleep(0.1)
            if server.first_fetch_at is None:
                row["error"] = "no first fetch within 40 s"
                return row
            if hub is not None and not hub.wait_until(lambda: bool(hub.subscribers), 40):
                row["error"] = "no verified WebSub subscription within 40 s"
                return row
            time.sleep(rng.uniform(0, FLOOR_SECONDS))
            server.publish()
            if hub is not None:  # the publisher pinged its hub, which pushes the new body
                with server.lock:
                    body = server.body()
                row["push_statuses"] = hub.publish(server.url, body)
            seen = alert_seen_at(
                tmp / "alerts.jsonl",
                matching["title"],
                time.time() + alert_timeout_seconds,
                proc,
            )
            if seen is None:
                row["error"] = f"no alert within {alert_timeout_seconds:g} s"
                return row
            assert server.published_at is not None
            row["publish_to_alert_s"] = seen - server.published_at
            if server.fetch_with_item_at is not None:
                row["fetch_to_alert_s"] = seen - server.fetch_with_item_at
            row["feed_gets_before_alert"] = server.gets
            return row
        finally:
            proc.kill()
            proc.wait()
            log.close()
            server.close()
            if hub is not None:
                hub.close()
            if "error" in row:
                row["log_tail"] = (tmp / "run.log").read_text()[-800:]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[rank]


def summary(name: str, rows: list[dict]) -> str:
    ok = [r for r in rows if "error" not in r]
    if not ok:
        return f"| {name} | 0/{len(rows)} | - | - | - | - |"
    pub = [r["publish_to_alert_s"] for r in ok]
    fetch = [r["fetch_to_alert_s"] for r in ok if "fetch_to_alert_s" in r]
    fetch_cells = (
        f"{statistics.median(fetch):.2f} | {percentile(fetch, 0.95):.2f}"
        if len(fetch) == len(ok)
        else f"- ({len(fetch)} of {len(ok)} alerts came after a fetch with the item) | -"
    )
    return (
        f"| {name} | {len(ok)}/{len(rows)} | {statistics.median(pub):.1f} | "
        f"{percentile(pub, 0.95):.1f} | {fetch_cells} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=5)
    parser.add_argument("--baseline-tick-seconds", type=float, default=60.0)
    parser.add_argument("--alert-timeout-seconds", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument(
        "--websub", action="store_true", help="also run the trials with WebSub push (loopback hub)"
    )
    args = parser.parse_args()
    runs: dict[str, tuple[float | None, bool]] = {"defaults (tick 5 s)": (None, False)}
    if args.baseline_tick_seconds:
        runs[f"baseline --tick_seconds={args.baseline_tick_seconds:g}"] = (
            args.baseline_tick_seconds,
            False,
        )
    if args.websub:
        runs["WebSub push, defaults (tick 5 s)"] = (None, True)
    jobs = [(name, tick, ws, i) for i in range(args.trials) for name, (tick, ws) in runs.items()]
    results: dict[str, list[dict]] = {name: [] for name in runs}
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.parallel) as pool:
        futures = {
            pool.submit(
                trial,
                i,
                tick_seconds=tick,
                alert_timeout_seconds=args.alert_timeout_seconds,
                seed=args.seed * 1000 + i,
                websub=ws,
            ): name
            for name, tick, ws, i in jobs
        }
        for future in concurrent.futures.as_completed(futures):
            row = future.result()
            results[futures[future]].append(row)
            print(json.dumps({"run": futures[future], **row}), flush=True)
    print()
    print(
        "| run | trials with an alert | publish->alert p50 (s) | p95 (s) | fetch->alert p50 (s) | p95 (s) |"
    )
    print("|---|---|---|---|---|---|")
    for name, rows in results.items():
        print(summary(name, rows))
    print(
        f"| goal | | <= 60 (push: <= 5) | <= 90 | <= 2 | <= 2 |\n"
        f"| bound: polling alone, {FLOOR_SECONDS:g} s floor, uniform publish | | "
        f"{FLOOR_SECONDS / 2:g} (mean) | {0.95 * FLOOR_SECONDS:g} | 0 | 0 |"
    )


if __name__ == "__main__":
    main()
