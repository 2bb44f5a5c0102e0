"""FetchFeeds: the fetch stage, polite, safe and concurrent, as a Beam transform.

    Poller / FetchPool  the pure core for one host: pick the due feeds the host gate and the
                        per-host limit allow, fetch them on a worker-wide bounded pool, and
                        learn from each answer when it comes back
    FetchFeeds(*, policy=FetchPolicy(), host_gap_seconds=5.0, tick_seconds=5.0,
               max_concurrent_fetches=64, max_fetches_per_host=2, result_wait_seconds=1.0)
        PCollection[tuple[FeedSource, ...] (one host's feeds per tick, from PollFeeds); a lone
                    FeedSource counts as a host list of one]
        -> FetchOutputs(main=RawFeed (new content only), dead_letter=Failure, health=FeedHealth)

State, per key = host name: one ``HostState`` (politeness gate + a ``FeedSchedule`` per
feed of that host). Bound: one schedule per feed of the host in the feed list. Expiry: a
feed missing from a tick's list of its host is dropped then; no timers. In-flight fetches
live in the DoFn instance, not in state: if the key moves to another worker they are lost
and the feed is fetched again when due.
Timeline (tick 5 s, gap 5 s): t=0 A due, handed to the pool; its answer within the bundle's
wait budget is emitted at once, a slower one on a later tick of the host; t=5 B handed over.
Why state per host: politeness is per host, so the gate must see every request to a host;
keying by host makes Dataflow spread hosts across workers while each host's gate stays
consistent without locks. Fetches do not run inside the keyed call: each call only picks
and hands over, so host A's slow feed never holds host B's call (it waits at most what is
left of the bundle's ``result_wait_seconds``). ``FetchPool`` also spaces the real request
starts to one host by the gap, so a queued pool keeps politeness.
Every attempt emits a ``FeedHealth``; a failure emits a ``Failure`` too. The warning comes
once per failing spell (``run.sinks.ReportFeedHealth``); each failure is logged at info.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import functools
import hashlib
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import apache_beam as beam
import httpx
from apache_beam.coders import PickleCoder
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec
from apache_beam.typehints import KV

from pipeline.ingest.fetch.burst import BURST_POLL_SECONDS, HotFeeds
from pipeline.ingest.fetch.guard import FetchError
from pipeline.ingest.fetch.http import FetchPolicy, FetchResult, fetch_feed, make_client
from pipeline.ingest.fetch.schedule import FeedSchedule, HostGate, HostState
from pipeline.ingest.websub.client import WebSubConfig
from pipeline.ingest.websub.transform import WebSubTap
from pipeline.ledger import open_ledger
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
        burst_poll_seconds: float = BURST_POLL_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.fetch = fetch
        self.burst_poll_seconds = burst_poll_seconds
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

    def start(
        self,
        host: str,
        state: HostState,
        sources: Sequence[FeedSource],
        now: float,
        pool: FetchPool,
        *,
        hot_until: Mapping[str, float] | None = None,
    ) -> None:
        """Hand this host's due feeds to ``pool``, oldest due first, while the host gate
        (looking at most ``max_gate_wait_seconds`` ahead) and the pool's per-host limit allow.
        ``hot_until`` (feed id -> epoch seconds): feeds carrying a storyline burst."""
        by_id = {source.feed_id: source for source in sources}
        state.offered(
            sources, now, hot_until=hot_until, hot_interval_seconds=self.burst_poll_seconds
        )
        busy = pool.in_flight(host)
        for schedule in state.due_feeds(now, tolerance_seconds=self.tolerance_seconds):
            if schedule.feed_id in busy:
                continue
            wait = state.gate.wait_seconds(now)
            if wait > self.max_gate_wait_seconds or not pool.has_room(host):
                break
            state.gate.last_request_at = start_at = now + wait
            source = by_id[schedule.feed_id]
            fetch = functools.partial(
                self.fetch,
                source,
                now=start_at,
                etag=schedule.etag,
                last_modified=schedule.last_modified,
            )
            pool.submit(host, source, start_at, fetch, delay_seconds=wait)

    def tick(
        self,
        host: str,
        state: HostState,
        sources: Sequence[FeedSource],
        now: float,
        pool: FetchPool,
        *,
        wait_seconds: float = 0.0,
        hot_until: Mapping[str, float] | None = None,
    ) -> list[Attempt]:
        """One host's call on a tick: learn from finished fetches, hand over the due feeds,
        then wait up to ``wait_seconds`` for this host's fetches in flight."""
        attempts = self.finish(host, state, pool)
        self.start(host, state, sources, now, pool, hot_until=hot_until)
        if wait_seconds > 0:
            attempts += self.finish(host, state, pool, wait_seconds=wait_seconds)
        return attempts

    def finish(
        self, host: str, state: HostState, pool: FetchPool, *, wait_seconds: float = 0.0
    ) -> list[Attempt]:
        """Learn from this host's fetches that completed (waiting up to ``wait_seconds``)."""
        attempts = []
        for source, started_at, outcome in pool.completed(host, wait_seconds=wait_seconds):
            schedule = state.schedules.get(source.feed_id)
            if schedule is not None:  # else removed from the feed list meanwhile
                attempts.append(self.record(schedule, source, started_at, outcome))
        return attempts

    def _attempt(self, schedule: FeedSchedule, source: FeedSource, now: float) -> Attempt:
        try:
            outcome: FetchResult | FetchError = self.fetch(
                source, now=now, etag=schedule.etag, last_modified=schedule.last_modified
            )
        except FetchError as exc:
            outcome = exc
        return self.record(schedule, source, now, outcome)

    def record(
        self,
        schedule: FeedSchedule,
        source: FeedSource,
        now: float,
        outcome: FetchResult | FetchError,
    ) -> Attempt:
        """Apply one fetch's outcome (started at ``now``) to the feed's schedule."""
        if isinstance(outcome, FetchError):
            exc = outcome
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
        result = outcome
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
            not_modified=result.status == 304,
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


