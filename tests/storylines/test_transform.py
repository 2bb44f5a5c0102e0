"""TrackStorylines, the Beam adapter: replay and live paths, dead letters, ledger resume.

The live path is driven by TestStream (BundleBasedDirectRunner) for event-time behaviour.
"""

from __future__ import annotations

import datetime as dt

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing import test_stream
from apache_beam.transforms.window import TimestampedValue

from pipeline.alert_json import alert_to_json
from pipeline.alerts.decide import decide_alerts
from pipeline.jsonl_io import article_from_json
from pipeline.ledger import open_ledger
from pipeline.records import Failure, Match
from pipeline.storylines.tracker import (
    COVERAGE,
    DUPLICATE,
    NEW_DEVELOPMENT,
    STALE,
    StorylineTracker,
    development_id_for,
    track_in_order,
)
from pipeline.storylines.transform import TrackStorylines
from tests.storylines.test_tracker import wire_copy_groups

T0 = dt.datetime(2023, 6, 1, 9, 0, tzinfo=dt.UTC)


def match(aid: str, title: str, hours: float = 0.0, *, storyline: str = "s") -> Match:
    when = (T0 + dt.timedelta(hours=hours)).isoformat()
    article = article_from_json(
        {"id": aid, "title": title, "published": when, "url": f"https://news.test/{aid}"}
    )
    return Match(article, storyline, 0.9, ())


MATCHES = [
    match("a", "Pentagon buys Starlink for Ukraine", 0),
    match("b", "UPDATE 1-Pentagon buys Starlink for Ukraine - Reuters", 1),
    match("c", "Zelensky meets Macron in Paris", 2),
    match("d", "Pentagon buys Starlink for Ukraine", 0, storyline="other"),
]


def _crash_on(monkeypatch, article_id: str) -> None:
    """Make the tracker raise on one article (both paths call observe_in)."""
    observe_in = StorylineTracker.observe_in

    def crashing(self, state, m):
        if m.article.article_id == article_id:
            raise ValueError("boom")
        return observe_in(self, state, m)

    monkeypatch.setattr(StorylineTracker, "observe_in", crashing)


def _replay(matches):
    """Run TrackStorylines(bounded=True); (kind, storyline, article id) of each event, failures."""
    with beam.Pipeline() as p:
        tracked = p | beam.Create(matches) | TrackStorylines(bounded=True)
        _COLLECTED.clear()
        _FAILED.clear()
        tracked.main | "Collect" >> beam.Map(_collect)
        tracked.dead_letter | "CollectFailures" >> beam.Map(_collect_failure)
    return sorted(_COLLECTED), list(_FAILED)


# -- replay: GroupByKey, then event-time order ----------------------------------------------


def test_replay_gives_the_events_of_track_in_order_and_no_dead_letters():
    expected = sorted(
        (e.kind, e.article.article.article_id, e.development_id) for e in track_in_order(MATCHES)
    )
    events, failed = _replay(MATCHES[::-1])
    assert events == expected and failed == []


def test_replay_sends_a_crashing_match_to_dead_letter_and_goes_on(monkeypatch):
    _crash_on(monkeypatch, "b")
    events, failed = _replay(MATCHES)
    assert [(k, a) for k, a, _ in events] == sorted(
        [(NEW_DEVELOPMENT, "a"), (NEW_DEVELOPMENT, "c"), (NEW_DEVELOPMENT, "d")]
    )
    [failure] = failed
    assert isinstance(failure, Failure)
    assert (failure.stage, failure.key) == ("storylines", "b")
    assert "storyline s" in failure.reason and "ValueError: boom" in failure.reason


# -- live: TestStream on the BundleBasedDirectRunner ---------------------------------------


def _stream(*steps, **track_options):
    """Run TrackStorylines(bounded=False) over a TestStream; steps are matches or watermarks.

    Returns (kind, article id, development id) of each event and the dead letters.
    """
    stream = test_stream.TestStream()
    for step in steps:
        if isinstance(step, Match):
            stream = stream.add_elements(
                [TimestampedValue(step, step.article.published_at.timestamp())]
            )
        else:
            stream = stream.advance_watermark_to(step.timestamp())
    stream = stream.advance_watermark_to_infinity()
    options = PipelineOptions([])
    options.view_as(StandardOptions).streaming = True
    _COLLECTED.clear()
    _FAILED.clear()
    track_options.setdefault("duplicate_horizon_hours", 72)
    with beam.Pipeline(runner="BundleBasedDirectRunner", options=options) as p:
        tracked = p | stream | TrackStorylines(bounded=False, **track_options)
        tracked.main | "Collect" >> beam.Map(_collect)
        tracked.dead_letter | "CollectFailures" >> beam.Map(_collect_failure)
    return list(_COLLECTED), list(_FAILED)


