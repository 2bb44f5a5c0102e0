"""Which kept developments an article is compared with, and its overlaps with each.

Pure; called by ``tracker.StorylineTracker._classify`` once per article. A candidate is a
development within the coverage window of the article (an answer's: one that already has
an answer); for each the tracker's join model needs the best, best residual and mean word
overlap with its kept articles and the hours apart (``decision.FEATURES``).

- ``scan``: the general path, one development at a time (coarse dates, an undated or
  coarse-dated article, an article with too few words to compare);
- ``scan_timestamped``: a timestamped article with words to compare (the common case,
  and the cost with 200 live developments): the window, the answer filter and the hours
  apart over all developments at once from ``DevelopmentColumns``, and the word
  overlaps too, from the kept articles' rows (``state.KeptArticles.overlaps``: what
  ``state.span_overlaps`` gives each development). Both give the same candidates, in the
  same order, with the same floats (``tests/storylines/test_candidates.py``).

The columns (``state.DevelopmentColumns``, one per storyline) are kept in step by the
tracker; without the kept rows (a state just unpickled) ``scan_timestamped`` calls
``span_overlaps`` for each development the word index says shares a word.
"""

from __future__ import annotations

import datetime as dt
import operator
from dataclasses import dataclass

import numpy as np

from pipeline.storylines.state import (
    DevelopmentColumns,
    _Development,
    action_code,
    general_overlaps,
    microseconds,
    nearest_kept_hours,
    span_overlaps,
)
from pipeline.storylines.timing import TimeRange, shifted

_SLOT = operator.attrgetter("slot")


@dataclass(slots=True)
class Candidates:
    """The candidates of one article, in ``devs`` order, a column each."""

    devs: list[_Development]
    overlap: np.ndarray | list[float]
    residual: np.ndarray | list[float]
    hours: np.ndarray | list[float]
    mean: np.ndarray | list[float]
    latest: int  # the index of the first of the latest-reported candidates, -1 if none
    counts: np.ndarray  # each one's number of articles
    actions: np.ndarray  # its lead's action class (``state.action_code``)
    slots: np.ndarray | None = None  # their slots in the columns (``scan_timestamped``)
    nearest: _Development | None = None  # with too few words: the nearest in time
    nearest_hours: float = 0.0


def scan(
    devs: list[_Development],
    at: TimeRange,
    words: frozenset[str],
    residual: frozenset[str],
    common: frozenset[str],
    *,
    window: dt.timedelta,
    answer: bool,
    informative: bool,
) -> Candidates:
    """The candidates one development at a time (the general path; module docstring)."""
    found = Candidates([], [], [], [], [], -1, np.zeros(0, np.int64), np.zeros(0, np.int64))
    latest_at: dt.datetime | None = None  # the latest candidate's last_at
    start, end = at
    timestamped = start == end
    # gap(at, (first_at, last_at)) > window as two comparisons per development (exact:
    # datetimes and timedeltas are whole microseconds).
    latest_in, earliest_in = shifted(end, window), shifted(start, -window)
    for dev in devs:
        if dev.first_at > latest_in or dev.last_at < earliest_in:
            continue
        if answer and not dev.responds:  # a denial is news about a report, not more of it
            continue
        span = dev.span
        if timestamped and span is not None and not dev.coarse and dev.words:
            # A timestamped article and a development of timestamped articles alone:
            # what ``general_overlaps`` computes, in one pass (``span_overlaps``).
            if span[0] > end:
                if span[0] > latest_in:
                    continue
                apart_hours = (span[0] - end).total_seconds() / 3600
            elif start > span[1]:
                if span[1] < earliest_in:
                    continue
                apart_hours = (start - span[1]).total_seconds() / 3600
            else:
                apart_hours = 0.0
            if not informative:
                if found.nearest is None or apart_hours < found.nearest_hours:
                    found.nearest, found.nearest_hours = dev, apart_hours
                continue
            best, best_residual, mean = span_overlaps(dev, words, residual, common)
        elif not informative:
            hours = nearest_kept_hours(dev, at, window=window)
            if hours is not None and (found.nearest is None or hours < found.nearest_hours):
                found.nearest, found.nearest_hours = dev, hours
            continue
        else:
            general = general_overlaps(dev, at, words, residual, common, window=window)
            if general is None:
                continue
            best, best_residual, apart_hours, mean = general
        if latest_at is None or dev.last_at > latest_at:
            found.latest, latest_at = len(found.devs), dev.last_at
        found.devs.append(dev)
        for column, value in (
            (found.overlap, best),
            (found.residual, best_residual),
            (found.hours, apart_hours),
            (found.mean, mean),
        ):
            column.append(value)  # type: ignore[union-attr]
    found.counts = np.array([d.count for d in found.devs], np.int64)
    found.actions = np.array([action_code(d.action) for d in found.devs], np.int64)
    return found