class FetchPool:
    """A worker-wide bounded pool of fetches, grouped by host.

    ``max_concurrent_fetches`` threads run fetches; at most ``max_fetches_per_host`` are in
    flight per host, and real request starts to one host are at least ``host_gap_seconds``
    apart. A fetch whose host is not due yet stays queued while the threads run other
    hosts' fetches (a ready-time heap), so waiting for a gap never occupies a thread.
    Outcomes are FetchResult or FetchError; any other exception becomes a
    FetchError("internal"), so one bug fails one feed, not the worker.
    """

    def __init__(
        self,
        *,
        max_concurrent_fetches: int = 64,
        max_fetches_per_host: int = 2,
        host_gap_seconds: float = 5.0,
    ) -> None:
        self.max_fetches_per_host = max_fetches_per_host
        self.host_gap_seconds = host_gap_seconds
        self._ready = threading.Condition()
        self._queue: list[tuple[float, int, str, Callable[[], FetchResult], cf.Future]] = []
        self._order = itertools.count()
        self._closed = False
        self._last_start_at: dict[str, float] = {}
        self._lock = threading.Lock()
        self._in_flight: dict[str, dict[str, tuple[cf.Future, FeedSource, float]]] = {}
        self._threads = [
            threading.Thread(target=self._work, name=f"fetch-{n}", daemon=True)
            for n in range(max_concurrent_fetches)
        ]
        for thread in self._threads:
            thread.start()

    def in_flight(self, host: str) -> set[str]:
        with self._lock:
            return set(self._in_flight.get(host, ()))

    def has_room(self, host: str) -> bool:
        with self._lock:
            return len(self._in_flight.get(host, ())) < self.max_fetches_per_host

    def submit(
        self,
        host: str,
        source: FeedSource,
        started_at: float,
        fetch: Callable[[], FetchResult],
        *,
        delay_seconds: float = 0.0,
    ) -> None:
        """Queue ``fetch`` to start no sooner than ``delay_seconds`` from now (and the host's
        gap); ``started_at`` is the pipeline-clock time its outcome is recorded at."""
        future: cf.Future = cf.Future()
        with self._lock:
            self._in_flight.setdefault(host, {})[source.feed_id] = (future, source, started_at)
        ready_at = time.monotonic() + max(0.0, delay_seconds)
        with self._ready:
            heapq.heappush(self._queue, (ready_at, next(self._order), host, fetch, future))
            self._ready.notify()

    def _next_job(self) -> tuple[str, Callable[[], FetchResult], cf.Future] | None:
        """The first queued fetch whose host may be asked now (None once closed)."""
        with self._ready:
            while not self._closed:
                now = time.monotonic()
                if self._queue:
                    ready_at, order, host, fetch, future = self._queue[0]
                    host_ready_at = self._last_start_at.get(host, float("-inf"))
                    due = max(ready_at, host_ready_at + self.host_gap_seconds)
                    if due > ready_at:  # the host's gap moved it: requeue at its real time
                        heapq.heapreplace(self._queue, (due, order, host, fetch, future))
                        continue
                    if due <= now:
                        heapq.heappop(self._queue)
                        self._last_start_at[host] = now
                        return host, fetch, future
                    self._ready.wait(timeout=due - now)
                else:
                    self._ready.wait()
            return None

    def _work(self) -> None:
        while (job := self._next_job()) is not None:
            host, fetch, future = job
            try:
                outcome: FetchResult | FetchError = fetch()
            except FetchError as exc:
                outcome = exc
            except Exception as exc:  # a bug must fail one feed, not the pool
                log.exception("fetch of %s crashed", host)
                outcome = FetchError("internal", f"{host}: {type(exc).__name__}: {exc}")
            future.set_result(outcome)

    def completed(
        self, host: str, *, wait_seconds: float = 0.0
    ) -> list[tuple[FeedSource, float, FetchResult | FetchError]]:
        """Take this host's finished fetches, waiting up to ``wait_seconds`` for the rest."""
        with self._lock:
            pending = dict(self._in_flight.get(host, {}))
        if not pending:
            return []
        if wait_seconds > 0:
            cf.wait([f for f, _, _ in pending.values()], timeout=wait_seconds)
        done = []
        with self._lock:
            mine = self._in_flight.get(host, {})
            for feed_id, (future, source, started_at) in pending.items():
                if future.done():
                    del mine[feed_id]
                    done.append((source, started_at, future.result()))
            if not mine:
                self._in_flight.pop(host, None)
        return done

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._queue.clear()
            self._ready.notify_all()


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _keyed_by_host(
    element: FeedSource | tuple[FeedSource, ...],
) -> tuple[str, tuple[FeedSource, ...]]:
    sources = (element,) if isinstance(element, FeedSource) else tuple(element)
    return host_of(sources[0].url), sources


