"""When to poll each feed, and how often one host may be asked: pure, on a given clock.

    FeedSchedule   per-feed cadence, validators, backoff and health (epoch seconds)
    HostGate       per-host politeness gap
    HostState      one host's gate and its feeds' schedules (what FetchFeeds keeps per key);
                   ``due_feeds(now, tolerance_seconds=)`` lists the due ones, oldest due first
    IntervalSummary / summarise_intervals   the start-up banner's per-feed intervals

A feed is due once ``now >= next_due_at - tolerance``: ticks come every few seconds and may
land a millisecond before a feed's due time, which must not cost a whole tick (let alone a
whole interval). The tolerance is half a tick.

A failing feed is the feed's condition, not the worker's: the schedule retries it with
exponential backoff, never stopping, and reports a ``FeedHealth`` after every attempt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import median

from pipeline.records import FeedHealth, FeedSource

UTC = dt.UTC
# Weight of the newest observed gap between changes: about the last three count.
CHANGE_GAP_WEIGHT = 0.4


def _utc(seconds: float | None) -> dt.datetime | None:
    return None if seconds is None else dt.datetime.fromtimestamp(seconds, UTC)


@dataclass
class FeedSchedule:
    """When to poll one feed next, learned from what we observe; times are epoch seconds.

    - Cadence comes from our own observations, never from the items' publication dates
      (one old item would stretch it): an EWMA of the time between the fetches that saw
      new content (``change_gap_ewma_seconds``), and the interval is half of it (poll
      twice per update). While a feed stays quiet, the time since its last change counts
      as a lower bound on the gap, so a quiet feed drifts up by about 1.5x per poll.
    - The first change seen polls at the floor (``min_interval_seconds``).
    - The interval stays within [min_interval_seconds, max_interval_seconds]; the feed's
      ``<ttl>`` and Cache-Control ``max-age`` raise it (up to the max bound); a
      Retry-After always delays the next attempt, up to ``max_backoff_seconds``.
    - Failure: exponential backoff from the current interval, doubling per consecutive
      failure up to ``max_backoff_seconds`` (default 6 h), never giving up.

    >>> s = FeedSchedule("f", "https://x", min_interval_seconds=300, max_interval_seconds=3600)
    >>> s.due(0.0), s.record_success(0.0, changed=True), s.next_due_at
    (True, None, 300.0)
    >>> s.due(299.999), s.due(299.999, tolerance_seconds=2.5)
    (False, True)
    >>> s.record_success(300.0, changed=False); s.next_due_at
    600.0
    >>> s.record_success(600.0, changed=True); s.interval_seconds  # gap 600 s: poll every 300
    300.0
    >>> s.record_failure(900.0, "HTTP 500"); s.record_failure(1500.0, "HTTP 500"); s.health().consecutive_failures
    2
    """

    feed_id: str
    url: str
    min_interval_seconds: float = 300.0
    max_interval_seconds: float = 3600.0
    max_backoff_seconds: float = 6 * 3600.0
    interval_seconds: float = 0.0
    next_due_at: float = 0.0
    etag: str = ""
    last_modified: str = ""
    body_digest: str = ""
    change_gap_ewma_seconds: float | None = None
    last_attempt_at: float | None = None
    last_success_at: float | None = None
    last_change_at: float | None = None
    last_offered_at: float | None = None
    consecutive_failures: int = 0
    last_error: str = ""
    last_outcome: str = ""
    # A storyline burst names this feed: poll it every ``hot_interval_seconds`` until then.
    hot_until: float = 0.0
    hot_interval_seconds: float = 0.0
    # A Retry-After the server sent: no request before this, whatever else says so.
    not_before: float = 0.0

    def __post_init__(self) -> None:
        if not self.interval_seconds:
            self.interval_seconds = self.min_interval_seconds

    @classmethod
    def for_source(cls, source: FeedSource) -> FeedSchedule:
        return cls(
            source.feed_id,
            source.url,
            min_interval_seconds=float(source.min_poll_seconds),
            max_interval_seconds=float(source.max_poll_seconds),
            max_backoff_seconds=max(6 * 3600.0, float(source.max_poll_seconds)),
            etag=source.etag,
            last_modified=source.last_modified,
        )

    def due(self, now: float, *, tolerance_seconds: float = 0.0) -> bool:
        return now >= self.next_due_at - tolerance_seconds

    def tighten(self, now: float, *, until: float, interval_seconds: float) -> None:
        """Poll every ``interval_seconds`` (or the feed's own floor, if lower) until ``until``:
        a burst on a storyline this feed carries. A failing feed keeps its backoff, and a
        Retry-After still holds.

        >>> s = FeedSchedule("f", "https://x", min_interval_seconds=300)
        >>> s.record_success(0.0, changed=True); s.next_due_at
        300.0
        >>> s.tighten(10.0, until=3600.0, interval_seconds=60); s.next_due_at
        60.0
        >>> s.record_success(60.0, changed=False); s.next_due_at  # stays tight while hot
        120.0
        """
        self.hot_until = max(self.hot_until, until)
        self.hot_interval_seconds = min(interval_seconds, self.min_interval_seconds)
        if self.consecutive_failures or self.last_attempt_at is None or now >= self.hot_until:
            return
        self.next_due_at = max(
            min(self.next_due_at, self.last_attempt_at + self.hot_interval_seconds),
            self.not_before,
        )

    def _clamp(self, seconds: float) -> float:
        return float(min(self.max_interval_seconds, max(self.min_interval_seconds, seconds)))

    def record_success(
        self,
        now: float,
        *,
        changed: bool,
        not_modified: bool = False,
        ttl_seconds: float | None = None,
        max_age_seconds: float | None = None,
        retry_after_seconds: float | None = None,
    ) -> None:
        quiet = None if self.last_change_at is None else now - self.last_change_at
        if changed:
            if quiet is not None:
                ewma = self.change_gap_ewma_seconds
                self.change_gap_ewma_seconds = (
                    quiet
                    if ewma is None
                    else (1 - CHANGE_GAP_WEIGHT) * ewma + CHANGE_GAP_WEIGHT * quiet
                )
                self.interval_seconds = self._clamp(self.change_gap_ewma_seconds / 2)
            else:
                self.interval_seconds = self.min_interval_seconds
            self.last_change_at = now
        elif quiet is not None:
            gap = max(self.change_gap_ewma_seconds or 0.0, quiet)
            self.interval_seconds = self._clamp(max(self.interval_seconds, gap / 2))
        else:  # never changed yet (every fetch so far failed or was a 304 of old validators)
            self.interval_seconds = self._clamp(self.interval_seconds * 1.5)
        for floor in (ttl_seconds, max_age_seconds):
            if floor:
                self.interval_seconds = max(
                    self.interval_seconds, min(floor, self.max_interval_seconds)
                )
        wait = self.interval_seconds
        if (
            self.hot_interval_seconds and now < self.hot_until
        ):  # a burst outranks the feed's own hints (ttl, max-age)
            wait = min(wait, self.hot_interval_seconds)
        self.not_before = 0.0
        if retry_after_seconds:
            wait = max(wait, min(retry_after_seconds, self.max_backoff_seconds))
            self.not_before = now + wait
        self.last_attempt_at = self.last_success_at = now
        self.last_outcome = "new" if changed else "not_modified" if not_modified else "same_body"
        self.consecutive_failures = 0
        self.last_error = ""
        self.next_due_at = now + wait

    def record_failure(
        self, now: float, error: str, *, retry_after_seconds: float | None = None
    ) -> None:
        self.consecutive_failures += 1
        self.last_error = error
        self.last_outcome = "failed"
        self.last_attempt_at = now
        base = max(self.interval_seconds, self.min_interval_seconds)
        backoff = min(self.max_backoff_seconds, base * 2 ** (self.consecutive_failures - 1))
        # Deterministic jitter (up to +10%) so feeds that failed together spread out.
        jitter = int(
            hashlib.sha256(f"{self.feed_id}:{self.consecutive_failures}".encode()).hexdigest()[:4],
            16,
        )
        backoff = min(self.max_backoff_seconds, backoff * (1 + 0.1 * jitter / 0xFFFF))
        if retry_after_seconds:
            backoff = max(backoff, min(retry_after_seconds, self.max_backoff_seconds))
        self.not_before = now + backoff if retry_after_seconds else 0.0
        self.next_due_at = now + backoff

    def health(self) -> FeedHealth:
        return FeedHealth(
            feed_id=self.feed_id,
            url=self.url,
            status="failing" if self.consecutive_failures else "ok",
            consecutive_failures=self.consecutive_failures,
            last_error=self.last_error,
            last_attempt_at=_utc(self.last_attempt_at),
            last_success_at=_utc(self.last_success_at),
            last_change_at=_utc(self.last_change_at),
            next_due_at=dt.datetime.fromtimestamp(self.next_due_at, UTC),
            interval_seconds=self.interval_seconds,
            last_outcome=self.last_outcome,
        )


@dataclass
class HostGate:
    """At most one request start per ``gap_seconds`` to one host.

    >>> g = HostGate(gap_seconds=5)
    >>> g.try_acquire(0.0), g.try_acquire(3.0), g.wait_seconds(3.0), g.try_acquire(5.0)
    (True, False, 2.0, True)
    """

    gap_seconds: float = 5.0
    last_request_at: float = float("-inf")

    def wait_seconds(self, now: float) -> float:
        """How long until the gate opens (0 when open now)."""
        return max(0.0, self.last_request_at + self.gap_seconds - now)

    def try_acquire(self, now: float) -> bool:
        if now < self.last_request_at + self.gap_seconds:  # the same sum as wait_seconds
            return False
        self.last_request_at = now
        return True


@dataclass
class HostState:
    """Everything FetchFeeds keeps for one host: its gate and its feeds' schedules."""

    gate: HostGate
    schedules: dict[str, FeedSchedule] = field(default_factory=dict)

    def offered(
        self,
        sources: Sequence[FeedSource],
        now: float,
        *,
        hot_until: Mapping[str, float] | None = None,
        hot_interval_seconds: float = 60.0,
    ) -> None:
        """The poller's feed list for this host: add new feeds, drop removed ones, and take
        each feed's current poll bounds; feeds in ``hot_until`` (feed id -> epoch seconds,
        from storyline bursts) are tightened to ``hot_interval_seconds`` until then."""
        wanted = {source.feed_id: source for source in sources}
        for feed_id in [f for f in self.schedules if f not in wanted]:
            del self.schedules[feed_id]
        for feed_id, source in wanted.items():
            schedule = self.schedules.get(feed_id)
            if schedule is None:
                schedule = self.schedules[feed_id] = FeedSchedule.for_source(source)
            schedule.min_interval_seconds = float(source.min_poll_seconds)
            schedule.max_interval_seconds = float(source.max_poll_seconds)
            schedule.last_offered_at = now
            until = (hot_until or {}).get(feed_id)
            if until is not None:
                schedule.tighten(now, until=until, interval_seconds=hot_interval_seconds)

    def due_feeds(self, now: float, *, tolerance_seconds: float = 0.0) -> list[FeedSchedule]:
        """The feeds due at ``now``, oldest due first (ties by feed id), so a host's feeds
        take turns at its gate and none starves.

        >>> h = HostState(HostGate())
        >>> h.offered([FeedSource("b", "u"), FeedSource("a", "u")], 0.0)
        >>> h.schedules["b"].next_due_at = 10.0
        >>> [s.feed_id for s in h.due_feeds(9.0)], [s.feed_id for s in h.due_feeds(10.0)]
        (['a'], ['a', 'b'])
        """
        due = [
            s for s in self.schedules.values() if s.due(now, tolerance_seconds=tolerance_seconds)
        ]
        return sorted(due, key=lambda s: (s.next_due_at, s.feed_id))


@dataclass(frozen=True)
class IntervalSummary:
    """The poll intervals a run starts with, for the banner.

    >>> print(summarise_intervals([FeedSource("a", "u", min_poll_seconds=60, hot=True),
    ...                            FeedSource("b", "u"), FeedSource("c", "u")]))
    3 feeds (1 hot), poll intervals 60-300 s (median 300 s)
    """

    feeds: int
    hot: int
    min_seconds: float
    median_seconds: float
    max_seconds: float

    def __str__(self) -> str:
        return (
            f"{self.feeds} feeds ({self.hot} hot), poll intervals "
            f"{self.min_seconds:g}-{self.max_seconds:g} s (median {self.median_seconds:g} s)"
        )


def summarise_intervals(sources: Sequence[FeedSource]) -> IntervalSummary:
    """Each feed starts at its floor and adapts within its bounds; summarise the floors."""
    floors = sorted(float(s.min_poll_seconds) for s in sources) or [0.0]
    return IntervalSummary(
        len(sources), sum(1 for s in sources if s.hot), floors[0], median(floors), floors[-1]
    )
