"""Issue 14, defect 7: a timeout or a 5xx after the receiver acted is the second
at-least-once window. Each retry carries the same delivery id; a Slack bot checks the
channel before posting again; an email keeps its Message-ID; every possible repeat is a
``Delivery`` with ``repeat=True`` and counted in ``counts["repeats"]``.

Real receivers on 127.0.0.1: a Slack webhook stand-in that acts and then answers 500 or
too late, a Slack Web API stand-in with history, an aiosmtpd server that accepts DATA
after the client gave up.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from collections import Counter

from aiosmtpd.controller import Controller

from pipeline.config.subscribers import EmailChannel, SmtpServer, load_subscribers
from pipeline.deliver.base import SENT
from pipeline.deliver.dispatch import Dispatcher
from pipeline.deliver.email import EmailSender
from pipeline.deliver.retry import RetryPolicy
from pipeline.deliver.slack import DELIVERY_ID_HEADER, SlackBot, SlackWebhook
from pipeline.ledger.sqlite import SqliteLedger
from tests.deliver_support import FakeSlackApi, Reply, SlackStandIn, make_alert

DESK = """\
subscribers:
  - name: desk
    channels:
      slack: {webhook_url_env: REPEATS_UNUSED_HOOK}
"""
ANALYST = """\
subscribers:
  - name: analyst
    channels:
      email:
        to: [analyst@example.org]
        from: storywatch@example.org
        smtp: {host: 127.0.0.1, port: 25, security: none}
"""


def _dispatcher(tmp_path, channels, ledger=None) -> tuple[Dispatcher, SqliteLedger]:
    """A Dispatcher routing to the one subscriber of ``channels`` (desk or analyst)."""
    path = tmp_path / "subscribers.yaml"
    path.write_text(ANALYST if ("analyst", "email") in channels else DESK)
    ledger = ledger or SqliteLedger(tmp_path / "ledger.sqlite")
    dispatcher = Dispatcher(
        ledger,
        subscribers=load_subscribers(path),
        channels=channels,
        retry=RetryPolicy(sleep=lambda _: None),
    )
    return dispatcher, ledger


def _deliver(dispatcher, subscriber, channel, alert):
    return [
        d for d in dispatcher.deliver([alert]) if (d.subscriber, d.channel) == (subscriber, channel)
    ]


def test_a_webhook_500_after_it_posted_is_retried_with_the_same_id_and_counted(tmp_path):
    with SlackStandIn() as slack:
        slack.script["/desk"] = [Reply(500, "internal_error"), Reply(200, "ok")]
        webhook = SlackWebhook(slack.url("/desk"), max_messages_per_second=100)
        dispatcher, ledger = _dispatcher(tmp_path, {("desk", "slack"): webhook})
        try:
            [result] = _deliver(dispatcher, "desk", "slack", make_alert(1))
        finally:
            dispatcher.close()
            ledger.close()
    ids = [headers[DELIVERY_ID_HEADER] for _, headers, _, _ in slack.requests]
    assert ids == [f"{make_alert(1).alert_id}:desk:slack"] * 2
    assert result.status == SENT and result.attempts == 2
    assert result.repeat and dispatcher.counts["repeats"] == 1


def test_a_webhook_read_timeout_is_retried_with_the_same_id_and_counted(tmp_path):
    with SlackStandIn() as slack:
        slack.script["/desk"] = [Reply(200, "ok", delay_seconds=1.5), Reply(200, "ok")]
        webhook = SlackWebhook(slack.url("/desk"), timeout_seconds=0.5, max_messages_per_second=100)
        dispatcher, ledger = _dispatcher(tmp_path, {("desk", "slack"): webhook})
        try:
            [result] = _deliver(dispatcher, "desk", "slack", make_alert(2))
        finally:
            dispatcher.close()
            ledger.close()
    ids = [headers[DELIVERY_ID_HEADER] for _, headers, _, _ in slack.requests]
    assert len(ids) == 2 and len(set(ids)) == 1
    assert result.status == SENT and result.repeat
    assert dispatcher.counts["repeats"] == 1


def test_a_bot_checks_the_channel_after_a_5xx_and_does_not_post_twice(tmp_path):
    with SlackStandIn() as slack:
        api = FakeSlackApi(slack)
        post = slack.handlers["/api/chat.postMessage"]
        calls = Counter()

        def post_then_fail_once(body):
            reply = post(body)  # Slack posted it ...
            calls["post"] += 1
            return Reply(500, "upstream error") if calls["post"] == 1 else reply

        slack.handlers["/api/chat.postMessage"] = post_then_fail_once
        ledger = SqliteLedger(tmp_path / "ledger.sqlite")
        bot = SlackBot(
            "xoxb-test",
            "C0TEST001",
            ledger=ledger,
            subscriber="desk",
            api_url=api.url,
            max_messages_per_second=100,
        )
        dispatcher, _ = _dispatcher(tmp_path, {("desk", "slack"): bot}, ledger)
        try:
            [result] = _deliver(dispatcher, "desk", "slack", make_alert(3))
        finally:
            dispatcher.close()
            ledger.close()
    assert len(api.posted) == 1, "the bot posted again although the first post had landed"
    assert result.status == SENT and not result.repeat
    assert dispatcher.counts["repeats"] == 0


class _LateInbox:
    """Takes the message, then answers DATA after the client's timeout (the first time)."""

    def __init__(self, late_seconds: float) -> None:
        self.message_ids: list[str] = []
        self.late_seconds = late_seconds

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.message_ids.append(msg["Message-ID"])
        if len(self.message_ids) == 1:
            await asyncio.sleep(self.late_seconds)
        return "250 OK"


def test_an_smtp_timeout_after_data_resends_with_the_same_message_id_and_counts_it(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = _LateInbox(late_seconds=2.5)
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        channel = EmailChannel(
            to=["analyst@example.org"],
            from_address="storywatch@example.org",
            smtp=SmtpServer(host="127.0.0.1", port=port, security="none", timeout_seconds=1),
        )
        sender = EmailSender(channel, subscriber="analyst")
        dispatcher, ledger = _dispatcher(tmp_path, {("analyst", "email"): sender})
        try:
            [result] = _deliver(dispatcher, "analyst", "email", make_alert(4))
        finally:
            dispatcher.close()
            ledger.close()
    finally:
        controller.stop()
    assert len(inbox.message_ids) == 2 and len(set(inbox.message_ids)) == 1
    assert result.status == SENT and result.repeat
    assert dispatcher.counts["repeats"] == 1
