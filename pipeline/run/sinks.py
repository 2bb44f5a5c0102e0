"""The storywatch pipeline, wired in the order of the flow.

    poll → fetch → parse → normalise → dedupe → match → track storylines → decide alerts → deliver
    (replay: recorded feeds → parse → ..., or recorded articles → dedupe → ...)

Every stage's dead-letter output is flattened into one sink (a JSONL file plus the
``storywatch/dead_letters`` counter): a failure is never dropped silently. Live, every
fetch attempt's FeedHealth goes to ``--feed_health_out``, and a feed crossing
``--failing_feed_after_failures`` consecutive failures is logged and counted
(``storywatch/feeds_failing``): a dying feed is reported, never silent. Live, articles
published more than ``--max_article_age_hours`` (72) before first seen are dropped, so a
fresh run does not alert on the feeds' backlog; replays keep everything.

How the graph is run (live until Ctrl-C, or a deterministic replay) is ``pipeline/run/runner.py``.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.alerts.decide import DecideAlerts
from pipeline.ingest.dedupe import BOUNDED_SHARDS, DEFAULT_SHARDS, DedupeArticles
from pipeline.ingest.fetch.transform import FetchFeeds
from pipeline.match.transform import MatchWatchlists
from pipeline.ingest.normalize import NormalizeArticles
from pipeline.run.options import StorywatchOptions
from pipeline.ingest.parse import ParseFeeds
from pipeline.ingest.poll import PollFeeds, ReplayArticles, ReplayFeeds
from pipeline.records import to_json
from pipeline.storylines.tracker import TrackStorylines

log = logging.getLogger(__name__)


def build_pipeline(p: beam.Pipeline, options: StorywatchOptions, watchlists, *, feed_sources=()):
    """Add the whole flow to ``p``; return the PCollection of alerts (for tests)."""
    failures = []
    if options.replay_articles:
        articles = p | "ReplayArticles" >> _tracked(
            ReplayArticles(options.replay_articles), failures
        )
    else:
        if options.replay_feeds:
            raw = p | "ReplayFeeds" >> _tracked(ReplayFeeds(options.replay_feeds), failures)
        else:
            fetch = FetchFeeds(host_gap_seconds=options.host_gap_seconds)
            raw = (
                p
                | "PollFeeds"
                >> PollFeeds(
                    feed_sources,
                    interval_seconds=options.poll_interval_seconds,
                    stop_after_seconds=options.run_duration_seconds,
                )
                | "FetchFeeds" >> _tracked(fetch, failures)
            )
            fetch.health | "ReportFeedHealth" >> beam.ParDo(
                ReportFeedHealth(
                    options.feed_health_out,
                    failing_after_failures=options.failing_feed_after_failures,
                )
            )
        articles = (
            raw
            | "ParseFeeds" >> _tracked(ParseFeeds(), failures)
            | "NormalizeArticles" >> _tracked(NormalizeArticles(), failures)
        )
    bounded = _bounded(options)
    unique = articles | "DedupeArticles" >> _tracked(
        DedupeArticles(
            shards=BOUNDED_SHARDS if bounded else DEFAULT_SHARDS,
            max_age_seconds=options.max_article_age_seconds(bounded=bounded),
        ),
        failures,
    )
    matched = unique | "MatchWatchlists" >> MatchWatchlists(watchlists)
    failures.append(matched.dead_letter)
    alerts = (
        matched.matches
        | "TrackStorylines"
        >> TrackStorylines(bounded=bounded, ledger_url=options.ledger, **options.tracker_tunables())
        | "DecideAlerts"
        >> DecideAlerts(
            ledger_url=options.ledger,
            storyline_titles=_titles(watchlists),
            coverage_alerts=_coverage_wanted(options),
        )
    )
    alerts | "DeliverAlerts" >> _deliver(options)
    (
        failures
        | "AllDeadLetters" >> beam.Flatten()
        | "WriteDeadLetters" >> beam.ParDo(WriteDeadLetters(options.dead_letter_out))
    )
    return alerts


def _bounded(options: StorywatchOptions) -> bool:
    return bool(options.replay_feeds or options.replay_articles)


def _tracked(transform: beam.PTransform, failures: list) -> beam.PTransform:
    """Apply ``transform`` and collect its ``.dead_letter`` output once it is set."""
    return _WithDeadLetter(transform, failures)


class _WithDeadLetter(beam.PTransform):
    def __init__(self, transform: beam.PTransform, failures: list) -> None:
        super().__init__()
        self._transform, self._failures = transform, failures

    def expand(self, pcoll):
        out = pcoll | type(self._transform).__name__ >> self._transform
        self._failures.append(self._transform.dead_letter)
        return out


def _coverage_wanted(options: StorywatchOptions) -> bool:
    """Coverage updates are alerts when asked for, on the command line or by a subscriber."""
    if options.coverage_alerts or not options.subscribers:
        return bool(options.coverage_alerts)
    from pipeline.config.subscribers import load_subscribers

    return any("coverage" in s.kinds for s in load_subscribers(options.subscribers).subscribers)


def _titles(watchlists) -> dict[str, str]:
    return {s.id: getattr(s, "title", "") or "" for s in watchlists.storylines}


def _deliver(options: StorywatchOptions) -> beam.PTransform:
    from pipeline.deliver import DeliverAlerts

    return DeliverAlerts(
        ledger_url=options.ledger,
        alerts_out=options.alerts_out,
        subscribers_file=options.subscribers,
        console=options.console_alerts,
        secret_env=options.secret_env,
    )


class _AppendJsonl(beam.DoFn):
    """Append records as JSON lines to ``path`` (one handle per worker, lines never interleaved)."""

    _LOCK = threading.Lock()

    def __init__(self, path: str) -> None:
        self._path = path
        self._handle = None

    def setup(self) -> None:
        Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self._path, "a", encoding="utf-8")

    def _append(self, record) -> None:
        with self._LOCK:
            self._handle.write(json.dumps(to_json(record), ensure_ascii=False) + "\n")
            self._handle.flush()

    def teardown(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class WriteDeadLetters(_AppendJsonl):
    """Append each Failure as a JSON line to ``path`` and count it (``storywatch/dead_letters``)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self._count = Metrics.counter("storywatch", "dead_letters")

    def process(self, failure):
        self._count.inc()
        self._append(failure)


