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

from pipeline.records import UTC

SENT, SKIPPED, QUEUED, DEAD, RETRY_LATER = "sent", "skipped", "queued", "dead", "retry_later"


@dataclass(frozen=True, slots=True)
class Delivery:
    """What happened to one alert for one subscriber on one channel.

    ``status`` is ``sent`` (the channel accepted it), ``skipped`` (already sent or
    owned by another sender), ``queued`` (waits for a digest or the end of quiet
    hours, until ``due_at``), ``dead`` (permanent failure, in the dead-letter file) or
    ``retry_later`` (transient failures outlasted the retry budget; the ledger keeps it
    unconfirmed and the next sweep retries it). ``subscriber`` is ``*`` for the JSONL
    sink. ``message_id`` names the digest an alert went out in, if any.

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


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret value found in ``text`` by ``***`` (a last guard for reasons)."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, "***")
    return text
