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
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("storywatch.deliver")


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
            if self._closed.is_set():
                self._cancel(job)
                continue
            if not job.future.set_running_or_notify_cancel():
                continue
            try:
                job.future.set_result(job.run())
            except BaseException as exc:  # reported to whoever waits; the lane goes on
                log.exception("delivery lane %s: a job failed", self.name)
                job.future.set_exception(exc)

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
