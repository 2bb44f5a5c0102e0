"""Soak: RSS and CPU of a live `storywatch run` over N loopback feeds, beside bare pipelines.

    python bench/live_soak.py [--feeds 500] [--minutes 30] [--unpatched-minutes 1]

Runs, at the same time, each as its own process sampled every 10 s from /proc:

- ``storywatch``: the real ``storywatch run`` polling ``--feeds`` feeds served by a
  loopback server (127.0.0.1; ETag/304 answers; every tenth feed gains an item every
  2 minutes), 60 s floors, no host gap (one host), until ``--minutes`` are up;
- ``bare+patch``: PeriodicImpulse(fire_interval=1) -> Map on FnApiRunner with
  ``pipeline.run.fnapi_live`` applied, for ``--minutes``;
- ``bare``: the same without the patch, for ``--unpatched-minutes`` only (it grows by
  about 20 GB/h and spins a core).

Prints one row per sample and a summary per run: RSS start/end, the least-squares slope
after the first minute in MB/hour, a 24 h extrapolation, and CPU as % of one core.
Every loop is bounded by the run's duration; children are killed at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STORYWATCH = Path(sys.executable).with_name("storywatch")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def feed_body(index: int, started: float) -> bytes:
    changes = int((time.time() - started) // 120) if index % 10 == 0 else 0
    items = "".join(
        f"<item><title>Feed {index} item {n}</title><link>http://127.0.0.1/{index}/{n}</link>"
        f"<description>Nothing to match here, item {n}.</description></item>"
        for n in range(changes, changes + 5)
    )
    return (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>Feed {index}</title>"
        f"<link>http://127.0.0.1/</link><description>d</description>{items}</channel></rss>"
    ).encode()


def serve_feeds(started: float) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            index = int(self.path.strip("/").split(".")[0])
            body = feed_body(index, started)
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def sample(pid: int) -> tuple[float, float]:
    """(RSS in MB, CPU seconds) of ``pid``."""
    rss = 0.0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024.0
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return rss, (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def slope_mb_per_hour(rows: list[dict], *, after_seconds: float = 60.0) -> float:
    points = [(r["t"], r["rss_mb"]) for r in rows if r["t"] >= after_seconds] or [
        (r["t"], r["rss_mb"]) for r in rows
    ]
    if len(points) < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / len(points)
    mean_m = sum(m for _, m in points) / len(points)
    den = sum((t - mean_t) ** 2 for t, _ in points) or 1e-9
    return 3600 * sum((t - mean_t) * (m - mean_m) for t, m in points) / den


def summary_table(rows: dict[str, list[dict]]) -> str:
    """The Markdown summary: RSS and CPU after a warm-up of a minute (a third of a short run)."""
    lines = [
        "| run | minutes | RSS after warm-up -> end (MB) | slope (MB/h) | 24 h at that slope "
        "| CPU after warm-up (% of a core) |",
        "|---|---|---|---|---|---|",
    ]
    for name, series in rows.items():
        if len(series) < 2:
            continue
        warm = min(60.0, series[-1]["t"] / 3)
        later = [r for r in series if r["t"] >= warm]
        slope = slope_mb_per_hour(series, after_seconds=warm)
        span = max(later[-1]["t"] - later[0]["t"], 1e-9)
        cpu = 100 * (later[-1]["cpu_s"] - later[0]["cpu_s"]) / span
        lines.append(
            f"| {name} | {series[-1]['t'] / 60:.1f} | {later[0]['rss_mb']:.0f} -> "
            f"{later[-1]['rss_mb']:.0f} | {slope:+.0f} | {slope * 24 / 1024:+.2f} GB | {cpu:.1f} |"
        )
    return "\n".join(lines)


def bare(seconds: float, *, patch: bool) -> None:
    """The minimal reproduction, run in this process (a child of the soak)."""
    import apache_beam as beam  # lazy: only the bare child needs Beam
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    from apache_beam.transforms.periodicsequence import PeriodicImpulse
    from apache_beam.utils.timestamp import Timestamp

    if patch:
        sys.path.insert(0, str(ROOT))
        from pipeline.run import fnapi_live  # lazy: this script runs without an install

        fnapi_live.apply()
    start = Timestamp.now()
    p = beam.Pipeline(runner=FnApiRunner())
    _ = (
        p
        | PeriodicImpulse(start_timestamp=start, stop_timestamp=start + seconds, fire_interval=1)
        | beam.Map(lambda tick: tick)
    )
    p.run().wait_until_finish()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--unpatched-minutes", type=float, default=1.0)
    parser.add_argument("--sample-seconds", type=float, default=10.0)
    parser.add_argument("--bare", choices=["patch", "none"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        bare(args.minutes * 60, patch=args.bare == "patch")
        return 0

    started = time.time()
    server = serve_feeds(started)
    port = server.server_address[1]
    with tempfile.TemporaryDirectory(prefix="live-soak-") as tmp:
        out = Path(tmp)
        feeds = "".join(
            f"  - url: http://127.0.0.1:{port}/{i}.xml\n    id: soak-{i}\n"
            for i in range(args.feeds)
        )
        (out / "feeds.yaml").write_text(
            "defaults:\n  min_poll_seconds: 60\n  max_poll_seconds: 600\n"
            f"allow_private_addresses: true\nfeeds:\n{feeds}"
        )
        seconds = args.minutes * 60
        commands = {
            "storywatch": [
                str(STORYWATCH),
                "run",
                f"--feeds_file={out / 'feeds.yaml'}",
                f"--ledger={out / 'ledger.sqlite'}",
                f"--alerts_out={out / 'alerts.jsonl'}",
                f"--dead_letter_out={out / 'dead.jsonl'}",
                f"--feed_health_out={out / 'health.jsonl'}",
                "--host_gap_seconds=0",
                "--console_alerts=false",
                "--max_article_age_hours=0",
                f"--run_duration_seconds={seconds:g}",
            ],
            "bare+patch": [sys.executable, __file__, "--bare=patch", f"--minutes={args.minutes:g}"],
            "bare": [
                sys.executable,
                __file__,
                "--bare=none",
                f"--minutes={min(args.minutes, args.unpatched_minutes):g}",
            ],
        }
        procs = {
            name: subprocess.Popen(
                cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(out / f"{name}.err", "w")
            )
            for name, cmd in commands.items()
        }
        t0 = time.monotonic()
        rows: dict[str, list[dict]] = {name: [] for name in procs}
        cpu0: dict[str, float] = {}
        deadline = t0 + seconds + 60
        try:
            while time.monotonic() < deadline and any(p.poll() is None for p in procs.values()):
                t = time.monotonic() - t0
                for name, proc in procs.items():
                    if proc.poll() is not None:
                        continue
                    try:
                        rss, cpu = sample(proc.pid)
                    except OSError:
                        continue
                    cpu0.setdefault(name, cpu)
                    prev = rows[name][-1] if rows[name] else {"t": 0.0, "cpu_s": cpu}
                    cpu_pct = 100 * (cpu - prev["cpu_s"]) / max(t - prev["t"], 1e-9)
                    row = {"t": round(t, 1), "rss_mb": round(rss, 1), "cpu_s": cpu}
                    row["cpu_pct"] = round(cpu_pct, 1)
                    rows[name].append(row)
                    print(json.dumps({"run": name, **row}), flush=True)
                time.sleep(args.sample_seconds)
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs.values():
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
            server.shutdown()
        health = out / "health.jsonl"
        fetches = sum(1 for _ in health.open()) if health.exists() else 0
    print(f"\nfeeds {args.feeds}, {args.minutes:g} min, storywatch fetch attempts: {fetches}")
    print(summary_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
