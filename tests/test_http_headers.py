"""Retry-After, the one parser feed fetching and delivery share: the edge cases."""

from __future__ import annotations

import datetime as dt
import doctest
from email.utils import format_datetime

import pytest

import pipeline.http_headers
from pipeline.http_headers import DEFAULT_MAX_RETRY_AFTER_SECONDS, parse_retry_after

NOW = dt.datetime(2024, 10, 25, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "value, seconds",
    [
        ("120", 120.0),
        (" 30 ", 30.0),
        ("0", 0.0),
        ("007", 7.0),
        (format_datetime(NOW + dt.timedelta(seconds=90), usegmt=True), 90.0),
        ("Fri, 25 Oct 2024 12:01:00", 60.0),  # no zone: UTC
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past: go now
        ("1000000000", DEFAULT_MAX_RETRY_AFTER_SECONDS),
        ("9" * 5000, DEFAULT_MAX_RETRY_AFTER_SECONDS),
        ("Fri, 31 Dec 9999 23:59:59 GMT", DEFAULT_MAX_RETRY_AFTER_SECONDS),
    ],
)
def test_usable_values(value, seconds):
    assert parse_retry_after(value, now=NOW.timestamp()) == seconds


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "  ",
        "-5",
        "+5",
        "1.5",
        "1e9",
        "inf",
        "-inf",
        "nan",
        "Infinity",
        "0x10",
        "\u0661\u0662",
        "soon",
        "5 seconds",
    ],
)
def test_values_that_give_no_wait(value):
    assert parse_retry_after(value, now=NOW.timestamp()) is None


def test_the_cap_is_a_keyword():
    assert parse_retry_after("3600", now=0, max_seconds=120) == 120.0
    with pytest.raises(TypeError):
        parse_retry_after("3600", 0)  # type: ignore[misc]


def test_docstring_examples():
    result = doctest.testmod(pipeline.http_headers)
    assert result.failed == 0 and result.attempted >= 8
