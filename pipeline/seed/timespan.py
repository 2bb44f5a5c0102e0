"""How long a drafted storyline watches its story: a span of publication dates.

A later chapter of a story names the same people and places with the same event words (the
wreck's salvage, the captain's appeal, the next no-confidence vote), and a rule has no other
way to tell it from the story. So a draft's storylines carry ``published_until`` (``pipeline.config.watchlists``):
``after_days`` after the article's date, or ``long_running_after_days`` when the
storyline's event is one whose story runs for years (``event_lexicon.LONG_RUNNING``).
There is no start unless ``before_days`` is given: an article often tells a story that
began long before it (contacts "since 2022"), and live articles are never older than the
draft. The user widens or removes the span to follow a story longer; docs/seed.md says how
it was chosen.

>>> story_span("2012-01-13", ["grounding"])
(None, datetime.date(2013, 1, 12))
>>> story_span("2016-09", ["takeover"], before_days=60)  # a month: all of it, and more
(datetime.date(2016, 7, 3), datetime.date(2018, 9, 30))
>>> story_span("", ["strike"]) is None  # no date, no span
True
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from pipeline.dates import UNKNOWN, parse_time_precision, period_end
from pipeline.seed.event_lexicon import LONG_RUNNING

AFTER_DAYS = 365
LONG_RUNNING_AFTER_DAYS = 730


def story_span(
    date: str,
    events: Iterable[str],
    *,
    before_days: int | None = None,
    after_days: int = AFTER_DAYS,
    long_running_after_days: int = LONG_RUNNING_AFTER_DAYS,
) -> tuple[dt.date | None, dt.date] | None:
    """``(published_from, published_until)`` for a storyline of an article dated ``date``
    (ISO day, month or year), None when the date is empty or not a date."""
    start, precision = parse_time_precision(date)
    if start is None or precision == UNKNOWN:
        return None
    last = period_end(start, precision) - dt.timedelta(microseconds=1)
    after = long_running_after_days if LONG_RUNNING.intersection(events) else after_days
    first = (start - dt.timedelta(days=before_days)).date() if before_days is not None else None
    try:
        return first, (last + dt.timedelta(days=after)).date()
    except OverflowError:  # a date at the end of the calendar: watch without an end
        return first, dt.date.max