def scan_timestamped(
    columns: DevelopmentColumns,
    devs: list[_Development],
    at: dt.datetime,
    words: frozenset[str],
    residual: frozenset[str],
    common: frozenset[str],
    *,
    window: dt.timedelta,
    answer: bool,
) -> Candidates:
    """``scan`` of a timestamped article with words to compare, over columns (module
    docstring): the same candidates, order and floats."""
    n = len(devs)
    order = np.fromiter(map(_SLOT, devs), np.intp, n)
    if n and order.min() < 0:  # developments added by hand (tests): adopted
        for dev in devs:
            if dev.slot < 0:
                columns.add(dev)
        order = np.fromiter(map(_SLOT, devs), np.intp, n)
    now = microseconds(at)
    latest_in = microseconds(shifted(at, window))
    earliest_in = microseconds(shifted(at, -window))
    ok = (columns.first_us[order] <= latest_in) & (columns.last_us[order] >= earliest_in)
    if answer:
        ok &= columns.responds[order]
    plain = columns.plain[order]
    start, end = columns.span_start_us[order], columns.span_end_us[order]
    after = start > now  # the development's span starts after the article
    before = ~after & (now > end)  # it ends before
    plain_ok = ok & plain & ~(after & (start > latest_in)) & ~(before & (end < earliest_in))
    # (span - at).total_seconds() / 3600 as Python computes it: µs / 10**6 is correctly
    # rounded either way (both exact as floats), then / 3600.
    hours = np.where(after, start - now, np.where(before, now - end, 0)) / 1e6 / 3600
    kept = columns.kept
    if kept is not None:  # every development's overlaps at once (the same floats)
        by_slot = kept.overlaps(len(columns.first_us), words, residual)
        overlap, best_residual, mean = (column[order] for column in by_slot)
    else:  # rows not built (an unpickled state the tracker has not seen): one at a time
        overlap, best_residual, mean = np.zeros(n), np.zeros(n), np.zeros(n)
        for i in np.flatnonzero(plain_ok & columns.sharing(words)[order]).tolist():
            overlap[i], best_residual[i], mean[i] = span_overlaps(devs[i], words, residual, common)
    keep = plain_ok
    others = np.flatnonzero(ok & ~plain)
    if len(others):  # coarse-dated or undated kept articles: the general path
        keep = plain_ok.copy()
        for i in others.tolist():
            general = general_overlaps(devs[i], (at, at), words, residual, common, window=window)
            if general is not None:
                keep[i] = True
                overlap[i], best_residual[i], hours[i], mean[i] = general
    picked = np.flatnonzero(keep)
    slots = order[picked]
    return Candidates(
        [devs[i] for i in picked.tolist()],
        overlap[picked],
        best_residual[picked],
        hours[picked],
        mean[picked],
        int(np.argmax(columns.last_us[slots])) if len(picked) else -1,
        columns.count[slots],
        columns.action[slots],
        slots=slots,
    )
