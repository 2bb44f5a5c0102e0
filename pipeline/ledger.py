"""The alert and delivery ledger: what survives a restart.

Two tables. ``alerts`` records every alert id when it is decided, before anything is
delivered, so a restarted pipeline recognises what it already alerted. ``deliveries``
records one row per (alert id, subscriber, channel): ``claimed`` before sending,
``sent`` after the channel confirmed, ``dead`` after a permanent failure. A claimed but
unconfirmed row (the process died mid-send) is claimable again, so nothing is lost;
a sent row never is, so nothing is sent twice.

Timeline for one delivery::

    t0 claim(a1, desk, slack)      -> True   row: claimed, attempts=1
    t1 (process killed before the webhook answered)
    t2 claim(a1, desk, slack)      -> True   row: claimed, attempts=2 (retried)
    t3 mark_sent(a1, desk, slack)            row: sent
    t4 claim(a1, desk, slack)      -> False  (already sent: skip)

``Ledger`` is the interface; ``SqliteLedger`` is the local default. SQLite connections
are opened with ``check_same_thread=False`` and guarded by a lock because Beam may call
setup, process and teardown on different threads.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from pathlib import Path
from typing import Protocol

from pipeline.errors import UserError

UTC = dt.timezone.utc

CLAIMED, SENT, DEAD = "claimed", "sent", "dead"


class Ledger(Protocol):
    """Durable record of alerts decided and deliveries made."""

    def record_alert(self, alert_id: str, payload: dict) -> bool:
        """Record an alert id; True if it is new, False if it was recorded before."""

    def has_alert(self, alert_id: str) -> bool: ...

    def claim(self, alert_id: str, subscriber: str, channel: str) -> bool:
        """Claim a delivery before sending; False if it was already sent or is dead."""

    def mark_sent(self, alert_id: str, subscriber: str, channel: str) -> None: ...

    def mark_dead(self, alert_id: str, subscriber: str, channel: str, reason: str) -> None: ...

    def delivery_state(self, alert_id: str, subscriber: str, channel: str) -> str | None: ...

    def unconfirmed(self) -> list[tuple[str, str, str]]:
        """Deliveries claimed but never confirmed (to retry after a crash)."""

    def close(self) -> None: ...


class SqliteLedger:
    """The Ledger on one SQLite file (WAL mode, safe across processes and threads)."""

    def __init__(self, path: Path | str, *, timeout_seconds: float = 30.0) -> None:
        self.path = Path(path)
        try:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(self.path), timeout=timeout_seconds,
                                         check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(
                """
                CREATE TABLE IF NOT EXISTS alerts (
                    alert_id TEXT PRIMARY KEY,
                    recorded_at TEXT NOT NULL,
                    payload TEXT NOT NULL
                );
                CREATE TABLE IF NOT EXISTS deliveries (
                    alert_id TEXT NOT NULL,
                    subscriber TEXT NOT NULL,
                    channel TEXT NOT NULL,
                    state TEXT NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    updated_at TEXT NOT NULL,
                    last_error TEXT NOT NULL DEFAULT '',
                    PRIMARY KEY (alert_id, subscriber, channel)
                );
                """
            )
        except sqlite3.Error as exc:
            raise UserError(f"{self.path}: cannot open the ledger database ({exc}); "
                            "check the path and that the file is a SQLite database") from None
        self._lock = threading.Lock()

    @staticmethod
    def _now() -> str:
        return dt.datetime.now(UTC).isoformat()

    def record_alert(self, alert_id: str, payload: dict) -> bool:
        with self._lock:
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO alerts(alert_id, recorded_at, payload) VALUES (?, ?, ?)",
                (alert_id, self._now(), json.dumps(payload, sort_keys=True, default=str)))
            return cur.rowcount == 1

    def has_alert(self, alert_id: str) -> bool:
        with self._lock:
            row = self._conn.execute("SELECT 1 FROM alerts WHERE alert_id = ?", (alert_id,)).fetchone()
            return row is not None

    def alert_ids(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._conn.execute("SELECT alert_id FROM alerts ORDER BY recorded_at")]

    def claim(self, alert_id: str, subscriber: str, channel: str) -> bool:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                row = self._conn.execute(
                    "SELECT state FROM deliveries WHERE alert_id=? AND subscriber=? AND channel=?",
                    (alert_id, subscriber, channel)).fetchone()
                if row is None:
                    self._conn.execute(
                        "INSERT INTO deliveries(alert_id, subscriber, channel, state, attempts, updated_at)"
                        " VALUES (?, ?, ?, ?, 1, ?)", (alert_id, subscriber, channel, CLAIMED, self._now()))
                    claimed = True
                elif row[0] == CLAIMED:
                    self._conn.execute(
                        "UPDATE deliveries SET attempts = attempts + 1, updated_at = ?"
                        " WHERE alert_id=? AND subscriber=? AND channel=?",
                        (self._now(), alert_id, subscriber, channel))
                    claimed = True
                else:
                    claimed = False
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            return claimed

    def _set_state(self, alert_id: str, subscriber: str, channel: str, state: str, reason: str = "") -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO deliveries(alert_id, subscriber, channel, state, attempts, updated_at, last_error)"
                " VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT(alert_id, subscriber, channel)"
                " DO UPDATE SET state=excluded.state, updated_at=excluded.updated_at,"
                " last_error=excluded.last_error",
                (alert_id, subscriber, channel, state, self._now(), reason))

    def mark_sent(self, alert_id: str, subscriber: str, channel: str) -> None:
        self._set_state(alert_id, subscriber, channel, SENT)

    def mark_dead(self, alert_id: str, subscriber: str, channel: str, reason: str) -> None:
        self._set_state(alert_id, subscriber, channel, DEAD, reason)

    def delivery_state(self, alert_id: str, subscriber: str, channel: str) -> str | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT state FROM deliveries WHERE alert_id=? AND subscriber=? AND channel=?",
                (alert_id, subscriber, channel)).fetchone()
            return row[0] if row else None

    def unconfirmed(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return [tuple(r) for r in self._conn.execute(
                "SELECT alert_id, subscriber, channel FROM deliveries WHERE state = ? ORDER BY updated_at",
                (CLAIMED,))]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def open_ledger(url: str) -> Ledger:
    """Open the ledger named by ``url``: a file path or ``sqlite:///path``."""
    if url.startswith("sqlite:///"):
        url = url[len("sqlite:///"):]
    elif "://" in url:
        raise UserError(f"ledger '{url}': unsupported scheme; use a file path or sqlite:///path")
    return SqliteLedger(url)
