"""Ingestion throughput: recorded feed bytes -> deduplicated articles, beside bare feedparser.

Both sides read the same bytes in the same run: every recorded XML/RSS/Atom/RDF document
under tests/data/feeds (the JSON day files are left out, bare feedparser cannot read
them). The storywatch side is the pure path the pipeline's DoFns call: ``parse_feed`` ->
``normalize_item`` -> ``Deduplicator``, without Beam. The baseline is
``feedparser.parse`` with its defaults (HTML sanitising on), which is what a feed reader
does before any normalisation. Goal: storywatch at >= 70% of the baseline's speed.

    .venv/bin/python bench/ingest_throughput.py [--rounds 5] [--dir tests/data/feeds]

Rounds alternate between the two sides and the best round of each is reported, so a
busy machine hurts both alike.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import sys
import time
from pathlib import Path

import feedparser

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.ingest.dedupe import Deduplicator  # noqa: E402
from pipeline.ingest.normalize import UnusableItem, normalize_item  # noqa: E402
from pipeline.ingest.parse import parse_feed  # noqa: E402
from pipeline.ingest.recorded import recorded_feeds  # noqa: E402


def storywatch_round(raws) -> tuple[float, int, int]:
    started = time.perf_counter()
    dedup = Deduplicator()
    parsed_items = unique = 0
    for raw in raws:
        parsed = parse_feed(raw)
        parsed_items += len(parsed.items)
        for item in parsed.items:
            try:
                article = normalize_item(item)
            except UnusableItem:
                continue
            if dedup.is_new(article):
                unique += 1
    return time.perf_counter() - started, parsed_items, unique


def feedparser_round(bodies) -> tuple[float, int]:
    started = time.perf_counter()
    entries = 0
    for body in bodies:
        entries += len(feedparser.parse(io.BytesIO(body)).entries)
    return time.perf_counter() - started, entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=ROOT / "tests" / "data" / "feeds")
    args = parser.parse_args(argv)

    raws = [r for r in recorded_feeds(args.dir) if not r.url.endswith(".json")]
    bodies = [r.body for r in raws]
    megabytes = sum(map(len, bodies)) / 1e6
    ours, base = [], []
    for _ in range(args.rounds):
        base.append(feedparser_round(bodies))
        ours.append(storywatch_round(raws))
    base_seconds, entries = min(base)
    our_seconds, items, unique = min(ours)

    print(
        f"input: {len(raws)} recorded feed documents, {megabytes:.1f} MB, from {args.dir} "
        f"(best of {args.rounds} rounds, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC)"
    )
    print(
        f"bare feedparser.parse        : {base_seconds:7.3f} s  {entries / base_seconds:8.0f} entries/s  "
        f"{megabytes / base_seconds:6.2f} MB/s  ({entries} entries)"
    )
    print(
        f"storywatch parse+normalise+dedup: {our_seconds:7.3f} s  {items / our_seconds:8.0f} articles/s  "
        f"{megabytes / our_seconds:6.2f} MB/s  ({items} parsed, {unique} unique articles)"
    )
    ratio = base_seconds / our_seconds
    print(f"storywatch speed relative to bare feedparser: {ratio:.0%} (goal >= 70%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
