"""Burst cadence: a storyline burst tightens the polling of the feeds that carry it.

    MarkBurstFeeds(*, ledger_url, hot_for_seconds)
        PCollection[StorylineEvent] -> StageOutputs(main=(feed ids, until) per burst,
                                                    dead_letter=Failure)
    HotFeeds(read, *, refresh_seconds=30.0, clock=time.time)
        .current() -> {feed id: until (epoch seconds)}; what FetchFeeds tightens

The tracker names a burst's feeds (``StorylineEvent.feed_ids``: those whose articles of
the storyline fell in the burst window). The graph cannot feed them back to the fetch
stage upstream (a Beam graph has no cycles), so they go through the ledger, which every
worker of a run shares (SQLite on one machine, PostgreSQL or Firestore for many):
``mark_feeds_hot`` here, ``hot_feeds`` read by FetchFeeds at most every
``refresh_seconds``. Each marked feed is polled every ``BURST_POLL_SECONDS`` (or its own
floor, if lower) until ``until``; failing feeds keep their backoff and a Retry-After
still holds (``FeedSchedule.tighten``).

Timeline (defaults): t=0 the fifth article in 2 h makes a burst on storyline S, from
feeds A and B; t=0 both are marked hot until t=2 h; by t=30 s FetchFeeds has read it and
A, last polled at t=-200 s on a 300 s interval, is due at once, then every 60 s; at t=2 h
A goes back to its learned cadence.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput

from pipeline.config.feeds import HOT_MIN_POLL_SECONDS
from pipeline.ledger import open_ledger
from pipeline.records import Failure, StorylineEvent
from pipeline.stage import DEAD_LETTER, MAIN, StageOutputs

UTC = dt.UTC
#: How often a feed carrying a burst is polled: the floor of a feed tagged ``hot``.
BURST_POLL_SECONDS = float(HOT_MIN_POLL_SECONDS)


class HotFeeds:
    """The hot feeds, re-read through ``read(now)`` at most every ``refresh_seconds``.

    ``read`` takes the time as a UTC datetime and returns {feed id: until datetime}; a
    read that fails keeps the last answer (polling goes on at the learned cadence).

    >>> t = [0.0]
    >>> reads = []
    >>> def read(now):
    ...     reads.append(now)
    ...     return {"ap": dt.datetime(1970, 1, 1, 1, tzinfo=UTC)}
    >>> hot = HotFeeds(read, refresh_seconds=30, clock=lambda: t[0])
    >>> hot.current(), len(reads)
    ({'ap': 3600.0}, 1)
    >>> t[0] = 29.0; _ = hot.current(); len(reads)
    1
    """

    def __init__(
        self,
        read: Callable[[dt.datetime], Mapping[str, dt.datetime]],
        *,
        refresh_seconds: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._read = read
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._checked_at: float | None = None
        self._hot: dict[str, float] = {}

    def current(self) -> dict[str, float]:
        now = self._clock()
        if self._checked_at is None or now - self._checked_at >= self._refresh_seconds:
            self._checked_at = now
            try:
                rows = self._read(dt.datetime.fromtimestamp(now, UTC))
            except Exception:  # the ledger is briefly unreadable: keep the last answer
                return self._hot
            self._hot = {feed_id: until.timestamp() for feed_id, until in rows.items()}
        return self._hot


class _MarkFn(beam.DoFn):
    """A burst event with feeds -> those feeds marked hot in the ledger."""

    def __init__(self, ledger_url: str, hot_for_seconds: float) -> None:
        self._ledger_url = ledger_url
        self._hot_for_seconds = hot_for_seconds
        self._ledger: Any = None
        self._marked = Metrics.counter("ingest", "feeds_marked_hot")

    def setup(self) -> None:
        self._ledger = open_ledger(self._ledger_url)

    def teardown(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    def process(self, event: StorylineEvent) -> Iterable[Any]:
        if not event.feed_ids:
            return
        until = dt.datetime.now(UTC) + dt.timedelta(seconds=self._hot_for_seconds)
        try:
            self._ledger.mark_feeds_hot(list(event.feed_ids), until)
        except Exception as exc:  # polling goes on at the learned cadence
            yield TaggedOutput(
                DEAD_LETTER,
                Failure(
                    "burst-cadence",
                    f"{event.storyline_id}:{event.development_id}",
                    f"cannot mark the burst's feeds hot in the ledger: {type(exc).__name__}: {exc}",
                ),
            )
            return
        self._marked.inc(len(event.feed_ids))
        yield event.feed_ids, until


class MarkBurstFeeds(beam.PTransform):
    """StorylineEvent -> StageOutputs(main=(feed ids, until), dead_letter=Failure)."""

    def __init__(self, *, ledger_url: str, hot_for_seconds: float) -> None:
        super().__init__()
        self._ledger_url = ledger_url
        self._hot_for_seconds = hot_for_seconds

    def expand(self, events: beam.PCollection) -> StageOutputs:
        marked = (
            events
            | "Bursts" >> beam.Filter(lambda e: bool(e.feed_ids))
            | "MarkHot"
            >> beam.ParDo(_MarkFn(self._ledger_url, self._hot_for_seconds)).with_outputs(
                DEAD_LETTER, main=MAIN
            )
        )
        return StageOutputs(marked[MAIN], marked[DEAD_LETTER])
