"""Exact cross-feed deduplication: one article per story, however many times it is seen.

An article is a duplicate when an earlier article shared any of its keys, checked in
this order:

1. ``url``: the canonical URL (the same story through several feeds, AMP/mobile/tracking
   variants, repeated snapshots of a feed);
2. ``guid``: feed id + GUID (an item whose link changed but whose GUID did not);
3. ``content``: the content hash of normalised title and summary (a publisher that
   regenerates GUIDs and links; a syndicated copy on another site). Only used when the
   text is long enough to be specific (``min_content_chars``), so two different items
   titled "Letters" are not merged; shorter text counts only within its own feed, and
   only for items with neither a URL nor a GUID.

Why 30 days: a key is remembered ``ttl_seconds`` after it was last seen. Live, an item
still in its feed is re-seen at every poll and never expires; the TTL matters when a
feed goes quiet and comes back, or between sparse recorded snapshots (the Kyiv
Independent snapshots in tests/data are 29 days apart and share 20 items). With
``max_age_seconds`` set, articles published longer ago than that before they were first
seen are dropped as stale (counter ``articles_stale``): beyond the memory window an old
item cannot be told from one already sent. Off by default, so replays of old snapshots
keep their backlog.

Checking stops at the first hit, and each stage records the keys it checked. The pure
``Deduplicator`` runs the stages one after the other; ``DedupeArticles`` runs the same
stages as three stateful Beam steps, each keyed by a hash shard of its own key kind.
Both give the same answer for the same input order.

    Deduplicator(*, ttl_seconds=30 days, max_keys=200_000, min_content_chars=24, max_age_seconds=None)
    DedupeArticles(*, ttl_seconds=30 days, max_keys=200_000, shards=256, min_content_chars=24,
                   max_age_seconds=None)
                          PCollection[Article] -> StageOutputs(main=unique Articles,
                          dead_letter=Failure per article without UTC times);
                          duplicates are counted, not dead-lettered

Beam's ``Deduplicate`` is not used: it needs timers and forces the BundleBased runner,
which crashes with PeriodicImpulse on the live path.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec
from apache_beam.typehints import KV

from pipeline.records import Article, Failure
from pipeline.stage import DEAD_LETTER, MAIN, StageOutputs

DEFAULT_TTL_SECONDS = 30 * 24 * 3600
DEFAULT_MAX_KEYS = 200_000
DEFAULT_SHARDS = (
    256  # ~800 keys per shard at the default max_keys: state stays cheap to (de)serialise
)
# A bounded local replay runs in one process, where shards buy no parallelism but cost
# time: Beam's Python state cache sizes every value it loads or stores with objsize, which
# walks the globals of every loaded module each time (~2 ms fixed), three times per state
# key and bundle, so 256 shards x 3 stages took ~5 s of a 7.6 MB replay. One shard per
# stage is also exactly the pure Deduplicator.
BOUNDED_SHARDS = 1
MIN_CONTENT_CHARS = 24
KINDS = ("url", "guid", "content")


class SeenKeys:
    """Keys seen recently, bounded by age and count, expired lazily.

    ``seen(key, at)`` answers whether ``key`` was seen within ``ttl_seconds`` before ``at``
    and records it as seen at ``at`` (a hit refreshes it, so an item that stays in a feed
    for weeks stays known). Expiry happens on each call: entries older than the newest
    time observed minus the TTL are dropped, and beyond ``max_keys`` the least recently
    seen are dropped. Memory is O(max_keys) however long the run.

    >>> s = SeenKeys(ttl_seconds=60, max_keys=2)
    >>> s.seen("a", 0), s.seen("a", 30), s.seen("a", 200)
    (False, True, False)
    >>> s.seen("b", 201), s.seen("c", 202), "a" in s
    (False, False, False)
    """

    __slots__ = ("ttl_seconds", "max_keys", "_last_seen", "_now")

    def __init__(
        self, *, ttl_seconds: float = DEFAULT_TTL_SECONDS, max_keys: int = DEFAULT_MAX_KEYS
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_keys = max_keys
        self._last_seen: OrderedDict[str, float] = OrderedDict()  # oldest first
        self._now = float("-inf")

    def __len__(self) -> int:
        return len(self._last_seen)

    def __contains__(self, key: str) -> bool:
        return key in self._last_seen

    def seen(self, key: str, at: float) -> bool:
        self._now = max(self._now, at)
        self._expire()
        last = self._last_seen.pop(key, None)
        hit = last is not None and at - last <= self.ttl_seconds
        self._last_seen[key] = max(at, last or at)
        while len(self._last_seen) > self.max_keys:
            self._last_seen.popitem(last=False)
        return hit

    def _expire(self) -> None:
        horizon = self._now - self.ttl_seconds
        entries = self._last_seen
        while entries:
            key, last = next(iter(entries.items()))
            if last >= horizon:
                break
            del entries[key]

    def __getstate__(self):
        return (self.ttl_seconds, self.max_keys, list(self._last_seen.items()), self._now)

    def __setstate__(self, state) -> None:
        self.ttl_seconds, self.max_keys, items, self._now = state
        self._last_seen = OrderedDict(items)


def dedup_key(
    article: Article, kind: str, *, min_content_chars: int = MIN_CONTENT_CHARS
) -> str | None:
    """The article's key of one kind (``url``, ``guid``, ``content``), or None if it has none."""
    if kind == "url":
        return "u:" + article.canonical_url if article.canonical_url else None
    if kind == "guid":
        return f"g:{article.feed_id}:{article.guid}" if article.guid else None
    if kind == "content":
        if not article.content_hash:
            return None
        if len(article.title) + len(article.summary) >= min_content_chars:
            return "c:" + article.content_hash
        if not article.canonical_url and not article.guid:
            # Nothing else identifies it: short text is still an identity within its own feed.
            return f"c:{article.feed_id}:{article.content_hash}"
        return None
    raise ValueError(f"unknown dedup key kind {kind!r}")


