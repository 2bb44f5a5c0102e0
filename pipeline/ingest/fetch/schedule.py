"""When to poll each feed, and how often one host may be asked: pure, on a given clock.

    FeedSchedule   per-feed cadence, validators, backoff and health (epoch seconds)
    HostGate       per-host politeness gap
    HostState      one host's gate and its feeds' schedules (what FetchFeeds keeps per key)

A failing feed is the feed's condition, not the worker's: the schedule retries it with
exponential backoff, never stopping, and reports a ``FeedHealth`` after every attempt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from pipeline.records import FeedHealth, FeedSource

UTC = dt.UTC


def _utc(seconds: float | None) -> dt.datetime | None:
    return None if seconds is None else dt.datetime.fromtimestamp(seconds, UTC)


@dataclass
class FeedSchedule:
    """When to poll one feed next, learned from what the feed does; times are epoch seconds.

    - Success with new content: the feed's update gap (the median gap between its items'
      publication dates, or else the time since the previous observed change) feeds a
      moving average; the next interval is half of it (poll twice per update).
    - Success without new content (304, or the same bytes): the interval grows by 1.5x.
    - The interval stays within [min_interval_seconds, max_interval_seconds]; the feed's
      ``<ttl>`` and Cache-Control ``max-age`` raise it (up to the max bound); a
      Retry-After always delays the next attempt, up to ``max_backoff_seconds``.
    - Failure: exponential backoff from the current interval, doubling per consecutive
      failure up to ``max_backoff_seconds`` (default 6 h), never giving up.

    >>> s = FeedSchedule("f", "https://x", min_interval_seconds=300, max_interval_seconds=3600)
    >>> s.due(0.0), s.record_success(0.0, changed=True), s.next_due_at
    (True, None, 300.0)
    >>> s.record_success(300.0, changed=False); s.next_due_at
    750.0
    >>> s.record_failure(750.0, "HTTP 500"); s.record_failure(1200.0, "HTTP 500"); s.health().consecutive_failures
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
    mean_change_gap_seconds: float | None = None
    last_attempt_at: float | None = None
    last_success_at: float | None = None
    last_change_at: float | None = None
    last_offered_at: float | None = None
    consecutive_failures: int = 0
    last_error: str = ""

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

    def due(self, now: float) -> bool:
        return now >= self.next_due_at

    def _clamp(self, seconds: float) -> float:
        return min(self.max_interval_seconds, max(self.min_interval_seconds, seconds))

    def record_success(
        self,
        now: float,
        *,
        changed: bool,
        ttl_seconds: float | None = None,
        max_age_seconds: float | None = None,
        retry_after_seconds: float | None = None,
        publication_gap_seconds: float | None = None,
    ) -> None:
        if changed:
            # The gap between the items' own publication dates is the better signal: the
            # gap between observed changes can never be shorter than our polling interval.
            gap = publication_gap_seconds
            if gap is None and self.last_change_at is not None:
                gap = now - self.last_change_at
            if gap is not None:
                mean = self.mean_change_gap_seconds
                self.mean_change_gap_seconds = gap if mean is None else 0.5 * mean + 0.5 * gap
                self.interval_seconds = self._clamp(self.mean_change_gap_seconds / 2)
            else:
                self.interval_seconds = self.min_interval_seconds
            self.last_change_at = now
        else:
            self.interval_seconds = self._clamp(self.interval_seconds * 1.5)
        for floor in (ttl_seconds, max_age_seconds):
            if floor:
                self.interval_seconds = max(
                    self.interval_seconds, min(floor, self.max_interval_seconds)
                )
        wait = self.interval_seconds
        if retry_after_seconds:
            wait = max(wait, min(retry_after_seconds, self.max_backoff_seconds))
        self.last_attempt_at = self.last_success_at = now
        self.consecutive_failures = 0
        self.last_error = ""
        self.next_due_at = now + wait

    def record_failure(
        self, now: float, error: str, *, retry_after_seconds: float | None = None
    ) -> None:
        self.consecutive_failures += 1
        self.last_error = error
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
            next_due_at=_utc(self.next_due_at),
            interval_seconds=self.interval_seconds,
        )


@dataclass
class HostGate:
    """At most one request start per ``gap_seconds`` to one host.

    >>> g = HostGate(gap_seconds=5)
    >>> g.try_acquire(0.0), g.try_acquire(3.0), g.try_acquire(5.0)
    (True, False, True)
    """

    gap_seconds: float = 5.0
    last_request_at: float = float("-inf")

    def try_acquire(self, now: float) -> bool:
        if now - self.last_request_at < self.gap_seconds:
            return False
        self.last_request_at = now
        return True


@dataclass
class HostState:
    """Everything FetchFeeds keeps for one host: its gate and its feeds' schedules."""

    gate: HostGate
    schedules: dict[str, FeedSchedule] = field(default_factory=dict)

    def forget_stale(self, now: float, *, after_seconds: float) -> None:
        """Drop feeds no longer offered by the poller (removed from the feed list)."""
        for feed_id in [
            f
            for f, s in self.schedules.items()
            if s.last_offered_at is not None and now - s.last_offered_at > after_seconds
        ]:
            del self.schedules[feed_id]
