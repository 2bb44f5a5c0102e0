"""One sending thread per (subscriber, channel), each with a bounded queue of its own.

A lane sends its jobs in order; lanes never wait for each other, so an SMTP server that
accepts and never answers holds up its own email lane only, and Slack messages keep
going out (issue 14, defect 3).

Contract: key (subscriber, channel) → one ``Lane``: one daemon thread and a
``queue.Queue`` of at most ``max_queued`` jobs (bound). ``submit`` returns None when the
queue is full and ``block`` is false: the caller then gives its claims back to the
ledger, which keeps them for the next sweep, so a full queue never loses anything.
Each job is a ``concurrent.futures.Future`` the caller may wait on. ``close`` stops the
thread: jobs still queued are cancelled and handed to ``on_cancel`` (the dispatcher
releases their claims, so another process takes them over at once), the job in progress
is given ``join_timeout_seconds`` to finish.

Process stop (``storywatch run`` on Ctrl-C or SIGTERM): ``stop_all`` makes every lane of
the process refuse to start another job (queued and later ones are cancelled; a lane
claims when it starts a job, so they claimed nothing and the ledger keeps them for the
next run) and waits at most ``timeout_seconds`` for the sends in progress.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("storywatch.deliver")

# Set by stop_all under this lock, which a lane also takes to mark itself busy before it
# starts a job: once stop_all holds it, a lane not busy never starts another.
_STOP_LOCK = threading.Lock()
_STOPPING = threading.Event()
_LANES: weakref.WeakSet[Lane] = weakref.WeakSet()


@dataclass
class Job:
    """A send to run on a lane; ``keys`` are the ledger deliveries it holds claims for."""

    run: Callable[[], Any]
    keys: list[tuple[str, str, str]]
    future: Future = field(default_factory=Future)


class Lane:
    """A bounded queue of jobs for one (subscriber, channel), sent in order by one thread."""

    def __init__(self, name: str, *, max_queued: int) -> None:
        self.name = name
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=max_queued)
        self._thread = threading.Thread(target=self._work, name=f"deliver-{name}", daemon=True)
        self._closed = threading.Event()
        self._on_cancel: Callable[[Job], None] | None = None
        self._busy = False
        with _STOP_LOCK:
            _LANES.add(self)
        self._thread.start()

    def submit(self, job: Job, *, block: bool) -> Future | None:
        """Queue ``job``; None if the queue is full (only when ``block`` is false) or closed."""
        if self._closed.is_set():
            return None
        try:
            self._queue.put(job, block=block)
        except queue.Full:
            return None
        return job.future

    def waiting(self) -> int:
        return self._queue.qsize()

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            with _STOP_LOCK:
                stop = self._closed.is_set() or _STOPPING.is_set()
                self._busy = not stop
            if stop:
                self._cancel(job)
                continue
            try:
                if not job.future.set_running_or_notify_cancel():
                    continue
                try:
                    job.future.set_result(job.run())
                except BaseException as exc:  # reported to whoever waits; the lane goes on
                    log.exception("delivery lane %s: a job failed", self.name)
                    job.future.set_exception(exc)
            finally:
                self._busy = False

    def _cancel(self, job: Job) -> None:
        if job.future.cancel() and self._on_cancel is not None:
            self._on_cancel(job)

    def close(
        self, *, join_timeout_seconds: float, on_cancel: Callable[[Job], None] | None = None
    ) -> None:
        self._on_cancel = on_cancel
        self._closed.set()
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                self._cancel(job)
        self._queue.put(None)  # wakes an idle thread; the queue was just emptied
        self._thread.join(timeout=join_timeout_seconds)


def stop_all(*, timeout_seconds: float) -> list[str]:
    """Stop every lane of this process: none starts another job from now on (queued ones
    are cancelled, later ones when they come up), then wait at most ``timeout_seconds``
    for the sends in progress. Returns the names of the lanes still sending: their claims
    are taken over at once by the next process on this host, elsewhere when the lease ends."""
    with _STOP_LOCK:
        _STOPPING.set()
        lanes = list(_LANES)
    for lane in lanes:
        while True:
            try:
                job = lane._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:  # a closing lane's wake-up: keep it for its thread
                lane._queue.put_nowait(None)
                break
            lane._cancel(job)
    deadline = time.monotonic() + timeout_seconds
    while True:
        busy = [lane.name for lane in lanes if lane._busy]
        if not busy or time.monotonic() >= deadline:
            return busy
        time.sleep(min(0.05, max(deadline - time.monotonic(), 0.0)))
