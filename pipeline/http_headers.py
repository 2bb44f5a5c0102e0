"""HTTP header values that more than one stage reads: ``Retry-After``.

Feed fetching and alert delivery both back off when a server answers 429 or 503 with a
``Retry-After``; both read it here, so a value means the same wait in both places.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import re

#: The longest wait a ``Retry-After`` can ask for; a longer one is cut to this.
DEFAULT_MAX_RETRY_AFTER_SECONDS = 86_400.0

_DELTA_SECONDS = re.compile(r"[0-9]+")


def parse_retry_after(
    value: str | None, *, now: float, max_seconds: float = DEFAULT_MAX_RETRY_AFTER_SECONDS
) -> float | None:
    """Seconds to wait from a ``Retry-After`` value, or None if it gives no usable wait.

    ``now`` is the current Unix time in seconds (the base of an HTTP-date). The value is
    delta-seconds (ASCII digits only, RFC 9110 section 10.2.3) or an HTTP-date; a date
    without a zone is UTC. A past date means no wait, a wait over ``max_seconds`` is cut
    to it, and anything else is None, so the caller's own backoff applies.

    >>> parse_retry_after("120", now=0)
    120.0
    >>> parse_retry_after(" 0 ", now=0)
    0.0
    >>> parse_retry_after("Thu, 01 Jan 1970 00:02:00 GMT", now=0)
    120.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=2e9)  # in the past
    0.0

    Huge waits are capped, not taken literally:

    >>> parse_retry_after("1000000000", now=0), parse_retry_after("9" * 400, now=0)
    (86400.0, 86400.0)
    >>> parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now=0, max_seconds=60)
    60.0

    Negative, fractional, exponent, infinite and non-ASCII numbers are no wait at all:

    >>> [parse_retry_after(v, now=0) for v in ("-5", "1.5", "1e9", "inf", "nan", "\u0663")]
    [None, None, None, None, None, None]
    >>> parse_retry_after(None, now=0), parse_retry_after("", now=0), parse_retry_after("soon", now=0)
    (None, None, None)
    """
    text = (value or "").strip()
    if not text:
        return None
    if _DELTA_SECONDS.fullmatch(text):
        return float(min(float(text), max_seconds))  # float() of a 400-digit string is inf: capped
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    wait = when.timestamp() - now
    if not math.isfinite(wait):
        return None
    return float(min(max(0.0, wait), max_seconds))
