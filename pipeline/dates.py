"""The one date parser for what users and recorded files give us: ISO 8601 and coarser.

    parse_iso(text) -> datetime | None                strict ISO 8601, in UTC
    parse_time(value) -> datetime | None              ISO 8601, a date, a month, a year,
                                                      or epoch seconds, in UTC
    parse_time_precision(value) -> (datetime | None, precision)
    period_end(start, precision) -> datetime          where a coarse value's period ends

A coarse value is the start of its period, and its precision (``instant``, ``day``,
``month``, ``year``, or ``unknown`` for no date) says how much it stated, so later stages
can treat ``2024-11`` as "some time in November" rather than as midnight on the 1st.
Feed documents' own date formats (RFC 822 and friends) are feedparser's, in
``ingest.parse``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")
_DATE = re.compile(r"^\d{4}-?\d{2}-?\d{2}$")
INSTANT, DAY, MONTH, YEAR, UNKNOWN = "instant", "day", "month", "year", "unknown"


def parse_iso(text: str) -> dt.datetime | None:
    """A strict ISO 8601 timestamp or date in UTC (naive means UTC); None if it is not one.

    >>> parse_iso(" 2024-10-25T10:00:00+03:00 ")
    datetime.datetime(2024, 10, 25, 7, 0, tzinfo=datetime.timezone.utc)
    """
    try:
        parsed = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):  # "0001-01-01T00:00+05:00" is before year 1 in UTC
        return None


def parse_time(value: Any) -> dt.datetime | None:
    """Parse an ISO 8601 timestamp, date, month or year into UTC; None if unusable."""
    return parse_time_precision(value)[0]


def parse_time_precision(value: Any) -> tuple[dt.datetime | None, str]:
    """``parse_time`` plus what the value stated: instant, day, month, year or unknown.

    A coarse value is the start of its period, in UTC:

    >>> parse_time_precision("2025-02")
    (datetime.datetime(2025, 2, 1, 0, 0, tzinfo=datetime.timezone.utc), 'month')
    >>> parse_time_precision("2025-02-24")[1], parse_time_precision("2025-02-24T09:30Z")[1]
    ('day', 'instant')
    >>> parse_time_precision(None)
    (None, 'unknown')

    Impossible or absurd values are no date, like unparseable text (a year-9999 date
    would overflow the storyline arithmetic later):

    >>> parse_time_precision("2024-13"), parse_time_precision(1e20), parse_time_precision("9999-12-31")
    ((None, 'unknown'), (None, 'unknown'), (None, 'unknown'))
    """
    parsed, precision = _parse_time_precision(value)
    if parsed is None or not MIN_YEAR <= parsed.year <= MAX_YEAR:
        return None, UNKNOWN
    return parsed, precision


MIN_YEAR, MAX_YEAR = 1900, 2199


def period_end(start: dt.datetime, precision: str) -> dt.datetime:
    """The end (exclusive) of the period a coarse value stands for; ``start`` for an instant.

    >>> start, _ = parse_time_precision("2024-12")
    >>> period_end(start, MONTH).date().isoformat()
    '2025-01-01'
    >>> period_end(start, DAY).date().isoformat(), period_end(start, INSTANT) == start
    ('2024-12-02', True)

    The last period a datetime can hold ends at ``datetime.max``.
    """
    try:
        if precision == DAY:
            return start + dt.timedelta(days=1)
        if precision == MONTH:
            return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        if precision == YEAR:
            return start.replace(year=start.year + 1)
    except (OverflowError, ValueError):
        return dt.datetime.max.replace(tzinfo=start.tzinfo)
    return start


def _parse_time_precision(value: Any) -> tuple[dt.datetime | None, str]:
    if value is None or value == "":
        return None, UNKNOWN
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return dt.datetime.fromtimestamp(value, UTC), INSTANT
        if not isinstance(value, str):
            return None, UNKNOWN
        text = value.strip()
        if m := _MONTH.match(text):
            return dt.datetime(int(m[1]), int(m[2]), 1, tzinfo=UTC), MONTH
        if m := _YEAR.match(text):
            return dt.datetime(int(m[1]), 1, 1, tzinfo=UTC), YEAR
    except (ValueError, OverflowError, OSError):  # 1e20, NaN, month 13, year 0
        return None, UNKNOWN
    parsed = parse_iso(text)
    if parsed is None:
        return None, UNKNOWN
    return parsed, DAY if _DATE.match(text) else INSTANT
