"""How the status page draws and words things: the timeline's geometry, times, errors.

    timeline(developments, width=…, height=…) -> Timeline   points, burst marks, axis ticks
    error_in_words(last_error)                -> str        "the server said the feed is gone …"
    ago(iso, now) / until(iso, now)           -> "5 min ago", "in 2 h"

The timeline is server-rendered SVG (the template draws what ``timeline`` computes): one
row per kind, time on x (UTC), a circle per development whose area grows with its
coverage, a red mark under each burst. Pure functions, no I/O.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

from pipeline.dates import parse_time
from pipeline.serve.queries import Development

UTC = dt.UTC
KIND_ROWS = ("new_development", "coverage", "burst")


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float
    r: float
    development: Development


@dataclass(frozen=True, slots=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True, slots=True)
class Timeline:
    width: int
    height: int
    left: int
    rows: list[tuple[str, float]]  # (kind, y)
    points: list[Point]
    bursts: list[float]  # x of each burst mark
    ticks: list[Tick]


def timeline(
    developments: list[Development], *, width: int = 900, row_height: int = 40, left: int = 130
) -> Timeline:
    """Coordinates of every development on a width × (rows + axis) chart.

    >>> from pipeline.serve.queries import Development
    >>> t0 = dt.datetime(2024, 10, 25, tzinfo=UTC)
    >>> devs = [Development("a", "new_development", "A", "", "", t0 + dt.timedelta(hours=h), [],
    ...         n, "", "", [], [], []) for h, n in ((0, 1), (24, 9))]
    >>> t = timeline(devs, width=500, left=100)
    >>> [round(p.x) for p in t.points], [round(p.r, 1) for p in t.points]
    ([110, 490], [4.0, 12.0])
    """
    rows = [(kind, 20 + i * row_height) for i, kind in enumerate(KIND_ROWS)]
    height = 20 + len(KIND_ROWS) * row_height + 10
    right_pad, left_pad = 10, 10
    times = [d.published_at for d in developments]
    start, end = (min(times), max(times)) if times else (dt.datetime.now(UTC),) * 2
    span = (end - start).total_seconds() or 3600.0
    plot = width - left - left_pad - right_pad

    def x_of(t: dt.datetime) -> float:
        return left + left_pad + plot * (t - start).total_seconds() / span

    y_of = dict(rows)
    points = [
        Point(
            x_of(d.published_at),
            y_of.get("burst" if d.burst else d.kind, y_of["new_development"]),
            min(4.0 + 4.0 * math.log(max(d.coverage_count, 1), 3), 14.0),
            d,
        )
        for d in developments
    ]
    bursts = [x_of(d.published_at) for d in developments if d.burst]
    return Timeline(width, height + 24, left, rows, points, bursts, _ticks(start, span, x_of))


def _ticks(start: dt.datetime, span: float, x_of) -> list[Tick]:  # type: ignore[no-untyped-def]
    """Five evenly spaced labels; dates for spans over two days, else hours."""
    fmt = "%Y-%m-%d" if span > 2 * 86400 else "%m-%d %H:%M"
    return [
        Tick(x_of(t), t.strftime(fmt))
        for t in (start + dt.timedelta(seconds=span * i / 4) for i in range(5))
    ]


_ERROR_WORDS = (
    (
        re.compile(r"HTTP 404|HTTP 410"),
        "the server says the feed is not there (404/410): check its URL",
    ),
    (
        re.compile(r"HTTP 401|HTTP 403"),
        "the server refuses us (401/403): the feed may need a login or block robots",
    ),
    (re.compile(r"HTTP 429"), "the server asks us to slow down (429); we back off as it says"),
    (re.compile(r"HTTP 5\d\d"), "the server is failing (5xx); usually temporary"),
    (re.compile(r"(?i)timed? ?out|timeout"), "the server did not answer in time"),
    (
        re.compile(r"(?i)name or service not known|nodename|getaddrinfo|dns|resolve"),
        "the host name does not resolve (DNS): check the URL",
    ),
    (
        re.compile(r"(?i)private|loopback|link-local|not public|refused address"),
        "the address is private, and refused (set allow_private_addresses for a local feed)",
    ),
    (re.compile(r"(?i)certificate|ssl|tls"), "the secure connection failed (certificate or TLS)"),
    (re.compile(r"(?i)connection refused|connect"), "nothing answers at that address"),
    (re.compile(r"(?i)parse|xml|not a feed|entities"), "the answer is not a feed we can read"),
    (re.compile(r"(?i)too large|10 MB|cap"), "the feed is larger than the size cap"),
)


def error_in_words(last_error: str) -> str:
    """What a feed's last error means for a person (empty for no error).

    >>> error_in_words("https://x.test/rss: HTTP 404")
    'the server says the feed is not there (404/410): check its URL'
    """
    if not last_error:
        return ""
    for pattern, words in _ERROR_WORDS:
        if pattern.search(last_error):
            return words
    return "the last fetch failed"


def _human(seconds: float) -> str:
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def ago(iso: str, now: dt.datetime) -> str:
    """``"5 min ago"`` for an ISO time before ``now``; "" for none.

    >>> ago("2024-10-25T11:55:00Z", dt.datetime(2024, 10, 25, 12, tzinfo=UTC))
    '5 min ago'
    """
    t = parse_time(iso) if iso else None
    return "" if t is None else f"{_human((now - t).total_seconds())} ago"


def until(iso: str, now: dt.datetime) -> str:
    """``"in 2 h"`` (or ``"due now"`` when it is past); "" for none."""
    t = parse_time(iso) if iso else None
    if t is None:
        return ""
    seconds = (t - now).total_seconds()
    return "due now" if seconds <= 0 else f"in {_human(seconds)}"


def short_time(value: dt.datetime | str) -> str:
    """``2024-10-25 12:00 UTC``."""
    t = parse_time(value) if isinstance(value, str) else value
    return "" if t is None else t.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
