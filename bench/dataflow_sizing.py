"""Per-key state sizes and per-element costs behind the Dataflow scaling plan (deploy/README.md).

    .venv/bin/python bench/dataflow_sizing.py [--feeds DIR] [--spike N]

On Dataflow every stateful step reads its key's state, changes it and writes it back. The
Python SDK caches state between bundles, but a cold key (first element after a worker
change, or after the cache evicted it) pays a full unpickle + pickle of the value, and
every bundle commits the whole value to Streaming Engine. So the plan needs, per stateful
step: the value's size at its bound, and the time per element with and without that
round trip. Measured with real articles (tests/data/feeds), on one core:

1. Parse + normalise: feed documents and articles per second (what a changed feed costs).
2. Hot storyline (``TrackStorylines``, key = storyline id): a spike of N matches on ONE
   storyline (real articles, every one a distinct headline: the worst case), through
   ``StorylineTracker.observe_in`` with the state in memory (a warm key); then the
   unpickle+pickle round trip of the final, largest state, added per element (a cold key).
3. Dedupe shard (``DedupeArticles``, key = kind:shard): one shard's ``SeenKeys`` at its
   bound (``max_keys / shards`` keys), its pickled size and the round-trip time.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import pickle
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.ingest.dedupe import DEFAULT_MAX_KEYS, DEFAULT_SHARDS, SeenKeys, dedup_key, shard_of  # noqa: E402
from pipeline.ingest.normalize import UnusableItem, normalize_item  # noqa: E402
from pipeline.ingest.parse import parse_feed  # noqa: E402
from pipeline.ingest.recorded import recorded_feeds  # noqa: E402
from pipeline.records import Match  # noqa: E402
from pipeline.storylines.tracker import StorylineState, StorylineTracker  # noqa: E402

UTC = dt.UTC


def best_of(runs: int, fn):
    """Smallest wall time of ``runs`` calls (seconds) and the last result."""
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def parse_all(raws):
    articles = []
    for raw in raws:
        for item in parse_feed(raw).items:
            try:
                articles.append(normalize_item(item))
            except UnusableItem:
                pass
    return articles


def spike(articles, n: int, *, minutes: float) -> list[Match]:
    """``n`` matches of one storyline, published evenly over ``minutes`` (articles reused in turn)."""
    start = dt.datetime(2024, 10, 25, 6, 0, tzinfo=UTC)
    step = dt.timedelta(minutes=minutes) / max(1, n)
    out = []
    for i in range(n):
        a = articles[i % len(articles)]
        at = start + i * step
        a = dataclasses.replace(
            a, article_id=f"{a.article_id}-{i // len(articles)}", published_at=at, first_seen_at=at
        )
        out.append(Match(article=a, storyline_id="hot-story", score=0.9, evidence=()))
    return out


def track(matches) -> tuple[float, StorylineState, int]:
    """Feed the matches to one key with the state in memory; (seconds, final state, events)."""
    tracker = StorylineTracker()
    state = StorylineState("hot-story")
    events = 0
    start = time.perf_counter()
    for match in matches:
        events += len(tracker.observe_in(state, match))
    return time.perf_counter() - start, state, events


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=Path, default=ROOT / "tests" / "data" / "feeds")
    parser.add_argument(
        "--spike", type=int, default=6000, help="matches on the hot storyline (default 6000)"
    )
    parser.add_argument(
        "--spike-minutes", type=float, default=360.0, help="over this many minutes (default 360)"
    )
    args = parser.parse_args(argv)

    raws = recorded_feeds(args.feeds)
    total_bytes = sum(len(r.body) for r in raws)
    seconds, articles = best_of(3, lambda: parse_all(raws))
    print(
        f"parse+normalise: {len(raws)} documents, {total_bytes / 1e6:.1f} MB, {len(articles)} articles "
        f"in {seconds:.2f} s -> {len(raws) / seconds:.0f} documents/s, {len(articles) / seconds:,.0f} articles/s, "
        f"{total_bytes / 1e6 / seconds:.1f} MB/s on one core"
    )

    matches = spike(articles, args.spike, minutes=args.spike_minutes)
    seconds, state, events = track(matches)
    blob = pickle.dumps(state)
    round_trip, _ = best_of(5, lambda: pickle.dumps(pickle.loads(blob)))
    per_element = seconds / len(matches)
    print(
        f"hot storyline: {len(matches)} matches on one key over {args.spike_minutes:g} min, {events} events"
    )
    print(
        f"  state kept in memory (warm key): {1 / per_element:,.0f} matches/s, {per_element * 1e3:.2f} ms each"
    )
    print(
        f"  state unpickled+pickled per element at its final size (cold key): "
        f"{1 / (per_element + round_trip):,.0f} matches/s, {(per_element + round_trip) * 1e3:.2f} ms each; "
        f"state value {len(blob) / 1e6:.2f} MB, round trip {round_trip * 1e3:.1f} ms"
    )

    keys_per_shard = DEFAULT_MAX_KEYS // DEFAULT_SHARDS
    seen = SeenKeys(max_keys=keys_per_shard)
    t0 = articles[0].first_seen_at.timestamp()
    urls = [dedup_key(a, "url") for a in articles if dedup_key(a, "url")]
    i = 0
    while len(seen._last_seen) < keys_per_shard:
        seen.seen(f"{urls[i % len(urls)]}#{i}", t0 + i)
        i += 1
    blob = pickle.dumps(seen)
    rt, _ = best_of(5, lambda: pickle.dumps(pickle.loads(blob)))
    spread = len({shard_of(u, DEFAULT_SHARDS) for u in urls})
    print(
        f"dedupe shard: {keys_per_shard:,} keys (max_keys {DEFAULT_MAX_KEYS:,} / {DEFAULT_SHARDS} shards) "
        f"-> {len(blob) / 1e6:.2f} MB per shard value, round trip {rt * 1e3:.1f} ms; "
        f"{len(urls)} real URLs fall in {spread} of {DEFAULT_SHARDS} shards"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
