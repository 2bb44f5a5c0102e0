"""run.sinks: which feed failures are warned about at once, and when the others are."""

from __future__ import annotations

import dataclasses
import datetime as dt
import doctest

import pytest

import pipeline.run.sinks
from pipeline.records import FeedHealth
from pipeline.run.sinks import failing_feed_warning, is_fixable_error

T = dt.datetime(2024, 10, 25, 9, tzinfo=dt.UTC)
FAILING = FeedHealth("wire", "http://127.0.0.1:9/f.xml", "failing", 1, "", T, None, None, T, 60.0)


def test_doctests() -> None:
    assert doctest.testmod(pipeline.run.sinks).failed == 0


@pytest.mark.parametrize(
    "error",
    [
        "refused to fetch 10.0.0.5 (10.0.0.5): private address; only public addresses are "
        "fetched unless the feed list sets allow_private_addresses",
        "cannot resolve feeds.example.invalid: [Errno -2] Name or service not known",
        "http://127.0.0.1:9/f.xml: HTTP 404 Not Found",
        "http://127.0.0.1:9/f.xml: HTTP 410 Gone",
        "http://127.0.0.1:9/f.xml: HTTP 403 Forbidden",
    ],
)
def test_a_fixable_first_failure_is_warned_at_once(error: str) -> None:
    assert is_fixable_error(error)
    health = dataclasses.replace(FAILING, last_error=error)
    warning = failing_feed_warning(health, failing_after_failures=3)
    assert warning is not None and error in warning and "check the feed list" in warning
    # Once per spell: not again at the threshold.
    again = dataclasses.replace(health, consecutive_failures=3)
    assert failing_feed_warning(again, failing_after_failures=3) is None


@pytest.mark.parametrize(
    "error",
    [
        "http://x/f.xml: HTTP 503 (server asks to slow down)",
        "http://x/f.xml: HTTP 429 (server asks to slow down)",
        "http://x/f.xml: HTTP 408 Request Timeout",
        "http://x/f.xml: timed out (ReadTimeout)",
        "http://x/f.xml: ConnectError: [Errno 111] Connection refused",
    ],
)
def test_a_transient_failure_waits_for_the_threshold(error: str) -> None:
    assert not is_fixable_error(error)
    health = dataclasses.replace(FAILING, last_error=error)
    assert failing_feed_warning(health, failing_after_failures=3) is None
    third = dataclasses.replace(health, consecutive_failures=3)
    assert "3 failed fetches in a row" in failing_feed_warning(third, failing_after_failures=3)


def test_a_feed_that_worked_before_waits_for_the_threshold_even_on_a_404() -> None:
    health = dataclasses.replace(FAILING, last_error="http://x/f.xml: HTTP 404", last_success_at=T)
    assert failing_feed_warning(health, failing_after_failures=3) is None
    third = dataclasses.replace(health, consecutive_failures=3)
    assert "last success 2024-10-25 09:00 UTC" in failing_feed_warning(
        third, failing_after_failures=3
    )
