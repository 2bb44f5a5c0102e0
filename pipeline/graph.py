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
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.alert import DecideAlerts
from pipeline.dedupe import BOUNDED_SHARDS, DEFAULT_SHARDS, DedupeArticles
from pipeline.fetch import FetchFeeds
from pipeline.match import MatchWatchlists
from pipeline.normalize import NormalizeArticles
from pipeline.options import StorywatchOptions
from pipeline.parse import ParseFeeds
from pipeline.poll import PollFeeds, ReplayArticles, ReplayFeeds
from pipeline.records import to_json
from pipeline.storyline import TrackStorylines

log = logging.getLogger(__name__)


def build_pipeline(p: beam.Pipeline, options: StorywatchOptions, watchlists, *, feed_sources=()):
    """Add the whole flow to ``p``; return the PCollection of alerts (for tests)."""
    failures = []
    if options.replay_articles:
        articles = p | "ReplayArticles" >> _tracked(ReplayArticles(options.replay_articles), failures)
    else:
        if options.replay_feeds:
            raw = p | "ReplayFeeds" >> _tracked(ReplayFeeds(options.replay_feeds), failures)
        else:
            fetch = FetchFeeds(host_gap_seconds=options.host_gap_seconds)
            raw = (p | "PollFeeds" >> PollFeeds(feed_sources, interval_seconds=options.poll_interval_seconds,
                                                 stop_after_seconds=options.run_duration_seconds)
                     | "FetchFeeds" >> _tracked(fetch, failures))
            fetch.health | "ReportFeedHealth" >> beam.ParDo(ReportFeedHealth(
                options.feed_health_out, failing_after_failures=options.failing_feed_after_failures))
        articles = (raw | "ParseFeeds" >> _tracked(ParseFeeds(), failures)
                        | "NormalizeArticles" >> _tracked(NormalizeArticles(), failures))
    bounded = _bounded(options)
    unique = articles | "DedupeArticles" >> _tracked(DedupeArticles(
        shards=BOUNDED_SHARDS if bounded else DEFAULT_SHARDS,
        max_age_seconds=options.max_article_age_seconds(bounded=bounded)), failures)
    matched = unique | "MatchWatchlists" >> MatchWatchlists(watchlists)
    failures.append(matched.dead_letter)
    alerts = (matched.matches
              | "TrackStorylines" >> TrackStorylines(bounded=_bounded(options), ledger_url=options.ledger,
                                                     **options.tracker_tunables())
              | "DecideAlerts" >> DecideAlerts(ledger_url=options.ledger, storyline_titles=_titles(watchlists),
                                               coverage_alerts=_coverage_wanted(options)))
    alerts | "DeliverAlerts" >> _deliver(options)
    failures | "AllDeadLetters" >> beam.Flatten() | "WriteDeadLetters" >> beam.ParDo(
        WriteDeadLetters(options.dead_letter_out))
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
    return DeliverAlerts(ledger_url=options.ledger, alerts_out=options.alerts_out,
                         subscribers_file=options.subscribers, console=options.console_alerts,
                         secret_env=options.secret_env)


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
    >>> from pipeline.fetch import FeedHealth
    >>> t = dt.datetime(2024, 10, 25, 9, tzinfo=dt.timezone.utc)
    >>> h = FeedHealth("wsj", "https://x/rss", "failing", 3, "HTTP 503", t, None, None, t, 300.0)
    >>> print(failing_feed_warning(h, failing_after_failures=3))
    feed wsj (https://x/rss) is failing: 3 failed fetches in a row, never fetched successfully; last error: HTTP 503; next attempt 2024-10-25 09:00 UTC
    >>> failing_feed_warning(h, failing_after_failures=4) is None
    True
    """
    if health.consecutive_failures != failing_after_failures:
        return None
    since = (f"last success {health.last_success_at:%Y-%m-%d %H:%M} UTC" if health.last_success_at
             else "never fetched successfully")
    return (f"feed {health.feed_id} ({health.url}) is failing: {health.consecutive_failures} failed fetches "
            f"in a row, {since}; last error: {health.last_error}; next attempt {health.next_due_at:%Y-%m-%d %H:%M} UTC")


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


# -- the two ways to run it (called by ``storywatch run`` and ``storywatch replay``) --------

def run_live(argv: list[str], *, watchlists_dir: str | None = None) -> int:
    """Poll the feed list until interrupted (or ``--run_duration_seconds``); 0 on a clean stop."""
    from pipeline.config.feeds import load_feeds
    from pipeline.config.watchlists import load_watchlists
    from pipeline.options import pipeline_options

    options = pipeline_options(argv)
    sw = options.view_as(StorywatchOptions)
    if watchlists_dir:
        sw.watchlists = str(watchlists_dir)
    watchlists = load_watchlists(sw.watchlists)
    sources = load_feeds(sw.feeds_file).sources()
    if not sources:
        from pipeline.errors import UserError
        raise UserError(f"{sw.feeds_file}:1: no feeds to poll; add feeds or run `storywatch feeds import`")
    print(f"storywatch: polling {len(sources)} feeds every {sw.poll_interval_seconds:g} s; "
          f"alerts to {sw.alerts_out}; Ctrl-C stops", flush=True)
    p = beam.Pipeline(options=options)
    build_pipeline(p, sw, watchlists, feed_sources=sources)
    return _run_until_interrupted(p)


def _run_until_interrupted(p: beam.Pipeline) -> int:
    """Run ``p`` in a worker thread; Ctrl-C (or SIGTERM) stops the process cleanly.

    The local runner has no cancel, and a KeyboardInterrupt raised inside a bundle is
    treated as a bundle failure, so the main thread only waits, and on a signal exits at
    once. That is safe by design: every alert is in the ledger before it is delivered,
    and each delivery is claimed before and confirmed after sending, so the next start
    re-sends what was claimed but not confirmed and nothing else.
    """
    import os
    import signal
    import sys

    outcome: dict = {}

    def work() -> None:
        try:
            p.run().wait_until_finish()
        except BaseException as exc:  # handed to the main thread
            outcome["error"] = exc

    signal.signal(signal.SIGTERM, signal.default_int_handler)
    worker = threading.Thread(target=work, name="storywatch-pipeline", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.5)
    except KeyboardInterrupt:
        print("storywatch: stopped (alerts so far are in the ledger and the alerts file)", flush=True)
        sys.stderr.flush()
        os._exit(0)
    if "error" in outcome:
        raise outcome["error"]
    return 0


def run_replay(argv: list[str], *, feeds: str | None, articles: str | None, alerts_out: str | None,
               watchlists_dir: str | None = None, out=None) -> list[dict]:
    """Replay recorded feeds or articles through the same graph; return the alerts (JSON).

    A replay starts from an empty ledger (a temporary one unless ``--ledger`` is given) and
    rewrites ``alerts_out`` sorted by (published, storyline, alert id), so the same input
    always gives the same file.
    """
    import sys
    import tempfile
    import time

    from pipeline.config.watchlists import load_watchlists
    from pipeline.errors import UserError
    from pipeline.options import pipeline_options

    out = out or sys.stdout
    source = Path(feeds or articles)
    if not source.exists():
        raise UserError(f"{source}: no such {'folder' if feeds else 'file'}; check the path")
    with tempfile.TemporaryDirectory(prefix="storywatch-replay-") as tmp:
        alerts_path = Path(alerts_out) if alerts_out else Path(tmp) / "alerts.jsonl"
        defaults = {"ledger": str(Path(tmp) / "ledger.sqlite"), "alerts_out": str(alerts_path),
                    "dead_letter_out": str(alerts_path.with_name(alerts_path.stem + ".dead-letters.jsonl")),
                    "console_alerts": "false"}
        given = {a.split("=", 1)[0].lstrip("-") for a in argv if a.startswith("--")}
        argv = [f"--{k}={v}" for k, v in defaults.items() if k not in given] + list(argv)
        options = pipeline_options(argv)
        sw = options.view_as(StorywatchOptions)
        sw.replay_feeds, sw.replay_articles = (str(feeds) if feeds else None), (str(articles) if articles else None)
        if watchlists_dir:
            sw.watchlists = str(watchlists_dir)
        watchlists = load_watchlists(sw.watchlists)
        for path in (Path(sw.alerts_out), Path(sw.dead_letter_out)):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)
        started = time.monotonic()
        p = beam.Pipeline(options=options)
        build_pipeline(p, sw, watchlists)
        result = p.run()
        result.wait_until_finish()
        alerts = _sorted_alerts(Path(sw.alerts_out))
        _print_alerts(alerts, out, seconds=time.monotonic() - started, alerts_path=alerts_out,
                      dead_letters=Path(sw.dead_letter_out))
        print(_storyline_summary(result), file=out)
    return alerts


def _storyline_summary(result) -> str:
    """One line from the tracker's counters: how many matched articles became how few alerts."""
    from apache_beam.metrics.metric import MetricsFilter

    counts = {}
    try:
        for c in result.metrics().query(MetricsFilter().with_namespace("storywatch"))["counters"]:
            counts[c.key.metric.name] = counts.get(c.key.metric.name, 0) + c.committed
    except Exception:  # a runner without metrics: the alerts above are the result
        return ""
    kinds = ("new_development", "coverage", "duplicate", "burst", "stale")
    matched = sum(counts.get(f"storyline_{k}", 0) for k in kinds if k != "burst")
    return (f"{matched} matched articles: " + ", ".join(f"{counts.get(f'storyline_{k}', 0)} {k}" for k in kinds)
            + f"; {counts.get('alerts', 0)} alerts")


def _sorted_alerts(path: Path) -> list[dict]:
    if not path.exists():
        path.write_text("")
        return []
    alerts = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    alerts.sort(key=lambda a: (a["published"], a["storyline"], a["alert_id"]))
    path.write_text("".join(json.dumps(a, ensure_ascii=False, sort_keys=True) + "\n" for a in alerts),
                    encoding="utf-8")
    return alerts


def _print_alerts(alerts: list[dict], out, *, seconds: float, alerts_path, dead_letters: Path) -> None:
    from pipeline.alert import format_alert
    from pipeline.deliver.base import alert_from_json
    from pipeline.deliver.jsonl import printable

    for data in alerts:
        text = format_alert(alert_from_json(data))
        print("\n".join(printable(line) for line in text.split("\n")), file=out)
        print(file=out)
    kinds = {}
    for data in alerts:
        kinds[data["kind"]] = kinds.get(data["kind"], 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"
    failures = sum(1 for _ in dead_letters.open(encoding="utf-8")) if dead_letters.exists() else 0
    print(f"{len(alerts)} alerts ({summary}) in {seconds:.1f} s"
          + (f"; written to {alerts_path}" if alerts_path else "")
          + (f"; {failures} failures in {dead_letters}" if failures else ""), file=out)