class _FetchFn(beam.DoFn):
    """Hand the due feeds of one host to the worker's FetchPool; emit what completed.

    State, per key = host name: one ``HostState`` (see the module docstring).
    Each call waits for its own host's fetches only up to what is left of the bundle's
    ``result_wait_seconds``; answers that take longer are emitted on the host's next tick.
    """

    STATE = ReadModifyWriteStateSpec("host", PickleCoder())

    def __init__(
        self,
        policy: FetchPolicy,
        host_gap_seconds: float,
        tick_seconds: float,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        *,
        max_concurrent_fetches: int,
        max_fetches_per_host: int,
        result_wait_seconds: float,
        ledger_url: str | None,
        websub: WebSubConfig | None = None,
    ) -> None:
        self.policy = policy
        self.websub = WebSubTap(websub) if websub is not None else None
        self.ledger_url = ledger_url
        self.ledger: Any = None
        self.hot: HotFeeds | None = None
        self.host_gap_seconds = host_gap_seconds
        self.tick_seconds = tick_seconds
        self.clock = clock
        self.sleep = sleep
        self.max_concurrent_fetches = max_concurrent_fetches
        self.max_fetches_per_host = max_fetches_per_host
        self.result_wait_seconds = result_wait_seconds
        self.client: httpx.Client | None = None
        self.pool: FetchPool | None = None
        self.bundle_wait_until = 0.0
        self.polled = beam.metrics.Metrics.counter("ingest", "feeds_polled")
        self.fetched = beam.metrics.Metrics.counter("ingest", "feeds_fetched")
        self.not_modified = beam.metrics.Metrics.counter("ingest", "feeds_not_modified")
        self.http_304 = beam.metrics.Metrics.counter("ingest", "http_304")
        self.errors = beam.metrics.Metrics.counter("ingest", "fetch_errors")

    def setup(self) -> None:
        self.client = make_client(self.policy)
        self.pool = FetchPool(
            max_concurrent_fetches=self.max_concurrent_fetches,
            max_fetches_per_host=self.max_fetches_per_host,
            host_gap_seconds=self.host_gap_seconds,
        )
        self.poller = Poller(
            self._fetch,
            host_gap_seconds=self.host_gap_seconds,
            tolerance_seconds=self.tick_seconds / 2,
            sleep=self.sleep,
        )
        if self.ledger_url:
            self.ledger = open_ledger(self.ledger_url)
            self.hot = HotFeeds(self.ledger.hot_feeds, clock=self.clock)
        if self.websub is not None:
            self.websub.setup()

    def teardown(self) -> None:
        if self.websub is not None:
            self.websub.teardown()
        if self.ledger is not None:
            self.ledger.close()
            self.ledger, self.hot = None, None
        if self.pool is not None:
            self.pool.close()
            self.pool = None
        if self.client is not None:
            self.client.close()
            self.client = None

    def start_bundle(self) -> None:
        self.bundle_wait_until = time.monotonic() + self.result_wait_seconds

    def _fetch(self, source: FeedSource, **kwargs: Any) -> FetchResult:
        assert self.client is not None
        return fetch_feed(self.client, source, policy=self.policy, **kwargs)

    def process(self, element, state=beam.DoFn.StateParam(STATE)) -> Iterable:
        host, sources = element
        assert self.pool is not None
        host_state = state.read() or self.poller.new_state()
        now = self.clock()
        if self.websub is not None:  # a live subscription slows its feed's polling
            sources = self.websub.polled_sources(host_state, sources, now)
        attempts = self.poller.tick(
            host,
            host_state,
            sources,
            now,
            self.pool,
            wait_seconds=self.bundle_wait_until - time.monotonic(),
            hot_until=self.hot.current() if self.hot is not None else None,
        )
        state.write(host_state)
        fetched = []
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
                fetched.append(result.raw)
                yield result.raw
            if status == 304:
                self.http_304.inc()
        if self.websub is not None:  # verified pushes take the same path as polled bodies
            yield from self.websub.after_tick(sources, fetched, now)


