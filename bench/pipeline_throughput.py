"""Throughput of the whole replay (raw feed bytes → alerts) beside bare feedparser, and peak memory.

    .venv/bin/python bench/pipeline_throughput.py [--feeds DIR] [--repeat N] [--memory-articles N]

Prints, in one run, over the same recorded feed bytes (default: tests/data/feeds):

1. bare ``feedparser.parse`` over every document (the baseline);
2. the pure replay chain, the functions the Beam DoFns call: parse_feed → normalize_item
   → Deduplicator → Matcher → storyline.track_in_order → decide_alerts;
3. the Beam replay itself (``graph.run_replay`` on FnApiRunner, JSONL sink, ledger),
   with and without its fixed start-up cost (measured by a replay of an empty folder);
   every figure is the best of ``--repeat`` rounds, each round timing 1, 2 and 3 in turn;
4. peak memory (ru_maxrss of a child process) of a replay of N articles synthesised from
   the real items (varied ids, urls and times, one every 10 minutes, so 100k articles
   span about two years and development expiry is exercised; each pass over the items
   re-issues them as "UPDATE k-" copies) through Deduplicator → Matcher → tracker →
   decide_alert, against the same child stopped before the replay, with the RSS at four
   checkpoints to show it stays flat.

Articles/s count the items feedparser reads (the same denominator for every line).
"""

from __future__ import annotations

import argparse
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
    from pipeline.alerts.decide import decide_alerts
    from pipeline.ingest.dedupe import Deduplicator
    from pipeline.ingest.normalize import UnusableItem, normalize_item
    from pipeline.ingest.parse import parse_feed
    from pipeline.storylines.tracker import track_in_order

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
    from pipeline.run.runner import run_replay

    with tempfile.TemporaryDirectory() as tmp, open("/dev/null", "w") as sink:
        started = time.perf_counter()
        run_replay(
            [], feeds=str(directory), articles=None, alerts_out=str(Path(tmp) / "a.jsonl"), out=sink
        )
        return time.perf_counter() - started


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:10,.0f} articles/s  ({seconds:6.2f} s)"


MEMORY_CHILD = r"""
import datetime as dt, json, os, resource, sys
sys.path.insert(0, sys.argv[1])
from pipeline.alerts.decide import decide_alert
from pipeline.ingest.dedupe import Deduplicator
from pipeline.jsonl_io import article_from_json
from pipeline.match.matcher import Matcher
from pipeline.storylines.tracker import StorylineTracker
seeds = [json.loads(l) for l in open(sys.argv[2])]
n, run = int(sys.argv[3]), sys.argv[4] == "run"
matcher = Matcher.from_dir(os.path.join(sys.argv[1], "watchlists"))
t0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
page = os.sysconf("SC_PAGE_SIZE")
def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * page / 2**20
before = rss_mb()
checkpoints, counts = [], {"matches": 0, "alerts": 0}
if run:
    dedupe, tracker = Deduplicator(), StorylineTracker()
    for i in range(n):
        s = seeds[i % len(seeds)]
        copy = i // len(seeds)
        a = article_from_json({"id": f"{s['id']}-{i}", "title": (f"UPDATE {copy}-" if copy else "") + s["title"],
                               "summary": s["summary"], "outlet": s["outlet"], "url": f"{s['url']}#{i}",
                               "published": (t0 + dt.timedelta(minutes=10 * i)).isoformat()})
        if dedupe.is_new(a):
            for m in matcher.match(a):
                counts["matches"] += 1
                for e in tracker.observe(m):
                    counts["alerts"] += decide_alert(e) is not None
        if (i + 1) % (n // 4) == 0:
            checkpoints.append((i + 1, round(rss_mb(), 1)))
print(json.dumps({"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "before_mb": round(before, 1),
                  "checkpoints": checkpoints, **counts}))
"""