_COLLECTED: list = []  # the BundleBased runner runs in this process
_FAILED: list = []


def _collect_failure(failure) -> None:
    _FAILED.append(failure)


def _collect(event) -> None:
    # A module-level function is pickled by reference, so it appends to this list.
    _COLLECTED.append((event.kind, event.article.article.article_id, event.development_id))


def test_stream_late_out_of_order_and_expiry_in_beam_state():
    hours = lambda h: T0 + dt.timedelta(hours=h)  # noqa: E731
    events, failed = _stream(
        match("a", "Pentagon buys Starlink for Ukraine", 10),
        hours(11),
        # out of order and behind the watermark (late): still joins its development
        match("b", "US military will fund Starlink terminals for Ukraine", 8),
        match("c", "UPDATE 1-Pentagon buys Starlink for Ukraine - Reuters", 10.5),
        hours(200),
        # a week later the development has expired (horizon 72 h): a copy is new again
        match("e", "Pentagon buys Starlink for Ukraine", 201),
        # far behind the newest article of the storyline: stale, never alerted
        match("f", "Musk sends Starlink dishes to Ukraine", 20),
        match("g", "Pentagon buys Starlink for Ukraine", 0, storyline="other"),
    )
    kinds_by_article = {aid: kind for kind, aid, _ in events}
    assert kinds_by_article == {
        "a": NEW_DEVELOPMENT,
        "b": COVERAGE,
        "c": DUPLICATE,
        "e": NEW_DEVELOPMENT,
        "f": STALE,
        "g": NEW_DEVELOPMENT,
    }
    dev = {aid: d for _, aid, d in events}
    # b (08:00) is published before a (10:00): the development's original, lead and id.
    assert dev["a"] == development_id_for("s", "a")
    assert dev["b"] == dev["c"] == development_id_for("s", "b") != dev["e"]
    assert failed == []


def test_live_sends_a_crashing_match_to_dead_letter_and_goes_on(monkeypatch):
    _crash_on(monkeypatch, "b")
    events, failed = _stream(*MATCHES)
    assert sorted((k, a) for k, a, _ in events) == sorted(
        [(NEW_DEVELOPMENT, "a"), (NEW_DEVELOPMENT, "c"), (NEW_DEVELOPMENT, "d")]
    )
    assert [(f.stage, f.key) for f in failed] == [("storylines", "b")]


def test_live_resumes_from_the_developments_the_ledger_alerted(tmp_path):
    alerts = decide_alerts(StorylineTracker().observe(MATCHES[0]))
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    ledger = open_ledger(url)
    for alert in alerts:
        ledger.record_alert(alert.alert_id, alert_to_json(alert))
        ledger.save_payload(alert.alert_id, alert_to_json(alert))
    ledger.close()
    events, failed = _stream(MATCHES[1], MATCHES[2], ledger_url=url)
    assert sorted((k, a) for k, a, _ in events) == [(DUPLICATE, "b"), (NEW_DEVELOPMENT, "c")]
    assert [d for k, _, d in events if k == DUPLICATE] == [alerts[0].development_id]
    assert failed == []


def test_live_copies_first_ends_with_the_leads_and_ids_of_replay():
    groups = wire_copy_groups()  # six real copy groups of the labeled files
    group_of = {m.article.article_id: i for i, g in enumerate(groups) for m in g}
    replay, failed = _replay([m for g in groups for m in g])
    assert failed == []
    replay_ids = {group_of[aid]: dev for _, aid, dev in replay}  # one id per group in replay
    live, failed = _stream(*(m for g in groups for m in g[::-1]), duplicate_horizon_hours=720)
    assert failed == []
    live_final_ids = {group_of[aid]: dev for _, aid, dev in live}  # arrival order: last wins
    assert live_final_ids == replay_ids
    assert sum(kind == NEW_DEVELOPMENT for kind, _, _ in live) == len(groups) == 6
