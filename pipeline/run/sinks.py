"""Where the graph's side outputs go: dead letters and feed health, as JSON lines.

    WriteDeadLetters(path)    every Failure of a stage, appended as it arrives (one
                              writer per stage, all on one file)
    ReportFeedHealth(path, *, failing_after_failures)
                              every FeedHealth, appended; a feed crossing
                              ``failing_after_failures`` consecutive failures is logged
                              as a warning once per failing spell and counted; a feed
                              never fetched whose first failure the user can fix (a
                              refused address, DNS, HTTP 4xx) is warned about at once

One file handle per path per worker process, opened by the first ``setup()`` and closed
by the last ``teardown()``; lines are flushed as written and never interleaved.
Counters (namespace ``storywatch``): ``dead_letters``, ``feed_health_reports``,
``feeds_failing``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path
from typing import IO, Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.records import Failure, FeedHealth, to_json

log = logging.getLogger(__name__)


class _AppendJsonl(beam.DoFn):
    """Append records as JSON lines to ``path``.

    The writers of one path in one process share one handle (the graph has a dead-letter
    writer per stage, all on one file): opened by the first ``setup()``, closed by the
    last ``teardown()``. Each line is written and flushed under one lock, so lines never
    interleave and a process killed between bundles (Ctrl-C exits at once) loses none.
    """

    _LOCK = threading.Lock()
    _OPEN: dict[str, tuple[IO[str], int]] = {}  # path -> (handle, writers using it)

    def __init__(self, path: str) -> None:
        self._path = path
        self._handle: IO[str] | None = None

    def setup(self) -> None:
        key = str(Path(self._path).resolve())
        with self._LOCK:
            handle, users = self._OPEN.get(key, (None, 0))
            if handle is None:
                Path(key).parent.mkdir(parents=True, exist_ok=True)
                handle = open(key, "a", encoding="utf-8")
            self._OPEN[key] = (handle, users + 1)
            self._handle = handle

    def _append(self, record: Any) -> None:
        assert self._handle is not None, "setup() opens the file"
        with self._LOCK:
            self._handle.write(json.dumps(to_json(record), ensure_ascii=False) + "\n")
            self._handle.flush()

    def teardown(self) -> None:
        if self._handle is None:
            return
        key = str(Path(self._path).resolve())
        with self._LOCK:
            handle, users = self._OPEN.pop(key, (self._handle, 1))
            if users > 1:
                self._OPEN[key] = (handle, users - 1)
            else:
                handle.close()
            self._handle = None


class WriteDeadLetters(_AppendJsonl):
    """Append each Failure as a JSON line to ``path`` and count it (``storywatch/dead_letters``)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self._count = Metrics.counter("storywatch", "dead_letters")

    def process(self, failure: Failure) -> None:
        self._count.inc()
        self._append(failure)


# Errors a user fixes in the feed list, not by waiting: the messages of
# ingest.fetch.guard (refused address, DNS) and ingest.fetch.http (HTTP 4xx but 408/429).
_FIXABLE_ERROR = re.compile(
    r"refused to fetch |cannot resolve |not an http\(s\) URL|: HTTP 4(?!08|29)\d\d\b"
)


def is_fixable_error(error: str) -> bool:
    """True for a fetch error the user can fix (a refused private address, a name that does
    not resolve, HTTP 400/401/403/404/410...), where waiting for retries only hides it.

    >>> is_fixable_error("http://127.0.0.1:8/f.xml: HTTP 404 Not Found")
    True
    >>> is_fixable_error("cannot resolve feeds.example.invalid: [Errno -2] Name or service not known")
    True
    >>> is_fixable_error("http://x/rss: HTTP 503 (server asks to slow down)")
    False
    >>> is_fixable_error("http://x/rss: timed out (ReadTimeout)")
    False
    """
    return bool(_FIXABLE_ERROR.search(error))


def failing_feed_warning(health: FeedHealth, *, failing_after_failures: int) -> str | None:
    """The warning for a FeedHealth that has just reached ``failing_after_failures``
    consecutive failures, or whose first failure, before any success, is one the user can
    fix (``is_fixable_error``); None otherwise. Each failing feed is reported once per
    failing spell; its every attempt is in the health file.

    >>> import datetime as dt
    >>> from pipeline.records import FeedHealth
    >>> t = dt.datetime(2024, 10, 25, 9, tzinfo=dt.timezone.utc)
    >>> h = FeedHealth("wsj", "https://x/rss", "failing", 3, "HTTP 503", t, None, None, t, 300.0)
    >>> print(failing_feed_warning(h, failing_after_failures=3).replace("; ", ";\\n"))
    feed wsj (https://x/rss) is failing: 3 failed fetches in a row, never fetched successfully;
    last error: HTTP 503;
    next attempt 2024-10-25 09:00 UTC
    >>> failing_feed_warning(h, failing_after_failures=4) is None
    True
    >>> import dataclasses
    >>> gone = dataclasses.replace(h, consecutive_failures=1, last_error="https://x/rss: HTTP 404")
    >>> print(failing_feed_warning(gone, failing_after_failures=3).replace("; ", ";\\n"))
    feed wsj (https://x/rss) cannot be fetched: https://x/rss: HTTP 404;
    check the feed list (retrying will not fix this);
    next attempt 2024-10-25 09:00 UTC
    """
    fixable_at_start = health.last_success_at is None and is_fixable_error(health.last_error)
    due = 1 if fixable_at_start else failing_after_failures
    if health.consecutive_failures != due:
        return None
    since = (
        f"last success {health.last_success_at:%Y-%m-%d %H:%M} UTC"
        if health.last_success_at
        else "never fetched successfully"
    )
    if fixable_at_start:
        return (
            f"feed {health.feed_id} ({health.url}) cannot be fetched: {health.last_error}; "
            "check the feed list (retrying will not fix this); next attempt "
            f"{health.next_due_at:%Y-%m-%d %H:%M} UTC"
        )
    return (
        f"feed {health.feed_id} ({health.url}) is failing: {health.consecutive_failures} failed fetches "
        f"in a row, {since}; last error: {health.last_error}; next attempt {health.next_due_at:%Y-%m-%d %H:%M} UTC"
    )


class ReportFeedHealth(_AppendJsonl):
    """Append every FeedHealth (one per fetch attempt) to ``path``; a feed crossing
    ``failing_after_failures`` consecutive failures, or failing at start-up for a reason
    the user can fix (``failing_feed_warning``), is also logged as a warning and counted
    (``storywatch/feeds_failing``), so a dying feed is never silent. Counters:
    ``feed_health_reports``, ``feeds_failing``."""

    def __init__(self, path: str, *, failing_after_failures: int) -> None:
        super().__init__(path)
        self._failing_after_failures = failing_after_failures
        self._reports = Metrics.counter("storywatch", "feed_health_reports")
        self._failing = Metrics.counter("storywatch", "feeds_failing")

    def process(self, health: FeedHealth) -> None:
        self._reports.inc()
        self._append(health)
        warning = failing_feed_warning(health, failing_after_failures=self._failing_after_failures)
        if warning:
            self._failing.inc()
            log.warning("%s (every attempt: %s)", warning, self._path)
