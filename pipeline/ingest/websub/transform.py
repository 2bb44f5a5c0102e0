"""WebSub on the Beam side: the fetch stage's push tap, and pushes read from Pub/Sub.

    WebSubTap(config)       what FetchFeeds' keyed DoFn calls on each host tick (local runs):
      setup() / teardown()                     the worker's shared WebSubClient
      polled_sources(state, sources, now)      the host's feeds, polling slowed where a
                                               subscription is live, back to normal
                                               (due now) where one lapsed
      after_tick(sources, fetched, now) -> [RawFeed]   discover hubs in what was fetched,
                                               subscribe/renew/unsubscribe, and the host's
                                               verified pushes as RawFeeds
    ReadWebSubPushes(subscription, sources)  PBegin -> StageOutputs(RawFeed, Failure):
                                               Dataflow, pushes a public callback verified
                                               and published to Pub/Sub

Why pushes join at the fetch stage locally: a second source would reach ParseFeeds through
a Flatten, a stage boundary FnApiRunner crosses only when the sources end
(docs/live-engine.md), so a push would never alert live. Emitted by the fetch DoFn, a push
is a RawFeed like a polled body and takes the same parse -> normalise -> dedupe -> match
path, on the host's next tick (at most ``--tick_seconds`` after it arrived). On Dataflow a
Flatten streams, so the graph reads Pub/Sub instead (docs/websub.md).
Counters (namespace ``ingest``): ``websub_pushes``, ``websub_pushes_rejected``,
``websub_verified``, ``websub_hub_failures``, ``websub_slowed_feeds`` (per host tick).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence

import apache_beam as beam

from pipeline.dates import parse_iso
from pipeline.ingest.fetch.schedule import HostState
from pipeline.ingest.websub.client import (
    Push,
    WebSubClient,
    WebSubConfig,
    acquire_client,
    release_client,
)
from pipeline.records import Failure, FeedSource, RawFeed
from pipeline.stage import DEAD_LETTER, MAIN, StageOutputs, split_dead_letters

UTC = dt.UTC
_COUNTED = {
    "pushes": "websub_pushes",
    "pushes_rejected": "websub_pushes_rejected",
    "verified": "websub_verified",
    "hub_failures": "websub_hub_failures",
}


def fallback_source(source: FeedSource, config: WebSubConfig) -> FeedSource:
    """``source`` polled as a fallback beside a live subscription: its floor times
    ``fallback_poll_factor``, at most ``max_fallback_poll_seconds``, never below the floor.

    >>> s = fallback_source(FeedSource("a", "u", min_poll_seconds=60, max_poll_seconds=900),
    ...                     WebSubConfig("http://127.0.0.1:1/cb", port=1))
    >>> s.min_poll_seconds, s.max_poll_seconds
    (600, 900)
    """
    slowed = min(
        source.min_poll_seconds * config.fallback_poll_factor, config.max_fallback_poll_seconds
    )
    floor = max(source.min_poll_seconds, int(slowed))
    return dataclasses.replace(
        source, min_poll_seconds=floor, max_poll_seconds=max(source.max_poll_seconds, floor)
    )


def raw_feed_of_push(push: Push, source: FeedSource | None) -> RawFeed:
    """A verified push as the RawFeed a poll of the feed would have produced."""
    return RawFeed(
        feed_id=push.feed_id,
        url=source.url if source is not None else push.topic,
        fetched_at=push.received_at,
        status=200,
        headers=push.headers,
        body=push.body,
        name=source.name if source is not None else "",
        language=source.language if source is not None else "",
    )


class WebSubTap:
    """The fetch DoFn's WebSub half; see the module docstring. Picklable until setup()."""

    def __init__(self, config: WebSubConfig) -> None:
        self.config = config
        self.client: WebSubClient | None = None
        self._seen = dict.fromkeys(_COUNTED, 0)
        self.counters = {
            key: beam.metrics.Metrics.counter("ingest", name) for key, name in _COUNTED.items()
        }
        self.slowed = beam.metrics.Metrics.counter("ingest", "websub_slowed_feeds")

    def setup(self) -> None:
        self.client = acquire_client(self.config)

    def teardown(self) -> None:
        if self.client is not None:
            release_client(self.config)
            self.client = None

    def polled_sources(
        self, state: HostState, sources: Sequence[FeedSource], now: float
    ) -> tuple[FeedSource, ...]:
        assert self.client is not None, "setup() first"
        out = []
        for source in sources:
            schedule = state.schedules.get(source.feed_id)
            if self.client.is_live(source.feed_id, now):
                out.append(fallback_source(source, self.config))
                self.slowed.inc()
                continue
            if schedule is not None and schedule.min_interval_seconds > source.min_poll_seconds:
                # It was slowed and the lease lapsed: pushes may have been missed, poll now.
                schedule.next_due_at = min(schedule.next_due_at, now)
                schedule.interval_seconds = float(source.min_poll_seconds)
            out.append(source)
        return tuple(out)

    def after_tick(
        self, sources: Sequence[FeedSource], fetched: Iterable[RawFeed], now: float
    ) -> list[RawFeed]:
        assert self.client is not None, "setup() first"
        by_id = {source.feed_id: source for source in sources}
        for raw in fetched:
            source = by_id.get(raw.feed_id)
            self.client.discovered(
                raw.feed_id,
                raw.self_url or raw.url,
                raw.hubs,
                allow_private=source.allow_private if source is not None else False,
            )
        self.client.offered(by_id, now)
        self.client.pump(now)
        for key, counter in self.counters.items():
            value = self.client.counts[key]
            if value > self._seen[key]:
                counter.inc(value - self._seen[key])
                self._seen[key] = value
        return [raw_feed_of_push(p, by_id.get(p.feed_id)) for p in self.client.take_pushes(by_id)]