class FetchFeeds(beam.PTransform):
    """One host's feeds (or single FeedSources) -> RawFeed for the due feeds with new content.

    Returns ``FetchOutputs(main=RawFeed, dead_letter=Failure per failed attempt,
    health=FeedHealth per attempt)``; fetches run concurrently (see the module docstring).
    With ``ledger_url``, feeds the ledger marks hot (a storyline burst,
    ``ingest.fetch.burst``) are polled every ``BURST_POLL_SECONDS`` until it ends.
    With ``websub`` (``ingest.websub``), fetched feeds' hubs are subscribed to, verified
    pushes come out as RawFeeds beside polled ones, and a subscribed feed is polled slower.
    Counters (namespace ``ingest``): ``feeds_polled``,
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
        max_concurrent_fetches: int = 64,
        max_fetches_per_host: int = 2,
        result_wait_seconds: float = 1.0,
        ledger_url: str | None = None,
        websub: WebSubConfig | None = None,
        label: str | None = None,
    ) -> None:
        super().__init__(label)
        self.ledger_url = ledger_url
        self.websub = websub
        self.max_concurrent_fetches = max_concurrent_fetches
        self.max_fetches_per_host = max_fetches_per_host
        self.result_wait_seconds = result_wait_seconds
        self.policy = policy
        self.host_gap_seconds = host_gap_seconds
        self.tick_seconds = tick_seconds
        self.clock = clock
        self.sleep = sleep

    def expand(self, sources: beam.PCollection) -> FetchOutputs:
        fetch = _FetchFn(
            self.policy,
            self.host_gap_seconds,
            self.tick_seconds,
            self.clock,
            self.sleep,
            max_concurrent_fetches=self.max_concurrent_fetches,
            max_fetches_per_host=self.max_fetches_per_host,
            result_wait_seconds=self.result_wait_seconds,
            ledger_url=self.ledger_url,
            websub=self.websub,
        )
        results = (
            sources
            | "KeyByHost" >> beam.Map(_keyed_by_host).with_output_types(KV[str, Any])
            | "FetchDue" >> beam.ParDo(fetch).with_outputs(DEAD_LETTER, HEALTH, main=MAIN)
        )
        return FetchOutputs(results[MAIN], results[DEAD_LETTER], results[HEALTH])
