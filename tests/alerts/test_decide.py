"""Alert decisions: which events alert, stable ids, the JSON shape, and the ledger record."""

from __future__ import annotations

import datetime as dt
import json

from pipeline.alert_json import alert_from_json, alert_to_json
from pipeline.alerts.decide import (
    _RecordAlertFn,
    alert_id_for,
    decide_alert,
    decide_alerts,
    format_alert,
)
from pipeline.jsonl_io import article_from_json
from pipeline.ledger.sqlite import SqliteLedger
from pipeline.records import Evidence, Match
from pipeline.storylines.tracker import NEW_DEVELOPMENT, StorylineTracker

EVIDENCE = (Evidence("musk", "Elon Musk", "title", 0, 9, "Elon Musk", "exact"),)


def match(aid, title, hour, *, outlet="Wire", storyline="musk-kremlin-contacts"):
    a = article_from_json(
        {
            "id": aid,
            "title": title,
            "outlet": outlet,
            "url": f"https://news.test/{aid}",
            "published": f"2024-10-25T{hour:02d}:00:00Z",
        }
    )
    return Match(a, storyline, 0.87, EVIDENCE)


def events():
    t = StorylineTracker()
    return [
        e
        for m in (
            match("a", "Elon Musk in secret talks with Putin, WSJ says", 9, outlet="WSJ"),
            match("b", "UPDATE 1-Elon Musk in secret talks with Putin, WSJ says - Reuters", 10),
            # (a denial, "Kremlin denies Musk-Putin calls...", would be a development of its own)
            match(
                "c",
                "Musk and Putin have spoken regularly since 2022, Wall Street Journal reports",
                12,
                outlet="Reuters",
            ),
        )
        for e in t.observe(m)
    ]


def test_only_new_developments_alert_by_default():
    alerts = decide_alerts(
        events(), storyline_titles={"musk-kremlin-contacts": "Musk and the Kremlin"}
    )
    assert [a.kind for a in alerts] == [NEW_DEVELOPMENT]
    [alert] = alerts
    assert alert.title == "Elon Musk in secret talks with Putin, WSJ says"
    assert alert.article_ids == ("a",)
    assert alert.outlet == "WSJ" and alert.url == "https://news.test/a"
    assert alert.evidence == EVIDENCE and alert.score == 0.87
    assert alert.storyline_title == "Musk and the Kremlin"
    assert alert.published_at == dt.datetime(2024, 10, 25, 9, tzinfo=dt.UTC)


def test_coverage_is_never_an_alert_of_its_own():
    # More coverage becomes a follow-up of the development's alert (tests/alerts/test_followups.py).
    evs = events()
    assert [e.kind for e in evs] == ["new_development", "duplicate", "coverage"]
    assert [a.kind for a in decide_alerts(evs)] == [NEW_DEVELOPMENT]
    assert decide_alert(evs[2]) is None


def test_alert_id_is_stable_for_the_same_development_and_differs_by_kind():
    first = decide_alerts(events())[0]
    again = decide_alerts(events())[0]
    assert (
        first.alert_id
        == again.alert_id
        == alert_id_for(first.storyline_id, first.development_id, NEW_DEVELOPMENT)
    )
    assert alert_id_for("s", "d", "burst") != alert_id_for("s", "d", NEW_DEVELOPMENT)


def test_duplicate_and_stale_never_alert():
    dup = events()[1]
    assert dup.kind == "duplicate"
    assert decide_alert(dup) is None


def test_json_line_has_the_required_fields_and_round_trips():
    alert = decide_alerts(events())[0]
    data = json.loads(json.dumps(alert_to_json(alert)))
    for key in ("alert_id", "storyline", "kind", "article_ids", "title", "url", "published"):
        assert key in data
    assert data["published"] == "2024-10-25T09:00:00Z"
    assert alert_from_json(data).alert_id == alert.alert_id


def test_burst_alert_carries_its_baseline():
    t = StorylineTracker(burst_window_hours=1, burst_min_articles=3, burst_factor=2)
    titles = [
        "Musk Putin calls: senators demand probe",
        "Pentagon reviews Musk security clearance",
        "Kremlin says Putin never spoke to Musk",
        "NASA chief calls for Musk investigation",
    ]
    evs = [e for i, title in enumerate(titles) for e in t.observe(match(f"x{i}", title, 9))]
    [burst] = [a for a in decide_alerts(evs) if a.kind == "burst"]
    assert burst.baseline_per_hour == 0.0 and burst.rate_per_hour >= 3
    assert "baseline" in burst.reason and "baseline" in format_alert(burst)


def test_alerts_are_recorded_in_the_ledger_before_delivery_and_still_passed_on(tmp_path):
    ledger_path = tmp_path / "ledger.sqlite"
    alert = decide_alerts(events())[0]
    for _ in range(2):  # the second pass is a restart: recorded once, passed on both times
        fn = _RecordAlertFn(str(ledger_path))
        fn.setup()
        assert list(fn.process(alert)) == [alert]
        fn.teardown()
    ledger = SqliteLedger(ledger_path)
    assert ledger.alert_ids() == [alert.alert_id]
    ledger.close()


def test_a_month_dated_lead_keeps_its_precision_in_the_alert_and_on_screen():
    article = article_from_json(
        {
            "id": "m",
            "title": "Musk and Putin spoke, officials say",
            "published": "2025-02",
            "url": "https://news.test/m",
        }
    )
    [event] = StorylineTracker().observe(Match(article, "musk-kremlin-contacts", 0.9, EVIDENCE))
    alert = decide_alert(event)
    assert alert.published_precision == "month"
    assert (
        alert_from_json(json.loads(json.dumps(alert_to_json(alert)))).published_precision == "month"
    )
    assert ", 2025-02 " in format_alert(alert)
    assert "2025-02-01 00:00" not in format_alert(alert)


def test_console_line_clips_a_hostile_title_and_the_alert_keeps_it():
    article = article_from_json(
        {"id": "h", "title": "Musk Putin " * 100_000, "url": "https://news.test/h"}
    )
    [event] = StorylineTracker().observe(Match(article, "musk-kremlin-contacts", 0.9, EVIDENCE))
    alert = decide_alert(event)
    assert len(alert.title) > 900_000
    assert len(format_alert(alert)) < 2_000
    assert "https://news.test/h" in format_alert(alert)
