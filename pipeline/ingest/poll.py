"""Live polling ticks: which feeds are offered for fetching, and when.

    PollFeeds(sources, *, interval_seconds=60.0, stop_after_seconds=None)
        live: PBegin -> PCollection[FeedSource]. A PeriodicImpulse ticks every
        ``interval_seconds`` and offers every feed on each tick; FetchFeeds keeps each
        feed's schedule and fetches only the feeds that are due (adaptive cadence, backoff,
        per-host politeness), so this source stays stateless.

Recorded feeds and articles (replays) are ``pipeline.ingest.recorded``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import apache_beam as beam
from apache_beam.transforms.periodicsequence import PeriodicImpulse
from apache_beam.utils.timestamp import MAX_TIMESTAMP, Timestamp

from pipeline.records import FeedSource


class _OfferFeeds(beam.DoFn):
    def __init__(self, sources: Sequence[FeedSource]) -> None:
        self.sources = tuple(sources)
        self.ticks = beam.metrics.Metrics.counter("ingest", "poll_ticks")

    def process(self, tick) -> Iterable[FeedSource]:
        self.ticks.inc()
        yield from self.sources


class PollFeeds(beam.PTransform):
    """PBegin -> FeedSource, every feed on every tick of a PeriodicImpulse.

    ``sources`` is a list of FeedSource (``FeedList.sources()``). ``stop_after_seconds``
    ends the impulse (for tests and bounded demo runs); None runs until cancelled.
    """

    def __init__(
        self,
        sources: Sequence[FeedSource],
        *,
        interval_seconds: float = 60.0,
        stop_after_seconds: float | None = None,
        label: str | None = None,
    ) -> None:
        super().__init__(label)
        self.sources = tuple(sources)
        self.interval_seconds = interval_seconds
        self.stop_after_seconds = stop_after_seconds

    def expand(self, pbegin):
        start = Timestamp.now()
        stop = (
            start + self.stop_after_seconds
            if self.stop_after_seconds is not None
            else MAX_TIMESTAMP
        )
        return (
            pbegin
            | "Tick"
            >> PeriodicImpulse(
                start_timestamp=start, stop_timestamp=stop, fire_interval=self.interval_seconds
            )
            | "OfferFeeds" >> beam.ParDo(_OfferFeeds(self.sources))
        )
