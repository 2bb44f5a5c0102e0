"""FetchFeeds: the fetch stage, polite and safe, as a Beam transform.

    Poller              the pure core for one host: offer a feed, maybe fetch it, learn
    FetchFeeds(*, policy=FetchPolicy(), host_gap_seconds=5.0, clock=time.time)
        PCollection[FeedSource] -> FetchOutputs(main=RawFeed (new content only),
                                                dead_letter=Failure, health=FeedHealth)

State, per key = host name: one ``HostState`` (politeness gate + a ``FeedSchedule`` per
feed of that host). Bound: one schedule per feed of the host in the feed list. Expiry:
lazily, a feed not offered for 7 days (removed from the list) is forgotten; no timers.
Every attempt emits a ``FeedHealth``; a failure emits a ``Failure`` too. Each failure is
logged at info level; the warning comes once per failing spell, when the feed reaches
``--failing_feed_after_failures`` in a row (``run.graph.ReportFeedHealth``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import apache_beam as beam
import httpx
from apache_beam.coders import PickleCoder
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec
from apache_beam.typehints import KV

from pipeline.ingest.fetch.guard import FetchError
from pipeline.ingest.fetch.http import FetchPolicy, FetchResult, fetch_feed, make_client
from pipeline.ingest.fetch.schedule import FeedSchedule, HostGate, HostState
from pipeline.records import Failure, FeedSource
from pipeline.stage import DEAD_LETTER, MAIN

UTC = dt.UTC
log = logging.getLogger(__name__)
HEALTH = "health"


class FetchOutputs(NamedTuple):
    """The fetch stage's outputs: the stage contract's pair plus every attempt's health."""

    main: beam.PCollection
    dead_letter: beam.PCollection
    health: beam.PCollection


def _should_log(failures: int) -> bool:
    return failures in (1, 3) or failures % 10 == 0


class Poller:
    """The pure core of FetchFeeds for one host: offer a feed, maybe fetch it, learn.

    ``offer(source, now)`` returns (fetch result or None, failure or None, health or
    None); nothing is fetched when the feed is not due or the host gate is closed.
    """

    def __init__(
        self,
        fetch: Callable[..., FetchResult],
        *,
        host_gap_seconds: float = 5.0,
        forget_after_seconds: float = 7 * 24 * 3600.0,
    ) -> None:
        self.fetch = fetch
        self.host_gap_seconds = host_gap_seconds
        self.forget_after_seconds = forget_after_seconds

    def new_state(self) -> HostState:
        return HostState(HostGate(self.host_gap_seconds))

    def offer(self, state: HostState, source: FeedSource, now: float):
        state.forget_stale(now, after_seconds=self.forget_after_seconds)
        schedule = state.schedules.get(source.feed_id)
        if schedule is None:
            schedule = state.schedules[source.feed_id] = FeedSchedule.for_source(source)
        schedule.min_interval_seconds = float(source.min_poll_seconds)
        schedule.max_interval_seconds = float(source.max_poll_seconds)
        schedule.last_offered_at = now
        if not schedule.due(now) or not state.gate.try_acquire(now):
            return None, None, None
        try:
            result = self.fetch(
                source, now=now, etag=schedule.etag, last_modified=schedule.last_modified
            )
        except FetchError as exc:
            schedule.record_failure(now, str(exc), retry_after_seconds=exc.retry_after_seconds)
            failure = Failure(
                "fetch",
                source.url,
                f"{exc} (attempt {schedule.consecutive_failures}, "
                f"next try in {schedule.next_due_at - now:.0f} s)",
                at=dt.datetime.fromtimestamp(now, UTC),
            )
            if _should_log(schedule.consecutive_failures):
                # Info, not warning: the feed-health sink (graph.ReportFeedHealth) warns once
                # when a feed crosses --failing_feed_after_failures; this is the trail.
                log.info(
                    "feed %s failing (%d in a row): %s",
                    source.feed_id,
                    schedule.consecutive_failures,
                    exc,
                )
            return None, failure, schedule.health()
        if schedule.consecutive_failures >= 3:
            log.warning(
                "feed %s recovered after %d failures", source.feed_id, schedule.consecutive_failures
            )
        changed = False
        if result.raw is not None:
            digest = hashlib.sha256(result.raw.body).hexdigest()
            changed = digest != schedule.body_digest
            schedule.body_digest = digest
        schedule.etag = result.etag or (schedule.etag if result.status == 304 else "")
        schedule.last_modified = result.last_modified or (
            schedule.last_modified if result.status == 304 else ""
        )
        schedule.record_success(
            now,
            changed=changed,
            ttl_seconds=result.ttl_seconds,
            max_age_seconds=result.max_age_seconds,
            retry_after_seconds=result.retry_after_seconds,
            publication_gap_seconds=result.publication_gap_seconds,
        )
        if result.permanent_redirect:
            log.warning(
                "feed %s moved permanently to %s; update the feed list",
                source.feed_id,
                result.permanent_redirect,
            )
        return (result if changed else None), None, schedule.health()


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


