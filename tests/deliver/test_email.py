"""Email through a real SMTP server (aiosmtpd on loopback): messages, headers, escaping, failures, TLS."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import SecretStr

from pipeline.config import LineMap
from pipeline.config.subscribers import (
    Channels,
    EmailChannel,
    Secrets,
    SmtpServer,
    Subscriber,
    Subscribers,
)
from pipeline.deliver.base import PermanentError, TransientError
from pipeline.deliver.digest import Digest
from pipeline.deliver.dispatch import Dispatcher
from pipeline.deliver.email import EmailSender, message_id
from pipeline.deliver.retry import RetryPolicy
from pipeline.ledger.sqlite import SqliteLedger
from pipeline.records import UTC
from tests.deliver_support import make_alert


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """An aiosmtpd handler that keeps messages and can refuse recipients or defer DATA."""

    def __init__(self, *, refuse: set[str] = frozenset(), defer_data: int = 0) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.refuse = set(refuse)
        self.defer_data = defer_data

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.defer_data > 0:
            self.defer_data -= 1
            return "451 4.3.0 try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp():
    started = []

    def start(handler: Mailbox, **kwargs) -> int:
        port = _free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        started.append(controller)
        return port

    yield start
    for controller in started:
        controller.stop()


def _channel(port: int, *, to=("analyst@example.org",), security="none", **smtp) -> EmailChannel:
    return EmailChannel(
        to=list(to),
        from_address="storywatch@example.org",
        smtp=SmtpServer(host="127.0.0.1", port=port, security=security, timeout_seconds=5, **smtp),
    )


def test_alert_email_is_multipart_escaped_with_stable_headers(smtp):
    box = Mailbox()
    port = smtp(box)
    sender = EmailSender(
        _channel(port, to=("a@example.org", "b@example.org")), subscriber="analyst"
    )
    hostile = make_alert(
        1,
        title='<script>alert(1)</script> Musk & "Putin" <a href="http://evil">x</a>',
        outlet="<b>Wire</b>",
        sources=[("AP", "<img src=x onerror=y>", "javascript:alert(1)")],
    )
    sender.send_alert(hostile, delivery_key="k")
    sender.send_alert(hostile, delivery_key="k")  # a re-send (crash window) keeps the Message-ID

    assert len(box.messages) == 2
    (rcpts, msg), (_, again) = box.messages
    assert rcpts == ["a@example.org", "b@example.org"]
    assert (
        msg["Message-ID"]
        == again["Message-ID"]
        == message_id(hostile.alert_id, "analyst", "example.org")
    )
    assert (
        msg["List-Unsubscribe"].strip()
        == "<mailto:storywatch@example.org?subject=unsubscribe%20analyst>"
    )
    assert msg["Subject"].startswith(
        "[storywatch] New development: Musk–Kremlin contacts: <script>"
    )
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    page = msg.get_body(("html",)).get_content()
    assert hostile.title in text and hostile.url in text
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="http://evil"' not in page and "&lt;a href=&quot;http://evil&quot;&gt;" in page
    assert "&lt;b&gt;Wire&lt;/b&gt;" in page and "<img" not in page
    assert "javascript:" not in page.replace("&lt;img", "")  # a non-http source URL is not linked
    assert f'<a href="{hostile.url}">' in page
    assert "Why it matched" in page and "elon-musk" in page


def test_a_title_cannot_inject_headers(smtp):
    box = Mailbox()
    port = smtp(box)
    sender = EmailSender(_channel(port), subscriber="analyst")
    sender.send_alert(
        make_alert(1, title="Musk\r\nBcc: evil@example.org\r\n\r\n<h1>body</h1>"), delivery_key="k"
    )
    [(rcpts, msg)] = box.messages
    assert rcpts == ["analyst@example.org"] and msg["Bcc"] is None
    assert msg["Subject"] == (
        "[storywatch] New development: Musk–Kremlin contacts: Musk Bcc: evil@example.org "
        "<h1>body</h1>"
    )


def test_message_id_differs_per_subscriber_and_alert():
    ids = {message_id(a, s, "example.org") for a in ("a1", "a2") for s in ("desk", "analyst")}
    assert len(ids) == 4 and all(i.endswith(".storywatch@example.org>") for i in ids)


def test_refused_recipient_is_permanent_and_deferral_is_retried(smtp, tmp_path):
    box = Mailbox(refuse={"gone@example.org"}, defer_data=1)
    port = smtp(box)
    subs = (
        Subscriber(name="gone", channels=Channels(email=_channel(port, to=("gone@example.org",)))),
        Subscriber(name="analyst", channels=Channels(email=_channel(port))),
    )
    ledger = SqliteLedger(tmp_path / "ledger.sqlite")
    dispatcher = Dispatcher(
        ledger,
        subscribers=Subscribers(tmp_path / "s.yaml", subs, LineMap()),
        secrets=Secrets({}),
        dead_letter_path=tmp_path / "dead.jsonl",
        retry=RetryPolicy(base_delay_seconds=0.01),
    )
    results = dispatcher.deliver([make_alert(1)])
    dispatcher.close()
    status = {d.subscriber: (d.status, d.attempts) for d in results}
    assert status["gone"][0] == "dead" and status["gone"][1] == 1
    assert status["analyst"][0] == "sent"
    assert [rcpts for rcpts, _ in box.messages] == [["analyst@example.org"]]
    assert "550" in (tmp_path / "dead.jsonl").read_text()


def test_errors_are_classified(smtp):
    box = Mailbox(refuse={"gone@example.org"}, defer_data=1)
    port = smtp(box)
    with pytest.raises(PermanentError, match="550"):
        EmailSender(_channel(port, to=("gone@example.org",)), subscriber="s").send_alert(
            make_alert(1), delivery_key="k"
        )
    with pytest.raises(TransientError, match="SMTP 451"):
        EmailSender(_channel(port), subscriber="s").send_alert(make_alert(1), delivery_key="k")
    with pytest.raises(TransientError, match="SMTP connection failed"):
        EmailSender(_channel(_free_port()), subscriber="s").send_alert(
            make_alert(1), delivery_key="k"
        )


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _server_context(certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    return context


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"bot",
        b"s3cret",
    )
    return AuthResult(success=ok, handled=False)


def test_starttls_with_auth_from_environment_secrets(smtp, certificate, tmp_path):
    box = Mailbox()
    port = smtp(
        box,
        tls_context=_server_context(certificate),
        require_starttls=True,
        authenticator=_authenticator,
        auth_required=True,
    )
    channel = _channel(
        port,
        security="starttls",
        ca_file=certificate[0],
        username_env="SMTP_U",
        password_env="SMTP_P",
    )
    subs = (Subscriber(name="analyst", channels=Channels(email=channel)),)
    ledger = SqliteLedger(tmp_path / "ledger.sqlite")
    good = Dispatcher(
        ledger,
        subscribers=Subscribers(tmp_path / "s.yaml", subs, LineMap()),
        secrets=Secrets({"SMTP_U": SecretStr("bot"), "SMTP_P": SecretStr("s3cret")}),
        dead_letter_path=tmp_path / "dead.jsonl",
    )
    assert [d.status for d in good.deliver([make_alert(1)])] == ["sent"]
    assert len(box.messages) == 1

    bad = Dispatcher(
        ledger,
        subscribers=Subscribers(tmp_path / "s.yaml", subs, LineMap()),
        secrets=Secrets({"SMTP_U": SecretStr("bot"), "SMTP_P": SecretStr("wrong-pw")}),
        dead_letter_path=tmp_path / "dead.jsonl",
    )
    [result] = bad.deliver([make_alert(2)])
    assert (result.status, result.reason) == (
        "dead",
        "SMTP authentication failed (535); check the credentials",
    )
    assert "wrong-pw" not in (tmp_path / "dead.jsonl").read_text()
    assert len(box.messages) == 1


def test_starttls_refuses_an_untrusted_certificate(smtp, certificate):
    port = smtp(Mailbox(), tls_context=_server_context(certificate), require_starttls=True)
    with pytest.raises(PermanentError, match="TLS with the SMTP server failed"):
        EmailSender(_channel(port, security="starttls"), subscriber="s").send_alert(
            make_alert(1), delivery_key="k"
        )


def test_implicit_tls(smtp, certificate):
    box = Mailbox()
    port = smtp(box, ssl_context=_server_context(certificate))
    EmailSender(_channel(port, security="ssl", ca_file=certificate[0]), subscriber="s").send_alert(
        make_alert(1), delivery_key="k"
    )
    assert len(box.messages) == 1


def test_digest_email_groups_by_storyline_with_one_click_unsubscribe(smtp):
    box = Mailbox()
    port = smtp(box)
    channel = EmailChannel(
        to=["a@example.org"],
        from_address="storywatch@example.org",
        unsubscribe="https://news.example.org/unsubscribe?u=42",
        smtp=SmtpServer(host="127.0.0.1", port=port, security="none"),
    )
    digest = Digest(
        "analyst",
        "email",
        dt.datetime(2024, 10, 26, 6, tzinfo=UTC),
        (
            make_alert(1),
            make_alert(2, storyline="starlink-taiwan", title="Taiwan & <Starlink>"),
            make_alert(3),
        ),
    )
    EmailSender(channel, subscriber="analyst").send_digest(digest, delivery_key=digest.digest_id)
    [(_, msg)] = box.messages
    assert msg["Subject"] == "[storywatch] Digest: 3 alerts, 2024-10-26 06:00 UTC"
    assert msg["Message-ID"].strip() == message_id(digest.digest_id, "analyst", "example.org")
    assert msg["List-Unsubscribe"].strip() == "<https://news.example.org/unsubscribe?u=42>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    page = msg.get_body(("html",)).get_content()
    assert page.count("<h2>") == 2 and page.index("Musk–Kremlin contacts") < page.index(
        "starlink-taiwan"
    )
    assert "Taiwan &amp; &lt;Starlink&gt;" in page
    text = msg.get_body(("plain",)).get_content()
    assert "== Musk–Kremlin contacts ==" in text and "== starlink-taiwan ==" in text


def test_a_partly_refused_email_is_sent_to_the_others_and_a_dead_letter_for_the_refused(
    smtp, tmp_path
):
    """Issue 14 defect 4: send_message's refused recipients were ignored (reported as sent)."""
    box = Mailbox(refuse={"gone@example.org"})
    port = smtp(box)
    sub = Subscriber(
        name="desk",
        channels=Channels(email=_channel(port, to=("analyst@example.org", "gone@example.org"))),
    )
    ledger = SqliteLedger(tmp_path / "ledger.sqlite")
    dispatcher = Dispatcher(
        ledger,
        subscribers=Subscribers(tmp_path / "s.yaml", (sub,), LineMap()),
        secrets=Secrets({}),
        dead_letter_path=tmp_path / "dead.jsonl",
        retry=RetryPolicy(base_delay_seconds=0.01),
    )
    alert = make_alert(1)
    [delivery] = dispatcher.deliver([alert])
    dispatcher.close()
    assert [rcpts for rcpts, _ in box.messages] == [["analyst@example.org"]]
    assert delivery.status == "sent" and delivery.attempts == 1
    assert "gone@example.org" in delivery.reason and "550" in delivery.reason
    assert ledger.delivery_state(alert.alert_id, "desk", "email") == "sent"
    [letter] = [json.loads(line) for line in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert letter["recipient"] == "gone@example.org"
    assert letter["reason"] == "SMTP 550: 5.1.1 no such user here"
    assert dispatcher.counts["refused_recipients"] == 1
