"""The JSON shape of an alert: one object per line of an alerts file, and the ledger payload.

``alert_to_json`` writes every ``Alert`` field (``to_json``) plus two aliases,
``storyline`` and ``published``; ``alert_from_json`` reads that back, and also hand-written
alerts that use only the aliases and leave optional fields out. A field that is missing,
empty or of the wrong JSON type raises ``BadAlert`` with a message naming the fix.
Alert decision, the storyline tracker's restart, delivery and the CLI all use this shape.
"""

from __future__ import annotations

from typing import Any

from pipeline.dates import parse_time
from pipeline.jsonl_io import json_kind
from pipeline.records import Alert, Evidence, to_json


def alert_to_json(alert: Alert) -> dict[str, Any]:
    """The JSONL line of an alert: every field, plus ``storyline`` and ``published`` aliases."""
    data: dict[str, Any] = to_json(alert)
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
    "why_new",
    "published_precision",
    "matched_sentence",
)
_LIST_FIELDS = {
    "article_ids": "article ids",
    "sources": "[outlet, title, url] lists",
    "evidence": "objects",
}
_EVIDENCE_KEYS: dict[str, type | tuple[type, ...]] = {
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


def _check_types(data: dict[str, Any]) -> None:
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


def _evidence_from_json(items: list[Any] | None) -> tuple[Evidence, ...]:
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


def alert_from_json(data: Any) -> Alert:
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
    if published is None:
        raise BadAlert("missing or unreadable published_at")
    first_seen = parse_time(data.get("first_seen_at")) or published
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
            why_new=str(data.get("why_new") or ""),
            published_precision=str(data.get("published_precision") or "instant"),
            matched_sentence=str(data.get("matched_sentence") or ""),
        )
    except (TypeError, ValueError) as exc:
        raise BadAlert(f"bad field: {exc}") from None
