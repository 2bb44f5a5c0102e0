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

Then ``plain_text`` before and after issue 14, in the same run: the regex stripper it
replaced (kept below as ``regex_plain_text``, the baseline) against the selectolax one,
on every title, summary and content text the recorded feeds (XML and JSON) give: time
per text, and how many texts' output changed, with the first changes shown. Last, the
cost of the expat prolog check (``check_entities``) inside ``parse_feed``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import io
import re
import sys
import time
from pathlib import Path

import feedparser

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.ingest.dedupe import Deduplicator  # noqa: E402
from pipeline.ingest.normalize import UnusableItem, normalize_item, plain_text  # noqa: E402
from pipeline.ingest.parse import check_entities, parse_feed  # noqa: E402
from pipeline.ingest.recorded import recorded_feeds  # noqa: E402
from pipeline.text import safe_text  # noqa: E402

# The plain_text of before issue 14, verbatim: the same-run baseline.
_TAG = re.compile(r"<[A-Za-z/!?][^>]*>?")
_BLOCK_DROP = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def regex_plain_text(markup: str) -> str:
    if not markup:
        return ""
    text = markup
    if "<" in text:
        if "<s" in text.lower():
            text = _BLOCK_DROP.sub(" ", text)
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
        if "<" in text:
            text = _TAG.sub(" ", text)
        if "&" in text:
            text = html.unescape(text)
    return safe_text(text)


def feed_texts(raws) -> list[str]:
    texts = []
    for raw in raws:
        for item in parse_feed(raw).items:
            texts.extend(t for t in (item.title, item.summary, item.content) if t)
    return texts


def plain_text_round(function, texts) -> tuple[float, list[str]]:
    started = time.perf_counter()
    out = [function(t) for t in texts]
    return time.perf_counter() - started, out


def entity_check_round(bodies) -> float:
    started = time.perf_counter()
    for body in bodies:
        check_entities(body)
    return time.perf_counter() - started


def compare_plain_text(raws, rounds: int) -> None:
    texts = feed_texts(raws)
    before, after = [], []
    for _ in range(rounds):
        before.append(plain_text_round(regex_plain_text, texts))
        after.append(plain_text_round(plain_text, texts))
    (old_seconds, old_out), (new_seconds, new_out) = min(before), min(after)
    changed = [(t, a, b) for t, a, b in zip(texts, old_out, new_out, strict=True) if a != b]
    with_markup = sum(1 for t in texts if "<" in t or "&" in t)
    print(
        f"plain_text on {len(texts)} feed texts ({with_markup} with '<' or '&'), best of {rounds}:"
    )
    print(
        f"  before (regex + html.unescape twice): {old_seconds:7.3f} s  "
        f"{1e6 * old_seconds / len(texts):6.1f} us/text"
    )
    print(
        f"  after  (selectolax lexbor)          : {new_seconds:7.3f} s  "
        f"{1e6 * new_seconds / len(texts):6.1f} us/text  ({old_seconds / new_seconds:.0%} of before's speed)"
    )
    print(f"  output changed for {len(changed)} of {len(texts)} texts")
    for text, old, new in changed[:8]:
        print(f"    in : {text[:100]!r}\n    was: {old[:100]!r}\n    now: {new[:100]!r}")


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
    check_seconds = min(entity_check_round(bodies) for _ in range(args.rounds))
    print(
        f"of which the entity check (expat prolog read): {check_seconds:7.3f} s "
        f"({check_seconds / our_seconds:.1%} of parse+normalise+dedup)"
    )
    all_raws = list(recorded_feeds(args.dir))
    compare_plain_text(all_raws, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
