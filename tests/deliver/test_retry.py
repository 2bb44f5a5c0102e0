"""Backoff with jitter, Retry-After, attempt limits and the per-key rate limiter (controlled clock)."""

from __future__ import annotations

import random

import pytest

from pipeline.deliver.base import PermanentError, TransientError
from pipeline.deliver.retry import RateLimiter, RetryPolicy


class Script:
    """A send() that fails with the given errors in turn, then succeeds."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def _policy(**kwargs) -> tuple[RetryPolicy, list[float]]:
    slept: list[float] = []
    return RetryPolicy(sleep=slept.append, rng=random.Random(7), **kwargs), slept


def test_exponential_backoff_with_full_jitter_is_bounded():
    policy, slept = _policy(max_attempts=6, base_delay_seconds=1.0, max_delay_seconds=5.0)
    send = Script(*[TransientError("HTTP 503")] * 5)
    assert policy.call(send) == ("ok", 6)
    bounds = [1, 2, 4, 5, 5]
    assert len(slept) == 5 and all(0 <= s <= b for s, b in zip(slept, bounds, strict=True))
    assert len(set(slept)) == 5  # jittered, not fixed


def test_retry_after_is_honoured():
    policy, slept = _policy(base_delay_seconds=0.5)
    assert policy.call(Script(TransientError("429", retry_after_seconds=3))) == ("ok", 2)
    assert 3.0 <= slept[0] <= 3.1


def test_permanent_errors_are_not_retried_and_attempts_are_limited():
    policy, slept = _policy(max_attempts=3)
    send = Script(PermanentError("HTTP 400"))
    with pytest.raises(PermanentError):
        policy.call(send)
    assert send.calls == 1 and slept == []
    send = Script(*[TransientError("HTTP 500")] * 5)
    with pytest.raises(TransientError):
        policy.call(send)
    assert send.calls == 3 and len(slept) == 2


def test_a_retry_after_beyond_the_budget_is_left_for_a_later_sweep():
    policy, slept = _policy(max_retry_after_seconds=60)
    with pytest.raises(TransientError):
        policy.call(Script(TransientError("429", retry_after_seconds=3600)))
    assert slept == []


def test_rate_limiter_spaces_sends_per_key():
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)

    limiter = RateLimiter(clock=lambda: now[0], sleep=sleep)
    assert [limiter.wait("hook-a", 1.0) for _ in range(3)] == [0.0, 1.0, 2.0]
    assert limiter.wait("hook-b", 1.0) == 0.0  # another webhook is not held up
    now[0] = 110.0
    assert limiter.wait("hook-a", 2.0) == 0.0  # the slot long passed
    assert limiter.wait("hook-a", 2.0) == 0.5
