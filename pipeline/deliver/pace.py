"""Per-webhook pacing shared by every process on one machine: a slot file under a lock.

``MachineRateLimiter.wait(key, per_second)`` has the contract of ``retry.RateLimiter``
(reserve the key's next free slot, sleep until it comes), but the next free slot is kept
in a small file per key, read and advanced under ``fcntl.flock``, so two ``storywatch
deliver`` processes, a live ``run`` and the status page's retry on one machine together
send at most ``per_second`` messages to one Slack webhook or bot channel.

Contract: key → one file ``<dir>/<key>.slot`` holding the next free slot as Unix time
(wall clock: monotonic clocks differ between processes). Bound: one 20-byte file per
webhook. Expiry: a slot in the past is ignored (the next send may go at once). Timeline
with ``per_second=1``: process A reserves t, t+1; process B then gets t+2, t+3.

Across machines (Dataflow workers, several hosts on one PostgreSQL ledger) each machine
paces itself, so N machines can send up to N times the rate to one webhook; Slack then
answers 429 with a Retry-After, which the retry policy honours. Where the folder cannot
be used (no ``fcntl``, a read-only disk) the pace falls back to the process
(``retry.RateLimiter``), with a warning.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.deliver.retry import RateLimiter

try:
    import fcntl
except ImportError:  # pragma: no cover (not on Windows)
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("storywatch.deliver.pace")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def default_pace_dir() -> Path:
    """``$STORYWATCH_PACE_DIR``, else ``storywatch-pace-<uid>`` in the system temp folder."""
    if configured := os.environ.get("STORYWATCH_PACE_DIR"):
        return Path(configured)
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"storywatch-pace-{uid}"


class MachineRateLimiter:
    """At most ``per_second`` sends per key across every process of this machine."""

    def __init__(
        self,
        directory: Path | str | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.directory = Path(directory) if directory is not None else default_pace_dir()
        self._clock = clock
        self._sleep = sleep
        self._fallback: RateLimiter | None = None

    def _reserve(self, key: str, per_second: float) -> float:
        """The reserved slot (Unix time) for ``key``, advanced in the file under the lock."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.directory / (_UNSAFE.sub("_", key) + ".slot")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
            now = self._clock()
            try:
                stored = float(raw) if raw else now
            except ValueError:
                stored = now  # a damaged slot file only costs one early send
            slot = max(now, stored)
            data = f"{slot + 1.0 / per_second:.6f}".encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
            return slot
        finally:
            os.close(fd)  # also releases the lock

    def wait(self, key: str, per_second: float) -> float:
        """Sleep until ``key`` may send again; returns the seconds slept."""
        if self._fallback is None and fcntl is not None:
            try:
                slot = self._reserve(key, per_second)
            except OSError as exc:
                log.warning(
                    "cannot pace through %s (%s); pacing this process only",
                    self.directory,
                    exc.strerror or type(exc).__name__,
                )
                self._fallback = RateLimiter()
            else:
                delay = slot - self._clock()
                if delay > 0:
                    self._sleep(delay)
                return max(0.0, delay)
        if self._fallback is None:
            self._fallback = RateLimiter()
        return self._fallback.wait(key, per_second)
