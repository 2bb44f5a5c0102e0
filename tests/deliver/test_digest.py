"""Digests and quiet hours with a controlled clock: when alerts go out, and grouped how."""

from __future__ import annotations

import datetime as dt
import json

from pydantic import SecretStr

from pipeline.config import LineMap
from pipeline.config.subscribers import (
    Channels,
    QuietHours,
    Secrets,
    SlackChannel,
    Subscriber,
    Subscribers,
)
from pipeline.deliver.digest import Digest, due_at, is_quiet
from pipeline.deliver.dispatch import Dispatcher
from pipeline.deliver.retry import RateLimiter
from pipeline.deliver.slack import digest_blocks
from pipeline.ledger.sqlite import SqliteLedger
from pipeline.records import UTC
from tests.deliver_support import T0, SlackStandIn, make_alert

SLACK = Channels(slack=SlackChannel(webhook_url_env="HOOK", max_messages_per_second=100))


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def sub(**kwargs) -> Subscriber:
    return Subscriber(name=kwargs.pop("name", "desk"), channels=SLACK, **kwargs)


def test_quiet_hours_overnight_and_same_day():
    night, lunch = QuietHours(start="22:00", end="07:00"), QuietHours(start="12:00", end="13:30")
    assert [
        is_quiet(night, dt.datetime(2024, 1, 1, h, m))
        for h, m in ((21, 59), (22, 0), (0, 0), (6, 59), (7, 0))
    ] == [False, True, True, True, False]
    assert [
        is_quiet(lunch, dt.datetime(2024, 1, 1, h, m))
        for h, m in ((11, 59), (12, 0), (13, 29), (13, 30))
    ] == [False, True, True, False]
    assert not is_quiet(None, dt.datetime(2024, 1, 1, 3))


def test_immediate_subscriber_waits_for_the_end_of_quiet_hours_in_their_zone():
    desk = sub(timezone="Europe/Berlin", quiet_hours=QuietHours(start="22:00", end="07:00"))
    assert due_at(desk, utc(2024, 10, 25, 12, 0)) is None  # 14:00 Berlin: now
    assert due_at(desk, utc(2024, 10, 25, 21, 30)) == utc(2024, 10, 26, 5, 0)  # 23:30 -> 07:00 CEST
    assert due_at(desk, utc(2024, 10, 26, 4, 59)) == utc(2024, 10, 26, 5, 0)
    assert due_at(desk, utc(2024, 10, 26, 5, 0)) is None
    # Across the end of summer time (27 Oct 2024): 07:00 CET is 06:00 UTC.
    assert due_at(desk, utc(2024, 10, 26, 23, 0)) == utc(2024, 10, 27, 6, 0)


def test_hourly_and_daily_digest_boundaries():
    hourly = sub(mode="digest", digest="hourly", timezone="Asia/Kolkata")  # UTC+05:30
    assert due_at(hourly, utc(2024, 10, 25, 10, 15)) == utc(2024, 10, 25, 10, 30)
    assert due_at(hourly, utc(2024, 10, 25, 10, 30)) == utc(2024, 10, 25, 11, 30)
    daily = sub(mode="digest", digest="daily", digest_at="08:00", timezone="America/New_York")
    assert due_at(daily, utc(2024, 10, 25, 11, 0)) == utc(
        2024, 10, 25, 12, 0
    )  # 07:00 EDT -> 08:00 EDT
    assert due_at(daily, utc(2024, 10, 25, 13, 0)) == utc(
        2024, 10, 26, 12, 0
    )  # 09:00 EDT -> tomorrow
    assert due_at(daily, utc(2024, 11, 3, 13, 0)) == utc(
        2024, 11, 4, 13, 0
    )  # after DST ends: 08:00 EST


def test_digest_time_inside_quiet_hours_moves_to_their_end():
    early = sub(
        mode="digest",
        digest="daily",
        digest_at="06:00",
        quiet_hours=QuietHours(start="22:00", end="07:30"),
    )
    assert due_at(early, utc(2024, 10, 25, 12, 0)) == utc(2024, 10, 26, 7, 30)


def test_digest_groups_by_storyline_in_time_order():
    alerts = (make_alert(3), make_alert(1, storyline="starlink-taiwan"), make_alert(2))
    digest = Digest("desk", "slack", utc(2024, 10, 26, 8), alerts)
    assert [(s, [a.alert_id for a in xs]) for s, _, xs in digest.by_storyline()] == [
        ("starlink-taiwan", [alerts[1].alert_id]),
        ("musk-kremlin-contacts", [alerts[2].alert_id, alerts[0].alert_id]),
    ]
    assert digest.digest_id == Digest("desk", "slack", utc(2024, 10, 26, 8), ()).digest_id
    assert digest.digest_id != Digest("desk", "email", utc(2024, 10, 26, 8), ()).digest_id
    text, blocks = digest_blocks(digest)
    assert text.startswith("Digest: 3 alerts")
    assert [b["text"]["text"].split("\n")[0] for b in blocks[1:]] == [
        "*starlink-taiwan*",
        "*Musk–Kremlin contacts*",
    ]


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def _dispatcher(tmp_path, slack, subscribers, clock):
    secrets = Secrets({"HOOK": SecretStr(slack.url("/hook"))})
    return Dispatcher(
        SqliteLedger(tmp_path / "ledger.sqlite"),
        subscribers=Subscribers(tmp_path / "s.yaml", tuple(subscribers), LineMap()),
        secrets=secrets,
        clock=clock,
        limiter=RateLimiter(),
        dead_letter_path=tmp_path / "dead.jsonl",
    )


