"""Prometheus metrics of a live run: ``storywatch run --metrics-port N`` (``/metrics``).

    FETCH_TO_ALERT, ALERT_TO_DELIVERED   latency histograms; ``.observe(seconds)`` in a DoFn
    observe_deliveries(alert_id, results, arrived_at)   ALERT_TO_DELIVERED for each send
    serve(port, host=..., counters=..., health_lines=...) -> MetricsServer (``.port``, ``.close()``)
    RunCollector                          the prometheus_client collector ``serve`` registers

Every figure is a Beam counter, so it is counted wherever the DoFn runs and summed by the
runner; nothing is kept in a worker's memory for the exporter:
- the counters the stages keep (feeds polled, fetch errors, articles, duplicates, matches,
  alerts, dead letters, deliveries by state) under their own names, every other user
  counter as ``storywatch_beam_counter_total{namespace,name}``;
- the two histograms are one counter per bucket (``storywatch.latency/NAME_le_5``, the
  bucket an observation falls in) plus ``NAME_sum_ms``. Fetch → alert is observed by
  DecideAlerts for an alert new to the ledger, live only: now − its article's
  ``first_seen_at`` (the fetch, or the WebSub push). Alert → delivered is observed by
  DeliverAlerts: from the alert reaching delivery (the step right after the ledger records
  it) to a subscriber's channel accepting it, per (subscriber, channel); digests, quiet
  hours and the background sweep's retries are not in it. Live, the sends finish on the
  step's own threads, outside any bundle: those are tallied in the sending process
  (``tally_here``), which on the local runner is the driver's;
- feeds failing now (a gauge): feeds whose latest feed-health line (``--feed_health_out``,
  from the start of this run) says the last attempt failed, read at each scrape.

The exporter runs in the driver, on a daemon thread, bound to 127.0.0.1 unless told
otherwise; it serves counter names and numbers, never a feed URL or a secret. On
FnApiRunner (in-process or multi-process workers) the driver adds up each finished
bundle's counters (``fnapi_live.live_counters``), so a scrape sees them within a bundle.
On Dataflow there is no exporter (``run`` refuses ``--metrics-port`` there): the same
counters, bucket counters included, are the job's custom metrics in Cloud Monitoring.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from apache_beam.metrics import Metrics
from prometheus_client import CollectorRegistry, ProcessCollector, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from pipeline.deliver.base import DEAD, QUEUED, RETRY_LATER, SENT, SKIPPED
from pipeline.errors import UserError

LATENCY_NAMESPACE = "storywatch.latency"
Counters = Mapping[tuple[str, str], int]


@dataclass(frozen=True)
class Latency:
    """A latency histogram kept as Beam counters: one per bucket, plus the sum in ms."""

    name: str
    help: str
    bounds_seconds: tuple[float, ...]

    def bucket_counter(self, seconds: float) -> str:
        """The counter of the bucket ``seconds`` falls in (its upper bound, or ``inf``).

        >>> FETCH_TO_ALERT.bucket_counter(3.0), FETCH_TO_ALERT.bucket_counter(1e9)
        ('fetch_to_alert_seconds_le_5', 'fetch_to_alert_seconds_le_inf')
        """
        for bound in self.bounds_seconds:
            if seconds <= bound:
                return f"{self.name}_le_{bound:g}"
        return f"{self.name}_le_inf"

    def observe(self, seconds: float, *, here: bool = False) -> None:
        """Count one observation (negative clock skew counts as 0); ``here``: in this
        process's tally (``tally_here``) instead of a Beam counter."""
        seconds = max(0.0, seconds) if math.isfinite(seconds) else 0.0
        count = tally_here if here else _beam_count
        count(LATENCY_NAMESPACE, self.bucket_counter(seconds), 1)
        count(LATENCY_NAMESPACE, f"{self.name}_sum_ms", round(seconds * 1000))

    def counter_names(self) -> set[str]:
        bounds = [f"{b:g}" for b in self.bounds_seconds] + ["inf"]
        return {f"{self.name}_le_{b}" for b in bounds} | {f"{self.name}_sum_ms"}

    def family(self, counters: Counters) -> HistogramMetricFamily:
        """The Prometheus histogram (cumulative buckets) from the bucket counters."""
        total, buckets = 0, []
        for bound in self.bounds_seconds:
            total += counters.get((LATENCY_NAMESPACE, f"{self.name}_le_{bound:g}"), 0)
            buckets.append((floatToGoString(bound), total))
        total += counters.get((LATENCY_NAMESPACE, f"{self.name}_le_inf"), 0)
        buckets.append(("+Inf", total))
        sum_ms = counters.get((LATENCY_NAMESPACE, f"{self.name}_sum_ms"), 0)
        return HistogramMetricFamily(
            f"storywatch_{self.name}", self.help, buckets=buckets, sum_value=sum_ms / 1000
        )


