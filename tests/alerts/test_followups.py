"""Follow-ups (pipeline/alerts/followups.py): more coverage of a development, rate-limited.

The articles are dev.jsonl's D18 (7 Sep 2023: Musk had Starlink cut off near Crimea, from
Isaacson's biography): six real reports of one development by six outlets, each with its
outlet, date and URL.
"""

from __future__ import annotations

import datetime as dt
import json

from pipeline.alerts.decide import _DecideFn, _RecordAlertFn
from pipeline.alerts.followups import (
    decide_follow_up,
    earlier_follow_ups,
    follow_up_id,
    follow_ups_of,
)
from pipeline.jsonl_io import article_from_json
from pipeline.ledger.sqlite import SqliteLedger
from pipeline.records import Evidence, Match
from pipeline.storylines.tracker import COVERAGE, NEW_DEVELOPMENT, StorylineTracker
from tests.paths import LABELED

STORYLINE = "starlink-ukraine-war"
EVIDENCE = (Evidence("starlink", "Starlink", "title", 0, 8, "Starlink", "exact"),)


def d18_items() -> list[dict]:
    items = [json.loads(line) for line in LABELED.read_text().splitlines() if '"D18_' in line]
    return sorted(items, key=lambda i: i["published"])


def d18_events(tracker: StorylineTracker | None = None):
    tracker = tracker or StorylineTracker()
    return [
        event
        for item in d18_items()
        for event in tracker.observe(Match(article_from_json(item), STORYLINE, 0.9, EVIDENCE))
    ]


def decide_all(events, **policy):
    """The follow-ups of ``events``, each decided on the ones before (as DecideAlerts does)."""
    return follow_ups_of(events, **policy)


def test_six_outlets_on_one_development_give_one_alert_and_three_follow_ups_by_name():
    events = d18_events()
    assert [e.kind for e in events].count(NEW_DEVELOPMENT) == 1
    assert len({e.development_id for e in events}) == 1
    follow_ups = decide_all(events)
    # Published 17:22 (Ars), 18:32, 19:06, 22:05, 22:12, 22:14: one per 30 minutes, three at most.
    assert [f.reason for f in follow_ups] == [
        "now 2 outlets: Ars Technica, Gizmodo",
        "now 3 outlets: Ars Technica, Gizmodo, The Washington Post",
        "now 4 outlets: Ars Technica, Gizmodo, The Washington Post, CNBC",
    ]
    assert all(
        f.kind == COVERAGE and f.development_id == events[0].development_id for f in follow_ups
    )
    assert [f.alert_id for f in follow_ups] == [
        follow_up_id(STORYLINE, events[0].development_id, n) for n in (1, 2, 3)
    ]
    # the latest report is the follow-up's own article; the earlier ones are its sources
    assert follow_ups[2].outlet == "CNBC" and follow_ups[2].sources[0][0] == "Ars Technica"
    assert follow_ups[2].score == 0.9  # the development's, so whoever got the alert gets it


def test_the_gap_holds_back_an_outlet_until_the_next_follow_up_names_it():
    follow_ups = decide_all(d18_events(), max_follow_ups_per_development=10)
    # Daily Mail (22:12) is 7 minutes after CNBC's follow-up (22:05), The Guardian 9: held back.
    assert [f.reason.split(":")[0] for f in follow_ups] == [
        "now 2 outlets",
        "now 3 outlets",
        "now 4 outlets",
    ]
    later = decide_all(d18_events(), max_follow_ups_per_development=10, min_gap_minutes=5)
    assert later[-1].reason.endswith("CNBC, Daily Mail")  # 22:12 is 7 min after 22:05
    assert len(later) == 4  # The Guardian (22:14) is 2 min after the Daily Mail's


def test_a_copy_from_an_outlet_already_named_is_no_follow_up():
    item = d18_items()[0]
    tracker = StorylineTracker()
    lead = Match(article_from_json(item), STORYLINE, 0.9, EVIDENCE)
    copy = Match(
        article_from_json(
            {
                **item,
                "id": "H137b",
                "url": item["url"] + "&copy",
                "published": "2023-09-07T19:00:00",
            }
        ),
        STORYLINE,
        0.9,
        EVIDENCE,
    )
    events = tracker.observe(lead) + tracker.observe(copy)
    assert events[1].kind in ("duplicate", "coverage")
    assert decide_follow_up(events[1], []) is None


def _decide_and_record(events, ledger_path):
    decide = _DecideFn(
        str(ledger_path), {}, {"min_gap_minutes": 30.0, "max_follow_ups_per_development": 3}
    )
    record = _RecordAlertFn(str(ledger_path))
    decide.setup()
    record.setup()
    out = [a for e in events for alert in decide.process(e) for a in record.process(alert)]
    decide.teardown()
    record.teardown()
    return out


def test_follow_ups_survive_a_restart_in_the_ledger_and_are_not_decided_again(tmp_path):
    ledger_path = tmp_path / "ledger.sqlite"
    events = d18_events()
    first = _decide_and_record(events, ledger_path)
    assert [a.kind for a in first] == [NEW_DEVELOPMENT] + [COVERAGE] * 3
    # A restart: new DoFns on the same ledger see the same coverage again (re-polled feeds).
    again = _decide_and_record(events[1:], ledger_path)
    assert again == []
    ledger = SqliteLedger(ledger_path)
    try:
        known = earlier_follow_ups(
            ledger.load_payload,
            STORYLINE,
            events[0].development_id,
            max_follow_ups_per_development=5,
        )
        assert [a.reason for a in known] == [a.reason for a in first[1:]]
        assert len(ledger.alert_ids()) == 4
    finally:
        ledger.close()


def test_a_restart_between_follow_ups_keeps_the_gap_and_the_count(tmp_path):
    ledger_path = tmp_path / "ledger.sqlite"
    events = d18_events()
    first = _decide_and_record(events[:3], ledger_path)  # alert + 2 follow-ups
    rest = _decide_and_record(events[3:], ledger_path)  # after a restart
    assert [a.reason for a in first[1:] + rest] == [a.reason for a in decide_all(events)]


def test_follow_up_time_is_when_it_was_seen():
    events = d18_events()
    # all six seen at once (one poll of a day's dump): one follow-up, naming the five others
    seen = dt.datetime(2023, 9, 7, 23, 59, tzinfo=dt.UTC)
    same_time = []
    for event in events:
        article = event.article.article
        from dataclasses import replace

        same_time.append(
            replace(
                event, article=replace(event.article, article=replace(article, first_seen_at=seen))
            )
        )
    follow_ups = decide_all(same_time)
    assert [f.reason for f in follow_ups] == ["now 2 outlets: Ars Technica, Gizmodo"]
