"""Email: multipart text + HTML through ``smtplib``, with a stable Message-ID per alert.

The Message-ID is derived from the alert (or digest) id and the subscriber, so the same
alert re-sent after a crash carries the same Message-ID and mail clients can fold the
repeat. Article text is HTML-escaped in the HTML part (a title cannot inject markup or
links) and header values are folded to one line (no header injection). ``List-Unsubscribe``
points at the subscriber's ``unsubscribe`` target or a mailto: to the sender.

SMTP answers are classified: 4xx, timeouts and dropped connections are transient; 5xx
(e.g. 550 no such user), refused recipients and failed authentication are permanent.
When some recipients are refused and others accepted, the message went out: ``send``
returns the refused (address, reply) pairs and the dispatcher writes a dead letter for
each, while the delivery stays sent (a resend would duplicate it for the others).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from urllib.parse import quote

from pipeline.config.subscribers import EmailChannel
from pipeline.deliver.base import PermanentError, TransientError
from pipeline.deliver.digest import Digest
from pipeline.deliver.wording import (
    FOLLOW_UP,
    display_time,
    follow_up_line,
    kind_label,
    other_sources,
    reasons,
)
from pipeline.records import UTC, Alert


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _reply(code: int, text: bytes | str) -> str:
    """``SMTP 550: 5.1.1 no such user`` from an SMTP reply (one line, bounded)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"SMTP {code}: {_one_line(text)[:160]}"


def message_id(key: str, subscriber: str, domain: str) -> str:
    """``<HASH.storywatch@domain>``: the same alert and subscriber always give the same id.

    Short enough that the header never folds (a folded id would not match on re-send).

    >>> message_id("a1", "desk", "example.org")
    '<18e94bb4e535eb3da4911272.storywatch@example.org>'
    """
    digest = hashlib.sha256(f"{key}|{subscriber}".encode()).hexdigest()[:24]
    return f"<{digest}.storywatch@{domain}>"


def _alert_text(alert: Alert) -> str:
    lines = (
        [f"{kind_label(alert.kind)}: {follow_up_line(alert)}"] if alert.kind == FOLLOW_UP else []
    )
    lines += [
        _one_line(alert.title),
        alert.url,
        " · ".join(p for p in (_one_line(alert.outlet), display_time(alert)) if p),
        "",
    ]
    if alert.why_new:
        lines += [f"Why it is new: {_one_line(alert.why_new)}", ""]
    if alert.evidence:
        lines.append("Why it matched:")
        if alert.matched_sentence:
            lines.append(f"  “{_one_line(alert.matched_sentence)}”")
        lines += [f"  - {reason}" for reason in reasons(alert.evidence)]
        lines.append("")
    others = other_sources(alert)
    if others:
        lines.append("Other sources so far:")
        lines += [f"  - {_one_line(o)}: {_one_line(t)} {u}" for o, t, u in others]
        lines.append("")
    lines.append(
        f"storyline {alert.storyline_id} · score {alert.score:.2f} · alert {alert.alert_id}"
    )
    return "\n".join(lines)


def _href(url: str) -> str | None:
    return html.escape(url, quote=True) if url.lower().startswith(("http://", "https://")) else None


def _a(url: str, label: str) -> str:
    href = _href(url)
    label = html.escape(_one_line(label) or "(untitled)")
    return f'<a href="{href}">{label}</a>' if href else label


def _alert_html(alert: Alert) -> str:
    e = html.escape
    parts = (
        [f"<p><em>{e(kind_label(alert.kind))}: {e(follow_up_line(alert))}</em></p>"]
        if alert.kind == FOLLOW_UP
        else []
    )
    parts += [
        f"<p><strong>{_a(alert.url, alert.title)}</strong><br>"
        f"{e(' · '.join(p for p in (_one_line(alert.outlet), display_time(alert)) if p))}</p>"
    ]
    if alert.why_new:
        parts.append(f"<p>Why it is new: {e(_one_line(alert.why_new))}</p>")
    if alert.evidence:
        items = "".join(f"<li>{e(str(reason))}</li>" for reason in reasons(alert.evidence))
        quote = (
            f"<blockquote>{e(_one_line(alert.matched_sentence))}</blockquote>"
            if alert.matched_sentence
            else ""
        )
        parts.append(f"<p>Why it matched:</p>{quote}<ul>{items}</ul>")
    others = other_sources(alert)
    if others:
        items = "".join(f"<li>{e(_one_line(o))}: {_a(u, t)}</li>" for o, t, u in others)
        parts.append(f"<p>Other sources so far:</p><ul>{items}</ul>")
    parts.append(
        f'<p style="color:#666">storyline {e(alert.storyline_id)} · score {alert.score:.2f}'
        f" · alert {e(alert.alert_id)}</p>"
    )
    return "".join(parts)


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
        f"<body>{body}</body></html>"
    )


def alert_subject(alert: Alert) -> str:
    storyline = alert.storyline_title or alert.storyline_id
    return _one_line(f"[storywatch] {kind_label(alert.kind)}: {storyline}: {alert.title}")[:200]


def digest_subject(digest: Digest) -> str:
    return _one_line(f"[storywatch] {digest.title()}")


