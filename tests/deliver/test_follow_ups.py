"""Follow-ups delivered: one alert per development, then a few updates naming the outlets.

Six real reports of one development (dev.jsonl's D18, six outlets on 7 Sep 2023) go
through the real decision (tests/alerts/test_followups.py) and then to a Slack bot (a
local Web API), a Slack webhook and an SMTP server (aiosmtpd), all on 127.0.0.1: Slack
gets the alert and its rate-limited follow-ups in the alert's thread (a bot also edits
the alert to show the coverage so far), email gets the
alert and, at the digest, where the coverage stands; a restart sends nothing again.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pydantic import SecretStr

from pipeline.config import LineMap
from pipeline.config.subscribers import (
    Channels,
    EmailChannel,
    Secrets,
    SlackChannel,
    SmtpServer,
    Subscriber,
    Subscribers,
)
from pipeline.deliver.base import QUEUED, SENT
from pipeline.deliver.dispatch import Dispatcher
from pipeline.deliver.retry import RateLimiter
from pipeline.ledger.sqlite import SqliteLedger
from pipeline.records import UTC
from tests.alerts.test_followups import d18_events, d18_items, decide_all
from tests.deliver.crash_support import STORYWATCH, Sinks
from tests.deliver.test_email import Mailbox, smtp  # noqa: F401 (the fixture)
from tests.deliver_support import FakeSlackApi, SlackStandIn
from tests.paths import ROOT

LAST = "now 4 outlets: Ars Technica, Gizmodo, The Washington Post, CNBC"


def d18_alerts():
    from pipeline.alerts.decide import decide_alerts

    events = d18_events()
    return decide_alerts(events) + decide_all(events)


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def _dispatcher(tmp_path, subscriber: Subscriber, secrets: dict[str, str], clock=None):
    ledger = SqliteLedger(tmp_path / "ledger.sqlite")
    return Dispatcher(
        ledger,
        subscribers=Subscribers(tmp_path / "s.yaml", (subscriber,), LineMap()),
        secrets=Secrets({k: SecretStr(v) for k, v in secrets.items()}),
        clock=clock,
        limiter=RateLimiter(),
        dead_letter_path=tmp_path / "dead.jsonl",
    ), ledger


def test_a_bot_threads_the_follow_ups_under_the_alert_and_a_restart_sends_none(tmp_path):
    alerts = d18_alerts()
    assert [a.kind for a in alerts] == ["new_development"] + ["coverage"] * 3
    edits: list[dict] = []
    with SlackStandIn() as slack:
        api = FakeSlackApi(slack)
        slack.handlers["/api/chat.update"] = lambda body: (
            edits.append(body) or FakeSlackApi._ok(ts=body["ts"])
        )
        # Default kinds (new_development, burst): whoever gets the alert gets its follow-ups.
        desk = Subscriber(
            name="desk",
            channels=Channels(
                slack=SlackChannel(
                    bot_token_env="BOT",
                    channel="C0DESK0001",
                    api_url=api.url,
                    max_messages_per_second=100,
                )
            ),
        )
        for _ in range(2):  # the second run is a restart on the same ledger
            dispatcher, ledger = _dispatcher(tmp_path, desk, {"BOT": "xoxb-test-token"})
            dispatcher.deliver(alerts)
            dispatcher.close()
            ledger.close()
    posted = api.posted
    assert len(posted) == 4, [p["text"] for p in posted]
    assert posted[0]["thread_ts"] is None
    assert [p["thread_ts"] for p in posted[1:]] == [posted[0]["ts"]] * 3
    assert posted[0]["text"].startswith("New development: starlink-ukraine-war: Musk shut off")
    assert [p["text"].split(": ", 2)[2] for p in posted[1:]] == [
        "now 2 outlets: Ars Technica, Gizmodo",
        "now 3 outlets: Ars Technica, Gizmodo, The Washington Post",
        LAST,
    ]
    # each follow-up also edits the alert to say where coverage stands; none after the restart
    assert [e["ts"] for e in edits] == [posted[0]["ts"]] * 3
    coverage = edits[-1]["blocks"][2]["text"]["text"]
    assert coverage.startswith(f"*Coverage so far*\n{LAST}\nLatest: <https://www.cnbc.com/")
    assert edits[-1]["blocks"][1]["text"]["text"].startswith(
        "*<https://arstechnica.com/?p=1966184|Musk shut off Starlink"
    )


def test_email_gets_the_alert_now_and_the_coverage_in_the_digest_once(tmp_path, smtp):  # noqa: F811
    box = Mailbox()
    port = smtp(box)
    analyst = Subscriber(
        name="analyst",
        digest_at="08:00",
        channels=Channels(
            email=EmailChannel(
                to=["analyst@example.org"],
                from_address="storywatch@example.org",
                smtp=SmtpServer(host="127.0.0.1", port=port, security="none", timeout_seconds=5),
            )
        ),
    )
    clock = Clock(dt.datetime(2023, 9, 7, 22, 30, tzinfo=UTC))
    dispatcher, ledger = _dispatcher(tmp_path, analyst, {}, clock)
    results = dispatcher.deliver(d18_alerts())
    assert sorted(r.status for r in results) == [QUEUED] * 3 + [SENT]
    assert len(box.messages) == 1  # the alert; no email per copy
    assert {r.due_at for r in results if r.status == QUEUED} == {
        dt.datetime(2023, 9, 8, 8, tzinfo=UTC)
    }
    clock.now = dt.datetime(2023, 9, 8, 8, 0, 5, tzinfo=UTC)
    dispatcher.flush_due()
    dispatcher.flush_due()  # due once: sent once
    dispatcher.close()
    ledger.close()
    again, ledger = _dispatcher(tmp_path, analyst, {}, clock)  # a restart
    again.deliver(d18_alerts())
    again.flush_due()
    again.close()
    ledger.close()
    assert len(box.messages) == 2
    _, digest = box.messages[1]
    assert digest["Subject"] == "[storywatch] Coverage: 1 coverage update, 2023-09-08 08:00 UTC"
    text = digest.get_body(("plain",)).get_content()
    # where coverage stands, once: the last follow-up, not each step
    assert f"More coverage: {LAST}" in text and "now 2 outlets" not in text
    assert "https://www.cnbc.com/2023/09/07/" in text
    page = digest.get_body(("html",)).get_content()
    assert f"<em>More coverage: {LAST}</em>" in page


@pytest.mark.slow
def test_a_replay_alerts_once_per_development_and_a_second_replay_sends_nothing(tmp_path):
    import subprocess

    articles = tmp_path / "d18.jsonl"
    articles.write_text("".join(json.dumps(i) + "\n" for i in d18_items()))
    with Sinks(tmp_path) as sinks:
        for run in range(2):  # the second replay on the same ledger is a restart
            result = subprocess.run(
                [
                    STORYWATCH,
                    "replay",
                    "--input",
                    str(articles),
                    "--subscribers",
                    str(sinks.subscribers),
                    "--ledger",
                    str(tmp_path / "ledger.sqlite"),
                    "--alerts-out",
                    str(tmp_path / f"alerts{run}.jsonl"),
                ],
                capture_output=True,
                text=True,
                timeout=300,
                cwd=ROOT,
                env=sinks.env(),
            )
            assert result.returncode == 0, result.stderr
        webhook = sinks.slack.bodies("/desk")
        emails = list(sinks.inbox.message_ids)
    alerts = [json.loads(line) for line in (tmp_path / "alerts0.jsonl").read_text().splitlines()]
    assert [a["kind"] for a in alerts] == ["new_development"] + ["coverage"] * 3
    assert alerts[-1]["reason"] == LAST
    assert [s[0] for s in alerts[-1]["sources"]] == [
        "Ars Technica",
        "Gizmodo",
        "The Washington Post",
    ]
    # six reports, six outlets: one alert and three follow-ups, not six alerts
    assert len(webhook) == 4, [b["text"] for b in webhook]
    assert webhook[-1]["text"].endswith(LAST)
    assert len(emails) == 1  # the alert now; the coverage waits for the digest


def test_a_digest_counts_alerts_and_coverage_apart_and_shows_each_developments_last():
    from pipeline.deliver.digest import Digest

    alerts = tuple(d18_alerts())
    due = dt.datetime(2023, 9, 8, 8, tzinfo=UTC)
    assert Digest("desk", "slack", due, alerts).title() == (
        "Digest: 1 alert and 1 coverage update, 2023-09-08 08:00 UTC"
    )
    assert Digest("desk", "slack", due, alerts, held=True).title() == (
        "1 alert held during quiet hours and 1 coverage update"
    )
    [(_, _, shown)] = Digest("desk", "slack", due, alerts).by_storyline()
    assert [a.kind for a in shown] == ["new_development", "coverage"]
    assert shown[1].reason == LAST


def test_follow_ups_reach_whoever_gets_the_development_or_asked_for_coverage():
    from pipeline.deliver.routing import wants

    follow_up = d18_alerts()[-1]
    hook = Channels(slack=SlackChannel(webhook_url_env="H"))
    assert wants(Subscriber(name="a", channels=hook), follow_up)
    assert wants(Subscriber(name="b", kinds=["coverage"], channels=hook), follow_up)
    assert not wants(Subscriber(name="c", kinds=["burst"], channels=hook), follow_up)
    assert not wants(Subscriber(name="d", storylines=["starlink-taiwan"], channels=hook), follow_up)
    assert not wants(Subscriber(name="e", min_score=0.95, channels=hook), follow_up)
