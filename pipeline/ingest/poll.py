"""Live polling ticks: which feeds are offered for fetching, and when.

    PollFeeds(sources, *, tick_seconds=5.0, stop_after_seconds=None, feeds_file=None,
              default_min_poll_seconds=None, reload_interval_seconds=0)
        live: PBegin -> PCollection[tuple[FeedSource, ...]]. A PeriodicImpulse ticks every
        ``tick_seconds``; each tick emits one element per host holding all that host's
        feeds, in feed-list order. FetchFeeds keeps each feed's schedule and fetches the
        due ones (adaptive cadence, backoff, per-host politeness, oldest due first), so
        this source stays stateless and the tick is independent of any feed's interval.
        With ``feeds_file`` and a reload interval, the file is re-checked at most that
        often (``pipeline.config.reload``): a new feed is offered from the next tick, a
        removed one no longer is (FetchFeeds then drops its schedule), a bad edit keeps
        the last good list.

Recorded feeds and articles (replays) are ``pipeline.ingest.recorded``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path

import apache_beam as beam
from apache_beam.transforms.periodicsequence import PeriodicImpulse
from apache_beam.utils.timestamp import MAX_TIMESTAMP, Timestamp

from pipeline.config.feeds import load_feeds
from pipeline.config.reload import ConfigWatcher
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


def load_feed_sources(
    feeds_file: Path | str, *, default_min_poll_seconds: float | None = None
) -> tuple[FeedSource, ...]:
    """The feed list's sources, as the run loads them at start-up."""
    feeds = load_feeds(feeds_file)
    return tuple(feeds.sources(default_min_poll_seconds=default_min_poll_seconds))


class OfferFeeds(beam.DoFn):
    """Each tick -> one tuple of FeedSource per host; the feed list re-read when ``watcher``
    says it changed."""

    def __init__(
        self,
        sources: Sequence[FeedSource],
        *,
        watcher: ConfigWatcher[tuple[FeedSource, ...]] | None = None,
    ) -> None:
        self.sources = tuple(sources)
        self.hosts = by_host(self.sources)
        self.watcher = watcher
        self.ticks = beam.metrics.Metrics.counter("ingest", "poll_ticks")
        self.reloads = beam.metrics.Metrics.counter("ingest", "feed_list_reloads")

    def process(self, tick: object) -> Iterable[tuple[FeedSource, ...]]:
        self.ticks.inc()
        if self.watcher is not None:
            sources = self.watcher.current()
            if sources is not self.sources:
                self.sources = sources
                self.hosts = by_host(sources)
                self.reloads.inc()
        yield from self.hosts


class PollFeeds(beam.PTransform):
    """PBegin -> one tuple of FeedSource per host, on every tick of a PeriodicImpulse.

    ``sources`` is a list of FeedSource (``FeedList.sources()``). ``stop_after_seconds``
    ends the impulse (for tests and bounded demo runs); None runs until cancelled.
    ``feeds_file`` (the file ``sources`` came from) with ``reload_interval_seconds`` > 0
    re-reads it while running; ``clock`` is for tests.
    """

    def __init__(
        self,
        sources: Sequence[FeedSource],
        *,
        tick_seconds: float = 5.0,
        stop_after_seconds: float | None = None,
        feeds_file: Path | str | None = None,
        default_min_poll_seconds: float | None = None,
        reload_interval_seconds: float = 0.0,
        clock: Callable[[], float] | None = None,
        config_uri: str | None = None,
        label: str | None = None,
    ) -> None:
        super().__init__(label)
        self.sources = tuple(sources)
        self.tick_seconds = tick_seconds
        self.stop_after_seconds = stop_after_seconds
        self.watcher: ConfigWatcher[tuple[FeedSource, ...]] | None = None
        if feeds_file is not None and reload_interval_seconds > 0:
            self.watcher = ConfigWatcher(
                [feeds_file],
                partial(
                    load_feed_sources, feeds_file, default_min_poll_seconds=default_min_poll_seconds
                ),
                initial=self.sources,
                interval_seconds=reload_interval_seconds,
                config_uri=config_uri,
                **({"clock": clock} if clock is not None else {}),
            )

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
            | "OfferFeeds" >> beam.ParDo(OfferFeeds(self.sources, watcher=self.watcher))
        )