def _seconds(when: dt.datetime) -> float:
    return when.timestamp()


class Deduplicator:
    """Pure cross-feed deduplicator over the url -> guid -> content stages.

    >>> import datetime as dt
    >>> from pipeline.records import Article, Failure
    >>> t = dt.datetime(2024, 10, 25, tzinfo=dt.timezone.utc)
    >>> a = Article("a1", "f1", "u", "https://x.com/1", "Musk spoke to Putin", "WSJ report", t, t, content_hash="h1")
    >>> b = Article("a2", "f2", "u", "https://y.com/9", "Musk spoke to Putin", "WSJ report", t, t, content_hash="h1")
    >>> d = Deduplicator()
    >>> d.is_new(a), d.is_new(b), d.duplicates_by_kind["content"]
    (True, False, 1)
    """

    def __init__(
        self,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        max_keys: int = DEFAULT_MAX_KEYS,
        min_content_chars: int = MIN_CONTENT_CHARS,
        max_age_seconds: float | None = None,
    ) -> None:
        self.min_content_chars = min_content_chars
        self.max_age_seconds = max_age_seconds
        self.stale = 0
        self.stages = {kind: SeenKeys(ttl_seconds=ttl_seconds, max_keys=max_keys) for kind in KINDS}
        self.duplicates_by_kind = {kind: 0 for kind in KINDS}

    def is_new(self, article: Article) -> bool:
        if is_stale(article, self.max_age_seconds):
            self.stale += 1
            return False
        at = _seconds(article.first_seen_at)
        for kind, seen in self.stages.items():
            key = dedup_key(article, kind, min_content_chars=self.min_content_chars)
            if key is not None and seen.seen(key, at):
                self.duplicates_by_kind[kind] += 1
                return False
        return True

    def unique(self, articles: Iterable[Article]) -> Iterator[Article]:
        return (a for a in articles if self.is_new(a))


def is_stale(article: Article, max_age_seconds: float | None) -> bool:
    """True if the article was published more than ``max_age_seconds`` before first seen."""
    if max_age_seconds is None or article.published_is_estimated:
        return False
    return (article.first_seen_at - article.published_at).total_seconds() > max_age_seconds


def shard_of(key: str, shards: int) -> int:
    """Stable shard of a key (not Python's salted ``hash``), so state survives restarts."""
    return (
        int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=4).digest(), "big") % shards
    )


class _KeyStageFn(beam.DoFn):
    """Drops articles whose key of one kind was seen recently, per shard.

    State, per key ``(kind, shard)`` where shard = blake2b(dedup key) mod ``shards``: one
    ``SeenKeys`` holding the dedup keys of that shard with their last-seen time.
    Bound: ``max_keys / shards`` keys per shard (least recently seen dropped first), so at
    most ``max_keys`` per kind in all. Expiry: lazily, on each element of the shard, keys
    not seen for ``ttl_seconds`` of element time (``first_seen_at``) are dropped; no
    timers. Timeline (ttl 7 days), shard 5 of kind ``url``:

        Oct 25 10:00  bbc.com/a first seen           -> new, state {a: Oct 25 10:00}
        Oct 25 10:10  bbc.com/a in the next snapshot -> duplicate, state {a: 10:10}
        Nov 02 09:00  bbc.com/b                       -> a expired (older than Oct 26 09:00), b new
    """

    STATE = ReadModifyWriteStateSpec("seen", PickleCoder())

    def __init__(self, kind: str, *, ttl_seconds: float, max_keys_per_shard: int) -> None:
        self.kind = kind
        self.ttl_seconds = ttl_seconds
        self.max_keys_per_shard = max_keys_per_shard
        self.duplicates = beam.metrics.Metrics.counter("ingest", f"duplicates_by_{kind}")
        self.all_duplicates = beam.metrics.Metrics.counter("ingest", "duplicates")

    def process(self, element, state=beam.DoFn.StateParam(STATE)):
        _, (key, article) = element
        if key is None:
            yield article
            return
        seen = state.read() or SeenKeys(
            ttl_seconds=self.ttl_seconds, max_keys=self.max_keys_per_shard
        )
        duplicate = seen.seen(key, _seconds(article.first_seen_at))
        state.write(seen)
        if duplicate:
            self.duplicates.inc()
            self.all_duplicates.inc()
            return
        yield article


