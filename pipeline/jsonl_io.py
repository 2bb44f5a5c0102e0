"""Articles as JSON lines: the input of ``match``, ``eval``, ``eval-alerts`` and replays.

A line carries at least ``id`` and ``title``; ``summary``, ``body``, ``url``, ``published``,
``outlet``, ``language`` and ``feed_id`` are optional, other fields are ignored (labels
stay with the caller). ``published`` may be ISO 8601, a date (``2024-10-25``), a month
(``2024-11``) or null; without a usable date the article's ``published_at`` falls back to
``default_time`` and is flagged ``published_is_estimated``. How much the date said is kept
as ``published_precision`` (``instant``, ``day``, ``month``, ``year``, or ``unknown`` when
there was no date at all), so later stages can treat ``2024-11`` as "some time in
November" rather than as midnight on the 1st.

>>> a = article_from_json({"id": "H1", "title": "Musk met Putin", "published": "2024-11"})
>>> a.article_id, a.published_at.isoformat(), a.published_is_estimated, a.published_precision
('H1', '2024-11-01T00:00:00+00:00', False, 'month')
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.dates import EPOCH, parse_time_precision
from pipeline.errors import UserError
from pipeline.records import Article
from pipeline.text import safe_chars

UTC = dt.UTC


class BadLine(ValueError):
    """A JSONL line that is not a usable article; the message says why."""


def json_kind(value: object) -> str:
    """How a JSON value reads in a message.

    >>> [json_kind(v) for v in (None, True, 5, "x", [1], {})]
    ['null', 'true (true/false)', 'a number (5)', 'text', 'a list', 'an object']
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()} (true/false)"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return "text"
    return (
        "a list"
        if isinstance(value, list)
        else "an object"
        if isinstance(value, dict)
        else type(value).__name__
    )


def _text(obj: dict, key: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadLine(f"field '{key}' must be a string, got {type(value).__name__}")
    return safe_chars(value)


def article_from_json(obj: Any, *, default_time: dt.datetime = EPOCH) -> Article:
    """Build an Article from one decoded JSON object; raise BadLine if it is unusable."""
    if not isinstance(obj, dict):
        raise BadLine(f"expected a JSON object, got {type(obj).__name__}")
    article_id = obj.get("id", obj.get("article_id"))
    if article_id is None or (isinstance(article_id, str) and not article_id.strip()):
        raise BadLine("missing field 'id'")
    if not isinstance(article_id, (str, int)) or isinstance(article_id, bool):
        raise BadLine("field 'id' must be a string or number")
    title = _text(obj, "title")
    if not title.strip():
        raise BadLine("missing field 'title'")
    summary, body = _text(obj, "summary"), _text(obj, "body")
    url = _text(obj, "url")
    published, precision = parse_time_precision(obj.get("published", obj.get("published_at")))
    seen, seen_precision = parse_time_precision(obj.get("first_seen_at"))
    first_seen = seen or published or default_time
    if published is None:  # published_at falls back to first_seen_at: as precise as that is
        precision = seen_precision
    content_hash = hashlib.sha256(f"{title}\n{summary}".encode()).hexdigest()[:16]
    return Article(
        article_id=safe_chars(str(article_id)),
        feed_id=_text(obj, "feed_id"),
        url=url,
        canonical_url=_text(obj, "canonical_url") or url,
        title=title,
        summary=summary,
        published_at=published or first_seen,
        first_seen_at=first_seen,
        outlet=_text(obj, "outlet"),
        language=_text(obj, "language"),
        content_hash=content_hash,
        published_is_estimated=published is None,
        body=body,
        published_precision=precision,
    )


def _decode(raw: bytes, lineno: int) -> str | BadLine:
    """One line as text; bytes that are not UTF-8 make it a BadLine (not silent U+FFFD)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return BadLine(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02X} at column {exc.start + 1}); "
            "save the file as UTF-8"
        )
    return text.removeprefix("\ufeff") if lineno == 1 else text


def _binary_kind(head: bytes) -> str | None:
    """What a file that is plainly not JSON lines is, from its first bytes."""
    if head.startswith(b"\x1f\x8b"):
        return "gzip-compressed; decompress it first (gunzip FILE)"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive; extract the .jsonl file from it"
    if b"\x00" in head:
        return "a binary file (it contains NUL bytes), not JSON lines; pass the .jsonl file"
    return None


def read_jsonl(path: Path) -> Iterator[tuple[int, Any | BadLine]]:
    """Yield (line number, decoded object or BadLine) for each non-blank line.

    Unreadable files (missing, a folder, an I/O error part way) and plainly binary ones
    raise UserError naming the file; a line that is not UTF-8 or not JSON is a BadLine.
    """
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise UserError(f"{path}:1: cannot read input ({exc.strerror}); check the path") from None
    lineno = 0
    with handle:
        try:
            kind = _binary_kind(handle.peek(4096)[:4096])
            if kind:
                raise UserError(f"{path}:1: this is {kind}")
            for lineno, raw in enumerate(handle, 1):
                if not raw.strip():
                    continue
                line = _decode(raw, lineno)
                if isinstance(line, BadLine):
                    yield lineno, line
                    continue
                try:
                    yield lineno, json.loads(line)
                except json.JSONDecodeError as exc:
                    yield lineno, BadLine(f"not valid JSON ({exc.msg} at column {exc.colno})")
                except RecursionError:  # "[[[[...": valid JSON, hostile depth
                    yield (
                        lineno,
                        BadLine("JSON nested too deeply; each line must be one flat JSON object"),
                    )
                except ValueError:  # a number of more than 4300 digits (Python's int parsing limit)
                    yield lineno, BadLine("a number with thousands of digits; write ids as strings")
        except OSError as exc:  # a device error or a vanished mount while reading
            raise UserError(
                f"{path}:{lineno + 1}: cannot read input ({exc.strerror or exc}); "
                "check the file or the disk it is on"
            ) from None


def check_output_path(path: Path | str | None, flag: str) -> None:
    """Fail now, as a UserError, when a JSONL output cannot be written (a folder, a folder
    that cannot be made, no write permission), rather than later with a traceback."""
    if path is None:
        return
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a folder; pass a file path to {flag}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"{path}: cannot create its folder ({exc.strerror}); pass another {flag}"
        ) from None
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UserError(f"{path}: not writable; pass another {flag} or fix the permissions")


def read_articles(
    path: Path, *, default_time: dt.datetime = EPOCH
) -> Iterator[tuple[int, dict, Article | BadLine]]:
    """Yield (line number, raw object, Article or BadLine) for each line of an articles file."""
    for lineno, obj in read_jsonl(path):
        if isinstance(obj, BadLine):
            yield lineno, {}, obj
            continue
        try:
            yield lineno, obj, article_from_json(obj, default_time=default_time)
        except BadLine as exc:
            yield lineno, obj if isinstance(obj, dict) else {}, exc
