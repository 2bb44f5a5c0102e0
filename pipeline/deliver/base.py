"""What every channel shares: the Delivery record, failure kinds, alert JSON, redaction.

A channel's ``send`` either returns (the receiver accepted the message) or raises
``TransientError`` (try again: timeouts, 5xx, 429 with its Retry-After) or
``PermanentError`` (do not retry: 4xx, an invalid address); the dispatcher turns those
into retries, dead letters and ``Delivery`` results.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from pipeline.jsonl_io import json_kind, parse_time
from pipeline.records import UTC, Alert, Evidence, to_json

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


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - dt.datetime.now(UTC)).total_seconds())


def display_time(alert: Alert) -> str:
    """When the article appeared, for people: published time, or first-seen when the feed gave none.

    >>> from pipeline.deliver.base import alert_from_json
    >>> display_time(alert_from_json({"alert_id": "a", "storyline": "s", "kind": "burst", "title": "t",
    ...     "url": "u", "published": "1970-01-01T00:00:00Z", "first_seen_at": "2024-10-25T10:00:00Z"}))
    '2024-10-25 10:00 UTC (first seen)'

    A coarse date is shown as coarse as it is, not as midnight of its first day:

    >>> display_time(alert_from_json({"alert_id": "a", "storyline": "s", "kind": "burst", "title": "t",
    ...     "url": "u", "published": "2025-02-01T00:00:00Z", "published_precision": "month"}))
    '2025-02'
    """
    if (
        alert.published_at.year < 1990 or alert.published_precision == "unknown"
    ) and alert.first_seen_at.year >= 1990:
        return alert.first_seen_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") + " (first seen)"
    shape = _PRECISION_FORMAT.get(alert.published_precision, "%Y-%m-%d %H:%M UTC")
    return alert.published_at.astimezone(UTC).strftime(shape)


_PRECISION_FORMAT = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}


@dataclass(frozen=True, slots=True)
class Reason:
    """Why an alert matched, one line per entity or topic: what was found, how, where.

    >>> [str(r) for r in reasons((Evidence("starlink", "Starlink", "title", 0, 8, "Starlink", "exact"),
    ...     Evidence("starlink", "Старлинк", "summary", 3, 11, "Старлинк", "transliterated"),
    ...     Evidence("starlink", "Starlink", "summary", 20, 28, "Starlink", "exact"),
    ...     Evidence("elon-musk", "Musk", "summary", 40, 44, "Muks", "fuzzy", 89.0)))]
    ['starlink: “Starlink”, “Старлинк” (exact, transliterated) in title, summary', 'elon-musk: “Muks” (fuzzy 89%) in summary']
    """

    ref: str
    texts: tuple[str, ...]
    kinds: tuple[str, ...]
    fields: tuple[str, ...]

    def __str__(self) -> str:
        texts = ", ".join(f"“{t}”" for t in self.texts)
        return f"{self.ref}: {texts} ({', '.join(self.kinds)}) in {', '.join(self.fields)}"


def reasons(evidence: Iterable[Evidence]) -> list[Reason]:
    """Evidence folded per ref, in order of first appearance (a feed repeats names a lot)."""
    grouped: dict[str, tuple[list[str], list[str], list[str]]] = {}
    for item in evidence:
        texts, kinds, fields = grouped.setdefault(item.ref, ([], [], []))
        kind = item.kind if item.kind == "exact" else f"{item.kind} {float(item.similarity):.0f}%"
        if item.kind == "transliterated":
            kind = item.kind
        for values, value in (
            (texts, " ".join((item.text or item.alias).split())),
            (kinds, kind),
            (fields, item.field),
        ):
            if value not in values:
                values.append(value)
    return [Reason(ref, tuple(t), tuple(k), tuple(f)) for ref, (t, k, f) in grouped.items()]


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret value found in ``text`` by ``***`` (a last guard for reasons)."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, "***")
    return text


def alert_to_json(alert: Alert) -> dict:
    """The JSONL line of an alert: every field, plus ``storyline`` and ``published`` aliases."""
    data = to_json(alert)
    data["storyline"] = alert.storyline_id
    data["published"] = data["published_at"]
    return data


class BadAlert(ValueError):
    """An alert JSON object that cannot be turned into an Alert (missing or bad field)."""


_TEXT_FIELDS = (
    "alert_id",
    "storyline_id",
    "storyline",
    "development_id",
    "kind",
    "title",
    "url",
    "outlet",
    "storyline_title",
    "reason",
    "published_precision",
)
_LIST_FIELDS = {
    "article_ids": "article ids",
    "sources": "[outlet, title, url] lists",
    "evidence": "objects",
}
_EVIDENCE_KEYS = {
    "ref": str,
    "alias": str,
    "field": str,
    "start": int,
    "end": int,
    "text": str,
    "kind": str,
    "similarity": (int, float),
}
_EVIDENCE_OPTIONAL = {"similarity"}


def _check_types(data: dict) -> None:
    """Fields of the wrong JSON type, named with the fix (``str(["x"])`` would pass silently)."""
    for key in _TEXT_FIELDS:
        value = data.get(key)
        if (
            value is not None
            and not isinstance(value, str)
            and not (key == "alert_id" and isinstance(value, int) and not isinstance(value, bool))
        ):
            raise BadAlert(
                f"field '{key}' must be text, found {json_kind(value)}; write it as a JSON string"
            )
    score = data.get("score", 1.0)
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        raise BadAlert(
            f"field 'score' must be a number from 0 to 1, found {json_kind(score)}; "
            "write it like 0.8, or leave it out"
        )
    for key, items in _LIST_FIELDS.items():
        value = data.get(key)
        if value is not None and not isinstance(value, list):
            raise BadAlert(
                f"field '{key}' must be a list of {items}, found {json_kind(value)}; "
                "write [] for none"
            )
    for index, source in enumerate(data.get("sources") or ()):
        if not isinstance(source, list):
            raise BadAlert(
                f"sources[{index}] must be a list [outlet, title, url], found {json_kind(source)}"
            )


def _evidence_from_json(items: list | None) -> tuple[Evidence, ...]:
    """The ``evidence`` list as records; an unknown, missing or mistyped key names the fix."""
    keys = ", ".join(_EVIDENCE_KEYS)
    out = []
    for index, item in enumerate(items or ()):
        where = f"evidence[{index}]"
        if not isinstance(item, dict):
            raise BadAlert(
                f"{where} must be an object with the keys {keys}; found {json_kind(item)}"
            )
        unknown = [key for key in item if key not in _EVIDENCE_KEYS]
        if unknown:
            raise BadAlert(
                f"{where} has unknown key {', '.join(repr(k) for k in unknown)}; evidence keys are "
                f"{keys}: remove it or correct its spelling"
            )
        missing = [
            key for key in _EVIDENCE_KEYS if key not in item and key not in _EVIDENCE_OPTIONAL
        ]
        if missing:
            raise BadAlert(
                f"{where} is missing key {', '.join(repr(k) for k in missing)}; add "
                f"{'them' if len(missing) > 1 else 'it'} (evidence keys are {keys})"
            )
        for key, kinds in _EVIDENCE_KEYS.items():
            value = item.get(key)
            if key in item and (isinstance(value, bool) or not isinstance(value, kinds)):
                wanted = (
                    "text" if kinds is str else "a whole number" if kinds is int else "a number"
                )
                raise BadAlert(f"{where}.{key} must be {wanted}, found {json_kind(value)}")
        out.append(Evidence(**item))
    return tuple(out)


def alert_from_json(data: dict) -> Alert:
    """Inverse of ``alert_to_json`` (also accepts ``storyline``/``published`` and missing optionals).

    >>> a = alert_from_json({"alert_id": "a1", "storyline": "s", "kind": "burst", "title": "T",
    ...                      "url": "https://x.test/1", "published": "2024-10-25T12:00:00Z"})
    >>> a.storyline_id, a.published_at.isoformat(), a.article_ids
    ('s', '2024-10-25T12:00:00+00:00', ())
    """
    if not isinstance(data, dict):
        raise BadAlert(f"expected a JSON object, found {type(data).__name__}")
    # An untitled item has title "" and an item without a link (JSONL articles may omit
    # it) url "", which is fine; the other fields must not be empty.
    missing = [
        k
        for k in ("alert_id", "kind", "title")
        if (data.get(k) is None if k == "title" else not data.get(k))
    ]
    if not (data.get("storyline_id") or data.get("storyline")):
        missing.append("storyline_id")
    if missing:
        raise BadAlert(f"missing field(s) {', '.join(missing)}")
    published = parse_time(data.get("published_at") or data.get("published"))
    first_seen = parse_time(data.get("first_seen_at")) or published
    if published is None:
        raise BadAlert("missing or unreadable published_at")
    _check_types(data)
    evidence = _evidence_from_json(data.get("evidence"))
    try:
        sources = tuple(tuple(str(part) for part in s)[:3] for s in data.get("sources") or ())
        return Alert(
            alert_id=str(data["alert_id"]),
            storyline_id=str(data.get("storyline_id") or data.get("storyline")),
            development_id=str(data.get("development_id") or data["alert_id"]),
            kind=str(data["kind"]),
            title=str(data["title"]),
            url=str(data.get("url") or ""),
            published_at=published,
            first_seen_at=first_seen,
            article_ids=tuple(str(a) for a in data.get("article_ids") or ()),
            score=float(data.get("score", 1.0)),
            outlet=str(data.get("outlet") or ""),
            storyline_title=str(data.get("storyline_title") or ""),
            sources=sources,
            evidence=evidence,
            reason=str(data.get("reason") or ""),
            published_precision=str(data.get("published_precision") or "instant"),
        )
    except (TypeError, ValueError) as exc:
        raise BadAlert(f"bad field: {exc}") from None