def raw_feed_from_pubsub(
    data: bytes, attributes: dict[str, str], sources: dict[str, FeedSource]
) -> RawFeed | Failure:
    """A Pub/Sub message from the public callback -> RawFeed (or a Failure saying why not).

    Attributes: ``feed_id`` (required, a feed of the feed list), ``content_type``,
    ``received_at`` (ISO 8601). The callback verified the signature before publishing.
    """
    feed_id = attributes.get("feed_id", "")
    source = sources.get(feed_id)
    if source is None:
        return Failure("websub", feed_id or "(no feed_id)", "push for a feed not in the feed list")
    received_at = parse_iso(attributes.get("received_at", "")) or dt.datetime.now(UTC)
    headers = (
        (("content-type", attributes["content_type"]),) if attributes.get("content_type") else ()
    )
    return RawFeed(
        feed_id=feed_id,
        url=source.url,
        fetched_at=received_at,
        status=200,
        headers=headers,
        body=data,
        name=source.name,
        language=source.language,
    )


class _DecodePushFn(beam.DoFn):
    def __init__(self, sources: Sequence[FeedSource]) -> None:
        self.sources = {source.feed_id: source for source in sources}

    def process(self, message: beam.io.PubsubMessage) -> Iterable:
        out = raw_feed_from_pubsub(
            message.data or b"", dict(message.attributes or {}), self.sources
        )
        yield beam.pvalue.TaggedOutput(DEAD_LETTER, out) if isinstance(out, Failure) else out


class ReadWebSubPushes(beam.PTransform):
    """PBegin -> StageOutputs(main=RawFeed, dead_letter=Failure) from a Pub/Sub subscription
    (``projects/P/subscriptions/S``) the public WebSub callback publishes verified pushes to."""

    def __init__(
        self, subscription: str, sources: Sequence[FeedSource], label: str | None = None
    ) -> None:
        super().__init__(label)
        self.subscription = subscription
        self.sources = tuple(sources)

    def expand(self, pbegin: beam.pvalue.PBegin) -> StageOutputs:
        return split_dead_letters(
            pbegin
            | "ReadPubSub"
            >> beam.io.ReadFromPubSub(subscription=self.subscription, with_attributes=True)
            | "DecodePush"
            >> beam.ParDo(_DecodePushFn(self.sources)).with_outputs(DEAD_LETTER, main=MAIN)
        )
