"""Retries with exponential backoff and full jitter, Retry-After honoured; per-key rate limits.

``RetryPolicy.call(send)`` runs ``send`` until it returns, raises ``PermanentError``
(re-raised at once), or has failed transiently ``max_attempts`` times (the last
``TransientError`` is re-raised). Between attempts it sleeps for the server's
Retry-After when one was given, else a random delay in ``[0, base * 2**n]`` capped at
``max_delay_seconds``. A Retry-After longer than ``max_retry_after_seconds`` is not
waited for in-line: the error is re-raised and the delivery is retried by a later sweep.

Timeline with ``base_delay_seconds=0.5``::

    t=0.0  attempt 1 -> 500          sleep uniform(0, 0.5)
    t≈0.3  attempt 2 -> 429 RA=2     sleep 2.0 (Retry-After)
    t≈2.3  attempt 3 -> 200          done, attempts=3
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from pipeline.deliver.base import TransientError

T = TypeVar("T")


@dataclass
class RetryPolicy:
    max_attempts: int = 5
    base_delay_seconds: float = 0.5
    max_delay_seconds: float = 30.0
    max_retry_after_seconds: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def delay_seconds(self, failures: int, error: TransientError) -> float:
        """How long to wait after the ``failures``-th transient failure."""
        if error.retry_after_seconds is not None:
            # A small jitter on top keeps many senders that got the same Retry-After apart.
            return error.retry_after_seconds + self.rng.uniform(
                0, min(0.1, self.base_delay_seconds)
            )
        return self.rng.uniform(
            0, min(self.max_delay_seconds, self.base_delay_seconds * 2 ** (failures - 1))
        )

    def call(
        self, send: Callable[[], T], *, on_attempt: Callable[[int], None] | None = None
    ) -> tuple[T, int]:
        """Run ``send`` with retries; returns (its result, attempts made)."""
        attempt = 0
        while True:
            attempt += 1
            if on_attempt is not None:
                on_attempt(attempt)
            try:
                return send(), attempt
            except TransientError as error:
                if attempt >= self.max_attempts:
                    raise
                if (error.retry_after_seconds or 0) > self.max_retry_after_seconds:
                    raise
                self.sleep(self.delay_seconds(attempt, error))


class RateLimiter:
    """At most ``per_second`` sends per key (e.g. one Slack webhook), shared across threads.

    ``wait(key)`` reserves the next free slot for the key and sleeps until it comes, so
    callers on several threads are spaced ``1/per_second`` apart in the order they asked.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def wait(self, key: str, per_second: float) -> float:
        """Sleep until ``key`` may send again; returns the seconds slept."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get(key, now))
            self._next[key] = slot + 1.0 / per_second
        delay = slot - now
        if delay > 0:
            self._sleep(delay)
        return max(0.0, delay)