def digest_text(digest: Digest) -> str:
    sections = []
    for _, title, alerts in digest.by_storyline():
        sections.append(f"== {_one_line(title)} ==\n" + "\n\n".join(_alert_text(a) for a in alerts))
    return digest.title() + "\n\n" + "\n\n".join(sections)


def digest_html(digest: Digest) -> str:
    body = [f"<h1>{html.escape(digest.title())}</h1>"]
    for _, title, alerts in digest.by_storyline():
        body.append(
            f"<h2>{html.escape(_one_line(title))}</h2>"
            + "<hr>".join(_alert_html(a) for a in alerts)
        )
    return _page(digest.title(), "".join(body))


class EmailSender:
    """Sends to the addresses of one subscriber's email channel."""

    name = "email"

    def __init__(
        self,
        config: EmailChannel,
        *,
        subscriber: str,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.config = config
        self.subscriber = subscriber
        self._username = username
        self._password = password
        self.rate_key = f"smtp:{config.smtp.host}:{config.smtp.effective_port}"
        self.per_second = 10.0
        self.domain = config.from_address.rsplit("@", 1)[1]

    def _unsubscribe(self) -> str:
        target = self.config.unsubscribe or (
            f"mailto:{self.config.from_address}?subject={quote('unsubscribe ' + self.subscriber)}"
        )
        return f"<{target}>"

    def build(
        self, *, key: str, subject: str, text: str, html_body: str, when: dt.datetime
    ) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = _one_line(subject)
        msg["From"] = formataddr(("storywatch", self.config.from_address))
        msg["To"] = ", ".join(self.config.to)
        msg["Date"] = format_datetime(when.astimezone(UTC))
        msg["Message-ID"] = message_id(key, self.subscriber, self.domain)
        msg["List-Unsubscribe"] = self._unsubscribe()
        if (self.config.unsubscribe or "").startswith("https:"):
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
        msg["X-Storywatch-Delivery-Id"] = _one_line(key)
        msg.set_content(text)
        msg.add_alternative(html_body, subtype="html")
        return msg

    def alert_message(self, alert: Alert) -> EmailMessage:
        return self.build(
            key=alert.alert_id,
            subject=alert_subject(alert),
            text=_alert_text(alert),
            html_body=_page(alert_subject(alert), _alert_html(alert)),
            when=alert.first_seen_at,
        )

    def digest_message(self, digest: Digest) -> EmailMessage:
        return self.build(
            key=digest.digest_id,
            subject=digest_subject(digest),
            text=digest_text(digest),
            html_body=digest_html(digest),
            when=digest.due_at,
        )

    def _connect(self) -> smtplib.SMTP:
        smtp = self.config.smtp
        context = ssl.create_default_context(cafile=str(smtp.ca_file) if smtp.ca_file else None)
        if smtp.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                smtp.host, smtp.effective_port, timeout=smtp.timeout_seconds, context=context
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.effective_port, timeout=smtp.timeout_seconds)
            if smtp.security == "starttls":
                client.starttls(context=context)
        if self._username is not None:
            client.login(self._username, self._password or "")
        return client

    def send(self, message: EmailMessage) -> list[tuple[str, str]]:
        """Send; returns (address, SMTP reply) of each recipient refused while others took it."""
        try:
            client = self._connect()
            try:
                # Recipients refused while others were accepted are not retried: the
                # message went out, and a resend would duplicate it for the others.
                refused = client.send_message(message)
            finally:
                try:
                    client.quit()
                except (smtplib.SMTPException, OSError):
                    pass
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentError(
                f"SMTP authentication failed ({exc.smtp_code}); check the credentials"
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            if all(400 <= code < 500 for code in codes):
                raise TransientError(
                    f"SMTP recipients deferred ({', '.join(map(str, codes))})"
                ) from None
            raise PermanentError(
                f"SMTP refused all recipients ({', '.join(map(str, codes))}): "
                f"{', '.join(sorted(exc.recipients))}"
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise PermanentError(
                f"SMTP server does not support a required feature: {exc}"
            ) from None
        except smtplib.SMTPResponseException as exc:
            kind = TransientError if 400 <= exc.smtp_code < 500 else PermanentError
            raise kind(_reply(exc.smtp_code, exc.smtp_error)) from None
        except (
            TimeoutError,
            smtplib.SMTPServerDisconnected,
            smtplib.SMTPConnectError,
            ConnectionError,
        ) as exc:
            raise TransientError(f"SMTP connection failed: {type(exc).__name__}") from None
        except ssl.SSLError as exc:
            raise PermanentError(
                f"TLS with the SMTP server failed: {exc.reason or type(exc).__name__}"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientError(f"SMTP error: {type(exc).__name__}") from None
        return [(address, _reply(code, text)) for address, (code, text) in sorted(refused.items())]

    # maybe_sent cannot be checked over SMTP; a repeat keeps its Message-ID, which mail
    # clients use to fold duplicates.
    def send_alert(
        self, alert: Alert, *, delivery_key: str, maybe_sent: bool = False
    ) -> list[tuple[str, str]]:
        return self.send(self.alert_message(alert))

    def send_digest(
        self, digest: Digest, *, delivery_key: str, maybe_sent: bool = False
    ) -> list[tuple[str, str]]:
        return self.send(self.digest_message(digest))

    def close(self) -> None:
        pass
