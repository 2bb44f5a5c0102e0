"""How long a drafted storyline watches its story: a span of publication dates.

The same people and places with the same event words at another time (the wreck's salvage,
the captain's appeal, the next no-confidence vote, the party's previous election win) are
another story, and a rule has no other way to tell them apart. So a draft's storylines
carry ``published_from`` and ``published_until`` (``pipeline.config.watchlists``): from
``before_days`` before the article's date, or from the start of the year its headline or
lede says the story runs *since* ("contacts since 2022", ``since_year``), to ``after_days``
after it, or ``long_running_after_days`` when the storyline's event is one whose story runs
for years (``LONG_RUNNING``). The user widens or removes the span to follow a
story longer; docs/seed.md says how it was chosen.

>>> story_span("2012-01-13", ["grounding"])
(datetime.date(2011, 11, 14), datetime.date(2013, 1, 12))
>>> story_span("2016-09", ["takeover"])  # a month: all of it, and more
(datetime.date(2016, 7, 3), datetime.date(2018, 9, 30))
>>> story_span("2024-10-25", ["talks"], since=2022)[0]
datetime.date(2022, 1, 1)
>>> story_span("", ["strike"]) is None  # no date, no span
True
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from pipeline.dates import UNKNOWN, parse_time_precision, period_end

BEFORE_DAYS = 60
# Kinds of event (pipeline.seed.event_lexicon) whose story runs for a year or more after its
# first report: a takeover's approvals, a war, a bankruptcy's proceedings.
LONG_RUNNING = frozenset(
    {"takeover", "talks", "sanctions", "war", "bankruptcy", "fraud", "outbreak"}
)
AFTER_DAYS = 365
LONG_RUNNING_AFTER_DAYS = 730
# "since 2022", "seit Anfang 2022", "depuis 2022", "desde finales de 2022"
_SINCE = re.compile(r"\b(?:since|seit|depuis|desde)\b[^.;:\d]{0,25}?\b(19\d\d|2[01]\d\d)\b", re.I)


def since_year(text: str) -> int | None:
    """The earliest year ``text`` says something has gone on since, None when it says none.

    >>> since_year("Musk has been in regular contact with Putin since late 2022.")
    2022
    >>> since_year("Die Gespräche laufen seit 2019; seit Anfang 2021 auch in Berlin.")
    2019
    >>> since_year("Founded in 1998, the firm employs 2,000 people.") is None
    True
    """
    years = [int(m[1]) for m in _SINCE.finditer(text)]
    return min(years) if years else None


def story_span(
    date: str,
    events: Iterable[str],
    *,
    since: int | None = None,
    before_days: int = BEFORE_DAYS,
    after_days: int = AFTER_DAYS,
    long_running_after_days: int = LONG_RUNNING_AFTER_DAYS,
) -> tuple[dt.date, dt.date] | None:
    """``(published_from, published_until)`` for a storyline of an article dated ``date``
    (ISO day, month or year), None when the date is empty or not a date. ``since``: the
    year the story runs since, by the article (``since_year``); a later one than the
    article's own year is ignored."""
    start, precision = parse_time_precision(date)
    if start is None or precision == UNKNOWN:
        return None
    last = period_end(start, precision) - dt.timedelta(microseconds=1)
    after = long_running_after_days if LONG_RUNNING.intersection(events) else after_days
    try:
        first = (start - dt.timedelta(days=before_days)).date()
    except OverflowError:  # a date at the start of the calendar
        first = dt.date.min
    if since is not None and since <= start.year:
        first = min(first, dt.date(since, 1, 1))
    try:
        return first, (last + dt.timedelta(days=after)).date()
    except OverflowError:  # a date at the end of the calendar: watch without an end
        return first, dt.date.max
