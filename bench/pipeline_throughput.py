"""Throughput of the whole replay (raw feed bytes → alerts) beside bare feedparser, and peak memory.

    .venv/bin/python bench/pipeline_throughput.py [--feeds DIR] [--repeat N] [--memory-articles N]

Prints, in one run, over the same recorded feed bytes (default: tests/data/feeds):

1. bare ``feedparser.parse`` over every document (the baseline);
2. the pure replay chain, the functions the Beam DoFns call: parse_feed → normalize_item
   → Deduplicator → Matcher → storyline.track_in_order → decide_alerts;
3. the Beam replay itself (``graph.build_pipeline`` on FnApiRunner, JSONL sink, ledger),
   with and without its fixed start-up cost (measured by a replay of an empty folder);
4. peak memory (ru_maxrss of a child process) of the pure chain from matched articles to
   alerts over N synthetic articles (real matched items with varied ids and times),
   against the same child process stopped before the replay.

Articles/s count the items feedparser reads (the same denominator for every line).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def replicate(source: Path, target: Path, copies: int) -> Path:
    """``copies`` sub-folders of symlinks to the files of ``source`` (later copies dedupe away)."""
    for k in range(copies):
        for path in source.rglob("*"):
            if path.is_file():
                link = target / f"copy{k}" / path.relative_to(source)
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(path.resolve())
    return target


def bare_feedparser(raws) -> int:
    import feedparser
    return sum(len(feedparser.parse(raw.body).entries) for raw in raws)


def pure_chain(raws, matcher):
    from pipeline.alert import decide_alerts
    from pipeline.dedupe import Deduplicator
    from pipeline.normalize import UnusableItem, normalize_item
    from pipeline.parse import parse_feed
    from pipeline.storyline import track_in_order

    dedupe = Deduplicator()
    matches = []
    for raw in raws:
        for item in parse_feed(raw).items:
            try:
                article = normalize_item(item)
            except UnusableItem:
                continue
            if dedupe.is_new(article):
                matches.extend(matcher.match(article))
    return decide_alerts(track_in_order(matches)), matches


def beam_replay(directory: Path) -> float:
    from pipeline.graph import run_replay

    with tempfile.TemporaryDirectory() as tmp, open("/dev/null", "w") as sink:
        started = time.perf_counter()
        run_replay([], feeds=str(directory), articles=None, alerts_out=str(Path(tmp) / "a.jsonl"), out=sink)
        return time.perf_counter() - started


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:10,.0f} articles/s  ({seconds:6.2f} s)"


MEMORY_CHILD = r"""
import datetime as dt, json, resource, sys
sys.path.insert(0, sys.argv[1])
from pipeline.jsonl import article_from_json
from pipeline.records import Match
from pipeline.storyline import StorylineTracker
from pipeline.alert import decide_alert
seeds = [json.loads(l) for l in open(sys.argv[2])]
n, run = int(sys.argv[3]), sys.argv[4] == "run"
t0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
alerts = 0
if run:
    tracker = StorylineTracker()
    for i in range(n):
        s = seeds[i % len(seeds)]
        a = article_from_json({"id": f"{s['id']}-{i}", "title": f"{s['title']} {i // len(seeds)}",
                               "summary": s["summary"], "outlet": s["outlet"], "url": s["url"],
                               "published": (t0 + dt.timedelta(minutes=3 * i)).isoformat()})
        for e in tracker.observe(Match(a, s["storyline"], 0.9, ())):
            alerts += decide_alert(e) is not None
print(json.dumps({"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "alerts": alerts}))
"""


def peak_memory(matches, n: int) -> tuple[int, int, int]:
    seeds = [{"id": m.article.article_id, "title": m.article.title, "summary": m.article.summary[:300],
              "outlet": m.article.outlet, "url": m.article.url, "storyline": m.storyline_id} for m in matches]
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
        fh.write("".join(json.dumps(s) + "\n" for s in seeds))
    out = {}
    for mode in ("idle", "run"):
        proc = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(ROOT), fh.name, str(n), mode],
                              capture_output=True, text=True, check=True)
        out[mode] = json.loads(proc.stdout)
    Path(fh.name).unlink()
    return out["idle"]["maxrss_kb"], out["run"]["maxrss_kb"], out["run"]["alerts"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=Path, default=ROOT / "tests" / "data" / "feeds")
    parser.add_argument("--repeat", type=int, default=3, help="best of N for the pure timings")
    parser.add_argument("--copies", type=int, default=4,
                        help="replay the folder this many times over (copies in sub-folders), so fixed "
                             "start-up costs weigh as they would in a long replay")
    parser.add_argument("--memory-articles", type=int, default=100_000)
    args = parser.parse_args()

    from pipeline.matcher import Matcher
    from pipeline.poll import recorded_feeds

    tmp = tempfile.TemporaryDirectory(prefix="storywatch-bench-")
    folder = replicate(args.feeds, Path(tmp.name), args.copies)
    raws = recorded_feeds(folder)
    matcher = Matcher.from_dir(ROOT / "watchlists")
    size_mb = sum(len(r.body) for r in raws) / 1e6
    print(f"{len(raws)} recorded feed documents, {size_mb:.1f} MB: {args.copies} x {args.feeds}")

    best_bare = best_pure = float("inf")
    for _ in range(args.repeat):
        started = time.perf_counter()
        items = bare_feedparser(raws)
        best_bare = min(best_bare, time.perf_counter() - started)
        started = time.perf_counter()
        alerts, matches = pure_chain(raws, matcher)
        best_pure = min(best_pure, time.perf_counter() - started)
    print(f"bare feedparser.parse             {rate(items, best_bare)}  [baseline, {items} items]")
    print(f"pure replay chain → alerts        {rate(items, best_pure)}  {best_bare / best_pure:6.1%} of baseline "
          f"[{len(matches)} matches, {len(alerts)} alerts]")

    with tempfile.TemporaryDirectory() as empty:
        startup = beam_replay(Path(empty))
    whole = beam_replay(folder)
    print(f"Beam replay (FnApiRunner), total  {rate(items, whole)}  {best_bare / whole:6.1%} of baseline")
    print(f"Beam replay minus start-up {startup:4.1f} s {rate(items, max(whole - startup, 1e-9))}  "
          f"{best_bare / max(whole - startup, 1e-9):6.1%} of baseline")

    idle, peak, n_alerts = peak_memory(matches, args.memory_articles)
    print(f"peak memory, {args.memory_articles:,} synthetic matched articles through tracker + alerts: "
          f"{peak / 1024:.0f} MB max RSS (process without the replay: {idle / 1024:.0f} MB; "
          f"{n_alerts} alerts)")


if __name__ == "__main__":
    main()
