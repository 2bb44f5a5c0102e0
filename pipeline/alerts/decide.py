"""Deciding alerts: which storyline events become an ``Alert``, with a stable id.

Policy (``decide_alert``): ``new_development`` and ``burst`` events always alert;
``duplicate`` and ``stale`` never do. More coverage of a known development (``coverage``
and ``duplicate`` events) is never an alert of its own: ``DecideAlerts`` turns it into a
few rate-limited follow-ups of the development's alert (``pipeline.alerts.followups``,
kind ``coverage``), which name the outlets so far.

The alert id is derived from storyline + development + kind (plus the follow-up's number),
so the same development gives the same id in every run and across restarts
(``pipeline.alerts.ids``); the ledger records it before delivery. The development id is
that of its original (earliest article) as known when the event is made: an alert made
before a late original arrived keeps the copy's id and is not repeated
(docs/storylines.md, "Order-independent leads").

>>> alert_id_for("starlink-ukraine-war", "3f2a", "new_development")
'08f5e2d40b1822d1'

The JSON shape of an alert (``--alerts-out`` lines, ledger payload) is
``pipeline.alert_json.alert_to_json``: every Alert field plus ``storyline`` and
``published``, so at least ``alert_id``, ``storyline``, ``kind``, ``article_ids`` (lead
first), ``title``, ``url``, ``published``.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput

from pipeline.alert_json import alert_to_json
from pipeline.alerts.followups import FOLLOW_UP_KINDS, decide_follow_up, earlier_follow_ups
from pipeline.alerts.ids import alert_id_for
from pipeline.alerts.sentence import matched_sentence
from pipeline.deliver.wording import display_time
from pipeline.ledger import open_ledger
from pipeline.match.hits import is_deep
from pipeline.records import UTC, Alert, Failure, StorylineEvent
from pipeline.run.metrics import FETCH_TO_ALERT
from pipeline.stage import DEAD_LETTER, MAIN, StageOutputs
from pipeline.storylines.tracker import BURST, COVERAGE, NEW_DEVELOPMENT

ALERTING_KINDS = (NEW_DEVELOPMENT, BURST)

#: Test hook, for the crash tests only (tests/deliver/test_crash_recovery.py): seconds to
#: hold each newly recorded alert before it goes on to delivery, so a test can SIGKILL the
#: process inside the window between deciding an alert and claiming its deliveries.
TEST_HOOK_PAUSE_AFTER_RECORD = "STORYWATCH_TEST_HOOK_PAUSE_AFTER_RECORD_SECONDS"


__all__ = ["DecideAlerts", "alert_id_for", "decide_alert", "decide_alerts", "format_alert"]


def decide_alert(
    event: StorylineEvent,
    *,
    storyline_titles: Mapping[str, str] | None = None,
) -> Alert | None:
    """The alert for one storyline event, or None when the event is not alert-worthy
    (coverage included: its follow-ups need the ones before, ``DecideAlerts``)."""
    if event.kind not in ALERTING_KINDS:
        return None
    # The headline of a new development is its lead; of a burst, the article that caused it.
    subject = (
        event.lead if event.kind == NEW_DEVELOPMENT or event.article is None else event.article
    )
    article = subject.article
    ids = (article.article_id,) + tuple(i for i in event.articles if i != article.article_id)
    return Alert(
        alert_id=alert_id_for(event.storyline_id, event.development_id, event.kind),
        storyline_id=event.storyline_id,
        development_id=event.development_id,
        kind=event.kind,
        title=article.title,
        url=article.url,
        published_at=article.published_at,
        first_seen_at=article.first_seen_at,
        article_ids=ids,
        score=round(subject.score, 4),
        outlet=article.outlet,
        # The matcher's title is that of the watchlists in effect (reloaded live); the map
        # from start-up covers leads restored from the ledger.
        storyline_title=subject.storyline_title
        or (storyline_titles or {}).get(event.storyline_id, ""),
        sources=tuple(s for s in event.sources if s[2] != article.url or not s[2]),
        evidence=subject.evidence,
        reason=event.reason,
        why_new=event.reason if event.kind == NEW_DEVELOPMENT else "",
        baseline_per_hour=event.baseline_per_hour,
        rate_per_hour=event.rate_per_hour,
        published_precision=article.published_precision,
        matched_sentence=matched_sentence(article, subject.evidence),
    )


def decide_alerts(events: Iterable[StorylineEvent], **policy: Any) -> list[Alert]:
    """``decide_alert`` over many events, keeping only the alerts."""
    return [a for a in (decide_alert(e, **policy) for e in events) if a is not None]


CONSOLE_TITLE_CHARS = 300


def format_alert(alert: Alert) -> str:
    """A few readable lines for the console (the demo prints these)."""
    when = display_time(alert)
    head = f"[{alert.kind}] {alert.storyline_title or alert.storyline_id}"
    # A hostile 1 MB title must not flood the terminal; the alerts file keeps it whole.
    title = (
        alert.title
        if len(alert.title) <= CONSOLE_TITLE_CHARS
        else alert.title[: CONSOLE_TITLE_CHARS - 1] + "…"
    )
    lines = [
        head,
        f"  {title}",
        f"  {alert.outlet or 'unknown outlet'}, {when}  {alert.url[:CONSOLE_TITLE_CHARS]}",
    ]
    why = sorted(
        {
            f"{e.alias!r} ({e.kind}{', deep in the text' if is_deep(e) else ''})"
            for e in alert.evidence
        }
    )
    if why:
        lines.append(f"  why: {', '.join(why[:6])}")
    if alert.matched_sentence:
        lines.append(f"  “{alert.matched_sentence[:CONSOLE_TITLE_CHARS]}”")
    if alert.why_new:
        lines.append(f"  new: {alert.why_new[:CONSOLE_TITLE_CHARS]}")
    if alert.sources and alert.kind != COVERAGE:  # a follow-up names them in its reason
        also = dict.fromkeys(o or t[:40] for o, t, _ in alert.sources)  # each outlet once
        lines.append(f"  also: {'; '.join(list(also)[:5])}")
    if alert.kind in (BURST, COVERAGE):  # the burst's rate; the follow-up's outlets
        lines.append(f"  {alert.reason}")
    return "\n".join(lines)


class _RecordAlertFn(beam.DoFn):
    """Record each alert id in the ledger before delivery (idempotent: INSERT OR IGNORE).

    Alerts already in the ledger (a restart, a retried bundle) still pass on: delivery
    keeps its own per-subscriber claims, so one already delivered is not sent twice. The
    record is owned by this process until delivery marks it routed; if the process dies
    in between, the next delivery sweep routes it from the saved payload
    (``Ledger.unrouted_alerts``), so it is not lost.
    """

    def __init__(self, ledger_url: str, *, latency_metrics: bool = False) -> None:
        self._ledger_url = ledger_url
        self._latency_metrics = latency_metrics
        self._ledger = None
        self._new = Metrics.counter("storywatch", "alerts_new")
        self._known = Metrics.counter("storywatch", "alerts_already_recorded")

    def setup(self) -> None:
        self._ledger = open_ledger(self._ledger_url)
        self._test_pause_seconds = float(os.environ.get(TEST_HOOK_PAUSE_AFTER_RECORD) or 0)

    def process(self, alert: Alert):
        payload = alert_to_json(alert)
        # The saved payload lets a restarted TrackStorylines resume its developments.
        self._ledger.save_payload(alert.alert_id, payload)
        if self._ledger.record_alert(alert.alert_id, payload):
            self._new.inc()
            if self._latency_metrics:  # live: first_seen_at is this run's fetch
                FETCH_TO_ALERT.observe((dt.datetime.now(UTC) - alert.first_seen_at).total_seconds())
            if self._test_pause_seconds:
                time.sleep(self._test_pause_seconds)
        else:
            self._known.inc()
        yield alert

    def teardown(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None


class DecideAlerts(beam.PTransform):
    """StorylineEvent → StageOutputs(main=Alert, each recorded in the ledger, dead_letter=Failure).

    Coverage and duplicate events become follow-ups (``pipeline.alerts.followups``), at most
    one per ``follow_up_min_gap_minutes`` and ``max_follow_ups_per_development`` per
    development, read back from the ledger at ``ledger_url``. ``coverage_alerts`` is
    accepted for old callers and changes nothing: a subscriber chooses follow-ups by kind
    (``pipeline.deliver.routing``). ``latency_metrics`` (live runs): each alert new to the
    ledger is observed in the fetch → alert histogram (``pipeline.run.metrics``)."""

    def __init__(
        self,
        *,
        ledger_url: str,
        storyline_titles: Mapping[str, str] | None = None,
        coverage_alerts: bool = False,
        latency_metrics: bool = False,
        follow_up_min_gap_minutes: float = 30.0,
        max_follow_ups_per_development: int = 3,
    ) -> None:
        super().__init__()
        del coverage_alerts  # see the docstring
        self._ledger_url = ledger_url
        self._latency_metrics = latency_metrics
        self._titles = dict(storyline_titles or {})
        self._follow_ups = {
            "min_gap_minutes": follow_up_min_gap_minutes,
            "max_follow_ups_per_development": max_follow_ups_per_development,
        }

    def expand(self, events: beam.PCollection) -> StageOutputs:
        decided = events | "DecideAlert" >> beam.ParDo(
            _DecideFn(self._ledger_url, self._titles, self._follow_ups)
        ).with_outputs(DEAD_LETTER, main=MAIN)
        recorded = decided[MAIN] | "RecordAlert" >> beam.ParDo(
            _RecordAlertFn(self._ledger_url, latency_metrics=self._latency_metrics)
        )
        return StageOutputs(recorded, decided[DEAD_LETTER])


class _DecideFn(beam.DoFn):
    """StorylineEvent → Alert (or nothing); an event the policy cannot read → Failure.

    Follow-ups: the ones already decided for a development are remembered here (at most
    ``MAX_DEVELOPMENTS_REMEMBERED`` developments, least recently seen forgotten first) and
    the next ones looked up in the ledger on every event, so a restart, or another worker
    that decided one, is seen; ``RecordAlert`` (the next step, same bundle) saves each one.
    """

    MAX_DEVELOPMENTS_REMEMBERED = 10_000

    def __init__(self, ledger_url: str, titles: dict[str, str], follow_ups: dict[str, Any]) -> None:
        self._ledger_url = ledger_url
        self._titles = titles
        self._follow_ups = follow_ups
        self._ledger = None
        self._earlier: OrderedDict[tuple[str, str], list[Alert]] = OrderedDict()

    def setup(self) -> None:
        self._ledger = open_ledger(self._ledger_url)

    def teardown(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    def _earlier_follow_ups(self, event: StorylineEvent) -> list[Alert]:
        key = (event.storyline_id, event.development_id)
        known = self._earlier.pop(key, [])
        limit = self._follow_ups["max_follow_ups_per_development"]
        if len(known) < limit:  # one read per event once the first ones are known
            known = earlier_follow_ups(
                self._ledger.load_payload, *key, max_follow_ups_per_development=limit, known=known
            )
        self._earlier[key] = known
        while len(self._earlier) > self.MAX_DEVELOPMENTS_REMEMBERED:
            self._earlier.popitem(last=False)
        return known

    def _decide(self, event: StorylineEvent) -> Alert | None:
        if event.kind not in FOLLOW_UP_KINDS:
            return decide_alert(event, storyline_titles=self._titles)
        earlier = self._earlier_follow_ups(event)
        alert = decide_follow_up(event, earlier, storyline_titles=self._titles, **self._follow_ups)
        if alert is not None:
            earlier.append(alert)
            Metrics.counter("storywatch", "follow_ups").inc()
        return alert

    def process(self, event: StorylineEvent) -> Iterable[Any]:
        Metrics.counter("storywatch", f"storyline_{event.kind}").inc()
        try:
            alert = self._decide(event)
        except Exception as exc:  # one malformed event must not stop the others' alerts
            yield TaggedOutput(
                DEAD_LETTER,
                Failure(
                    "alerts",
                    f"{event.storyline_id}:{event.development_id}",
                    f"cannot decide an alert: {type(exc).__name__}: {exc}",
                ),
            )
            return
        if alert is not None:
            Metrics.counter("storywatch", "alerts").inc()
            yield alert
