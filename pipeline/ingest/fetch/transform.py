"""FetchFeeds: the fetch stage, polite and safe, as a Beam transform.

    Poller              the pure core for one host: take a tick's feed list, fetch the due
                        feeds in turn while the host gate allows, learn from each answer
    FetchFeeds(*, policy=FetchPolicy(), host_gap_seconds=5.0, tick_seconds=5.0,
               clock=time.time, sleep=time.sleep)
        PCollection[tuple[FeedSource, ...] (one host's feeds, from PollFeeds); a lone
                    FeedSource counts as a host list of one]
        -> FetchOutputs(main=RawFeed (new content only), dead_letter=Failure, health=FeedHealth)

State, per key = host name: one ``HostState`` (politeness gate + a ``FeedSchedule`` per
feed of that host). Bound: one schedule per feed of the host in the feed list. Expiry: a
feed missing from a tick's list of its host (removed from the feed list) is dropped then;
no timers.
Every attempt emits a ``FeedHealth``; a failure emits a ``Failure`` too. Each failure is
logged at info level; the warning comes once per failing spell, when the feed reaches
``--failing_feed_after_failures`` in a row (``run.sinks.ReportFeedHealth``).
Sequential fetching per host; concurrency across hosts is the next step of issue 12.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
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
from pipeline.records import Failure, FeedHealth, FeedSource
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


class Attempt(NamedTuple):
    """One fetch attempt: the result when it brought new content, the failure, the feed's
    health after it, and the HTTP status (None when it failed)."""

    result: FetchResult | None
    failure: Failure | None
    health: FeedHealth
    status: int | None


class Poller:
    """The pure core of FetchFeeds for one host.

    ``poll(state, sources, clock)`` updates the host's schedules from ``sources`` (the
    host's whole feed list on this tick), then fetches the due feeds, oldest due first,
    while the host gate allows; a gate closed for at most ``max_gate_wait_seconds`` is
    waited for (ticks jitter by milliseconds), a longer wait leaves the rest to the next
    tick. Returns one ``Attempt`` per fetch.
    """

    def __init__(
        self,
        fetch: Callable[..., FetchResult],
        *,
        host_gap_seconds: float = 5.0,
        tolerance_seconds: float = 2.5,
        max_gate_wait_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.fetch = fetch
        self.host_gap_seconds = host_gap_seconds
        self.tolerance_seconds = tolerance_seconds
        self.max_gate_wait_seconds = max_gate_wait_seconds
        self.sleep = sleep

    def new_state(self) -> HostState:
        return HostState(HostGate(self.host_gap_seconds))

    def poll(
        self, state: HostState, sources: Sequence[FeedSource], clock: Callable[[], float]
    ) -> list[Attempt]:
        now = clock()
        by_id = {source.feed_id: source for source in sources}
        state.offered(sources, now)
        attempts = []
        for schedule in state.due_feeds(now, tolerance_seconds=self.tolerance_seconds):
            wait = state.gate.wait_seconds(now)
            if wait > self.max_gate_wait_seconds:
                break
            if wait > 0:
                self.sleep(wait)
                now = max(clock(), state.gate.last_request_at + state.gate.gap_seconds)
            if not state.gate.try_acquire(now):
                break
            attempts.append(self._attempt(schedule, by_id[schedule.feed_id], now))
            now = clock()
        return attempts

    def _attempt(self, schedule: FeedSchedule, source: FeedSource, now: float) -> Attempt:
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
                # Info, not warning: the feed-health sink (sinks.ReportFeedHealth) warns once
                # when a feed crosses --failing_feed_after_failures; this is the trail.
                log.info(
                    "feed %s failing (%d in a row): %s",
                    source.feed_id,
                    schedule.consecutive_failures,
                    exc,
                )
            return Attempt(None, failure, schedule.health(), None)
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
        )
        if result.permanent_redirect:
            log.warning(
                "feed %s moved permanently to %s; update the feed list",
                source.feed_id,
                result.permanent_redirect,
            )
        return Attempt((result if changed else None), None, schedule.health(), result.status)


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _keyed_by_host(
    element: FeedSource | tuple[FeedSource, ...],
) -> tuple[str, tuple[FeedSource, ...]]:
    sources = (element,) if isinstance(element, FeedSource) else tuple(element)
    return host_of(sources[0].url), sources


class _FetchFn(beam.DoFn):
    """Fetch the due feeds of one host, in turn.

    State, per key = host name: one ``HostState`` (politeness gate + a ``FeedSchedule``
    per feed of that host, holding validators, cadence and health).
    Bound: one schedule per feed of the host in the feed list. Expiry: a feed missing
    from the host's list on a tick is dropped; no timers.
    Timeline (tick 5 s, gap 5 s, feeds A, B, C on one host, min interval 300 s):

        t=0    tick: A, B, C due; A fetched (200), next due 300; gate closed for B, C
        t=5    tick: B fetched (oldest due after A); t=10: C fetched
        t=300  tick (299.998 counts: within half a tick): A fetched, 304
    """

    STATE = ReadModifyWriteStateSpec("host", PickleCoder())

    def __init__(
        self,
        policy: FetchPolicy,
        host_gap_seconds: float,
        tick_seconds: float,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self.policy = policy
        self.host_gap_seconds = host_gap_seconds
        self.tick_seconds = tick_seconds
        self.clock = clock
        self.sleep = sleep
        self.client: httpx.Client | None = None
        self.polled = beam.metrics.Metrics.counter("ingest", "feeds_polled")
        self.fetched = beam.metrics.Metrics.counter("ingest", "feeds_fetched")
        self.not_modified = beam.metrics.Metrics.counter("ingest", "feeds_not_modified")
        self.http_304 = beam.metrics.Metrics.counter("ingest", "http_304")
        self.errors = beam.metrics.Metrics.counter("ingest", "fetch_errors")

    def setup(self) -> None:
        self.client = make_client(self.policy)
        self.poller = Poller(
            self._fetch,
            host_gap_seconds=self.host_gap_seconds,
            tolerance_seconds=self.tick_seconds / 2,
            sleep=self.sleep,
        )

    def teardown(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def _fetch(self, source: FeedSource, **kwargs: Any) -> FetchResult:
        return fetch_feed(self.client, source, policy=self.policy, **kwargs)

    def process(self, element, state=beam.DoFn.StateParam(STATE)) -> Iterable:
        _, sources = element
        host_state = state.read() or self.poller.new_state()
        attempts = self.poller.poll(host_state, sources, self.clock)
        state.write(host_state)
        for result, failure, health, status in attempts:
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
            if status == 304:
                self.http_304.inc()


class FetchFeeds(beam.PTransform):
    """One host's feeds (or single FeedSources) -> RawFeed for the due feeds with new content.

    Returns ``FetchOutputs(main=RawFeed, dead_letter=Failure per failed attempt,
    health=FeedHealth per attempt)``. Counters (namespace ``ingest``): ``feeds_polled``,
    ``feeds_fetched``, ``feeds_not_modified`` (304 or the same bytes), ``http_304``,
    ``fetch_errors``.
    """

    def __init__(
        self,
        *,
        policy: FetchPolicy = FetchPolicy(),
        host_gap_seconds: float = 5.0,
        tick_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        label: str | None = None,
    ) -> None:
        super().__init__(label)
        self.policy = policy
        self.host_gap_seconds = host_gap_seconds
        self.tick_seconds = tick_seconds
        self.clock = clock
        self.sleep = sleep

    def expand(self, sources: beam.PCollection) -> FetchOutputs:
        fetch = _FetchFn(
            self.policy, self.host_gap_seconds, self.tick_seconds, self.clock, self.sleep
        )
        results = (
            sources
            | "KeyByHost" >> beam.Map(_keyed_by_host).with_output_types(KV[str, Any])
            | "FetchDue" >> beam.ParDo(fetch).with_outputs(DEAD_LETTER, HEALTH, main=MAIN)
        )
        return FetchOutputs(results[MAIN], results[DEAD_LETTER], results[HEALTH])