FETCH_TO_ALERT = Latency(
    "fetch_to_alert_seconds",
    "Seconds from fetching an article (or its WebSub push) to its alert being recorded",
    (0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
ALERT_TO_DELIVERED = Latency(
    "alert_to_delivered_seconds",
    "Seconds from an alert reaching delivery to a subscriber's channel accepting it",
    (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
LATENCIES = (FETCH_TO_ALERT, ALERT_TO_DELIVERED)


def _beam_count(namespace: str, name: str, value: int) -> None:
    Metrics.counter(namespace, name).inc(value)


# Sends finished on a live run's delivery lanes (threads of DeliverAlerts, outside any
# bundle, so a Beam counter there counts nowhere), tallied in the process that sent them.
_HERE: dict[tuple[str, str], int] = {}
_HERE_LOCK = threading.Lock()


def tally_here(namespace: str, name: str, value: int = 1) -> None:
    """Add ``value`` to this process's tally of ``namespace/name`` (read by the exporter
    beside the Beam counters; on the local runner the lanes run in the driver's process)."""
    with _HERE_LOCK:
        _HERE[(namespace, name)] = _HERE.get((namespace, name), 0) + value


def tallied_here() -> dict[tuple[str, str], int]:
    with _HERE_LOCK:
        return dict(_HERE)


def with_tallied_here(counters: Callable[[], Counters]) -> Callable[[], Counters]:
    """``counters`` plus this process's tally, summed by name (the exporter's source)."""

    def both() -> Counters:
        counts = dict(counters())
        for key, value in tallied_here().items():
            counts[key] = counts.get(key, 0) + value
        return counts

    return both


def observe_deliveries(
    alert_id: str,
    results: Iterable[Any],
    *,
    arrived_at: dt.datetime,
    sink_subscriber: str,
    here: bool = False,
) -> None:
    """ALERT_TO_DELIVERED for each of ``alert_id``'s deliveries a subscriber's channel accepted
    (the local JSONL sink, ``sink_subscriber``, is not a delivery to anyone); ``here`` as in
    ``Latency.observe``."""
    for delivery in results:
        if (
            delivery.status == SENT
            and delivery.alert_id == alert_id
            and delivery.subscriber != sink_subscriber
        ):
            ALERT_TO_DELIVERED.observe((delivery.at - arrived_at).total_seconds(), here=here)


# (metric name, help, Beam namespace, Beam counter name)
NAMED_COUNTERS = (
    ("storywatch_feeds_polled", "Feeds due and handed to the fetcher", "ingest", "feeds_polled"),
    ("storywatch_fetch_errors", "Failed feed fetches", "ingest", "fetch_errors"),
    ("storywatch_articles_parsed", "Items parsed from feed documents", "ingest", "articles_parsed"),
    ("storywatch_new_articles", "Articles that passed dedupe", "ingest", "articles_unique"),
    ("storywatch_duplicates", "Articles dropped as duplicates", "ingest", "duplicates"),
    ("storywatch_matches", "Storyline matches", "storywatch.match", "matches"),
    ("storywatch_alerts", "Alerts decided", "storywatch", "alerts"),
    ("storywatch_dead_letters", "Dead letters of every stage", "storywatch", "dead_letters"),
)
DELIVERY_NAMESPACE = "DeliverAlerts"
DELIVERY_STATES = (SENT, SKIPPED, QUEUED, DEAD, RETRY_LATER)


class FailingFeeds:
    """Which feeds' latest health line says failing, from new feed-health JSONL lines."""

    def __init__(self, lines: Callable[[], list[str]]) -> None:
        self._lines = lines
        self._failing: dict[str, bool] = {}
        self._lock = threading.Lock()

    def count(self) -> int:
        with self._lock:
            for line in self._lines():
                try:
                    health = json.loads(line)
                    self._failing[str(health["feed_id"])] = health.get("status") == "failing"
                except (ValueError, KeyError, TypeError):
                    continue  # a torn or foreign line; the next one of that feed counts
            return sum(self._failing.values())


class RunCollector:
    """The run's metrics at scrape time, from the summed Beam counters and the feed health."""

    def __init__(
        self, counters: Callable[[], Counters], failing_feeds: FailingFeeds | None
    ) -> None:
        self._counters = counters
        self._failing_feeds = failing_feeds

    def collect(self) -> Iterator[Metric]:
        counts = self._counters()
        named = set()
        for metric, help_text, namespace, name in NAMED_COUNTERS:
            named.add((namespace, name))
            yield CounterMetricFamily(metric, help_text, value=counts.get((namespace, name), 0))
        deliveries = CounterMetricFamily(
            "storywatch_deliveries",
            "Deliveries per (alert, subscriber, channel), by state",
            labels=["state"],
        )
        states = set(DELIVERY_STATES) | {
            name.removeprefix("deliveries_")
            for namespace, name in counts
            if namespace == DELIVERY_NAMESPACE and name.startswith("deliveries_")
        }
        for state in sorted(states):
            named.add((DELIVERY_NAMESPACE, f"deliveries_{state}"))
            deliveries.add_metric(
                [state], counts.get((DELIVERY_NAMESPACE, f"deliveries_{state}"), 0)
            )
        yield deliveries
        for latency in LATENCIES:
            named |= {(LATENCY_NAMESPACE, n) for n in latency.counter_names()}
            yield latency.family(counts)
        others = CounterMetricFamily(
            "storywatch_beam_counter",
            "Every other Beam user counter of the run",
            labels=["namespace", "name"],
        )
        for (namespace, name), value in sorted(counts.items()):
            if (namespace, name) not in named:
                others.add_metric([namespace, name], value)
        yield others
        if self._failing_feeds is not None:
            yield GaugeMetricFamily(
                "storywatch_feeds_failing_now",
                "Feeds whose last fetch attempt failed",
                value=self._failing_feeds.count(),
            )


class MetricsServer:
    """The HTTP exporter ``serve`` started; ``port`` is the one it listens on."""

    def __init__(self, server: Any, thread: threading.Thread) -> None:
        self._server, self._thread = server, thread
        self.port: int = server.server_port

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve(
    port: int,
    *,
    host: str = "127.0.0.1",
    counters: Callable[[], Counters],
    health_lines: Callable[[], list[str]] | None = None,
) -> MetricsServer:
    """Serve the run's metrics on ``host:port`` (0: a free port); UserError if it cannot listen."""
    if not 0 <= port < 65536:
        raise UserError(f"--metrics-port={port}: must be a port number, 1 to 65535 (0: any free)")
    registry = CollectorRegistry(auto_describe=False)
    failing = FailingFeeds(health_lines) if health_lines is not None else None
    registry.register(RunCollector(counters, failing))
    ProcessCollector(registry=registry)  # the run's own memory and CPU
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise UserError(
            f"--metrics-port={port}: cannot listen on {host}:{port} ({exc.strerror or exc}); "
            "choose a free port, or stop what holds it"
        ) from None
    return MetricsServer(server, thread)
