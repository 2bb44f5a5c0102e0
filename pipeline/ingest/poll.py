"""Live polling ticks: which feeds are offered for fetching, and when.

    PollFeeds(sources, *, tick_seconds=5.0, stop_after_seconds=None)
        live: PBegin -> PCollection[tuple[FeedSource, ...]]. A PeriodicImpulse ticks every
        ``tick_seconds``; each tick emits one element per host holding all that host's
        feeds, in feed-list order. FetchFeeds keeps each feed's schedule and fetches the
        due ones (adaptive cadence, backoff, per-host politeness, oldest due first), so
        this source stays stateless and the tick is independent of any feed's interval.

Recorded feeds and articles (replays) are ``pipeline.ingest.recorded``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import apache_beam as beam
from apache_beam.transforms.periodicsequence import PeriodicImpulse
from apache_beam.utils.timestamp import MAX_TIMESTAMP, Timestamp

from pipeline.ingest.fetch.transform import host_of
from pipeline.records import FeedSource


def by_host(sources: Sequence[FeedSource]) -> tuple[tuple[FeedSource, ...], ...]:
    """The feeds grouped by host, hosts and feeds in feed-list order.

    >>> [[s.feed_id for s in h] for h in by_host([FeedSource("a", "https://x/1"),
    ...     FeedSource("b", "https://y/1"), FeedSource("c", "https://X/2")])]
    [['a', 'c'], ['b']]
    """
    hosts: dict[str, list[FeedSource]] = {}
    for source in sources:
        hosts.setdefault(host_of(source.url), []).append(source)
    return tuple(tuple(feeds) for feeds in hosts.values())


class _OfferFeeds(beam.DoFn):
    def __init__(self, sources: Sequence[FeedSource]) -> None:
        self.hosts = by_host(sources)
        self.ticks = beam.metrics.Metrics.counter("ingest", "poll_ticks")

    def process(self, tick: object) -> Iterable[tuple[FeedSource, ...]]:
        self.ticks.inc()
        yield from self.hosts


class PollFeeds(beam.PTransform):
    """PBegin -> one tuple of FeedSource per host, on every tick of a PeriodicImpulse.

    ``sources`` is a list of FeedSource (``FeedList.sources()``). ``stop_after_seconds``
    ends the impulse (for tests and bounded demo runs); None runs until cancelled.
    """

    def __init__(
        self,
        sources: Sequence[FeedSource],
        *,
        tick_seconds: float = 5.0,
        stop_after_seconds: float | None = None,
        label: str | None = None,
    ) -> None:
        super().__init__(label)
        self.sources = tuple(sources)
        self.tick_seconds = tick_seconds
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
                start_timestamp=start, stop_timestamp=stop, fire_interval=self.tick_seconds
            )
            | "OfferFeeds" >> beam.ParDo(_OfferFeeds(self.sources))
        )