def peak_memory(raws, n: int) -> dict:
    """Max RSS of a child replaying ``n`` articles synthesised from the real items of ``raws``."""
    from pipeline.ingest.normalize import UnusableItem, normalize_item
    from pipeline.ingest.parse import parse_feed

    seeds = []
    for raw in raws:
        for item in parse_feed(raw).items:
            try:
                a = normalize_item(item)
            except UnusableItem:
                continue
            seeds.append(
                {
                    "id": a.article_id,
                    "title": a.title,
                    "summary": a.summary[:500],
                    "outlet": a.outlet,
                    "url": a.url or "https://example.invalid/x",
                }
            )
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
        fh.write("".join(json.dumps(s) + "\n" for s in seeds))
    out = {}
    for mode in ("idle", "run"):
        proc = subprocess.run(
            [sys.executable, "-c", MEMORY_CHILD, str(ROOT), fh.name, str(n), mode],
            capture_output=True,
            text=True,
            check=True,
        )
        out[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
    Path(fh.name).unlink()
    out["seeds"] = len(seeds)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=Path, default=ROOT / "tests" / "data" / "feeds")
    parser.add_argument("--repeat", type=int, default=3, help="best of N for every timing")
    parser.add_argument(
        "--copies",
        type=int,
        default=4,
        help="replay the folder this many times over (copies in sub-folders), so fixed "
        "start-up costs weigh as they would in a long replay",
    )
    parser.add_argument("--memory-articles", type=int, default=100_000)
    args = parser.parse_args()

    from pipeline.ingest.recorded import recorded_feeds
    from pipeline.match.matcher import Matcher

    tmp = tempfile.TemporaryDirectory(prefix="storywatch-bench-")
    folder = replicate(args.feeds, Path(tmp.name), args.copies)
    raws = recorded_feeds(folder)
    matcher = Matcher.from_dir(ROOT / "watchlists")
    size_mb = sum(len(r.body) for r in raws) / 1e6
    print(f"{len(raws)} recorded feed documents, {size_mb:.1f} MB: {args.copies} x {args.feeds}")

    # Best of N, the three measured in turn within each round: on a shared machine the
    # load drifts, and timing one after the other in blocks measured the drift.
    with tempfile.TemporaryDirectory() as empty:
        # The fixed cost: a replay of one feed with no items (a folder with no feed is refused).
        (Path(empty) / "empty.xml").write_text(
            "<rss version='2.0'><channel><title>empty</title></channel></rss>"
        )
        beam_replay(Path(empty))  # imports and first-run caches, not counted anywhere
        best_bare = best_pure = whole = startup = float("inf")
        for _ in range(args.repeat):
            started = time.perf_counter()
            items = bare_feedparser(raws)
            best_bare = min(best_bare, time.perf_counter() - started)
            started = time.perf_counter()
            alerts, matches = pure_chain(raws, matcher)
            best_pure = min(best_pure, time.perf_counter() - started)
            whole = min(whole, beam_replay(folder))
            startup = min(startup, beam_replay(Path(empty)))
    print(f"bare feedparser.parse             {rate(items, best_bare)}  [baseline, {items} items]")
    print(
        f"pure replay chain → alerts        {rate(items, best_pure)}  {best_bare / best_pure:6.1%} of baseline "
        f"[{len(matches)} matches, {len(alerts)} alerts]"
    )
    print(
        f"Beam replay (FnApiRunner), total  {rate(items, whole)}  {best_bare / whole:6.1%} of baseline"
    )
    print(
        f"Beam replay minus start-up {startup:4.1f} s {rate(items, max(whole - startup, 1e-9))}  "
        f"{best_bare / max(whole - startup, 1e-9):6.1%} of baseline"
    )

    mem = peak_memory(recorded_feeds(args.feeds), args.memory_articles)
    run, idle = mem["run"], mem["idle"]
    print(
        f"peak memory, {args.memory_articles:,}-article replay (dedupe → match → track → decide, articles "
        f"synthesised from {mem['seeds']} real items, one every 10 minutes, re-issued as 'UPDATE k-' copies): "
        f"max RSS {run['maxrss_kb'] / 1024:.0f} MB; same process without the replay {idle['maxrss_kb'] / 1024:.0f} MB; "
        f"RSS at {', '.join(f'{n:,}: {mb:.0f} MB' for n, mb in run['checkpoints'])}; "
        f"{run['matches']} matches, {run['alerts']} alerts"
    )


if __name__ == "__main__":
    main()
