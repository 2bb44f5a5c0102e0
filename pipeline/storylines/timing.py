"""Publication times for the storyline tracker: coarse dates as ranges, replay order.

``Article.published_precision`` says how much of ``published_at`` the source stated
(``instant``, ``day``, ``month``, ``year`` or ``unknown``). ``published_range`` turns it
into the range of times it allows (a timestamp is a one-instant range; no date at all is
any time), ``order_time`` is where replay puts an article (the start of its period,
undated articles last), and the ``expected_*_hours`` functions give the separation to
expect between two ranges *given* that they come within the coverage window, which
``separation_hours`` uses as the separation of two articles (None when they cannot be one
development); ``shifted`` moves a time, clamped to the datetime range. docs/storylines.md
says why coarse dates are ranges rather than instants.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from pipeline.dates import period_end
from pipeline.records import Article

TimeRange = tuple[dt.datetime, dt.datetime]
"""Earliest and latest time, both UTC (equal for a timestamp)."""

EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC)
LATEST = dt.datetime.max.replace(tzinfo=dt.UTC)
# A date vaguer than this (a year, or none) cannot place an article among developments.
VAGUEST_COVERAGE_DATE = dt.timedelta(days=31)
_FUTURE_SKEW = dt.timedelta(days=1)
_GRID_STEPS = 192


def published_range(article: Article) -> TimeRange:
    """The earliest and latest time the article's ``published`` value allows.

    A feed timestamp is an instant; ``2025-02`` is any time in February; no date at all
    is any time. A stated date far in the future (a broken feed) is moved back to
    first-seen + 1 day, keeping its width, so it cannot make the storyline stale.

    >>> from pipeline.jsonl_io import article_from_json
    >>> lo, hi = published_range(article_from_json({"id": 1, "title": "t", "published": "2025-02"}))
    >>> lo.date().isoformat(), hi.date().isoformat()
    ('2025-02-01', '2025-03-01')
    >>> published_range(article_from_json({"id": 2, "title": "t"})) == (EARLIEST, LATEST)
    True
    """
    precision = article.published_precision
    if precision == "unknown":
        return EARLIEST, LATEST
    lo = article.published_at
    hi = period_end(lo, precision)
    seen = article.first_seen_at
    latest_believable = seen + _FUTURE_SKEW if seen < LATEST - _FUTURE_SKEW else LATEST
    shift = lo - min(lo, latest_believable)
    return lo - shift, hi - shift


def order_time(article: Article) -> dt.datetime:
    """Where replay puts an article: at the start of its date's period; undated ones last.

    An article with no date at all can only be related to others by its words, so it is
    handled once the dated articles have built the storyline's developments (it then
    joins one of those still kept, or opens its own) instead of at an arbitrary
    fallback time, where it would expire before anything could join it.
    """
    return LATEST if article.published_precision == "unknown" else published_range(article)[0]


def gap(a: TimeRange, b: TimeRange) -> dt.timedelta:
    """The nearest two time ranges come to each other (zero when they overlap)."""
    return max(b[0] - a[1], a[0] - b[1], dt.timedelta(0))


def expected_separation_hours(a: TimeRange, b: TimeRange, window_hours: float) -> float:
    """E[|x - y| given |x - y| <= window] for x, y uniform in the ranges a, b, in hours.

    The difference x - y has a trapezoid density (the overlap of range a with range b
    shifted by d); it is integrated on a grid over [-window, window]. A timestamp
    counts as a range one grid step wide.

    >>> t = dt.datetime(2025, 2, 23, tzinfo=dt.timezone.utc)
    >>> round(expected_separation_hours((t, t + dt.timedelta(days=1)), (t, t + dt.timedelta(days=1)), 48))
    8
    """
    step = 2 * window_hours / _GRID_STEPS
    a0 = 0.0
    a1 = max((a[1] - a[0]).total_seconds() / 3600, step)
    b0 = (b[0] - a[0]).total_seconds() / 3600
    b1 = b0 + max((b[1] - b[0]).total_seconds() / 3600, step)
    d = np.linspace(-window_hours, window_hours, _GRID_STEPS + 1)
    weight = np.clip(np.minimum(a1, b1 + d) - np.maximum(a0, b0 + d), 0.0, None)
    total = weight.sum()
    return float((np.abs(d) * weight).sum() / total) if total > 0 else window_hours


def expected_distance_hours(a: TimeRange, span: TimeRange, window_hours: float) -> float:
    """E[distance from x to the span given it is <= window] for x uniform in range a, in hours.

    >>> t = dt.datetime(2025, 2, 23, tzinfo=dt.timezone.utc)
    >>> round(expected_distance_hours((t.replace(day=1), t.replace(month=3, day=1)), (t, t), 48))
    24
    """
    s0 = (span[0] - a[0]).total_seconds() / 3600
    s1 = (span[1] - a[0]).total_seconds() / 3600
    lo = max(0.0, s0 - window_hours)
    hi = min((a[1] - a[0]).total_seconds() / 3600, s1 + window_hours)
    x = np.linspace(lo, hi, _GRID_STEPS + 1)
    d = np.maximum(np.maximum(s0 - x, x - s1), 0.0)
    d = d[d <= window_hours]
    return float(d.mean()) if len(d) else window_hours


def separation_hours(
    a: TimeRange, b: TimeRange, *, window: dt.timedelta, span: bool = False
) -> float | None:
    """Hours between an article and another (or a development); None if they cannot be
    one development.

    ``a`` is the article's ``published_range``; ``b`` is another article's range or,
    with ``span=True``, the first and last timestamp of a development (the distance is
    then to the nearest of them). Two timestamps keep their exact separation. With a
    coarse date the pair is a candidate when the ranges come within the window, and
    the separation used is the one expected *given* that they do, times uniform in
    their ranges: two items dated the same day count as about 8 h apart, "2025-02"
    beside "2025-02-23" as about 24 h (all the month says is that they may be within
    the window, and any separation in it is as likely). A date vaguer than a month (a
    year, or none) says nothing at the scale developments live: such an article is
    never coverage by shared words, only a near-copy.

    >>> day, w = dt.datetime(2025, 2, 23, tzinfo=dt.timezone.utc), dt.timedelta(hours=48)
    >>> separation_hours((day, day), (day, day), window=w)
    0.0
    >>> round(separation_hours((day, day), (day.replace(day=1), day.replace(month=3, day=1)), window=w))
    24
    >>> separation_hours((day, day), (day.replace(month=1), day.replace(month=1)), window=w) is None
    True
    """
    if gap(a, b) > window:
        return None
    if a[1] - a[0] > VAGUEST_COVERAGE_DATE or (not span and b[1] - b[0] > VAGUEST_COVERAGE_DATE):
        return None
    window_hours = window.total_seconds() / 3600
    if a[0] == a[1] and (span or b[0] == b[1]):
        return gap(a, b).total_seconds() / 3600
    if span:
        return expected_distance_hours(a, b, window_hours)
    return expected_separation_hours(a, b, window_hours)


def shifted(at: dt.datetime, by: dt.timedelta) -> dt.datetime:
    """``at + by``, or the end of the datetime range it passes (nothing lies beyond it).

    >>> shifted(LATEST, dt.timedelta(hours=1)) == LATEST, shifted(EARLIEST, -dt.timedelta(1))
    (True, datetime.datetime(1, 1, 1, 0, 0, tzinfo=datetime.timezone.utc))
    """
    try:
        return at + by
    except OverflowError:
        return LATEST if by > dt.timedelta(0) else EARLIEST
