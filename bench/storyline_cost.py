"""The storyline tracker's cost per article with 200 live developments in one storyline.

    .venv/bin/python bench/storyline_cost.py [--feeds DIR] [--articles N] [--repeat N]
    .venv/bin/python bench/storyline_cost.py --profile 25   # where the shipped time goes

The articles are the real ones a replay of tests/data/feeds hands the matcher
(``bench.match_throughput.load_corpus``), all given to one storyline, dated within 40 h
so that every kept development is a candidate for every article (the worst case of the
coverage window). The first articles are fed until the storyline holds 200 live
developments (``max_developments``, the bound); the next ``--articles`` are timed.

Two trackers, in the same run, on the same articles:
- ``shipped``: ``StorylineTracker`` as it is: the development signature of every article
  (``pipeline.storylines.signature``), the join model over every development in the window
  (``pipeline.storylines.decision``) and the "why new" sentence of every new development;
- ``overlap rule``: the tracker of commit ``BASELINE_COMMIT`` (read with ``git show``, so
  the bench needs the repository), the last one that joined by a content-word overlap
  cut-off alone.

Each is timed ``--repeat`` times from a fresh state, the two interleaved; the best run is
printed, in microseconds per article, with the machine's load average (the VM is shared).
Goal (issue 13): under 1 ms per article. ``--profile N`` instead runs the shipped tracker
once under cProfile and prints its N costliest functions (cumulative time; the profiler
inflates Python calls, so read shares, not microseconds).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import pstats
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.history import file_at  # noqa: E402
from bench.match_throughput import load_corpus  # noqa: E402
from pipeline.records import Match  # noqa: E402
from pipeline.storylines.tracker import StorylineTracker  # noqa: E402

LIVE_DEVELOPMENTS = 200
BASELINE_COMMIT = "76d2722"
T0 = dt.datetime(2024, 10, 25, tzinfo=dt.UTC)


def matches_for(articles, span_hours: float = 40.0) -> list[Match]:
    step = span_hours / max(1, len(articles))
    return [
        Match(
            # first seen when published: a first-seen time long before it would make the
            # tracker move the date back (timing.published_range), out of the window
            a.__class__(**{**_fields(a), "published_at": t, "first_seen_at": t}),
            "s",
            1.0,
            (),
        )
        for i, a in enumerate(articles)
        for t in (T0 + dt.timedelta(hours=i * step),)
    ]


def _fields(article) -> dict:
    return {f: getattr(article, f) for f in article.__dataclass_fields__}


def run_once(
    warm: list[Match], timed: list[Match], tracker_class: type = StorylineTracker
) -> tuple[float, int, int]:
    """(µs per timed article, live developments when timing began, new developments timed)."""
    t = tracker_class(max_developments=LIVE_DEVELOPMENTS)
    for m in warm:
        t.observe(m)
    live = len(t.states["s"].developments)
    start = time.perf_counter()
    new = 0
    for m in timed:
        new += t.observe(m)[0].kind == "new_development"
    return (time.perf_counter() - start) / len(timed) * 1e6, live, new


def baseline_tracker() -> type | None:
    """``StorylineTracker`` as it was at ``BASELINE_COMMIT``, or None without git."""
    source = file_at(BASELINE_COMMIT, "pipeline/storylines/tracker.py")
    if source is None:
        return None
    module = types.ModuleType("tracker_at_baseline")
    sys.modules[module.__name__] = module  # dataclasses look their module up there
    exec(compile(source, f"{BASELINE_COMMIT}:tracker.py", "exec"), module.__dict__)  # noqa: S102
    return module.StorylineTracker


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=Path, default=ROOT / "tests" / "data" / "feeds")
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    args = parser.parse_args()
    corpus = [a for a in load_corpus(args.feeds) if a.title]
    # Warm-up: as many articles as it takes to hold 200 live developments.
    probe = StorylineTracker(max_developments=LIVE_DEVELOPMENTS)
    every = matches_for(corpus)
    n_warm = 0
    for n_warm, m in enumerate(every, 1):  # noqa: B007
        probe.observe(m)
        if len(probe.states["s"].developments) >= LIVE_DEVELOPMENTS:
            break
    warm, timed = every[:n_warm], every[n_warm : n_warm + args.articles]
    if len(timed) < args.articles:
        print(f"only {len(timed)} articles left to time after {n_warm} warm-up articles")
    print(
        f"{len(corpus)} real articles from {args.feeds}; {n_warm} to reach "
        f"{LIVE_DEVELOPMENTS} live developments, {len(timed)} timed, best of {args.repeat}"
    )
    if args.profile:
        run_once(warm, timed)  # every lemma list loaded before the profiled run
        tracker = StorylineTracker(max_developments=LIVE_DEVELOPMENTS)
        for m in warm:
            tracker.observe(m)
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [tracker.observe(m) for m in timed])
        print(f"cumulative time of the shipped tracker over the {len(timed)} timed articles:")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)
        return 0
    trackers = {"shipped": StorylineTracker}
    baseline = baseline_tracker()
    if baseline is not None:
        trackers["overlap rule"] = baseline
    runs: dict[str, list[tuple[float, int, int]]] = {name: [] for name in trackers}
    run_once(warm, timed[:200])  # load the lemma and frequency lists outside the timing
    for _ in range(args.repeat):  # interleaved, so a busy machine slows both alike
        for name, tracker_class in trackers.items():
            runs[name].append(run_once(warm, timed, tracker_class))
    results = {name: min(r) for name, r in runs.items()}
    for name, (us, live, new) in results.items():
        print(
            f"  {name:>12}: {us:7.1f} µs/article ({live} live developments at the start, "
            f"{new} new developments among the timed articles)"
        )
    print(f"  load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("  goal (issue 13): shipped < 1000 µs/article")
    return 0


if __name__ == "__main__":
    sys.exit(main())
