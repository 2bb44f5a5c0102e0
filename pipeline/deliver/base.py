"""What every channel shares: the Delivery record, its statuses, failure kinds, redaction.

A channel's ``send`` either returns (the receiver accepted the message) or raises
``TransientError`` (try again: timeouts, 5xx, 429 with its Retry-After) or
``PermanentError`` (do not retry: 4xx, an invalid address); the dispatcher turns those
into retries, dead letters and ``Delivery`` results.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

from pipeline.records import UTC

SENT, SKIPPED, QUEUED, DEAD, RETRY_LATER = "sent", "skipped", "queued", "dead", "retry_later"
WAITING = "waiting"


@dataclass(frozen=True, slots=True)
class Delivery:
    """What happened to one alert for one subscriber on one channel.

    ``status`` is ``sent`` (the channel accepted it), ``skipped`` (already sent or
    owned by another sender), ``queued`` (waits for a digest or the end of quiet
    hours, until ``due_at``), ``dead`` (permanent failure, in the dead-letter file) or
    ``retry_later`` (transient failures outlasted the retry budget; the ledger keeps it
    unconfirmed and the next sweep retries it) or ``waiting`` (another process holds the
    claim: it is retried once that process is gone or its lease runs out, by ``due_at``
    at the latest). ``subscriber`` is ``*`` for the JSONL sink. ``message_id`` names the
    digest an alert went out in, if any. ``repeat`` is set on a send that may repeat an
    earlier attempt that landed (a kill, a timeout or a 5xx after the receiver acted) on
    a channel that cannot check: the receiver may see it twice, with the same id.

    >>> Delivery("a1", "desk", "slack", "sent", attempts=1).status
    'sent'
    """

    alert_id: str
    subscriber: str
    channel: str
    status: str
    attempts: int = 0
    reason: str = ""
    due_at: dt.datetime | None = None
    message_id: str = ""
    repeat: bool = False
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(UTC))


class DeliveryError(Exception):
    """A channel could not deliver; ``reason`` is safe to log (no secrets, no URLs)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientError(DeliveryError):
    """Worth retrying: timeout, connection error, 5xx, 429 (``retry_after_seconds`` if given)."""

    def __init__(self, reason: str, *, retry_after_seconds: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after_seconds = retry_after_seconds


class PermanentError(DeliveryError):
    """Retrying cannot help: 4xx other than 429, an invalid address, bad credentials."""


def secret_forms(secret: str) -> set[str]:
    """Every form in which ``secret`` can show up in a reply, a log line or a file.

    A webhook URL's secret is its path: a server that echoes the request names the path,
    or one of its segments (JSON may escape the ``/``), percent-encoded or not. A bot
    token stands for itself.

    >>> forms = secret_forms("https://hooks.slack.com/services/T0AB/B0CD/x1y2z3")
    >>> all(f in forms for f in ("/services/T0AB/B0CD/x1y2z3", "T0AB", "B0CD", "x1y2z3"))
    True
    """
    secret = secret.strip()
    forms = {secret} if secret else set()
    parts = urlsplit(secret) if "://" in secret else None
    if parts is not None and parts.netloc:
        path = parts.path
        if len(path) > 1:
            forms |= {path, path.lstrip("/"), parts.netloc + path}
            segments = [s for s in path.split("/") if s]
            after = segments[segments.index("services") + 1 :] if "services" in segments else []
            # Short segments would blank out ordinary words; Slack's are 9+ characters.
            forms |= {s for s in after if len(s) >= 4}
            if not after and len(segments[-1]) >= 8:
                forms.add(segments[-1])
        if parts.query:
            forms.add(parts.query)
    for form in list(forms):
        forms |= {quote(form, safe=""), quote(form), unquote(form), form.replace("/", "\\/")}
    return {f for f in forms if len(f) >= 4}


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every form of every secret found in ``text`` by ``***`` (``secret_forms``).

    >>> hook = "https://hooks.slack.com/services/T0AB/B0CD/x1y2z3"
    >>> redact("HTTP 404: no such hook /services/T0AB/B0CD/x1y2z3 (team T0AB)", [hook])
    'HTTP 404: no such hook *** (team ***)'
    """
    forms = sorted({f for secret in secrets if secret for f in secret_forms(secret)}, key=len)
    for form in reversed(forms):  # longest first, so a path goes before its segments
        if form in text:
            text = text.replace(form, "***")
    return text