class _FetchFn(beam.DoFn):
    """Fetch the due feeds of one host.

    State, per key = host name: one ``HostState`` (politeness gate + a ``FeedSchedule``
    per feed of that host, holding validators, cadence and health).
    Bound: one schedule per feed of the host in the feed list. Expiry: lazily, a feed not
    offered by the poller for 7 days (removed from the list) is forgotten; no timers.
    Timeline (gap 5 s, feeds A and B on one host, min interval 300 s, no item dates):

        t=0    A offered: due, gate open -> fetched, 200, A next due at 300
        t=0    B offered: due, gate closed (A just went) -> skipped, still due
        t=60   B offered: fetched; A offered: not due
        t=300  A offered: fetched, 304 -> interval 450, A next due at 750
    """

    STATE = ReadModifyWriteStateSpec("host", PickleCoder())

    def __init__(
        self, policy: FetchPolicy, host_gap_seconds: float, clock: Callable[[], float]
    ) -> None:
        self.policy = policy
        self.host_gap_seconds = host_gap_seconds
        self.clock = clock
        self.client: httpx.Client | None = None
        self.polled = beam.metrics.Metrics.counter("ingest", "feeds_polled")
        self.fetched = beam.metrics.Metrics.counter("ingest", "feeds_fetched")
        self.not_modified = beam.metrics.Metrics.counter("ingest", "feeds_not_modified")
        self.errors = beam.metrics.Metrics.counter("ingest", "fetch_errors")

    def setup(self) -> None:
        self.client = make_client(self.policy)
        self.poller = Poller(self._fetch, host_gap_seconds=self.host_gap_seconds)

    def teardown(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def _fetch(self, source: FeedSource, **kwargs) -> FetchResult:
        return fetch_feed(self.client, source, policy=self.policy, **kwargs)

    def process(self, element, state=beam.DoFn.StateParam(STATE)) -> Iterable:
        _, source = element
        host_state = state.read() or self.poller.new_state()
        result, failure, health = self.poller.offer(host_state, source, self.clock())
        state.write(host_state)
        if health is None:
            return
        self.polled.inc()
        yield beam.pvalue.TaggedOutput(HEALTH, health)
        if failure is not None:
            self.errors.inc()
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, failure)
        elif result is None:
            self.not_modified.inc()
        else:
            self.fetched.inc()
            yield result.raw


class FetchFeeds(beam.PTransform):
    """FeedSource -> RawFeed for the feeds that are due and have new content.

    Returns ``FetchOutputs(main=RawFeed, dead_letter=Failure per failed attempt,
    health=FeedHealth per attempt)``. Counters (namespace ``ingest``): ``feeds_polled``,
    ``feeds_fetched``, ``feeds_not_modified``, ``fetch_errors``.
    """

    def __init__(
        self,
        *,
        policy: FetchPolicy = FetchPolicy(),
        host_gap_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
        label: str | None = None,
    ) -> None:
        super().__init__(label)
        self.policy = policy
        self.host_gap_seconds = host_gap_seconds
        self.clock = clock

    def expand(self, sources: beam.PCollection) -> FetchOutputs:
        results = (
            sources
            | "KeyByHost" >> beam.Map(lambda s: (host_of(s.url), s)).with_output_types(KV[str, Any])
            | "FetchDue"
            >> beam.ParDo(_FetchFn(self.policy, self.host_gap_seconds, self.clock)).with_outputs(
                DEAD_LETTER, HEALTH, main=MAIN
            )
        )
        return FetchOutputs(results[MAIN], results[DEAD_LETTER], results[HEALTH])