def failing_feed_warning(health, *, failing_after_failures: int) -> str | None:
    """The warning for a FeedHealth that has just reached ``failing_after_failures``
    consecutive failures (None otherwise: each failing feed is reported once per failing
    spell, when it crosses the threshold; its every attempt is in the health file).

    >>> import datetime as dt
    >>> from pipeline.ingest.fetch.transform import FeedHealth
    >>> t = dt.datetime(2024, 10, 25, 9, tzinfo=dt.timezone.utc)
    >>> h = FeedHealth("wsj", "https://x/rss", "failing", 3, "HTTP 503", t, None, None, t, 300.0)
    >>> print(failing_feed_warning(h, failing_after_failures=3))
    feed wsj (https://x/rss) is failing: 3 failed fetches in a row, never fetched successfully; last error: HTTP 503; next attempt 2024-10-25 09:00 UTC
    >>> failing_feed_warning(h, failing_after_failures=4) is None
    True
    """
    if health.consecutive_failures != failing_after_failures:
        return None
    since = (
        f"last success {health.last_success_at:%Y-%m-%d %H:%M} UTC"
        if health.last_success_at
        else "never fetched successfully"
    )
    return (
        f"feed {health.feed_id} ({health.url}) is failing: {health.consecutive_failures} failed fetches "
        f"in a row, {since}; last error: {health.last_error}; next attempt {health.next_due_at:%Y-%m-%d %H:%M} UTC"
    )


class ReportFeedHealth(_AppendJsonl):
    """Append every FeedHealth (one per fetch attempt) to ``path``; a feed crossing
    ``failing_after_failures`` consecutive failures is also logged as a warning and counted
    (``storywatch/feeds_failing``), so a dying feed is never silent. Counters:
    ``feed_health_reports``, ``feeds_failing``."""

    def __init__(self, path: str, *, failing_after_failures: int) -> None:
        super().__init__(path)
        self._failing_after_failures = failing_after_failures
        self._reports = Metrics.counter("storywatch", "feed_health_reports")
        self._failing = Metrics.counter("storywatch", "feeds_failing")

    def process(self, health):
        self._reports.inc()
        self._append(health)
        warning = failing_feed_warning(health, failing_after_failures=self._failing_after_failures)
        if warning:
            self._failing.inc()
            log.warning("%s (every attempt: %s)", warning, self._path)
