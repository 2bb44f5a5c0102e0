"""The ledger as the status page reads it: through the ``Ledger`` protocol, on every backend.

    view = LedgerView(url)      a file path, sqlite:///…, postgresql://… or firestore://…
    view.snapshot() -> LedgerSnapshot   alerts, delivery rows, dead and claimed rows, counts, mutes
    view.check()                the first read, raising the ledger's UserError (serve's start)
    view.invalidate()           read again on the next snapshot (after the page's own write)

Contract:
- One ledger, opened on the first read and kept (``open_ledger``). A SQLite file that does
  not exist yet is an empty ledger (the page never creates one) until it appears.
- Bound: at most ``max_alerts`` alerts and ``max_deliveries`` delivery rows, the newest
  (``recent_alerts``, ``recent_deliveries``, ``page_size`` rows a query); at most
  ``max_deliveries`` dead and as many claimed rows; ``truncated`` says older ones exist.
- When: a SQLite ledger is read again when its file or WAL changed (size, mtime); a remote
  one (PostgreSQL, Firestore: no file to watch) when ``refresh_seconds`` have passed.
- Incremental: a read fetches, newest first, the rows stamped since the last read began,
  less ``skew_seconds`` (stamps are the writers' clocks), and merges them by key; every
  ``full_refresh_seconds`` it reads everything again (rows a late clock hid, rows
  Firestore's TTL removed). So a running pipeline costs a page a few rows a read.
- Errors: ``check()`` raises the ledger's UserError (an unreachable PostgreSQL names the
  URL without its password). After a good read, a failing one keeps the last snapshot
  with ``error`` (password-free) set for the page, and is tried again after
  ``refresh_seconds``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pipeline.errors import UserError
from pipeline.ledger import Ledger, local_path, open_ledger, redact_url
from pipeline.ledger.protocol import CLAIMED, DEAD, DeliveryRecord, RecordedAlert
from pipeline.serve.queries import scrub

UTC = dt.UTC
log = logging.getLogger(__name__)
R = TypeVar("R", RecordedAlert, DeliveryRecord)
_FIRST_PAGE = 16


@dataclass(frozen=True)
class LedgerSnapshot:
    alerts: list[RecordedAlert] = field(default_factory=list)  # newest first
    deliveries: list[DeliveryRecord] = field(default_factory=list)  # newest change first
    dead: list[DeliveryRecord] = field(default_factory=list)
    claimed: list[DeliveryRecord] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    mutes: dict[str, dt.datetime | None] = field(default_factory=dict)
    truncated: bool = False
    #: each changes whenever its rows changed (the page rebuilds only what depends on them)
    alerts_version: int = 0
    deliveries_version: int = 0
    error: str = ""

    def active_mutes(self, now: dt.datetime) -> dict[str, dt.datetime | None]:
        """The mutes still running at ``now`` (one read at the last refresh may have ended since)."""
        return {t: u for t, u in self.mutes.items() if u is None or u > now}


def _alert_key(a: RecordedAlert) -> tuple[str, ...]:
    return (a.alert_id,)


def _delivery_key(d: DeliveryRecord) -> tuple[str, ...]:
    return (d.alert_id, d.subscriber, d.channel)


def _alert_time(a: RecordedAlert) -> str:
    return a.recorded_at


def _delivery_time(d: DeliveryRecord) -> str:
    return d.updated_at


def _stat(path: Path | None) -> tuple[int, int] | None:
    try:
        st = path.stat() if path is not None else None
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size) if st else None


class LedgerView:
    """The page's bounded, incrementally refreshed copy of one ledger."""

    def __init__(
        self,
        url: str,
        *,
        refresh_seconds: float = 2.0,
        full_refresh_seconds: float = 300.0,
        skew_seconds: float = 10.0,
        max_alerts: int = 5000,
        max_deliveries: int = 20000,
        page_size: int = 500,
        timeout_seconds: float = 5.0,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        opener: Callable[..., Ledger] = open_ledger,
    ) -> None:
        self.url = url
        self.path = local_path(url)
        self.refresh_seconds = refresh_seconds
        self.full_refresh_seconds = full_refresh_seconds
        self.skew = dt.timedelta(seconds=skew_seconds)
        self.max_alerts, self.max_deliveries = max(1, max_alerts), max(1, max_deliveries)
        self.page_size = max(1, page_size)
        self._timeout_seconds = timeout_seconds
        self._clock, self._monotonic, self._opener = clock, monotonic, opener
        self._ledger: Ledger | None = None
        self._alert_index: dict[tuple[str, ...], RecordedAlert] = {}
        self._delivery_index: dict[tuple[str, ...], DeliveryRecord] = {}
        self._snap = LedgerSnapshot()
        self._read_once = False
        self._last_read_at: dt.datetime | None = None  # our clock when the last good read began
        self._stamp: Any = None
        self._next_read = float("-inf")
        self._next_full = float("-inf")

    # --- when to read ---------------------------------------------------------------------

    def _file_stamp(self) -> Any:
        if self.path is None:
            return None
        return (_stat(self.path), _stat(self.path.with_name(self.path.name + "-wal")))

    def _due(self) -> bool:
        now = self._monotonic()
        if self.path is not None and self._snap.error == "":
            return self._file_stamp() != self._stamp or now >= self._next_full
        return now >= self._next_read

    def invalidate(self) -> None:
        self._stamp, self._next_read = object(), float("-inf")

    # --- reading --------------------------------------------------------------------------

    def check(self) -> LedgerSnapshot:
        """The first read; a ledger that cannot be read raises its UserError."""
        return self._read(raise_errors=True)

    def snapshot(self) -> LedgerSnapshot:
        return self._read(raise_errors=False) if self._due() else self._snap

    def _read(self, *, raise_errors: bool) -> LedgerSnapshot:
        stamp = self._file_stamp()
        started, started_at = self._monotonic(), dt.datetime.now(UTC)
        self._next_read = started + self.refresh_seconds
        full = started >= self._next_full or self._last_read_at is None or self._ledger is None
        # A row written since the last read carries its writer's time, at most the skew
        # behind ours: the rows stamped from then on are all a read needs.
        since = None if full or self._last_read_at is None else self._last_read_at - self.skew
        try:
            self._snap = self._refresh(since=since)
        except UserError as exc:
            if raise_errors or not self._read_once:
                raise
            self._failed("; ".join(exc.problems), named=True)
            return self._snap
        except Exception as exc:  # noqa: BLE001 (a backend's own error: keep the page up)
            if raise_errors or not self._read_once:
                raise
            log.warning("the status page could not read the ledger", exc_info=True)
            self._failed(f"{type(exc).__name__}: {exc}", named=False)
            return self._snap
        self._stamp = stamp
        self._read_once = True
        self._last_read_at = started_at
        return self._snap

    def _failed(self, message: str, *, named: bool) -> None:
        # The failed read may have merged some rows into the indexes: the next one reads all.
        self._next_full = float("-inf")
        if self._ledger is not None:  # reopened on the next try
            try:
                self._ledger.close()
            except Exception:  # noqa: BLE001 (a broken connection may fail to close)
                pass
            self._ledger = None
        when = self._clock().astimezone(UTC).strftime("%H:%M:%S UTC")
        what = "the ledger" if named else f"ledger '{redact_url(self.url)}'"  # a UserError names it
        error = f"{what} could not be read at {when}: {scrub(message)}"
        self._snap = dataclasses.replace(self._snap, error=error)

    def _open(self) -> Ledger | None:
        if self._ledger is None:
            if self.path is not None and not self.path.exists():
                return None  # not written yet: an empty ledger, never created here
            self._ledger = self._opener(self.url, timeout_seconds=self._timeout_seconds)
        return self._ledger

    def _refresh(self, *, since: dt.datetime | None) -> LedgerSnapshot:
        old = self._snap
        ledger = self._open()
        if ledger is None:
            self._alert_index.clear()
            self._delivery_index.clear()
            return LedgerSnapshot(
                alerts_version=old.alerts_version + bool(old.alerts),
                deliveries_version=old.deliveries_version + bool(old.deliveries),
            )
        full = since is None
        cutoff = None if since is None else since.astimezone(UTC).isoformat()
        if full:
            self._next_full = self._monotonic() + self.full_refresh_seconds
        alerts, more_alerts = self._merge(
            [] if full else old.alerts,
            cutoff,
            self._alert_index,
            ledger.recent_alerts,
            _alert_key,
            _alert_time,
            self.max_alerts,
        )
        deliveries, more_deliveries = self._merge(
            [] if full else old.deliveries,
            cutoff,
            self._delivery_index,
            ledger.recent_deliveries,
            _delivery_key,
            _delivery_time,
            self.max_deliveries,
        )
        # a full read found older rows left out; an incremental one cannot tell, so it keeps that
        truncated = more_alerts or more_deliveries or (not full and old.truncated)
        return LedgerSnapshot(
            alerts=alerts,
            deliveries=deliveries,
            dead=ledger.recent_deliveries(limit=self.max_deliveries, state=DEAD),
            claimed=ledger.recent_deliveries(limit=self.max_deliveries, state=CLAIMED),
            counts=ledger.counts(),
            mutes=ledger.active_mutes(self._clock()),
            truncated=truncated,
            alerts_version=old.alerts_version + (alerts is not old.alerts),
            deliveries_version=old.deliveries_version + (deliveries is not old.deliveries),
        )

    def _merge(
        self,
        held: list[R],
        cutoff: str | None,
        index: dict[tuple[str, ...], R],
        read: Callable[..., list[R]],
        key: Callable[[R], tuple[str, ...]],
        when: Callable[[R], str],
        bound: int,
    ) -> tuple[list[R], bool]:
        """``held`` (newest first; ``index``: the same rows by key, kept up to date) with the
        rows stamped from ``cutoff`` on read and merged; ``held`` itself when none changed.
        And whether older rows were left unread. Without a cutoff, everything up to
        ``bound`` is read."""
        if cutoff is None:
            index.clear()
        fresh: list[R] = []
        more = False
        # a running pipeline changes a few rows between reads: start small, then grow
        size = self.page_size if cutoff is None else min(_FIRST_PAGE, self.page_size)
        while True:
            size = min(size, bound - len(fresh))
            page = read(limit=size, older_than=fresh[-1] if fresh else None)
            fresh += page
            if len(page) < size or (cutoff is not None and when(page[-1]) < cutoff):
                break
            if len(fresh) >= bound:
                more = bool(read(limit=1, older_than=fresh[-1]))
                break
            size = min(2 * size, self.page_size)
        changed = [row for row in fresh if index.get(key(row)) != row]
        if cutoff is not None and not changed:
            return held, False
        for row in changed:
            index[key(row)] = row
        merged = sorted(index.values(), key=lambda r: (when(r), key(r)), reverse=True)
        for row in merged[bound:]:
            del index[key(row)]
        return merged[:bound], more or len(merged) > bound

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