class _DedupeStage(beam.PTransform):
    def __init__(
        self, kind: str, *, ttl_seconds: float, max_keys: int, shards: int, min_content_chars: int
    ) -> None:
        super().__init__()
        self.kind, self.ttl_seconds, self.max_keys = kind, ttl_seconds, max_keys
        self.shards, self.min_content_chars = shards, min_content_chars

    def expand(self, articles):
        kind, shards, min_chars = self.kind, self.shards, self.min_content_chars

        def keyed(article: Article):
            key = dedup_key(article, kind, min_content_chars=min_chars)
            shard = (
                shard_of(key, shards) if key is not None else shard_of(article.article_id, shards)
            )
            return f"{kind}:{shard}", (key, article)

        return (
            articles
            | "KeyByShard" >> beam.Map(keyed).with_output_types(KV[str, Any])
            | "DropSeen"
            >> beam.ParDo(
                _KeyStageFn(
                    kind,
                    ttl_seconds=self.ttl_seconds,
                    max_keys_per_shard=max(1, self.max_keys // shards),
                )
            )
        )


class _CheckArticle(beam.DoFn):
    """Articles without time zones cannot be expired: dead letter. Stale ones are dropped."""

    def __init__(self, max_age_seconds: float | None) -> None:
        self.max_age_seconds = max_age_seconds
        self.failures = beam.metrics.Metrics.counter("ingest", "dedupe_failures")
        self.stale = beam.metrics.Metrics.counter("ingest", "articles_stale")

    def process(self, article: Article):
        if article.first_seen_at.tzinfo is None or article.published_at.tzinfo is None:
            self.failures.inc()
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTER,
                Failure(
                    "dedupe",
                    article.article_id,
                    "article times have no time zone; records must carry UTC times",
                ),
            )
        elif is_stale(article, self.max_age_seconds):
            self.stale.inc()
        else:
            yield article


class _CountUnique(beam.DoFn):
    def __init__(self) -> None:
        self.unique = beam.metrics.Metrics.counter("ingest", "articles_unique")

    def process(self, article: Article):
        self.unique.inc()
        yield article


class DedupeArticles(beam.PTransform):
    """Article -> Article, each story once (see the module docstring for the key order).

    ``shards`` spreads each stage's state over that many keys: ``DEFAULT_SHARDS`` on the
    live path (parallel workers on Dataflow; a poll's bundle touches only its items'
    shards), ``BOUNDED_SHARDS`` for a local replay (see there why).

    Counters (namespace ``ingest``): ``duplicates``, ``duplicates_by_url``,
    ``duplicates_by_guid``, ``duplicates_by_content``, ``articles_stale``, ``articles_unique``.
    """

    def __init__(
        self,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        max_keys: int = DEFAULT_MAX_KEYS,
        shards: int = DEFAULT_SHARDS,
        min_content_chars: int = MIN_CONTENT_CHARS,
        max_age_seconds: float | None = None,
        label: str | None = None,
    ) -> None:
        super().__init__(label)
        self.max_age_seconds = max_age_seconds
        self.ttl_seconds, self.max_keys, self.shards = ttl_seconds, max_keys, shards
        self.min_content_chars = min_content_chars

    def expand(self, articles: beam.PCollection) -> StageOutputs:
        options = dict(
            ttl_seconds=self.ttl_seconds,
            max_keys=self.max_keys,
            shards=self.shards,
            min_content_chars=self.min_content_chars,
        )
        checked = articles | "CheckArticle" >> beam.ParDo(
            _CheckArticle(self.max_age_seconds)
        ).with_outputs(DEAD_LETTER, main=MAIN)
        unique = (
            checked[MAIN]
            | "DedupeByUrl" >> _DedupeStage("url", **options)
            | "DedupeByGuid" >> _DedupeStage("guid", **options)
            | "DedupeByContent" >> _DedupeStage("content", **options)
            | "CountUnique" >> beam.ParDo(_CountUnique())
        )
        return StageOutputs(unique, checked[DEAD_LETTER])
