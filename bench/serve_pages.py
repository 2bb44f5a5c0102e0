"""Status page latency over a large store, beside a static file from the same server.

    .venv/bin/python bench/serve_pages.py [--developments 1000] [--feeds 500] [--requests 100]
                                          [--backend sqlite|postgresql]

Generates a synthetic store in a temporary folder (nothing from it is labeled data): a real
ledger (a SQLite file, or with ``--backend postgresql`` a database on a PostgreSQL server
started for the run, ``tests/ledger/postgres_server.py``) and an alerts file with
``--developments`` developments (one alert each) over 10
storylines, one of which holds half of them; two Slack subscribers per alert, in the
ledger's states (mostly sent, some dead with their dead letters, retrying, queued); a feed
list of ``--feeds`` feeds and a feed-health file of 20 attempts per feed (a fifth failing);
200 pipeline dead letters. Then it starts the real ``storywatch serve`` (uvicorn, its own
process, a free 127.0.0.1 port) on that store and requests, one at a time over one
keep-alive connection, each page ``--requests`` times after 3 warm-up requests, and the
same number of times the static ``/static/style.css`` and ``/static/htmx.min.js`` through
the same server: the baseline of what the server costs with no page work.

Prints, per page: the first (cold) request, then p50 / p95 / max of the rest, in ms, and
the response size; ``feeds, health growing`` appends one health line before each request
(a running pipeline), so every request re-reads and recomputes the feed table; ``ledger
changing`` marks one delivery sent again before each request (a running pipeline), so
every request reads the ledger's changes and the storylines' delivery states (those rows
start once the store is older than the page's 10 s clock-skew margin, as a ledger is
seconds after its last bulk write; within it every read re-reads every row). On
PostgreSQL the page reads the ledger at most every 2 s, so those rows wait 2.1 s (not
timed) before each request: every timed request reads the ledger.
Goal (issue 15): every page under 200 ms with 1,000 developments and 500 feeds.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.alert_json import alert_to_json  # noqa: E402
from pipeline.ledger.protocol import Ledger  # noqa: E402
from pipeline.ledger.sqlite import SqliteLedger  # noqa: E402
from pipeline.records import Alert, Evidence  # noqa: E402
from tests.serve.server_process import ServeProcess  # noqa: E402

UTC = dt.UTC
NOW = dt.datetime.now(UTC).replace(microsecond=0)
STORYLINES = 10
BIG = "bench-storyline-00"
HEALTH_LINES_PER_FEED = 20
#: the page's refresh interval for a remote ledger (ServeConfig.ledger_refresh_seconds)
REMOTE_REFRESH_SECONDS = 2.0
#: the page's margin for writers' clocks (LedgerView's skew_seconds)
SKEW_SECONDS = 10.0


def _iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def make_store(folder: Path, ledger: Ledger, *, developments: int, feeds: int) -> dict[str, Path]:
    alerts = []
    for n in range(developments):
        storyline = BIG if n % 2 == 0 else f"bench-storyline-{1 + n % (STORYLINES - 1):02d}"
        at = NOW - dt.timedelta(hours=developments - n)
        kind = "burst" if n % 97 == 0 else ("coverage" if n % 5 == 0 else "new_development")
        alerts.append(
            Alert(
                alert_id=f"bench-{n:05d}",
                storyline_id=storyline,
                development_id=f"{storyline}-dev{n}",
                kind=kind,
                title=f"Synthetic development {n} of {storyline}: a headline of ordinary length",
                url=f"https://news.example.org/{storyline}/{n}",
                published_at=at,
                first_seen_at=at + dt.timedelta(minutes=3),
                article_ids=tuple(f"art-{n}-{k}" for k in range(3)),
                score=0.9,
                outlet=f"Outlet {n % 40}",
                storyline_title=f"Bench storyline {storyline[-2:]}",
                sources=tuple(
                    (
                        f"Outlet {(n + k) % 40}",
                        f"Report {k} on development {n}",
                        f"https://o{k}.example.org/{n}",
                    )
                    for k in range(1, 4)
                ),
                evidence=(
                    Evidence("elon-musk", "Musk", "title", 0, 4, "Musk", "exact", 100.0),
                    Evidence("spacex", "SpaceX", "summary", 10, 16, "SpaceX", "exact", 100.0),
                ),
                reason="no article within 48 h is about the same event",
                baseline_per_hour=0.5 if kind == "burst" else None,
                rate_per_hour=4.0 if kind == "burst" else None,
            )
        )
    paths = {
        "alerts": folder / "alerts.jsonl",
        "feed_health": folder / "feed-health.jsonl",
        "dead_letters": folder / "dead-letters.jsonl",
        "feeds_file": folder / "feeds.yaml",
    }
    paths["alerts"].write_text(
        "".join(json.dumps(alert_to_json(a)) + "\n" for a in alerts), encoding="utf-8"
    )
    dead_lines = []
    for n, alert in enumerate(alerts):
        payload = alert_to_json(alert)
        ledger.record_alert(alert.alert_id, payload)
        ledger.save_payload(alert.alert_id, payload)
        for subscriber in ("desk", "analyst"):
            key = (alert.alert_id, subscriber, "slack")
            if subscriber == "analyst" and n % 20 == 0:
                ledger.enqueue(*key, NOW + dt.timedelta(minutes=5))
                continue
            ledger.claim(*key)
            if subscriber == "analyst" and n % 20 == 1:
                ledger.mark_dead(*key, "HTTP 404: no_service")
                dead_lines.append(
                    {
                        "alert_id": alert.alert_id,
                        "at": _iso(NOW),
                        "attempts": 1,
                        "channel": "slack",
                        "key": "/".join(key),
                        "reason": "HTTP 404: no_service",
                        "stage": "deliver",
                        "subscriber": subscriber,
                        "title": alert.title,
                    }
                )
            elif subscriber == "analyst" and n % 20 == 2:
                ledger.release(*key, "HTTP 503 (server asks to slow down)")
            else:
                ledger.mark_sent(*key)
    ledger.mark_routed([a.alert_id for a in alerts])
    (folder / "delivery-dead-letters.jsonl").write_text(
        "".join(json.dumps(d) + "\n" for d in dead_lines), encoding="utf-8"
    )
    feed_lines = ["allow_private_addresses: false", "feeds:"]
    health = []
    for f in range(feeds):
        url = f"https://feeds{f % 50}.example.org/{f}/rss.xml"
        feed_lines.append(f"  - {{url: '{url}', id: feed-{f:03d}, name: Bench outlet {f}}}")
        failing = f % 5 == 0
        for k in range(HEALTH_LINES_PER_FEED):
            at = NOW - dt.timedelta(minutes=10 * (HEALTH_LINES_PER_FEED - k))
            bad = failing and k >= HEALTH_LINES_PER_FEED - 4
            health.append(
                {
                    "feed_id": f"feed-{f:03d}",
                    "url": url,
                    "status": "failing" if bad else "ok",
                    "consecutive_failures": (k - HEALTH_LINES_PER_FEED + 5) if bad else 0,
                    "last_error": f"{url}: HTTP 503 (server asks to slow down)" if bad else "",
                    "last_attempt_at": _iso(at),
                    "last_success_at": _iso(at - dt.timedelta(minutes=40 if bad else 0)),
                    "last_change_at": _iso(at),
                    "next_due_at": _iso(at + dt.timedelta(minutes=10)),
                    "interval_seconds": 600.0,
                    "last_outcome": "failed" if bad else ("new" if k % 3 == 0 else "not_modified"),
                }
            )
    paths["feeds_file"].write_text("\n".join(feed_lines) + "\n", encoding="utf-8")
    paths["feed_health"].write_text("".join(json.dumps(h) + "\n" for h in health), encoding="utf-8")
    paths["dead_letters"].write_text(
        "".join(
            json.dumps(
                {
                    "stage": "parse",
                    "key": f"https://feeds{i % 50}.example.org/{i}/rss.xml",
                    "reason": "not a feed: the document is HTML",
                    "at": _iso(NOW),
                }
            )
            + "\n"
            for i in range(200)
        ),
        encoding="utf-8",
    )
    return paths


def measure(client: httpx.Client, path: str, requests: int, before=None) -> dict[str, float]:
    def one() -> tuple[float, int]:
        if before is not None:
            before()
        started = time.perf_counter()
        response = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code}: {response.text[:300]}")
        return elapsed, len(response.content)

    cold, size = one()
    for _ in range(3):
        one()
    times = sorted(one()[0] for _ in range(requests))
    return {
        "cold": cold,
        "p50": statistics.median(times),
        "p95": times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))],
        "max": times[-1],
        "kB": size / 1024,
    }


def open_backend(backend: str, folder: Path, stack: contextlib.ExitStack) -> tuple[str, Ledger]:
    """The ledger URL the page is served on, and a ledger open on it for the bench's writes."""
    if backend == "sqlite":
        path = folder / "ledger.sqlite"
        ledger: Ledger = SqliteLedger(path)
        stack.callback(ledger.close)
        return str(path), ledger
    from pipeline.ledger.postgres import PostgresLedger
    from tests.ledger.postgres_server import PostgresServer, find_bin_dir

    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SystemExit("no PostgreSQL server binaries: run tools/install_test_system.sh")
    server = PostgresServer(bin_dir).start()
    stack.callback(server.stop)
    url = server.database()
    ledger = PostgresLedger(url)
    stack.callback(ledger.close)
    return url, ledger


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--developments", type=int, default=1000)
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="storywatch-bench-serve-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        started = time.perf_counter()
        url, ledger = open_backend(args.backend, Path(tmp), stack)
        paths = make_store(Path(tmp), ledger, developments=args.developments, feeds=args.feeds)
        print(
            f"store: {args.developments} developments over {STORYLINES} storylines "
            f"({(args.developments + 1) // 2} in {BIG}), {2 * args.developments} deliveries "
            f"in a {args.backend} ledger, {args.feeds} feeds x {HEALTH_LINES_PER_FEED} health "
            f"lines; made in {time.perf_counter() - started:.1f} s"
        )
        server = ServeProcess(
            [
                f"--ledger={url}",
                f"--alerts={paths['alerts']}",
                f"--feed-health={paths['feed_health']}",
                f"--dead-letters={paths['dead_letters']}",
                f"--feeds-file={paths['feeds_file']}",
            ]
        )
        health = paths["feed_health"]
        growing_line = health.read_text(encoding="utf-8").splitlines()[-1] + "\n"

        def grow() -> None:
            with health.open("a", encoding="utf-8") as handle:
                handle.write(growing_line)

        changes = iter(range(10**9))
        made_at = time.monotonic()

        def change() -> None:
            """One delivery sent again, as a running pipeline's next send changes a row."""
            # The page re-reads the rows of its clock-skew margin on every read; a ledger
            # whose every row is that young is a bulk write's first seconds, not a pipeline.
            time.sleep(max(0.0, made_at + SKEW_SECONDS + 1.0 - time.monotonic()))
            n = next(changes) % args.developments
            ledger.mark_sent(f"bench-{n:05d}", "desk", "slack")
            if args.backend != "sqlite":  # the page reads a remote ledger at most this often
                time.sleep(REMOTE_REFRESH_SECONDS + 0.1)

        pages = [
            ("static /static/style.css (baseline)", "/static/style.css", None),
            ("static /static/htmx.min.js (baseline)", "/static/htmx.min.js", None),
            ("storylines index /", "/", None),
            ("storylines index /, ledger changing", "/", change),
            (f"storyline {BIG}", f"/storylines/{BIG}", None),
            (f"storyline {BIG}, ledger changing", f"/storylines/{BIG}", change),
            ("storyline bench-storyline-01", "/storylines/bench-storyline-01", None),
            (f"storyline {BIG}?kind=burst", f"/storylines/{BIG}?kind=burst", None),
            ("feeds /feeds", "/feeds", None),
            ("feeds, health growing", "/feeds", grow),
            ("deliveries /deliveries", "/deliveries", None),
            ("deliveries /deliveries, ledger changing", "/deliveries", change),
            ("preview /preview (form)", "/preview", None),
        ]
        with server, httpx.Client(base_url=server.url, timeout=60) as client:
            print(f"{'page':42} {'cold':>8} {'p50':>8} {'p95':>8} {'max':>8} {'size':>8}")
            worst = 0.0
            for name, path, before in pages:
                n = args.requests if before is None else max(10, args.requests // 5)
                r = measure(client, path, n, before)
                if not path.startswith("/static/"):
                    worst = max(worst, r["p95"])
                print(
                    f"{name:42} {r['cold']:7.1f}  {r['p50']:7.1f}  {r['p95']:7.1f}  "
                    f"{r['max']:7.1f}  {r['kB']:6.0f}kB"
                )
            print(
                f"(ms; {args.requests} requests per page, one at a time; worst page p95 {worst:.1f} ms, goal < 200)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
