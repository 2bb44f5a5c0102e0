"""The one date parser: its documented edge cases."""

from __future__ import annotations

import datetime as dt
import doctest

import pipeline.dates
from pipeline.dates import parse_iso, parse_time_precision


def test_doctests() -> None:
    result = doctest.testmod(pipeline.dates)
    assert result.failed == 0 and result.attempted >= 5


def test_naive_iso_is_utc_and_garbage_is_none() -> None:
    assert parse_iso("2024-10-25T10:00:00") == dt.datetime(2024, 10, 25, 10, tzinfo=dt.UTC)
    assert parse_iso("yesterday") is None
    assert parse_time_precision(True) == (None, "unknown")