def test_hourly_digest_is_one_message_per_period_and_survives_a_restart(tmp_path):
    clock = Clock(utc(2024, 10, 25, 10, 5))
    digest_sub = sub(mode="digest", digest="hourly")
    with SlackStandIn() as slack:
        dispatcher = _dispatcher(tmp_path, slack, [digest_sub], clock)
        first = dispatcher.deliver([make_alert(1), make_alert(2, storyline="starlink-taiwan")])
        assert [(d.status, d.due_at) for d in first] == [("queued", utc(2024, 10, 25, 11))] * 2
        clock.now = utc(2024, 10, 25, 10, 40)
        assert [d.status for d in dispatcher.deliver([make_alert(3)])] == ["queued"]
        assert slack.bodies("/hook") == []
        dispatcher.close()

        # Restart after the hour: the queue is in the ledger; nothing new arrives.
        clock.now = utc(2024, 10, 25, 11, 0, 30)
        restarted = _dispatcher(tmp_path, slack, [digest_sub], clock)
        sent = restarted.flush_due()
        assert sorted(d.status for d in sent) == ["sent"] * 3
        assert len({d.message_id for d in sent}) == 1
        assert restarted.flush_due() == []
        # An alert after the flush goes to the next period.
        assert [d.due_at for d in restarted.deliver([make_alert(4)])] == [utc(2024, 10, 25, 12)]
        restarted.close()
    [body] = slack.bodies("/hook")
    assert body["text"].startswith("Digest: 3 alerts")
    sections = [b["text"]["text"] for b in body["blocks"] if b["type"] == "section"]
    assert sections[0].startswith("*Musk–Kremlin contacts*") and sections[0].count("• ") == 2
    assert sections[1].startswith("*starlink-taiwan*") and sections[1].count("• ") == 1


def test_quiet_hours_hold_immediate_alerts_then_send_them_together(tmp_path):
    clock = Clock(utc(2024, 10, 25, 23, 0))
    quiet = sub(name="quiet", quiet_hours=QuietHours(start="22:00", end="07:00"))
    loud = sub(name="loud")
    with SlackStandIn() as slack:
        dispatcher = _dispatcher(tmp_path, slack, [quiet, loud], clock)
        results = dispatcher.deliver([make_alert(1), make_alert(2)])
        assert sorted((d.subscriber, d.status) for d in results) == [
            ("loud", "sent"),
            ("loud", "sent"),
            ("quiet", "queued"),
            ("quiet", "queued"),
        ]
        clock.now = utc(2024, 10, 26, 6, 59)
        assert dispatcher.flush_due() == []
        clock.now = utc(2024, 10, 26, 7, 0)
        # The next alert arrives after quiet hours: the held ones go out first, in one message.
        results = dispatcher.deliver([make_alert(3)])
        dispatcher.close()
    assert sorted((d.subscriber, d.status) for d in results) == [
        ("loud", "sent"),
        ("quiet", "sent"),
        ("quiet", "sent"),
        ("quiet", "sent"),
    ]
    texts = [b["text"] for b in slack.bodies("/hook")]
    assert len(texts) == 5
    assert sum(t.startswith("2 alerts held during quiet hours") for t in texts) == 1


def test_unwanted_alerts_are_not_routed(tmp_path):
    clock = Clock(utc(2024, 10, 25, 12))
    picky = sub(storylines=["starlink-taiwan"], min_score=0.8, kinds=["burst"])
    with SlackStandIn() as slack:
        dispatcher = _dispatcher(tmp_path, slack, [picky], clock)
        results = dispatcher.deliver(
            [
                make_alert(1, storyline="starlink-taiwan", kind="burst", score=0.9),
                make_alert(2, storyline="starlink-taiwan", kind="burst", score=0.7),
                make_alert(3, storyline="starlink-taiwan", kind="new_development", score=0.9),
                make_alert(4, kind="burst", score=0.9),
            ]
        )
        dispatcher.close()
    assert [(d.alert_id, d.status) for d in results] == [("starlink-taiwan-dev1-burst", "sent")]


def test_a_digest_lists_an_article_on_two_storylines_once_naming_both():
    """Issue 13: one article, one message per subscriber, in a digest too."""
    from pipeline.deliver.email import digest_text

    url = "https://news.example.org/articles/musk-starlink-kremlin"
    a = make_alert(1, storyline="musk-kremlin-contacts", url=url, title="One article")
    b = make_alert(1, storyline="starlink-taiwan", url=url, title="One article")
    other = make_alert(2, storyline="starlink-taiwan")
    digest = Digest("desk", "email", T0, (a, b, other))
    sections = [(title, [x.title for x in xs]) for _, title, xs in digest.by_storyline()]
    assert sections == [
        ("Musk–Kremlin contacts and starlink-taiwan", ["One article"]),
        ("starlink-taiwan", [other.title]),
    ]
    assert digest_text(digest).count("One article") == 1
    _, blocks = digest_blocks(digest)
    assert sum(json.dumps(b, ensure_ascii=False).count("One article") for b in blocks) == 1
