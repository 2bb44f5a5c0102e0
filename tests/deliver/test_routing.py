"""Routing: mutes (issue 15) and one message per article and subscriber (issue 13)."""

from __future__ import annotations

import datetime as dt

from pydantic import SecretStr

from pipeline.config import LineMap
from pipeline.config.subscribers import Channels, Secrets, SlackChannel, Subscriber, Subscribers
from pipeline.deliver.dispatch import Dispatcher
from pipeline.deliver.retry import RateLimiter, RetryPolicy
from pipeline.deliver.routing import fold_same_article, routes
from pipeline.ledger.sqlite import SqliteLedger
from pipeline.records import UTC
from tests.deliver_support import SlackStandIn, make_alert

NOW = dt.datetime(2024, 10, 25, 12, 0, tzinfo=UTC)


def _hook(name: str, storylines=("*",)) -> Subscriber:
    return Subscriber(
        name=name,
        storylines=list(storylines),
        channels=Channels(
            slack=SlackChannel(webhook_url_env=f"HOOK_{name.upper()}", max_messages_per_second=100)
        ),
    )


def _dispatcher(tmp_path, slack, subs):
    secrets = Secrets({f"HOOK_{s.name.upper()}": SecretStr(slack.url(f"/{s.name}")) for s in subs})
    ledger = SqliteLedger(tmp_path / "ledger.sqlite")
    dispatcher = Dispatcher(
        ledger,
        subscribers=Subscribers(tmp_path / "s.yaml", tuple(subs), LineMap()),
        secrets=secrets,
        dead_letter_path=tmp_path / "dead.jsonl",
        limiter=RateLimiter(),
        retry=RetryPolicy(base_delay_seconds=0.01),
        clock=lambda: NOW,
    )
    return dispatcher, ledger


def _two_storylines_one_article():
    url = "https://news.example.org/articles/musk-starlink-kremlin"
    return (
        make_alert(1, storyline="musk-kremlin-contacts", url=url),
        make_alert(1, storyline="starlink-taiwan", url=url),
    )


def test_a_muted_storyline_or_development_is_routed_as_muted():
    alert = make_alert(1)
    subs = [_hook("desk")]
    assert [r.muted for r in routes(alert, subs, NOW)] == [""]
    assert [r.muted for r in routes(alert, subs, NOW, muted={alert.storyline_id})] == [
        alert.storyline_id
    ]
    assert [r.muted for r in routes(alert, subs, NOW, muted={alert.development_id})] == [
        alert.development_id
    ]
    assert [r.muted for r in routes(alert, subs, NOW, muted={"other-storyline"})] == [""]


def test_fold_groups_the_alerts_of_one_article():
    a, b = _two_storylines_one_article()
    other = make_alert(2)
    assert fold_same_article([a, other, b]) == [[a, b], [other]]


def test_muted_alerts_are_not_sent_and_are_counted(tmp_path):
    muted, kept = make_alert(1), make_alert(2, storyline="starlink-taiwan")
    with SlackStandIn() as slack:
        dispatcher, ledger = _dispatcher(tmp_path, slack, [_hook("desk")])
        ledger.add_mute(muted.storyline_id, NOW + dt.timedelta(hours=24))
        ledger.add_mute("starlink-taiwan", NOW - dt.timedelta(seconds=1))  # ran out
        results = dispatcher.deliver([muted, kept])
        dispatcher.close()
        bodies = slack.bodies("/desk")
    assert [(d.alert_id, d.status, d.reason) for d in results] == [
        (muted.alert_id, "skipped", f"muted: {muted.storyline_id}"),
        (kept.alert_id, "sent", ""),
    ]
    assert len(bodies) == 1 and "Development 2" in bodies[0]["text"]
    assert dispatcher.counts["muted"] == 1
    assert ledger.delivery_state(muted.alert_id, "desk", "slack") is None


def test_one_article_on_two_followed_storylines_reaches_a_subscriber_once(tmp_path):
    """Issue 13: the subscriber who follows both storylines got the article twice."""
    a, b = _two_storylines_one_article()
    subs = [_hook("both"), _hook("one", storylines=["starlink-taiwan"])]
    with SlackStandIn() as slack:
        dispatcher, ledger = _dispatcher(tmp_path, slack, subs)
        results = dispatcher.deliver([a, b])
        again = dispatcher.deliver([a, b])
        dispatcher.close()
        both, one = slack.bodies("/both"), slack.bodies("/one")
    assert len(both) == 1 and len(one) == 1
    header = both[0]["blocks"][0]["text"]["text"]
    assert "Musk–Kremlin contacts" in header and "starlink-taiwan" in header
    assert "Musk–Kremlin contacts" not in one[0]["blocks"][0]["text"]["text"]
    assert sorted((d.alert_id, d.subscriber, d.status) for d in results) == sorted(
        [(a.alert_id, "both", "sent"), (b.alert_id, "both", "sent"), (b.alert_id, "one", "sent")]
    )
    assert {ledger.delivery_state(x.alert_id, "both", "slack") for x in (a, b)} == {"sent"}
    assert {d.status for d in again} == {"skipped"}


def test_the_folded_email_names_both_storylines():
    from pipeline.config.subscribers import EmailChannel, SmtpServer
    from pipeline.deliver.email import EmailSender
    from pipeline.deliver.wording import merge_alerts

    a, b = _two_storylines_one_article()
    channel = EmailChannel(
        to=["a@news.example.de"], from_address="sw@news.example.de", smtp=SmtpServer(host="h")
    )
    message = EmailSender(channel, subscriber="both").alert_message(merge_alerts([a, b]))
    assert "Musk–Kremlin contacts and starlink-taiwan" in message["Subject"]
    assert (
        message["Message-ID"]
        == EmailSender(channel, subscriber="both").alert_message(a)["Message-ID"]
    )
