"""The ledger on one SQLite file: the local default (``Ledger`` in ``protocol.py``).

Tables, one row per key (the four parts of ``pipeline.ledger.protocol``'s ledger):

- ``alerts(alert_id)``: recorded_at, payload (alert JSON text).
- ``deliveries(alert_id, subscriber, channel)``: state, attempts, updated_at,
  last_error, owner, lease_until, due_at (ISO-8601 UTC text, so they compare as text).
- ``payloads(alert_id)``: the alert JSON a delivery needs to be retried after a restart.
- ``threads(subscriber, channel, storyline_id)``: the Slack thread ts.

The file is in WAL mode, so several processes and threads share it; ``claim`` runs in a
``BEGIN IMMEDIATE`` transaction, so exactly one claimant wins. A dead owner's claim on
this host is taken over at once (``pipeline.ledger.claims``), any other when its lease
runs out. The connection is opened with ``check_same_thread=False`` and guarded by a
lock because Beam may call setup, process and teardown on different threads.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.errors import UserError
from pipeline.ledger.claims import claimable, owner_token
from pipeline.ledger.protocol import (
    CLAIMED,
    DEAD,
    DEFAULT_LEASE_SECONDS,
    QUEUED,
    SENT,
    DeliveryKey,
    Payload,
    QueuedDelivery,
)

UTC = dt.UTC
DEFAULT_TIMEOUT_SECONDS = 30.0


class SqliteLedger:
    """The Ledger on one SQLite file (WAL mode, safe across processes and threads)."""

    def __init__(
        self,
        path: Path | str,
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self.path = Path(path)
        self.lease_seconds = lease_seconds
        self._host = socket.gethostname()
        try:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                str(self.path),
                timeout=timeout_seconds,
                check_same_thread=False,
                isolation_level=None,
            )
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
                CREATE TABLE IF NOT EXISTS payloads (
                    alert_id TEXT PRIMARY KEY,
                    payload TEXT NOT NULL
                );
                CREATE TABLE IF NOT EXISTS threads (
                    subscriber TEXT NOT NULL,
                    channel TEXT NOT NULL,
                    storyline_id TEXT NOT NULL,
                    thread_ts TEXT NOT NULL,
                    PRIMARY KEY (subscriber, channel, storyline_id)
                );
                CREATE TABLE IF NOT EXISTS hot_feeds (
                    feed_id TEXT PRIMARY KEY,
                    until TEXT NOT NULL
                );
                """
            )
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(deliveries)")}
            # Ledgers written before claims had owners and queues get the columns added.
            for name, ddl in (
                ("owner", "TEXT NOT NULL DEFAULT ''"),
                ("lease_until", "TEXT NOT NULL DEFAULT ''"),
                ("due_at", "TEXT NOT NULL DEFAULT ''"),
            ):
                if name not in columns:
                    self._conn.execute(f"ALTER TABLE deliveries ADD COLUMN {name} {ddl}")
            self._conn.execute(
                "CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries(state, due_at)"
            )
        except sqlite3.Error as exc:
            raise UserError(
                f"{self.path}: cannot open the ledger database ({exc}); "
                "check the path and that the file is a SQLite database"
            ) from None
        self._lock = threading.Lock()

    @staticmethod
    def _now() -> str:
        return dt.datetime.now(UTC).isoformat()

    # --- alerts ------------------------------------------------------------------------

    def record_alert(self, alert_id: str, payload: Payload) -> bool:
        with self._lock:
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO alerts(alert_id, recorded_at, payload) VALUES (?, ?, ?)",
                (alert_id, self._now(), json.dumps(payload, sort_keys=True, default=str)),
            )
            return cur.rowcount == 1

    def has_alert(self, alert_id: str) -> bool:
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM alerts WHERE alert_id = ?", (alert_id,)
            ).fetchone()
            return row is not None

    def alert_ids(self) -> list[str]:
        with self._lock:
            return [
                r[0] for r in self._conn.execute("SELECT alert_id FROM alerts ORDER BY recorded_at")
            ]

    # --- deliveries --------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (or ``ROLLBACK`` on any exception)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def claim(self, alert_id: str, subscriber: str, channel: str) -> bool:
        now = dt.datetime.now(UTC)
        lease_until = (now + dt.timedelta(seconds=self.lease_seconds)).isoformat()
        owner = owner_token(self._host)
        with self._lock, self._transaction():
            row = self._conn.execute(
                "SELECT state, owner, lease_until FROM deliveries"
                " WHERE alert_id=? AND subscriber=? AND channel=?",
                (alert_id, subscriber, channel),
            ).fetchone()
            if row is None:
                self._conn.execute(
                    "INSERT INTO deliveries(alert_id, subscriber, channel, state, attempts, updated_at,"
                    " owner, lease_until) VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
                    (alert_id, subscriber, channel, CLAIMED, now.isoformat(), owner, lease_until),
                )
                return True
            state, current_owner, current_lease = row
            won = claimable(
                state, current_owner, current_lease, now_iso=now.isoformat(), host=self._host
            )
            if won:
                self._conn.execute(
                    "UPDATE deliveries SET state=?, attempts = attempts + 1, updated_at=?, owner=?,"
                    " lease_until=? WHERE alert_id=? AND subscriber=? AND channel=?",
                    (CLAIMED, now.isoformat(), owner, lease_until, alert_id, subscriber, channel),
                )
            return won

    def release(self, alert_id: str, subscriber: str, channel: str, reason: str) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE deliveries SET owner='', lease_until='', updated_at=?, last_error=?"
                " WHERE alert_id=? AND subscriber=? AND channel=? AND state=?",
                (self._now(), reason, alert_id, subscriber, channel, CLAIMED),
            )

    def _set_state(
        self, alert_id: str, subscriber: str, channel: str, state: str, reason: str = ""
    ) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO deliveries(alert_id, subscriber, channel, state, attempts, updated_at, last_error)"
                " VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT(alert_id, subscriber, channel)"
                " DO UPDATE SET state=excluded.state, updated_at=excluded.updated_at,"
                " last_error=excluded.last_error, owner='', lease_until=''",
                (alert_id, subscriber, channel, state, self._now(), reason),
            )

    def mark_sent(self, alert_id: str, subscriber: str, channel: str) -> None:
        self._set_state(alert_id, subscriber, channel, SENT)

    def mark_many_sent(self, keys: list[DeliveryKey]) -> None:
        """Mark several deliveries sent in one transaction (the alerts of one digest)."""
        now = self._now()
        with self._lock, self._transaction():
            self._conn.executemany(
                "UPDATE deliveries SET state=?, updated_at=?, owner='', lease_until=''"
                " WHERE alert_id=? AND subscriber=? AND channel=?",
                [(SENT, now, a, s, c) for a, s, c in keys],
            )

    def mark_dead(self, alert_id: str, subscriber: str, channel: str, reason: str) -> None:
        self._set_state(alert_id, subscriber, channel, DEAD, reason)

    def _delivery_value(self, column: str, key: DeliveryKey) -> Any:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {column} FROM deliveries WHERE alert_id=? AND subscriber=? AND channel=?",
                key,
            ).fetchone()
            return row[0] if row else None

    def delivery_state(self, alert_id: str, subscriber: str, channel: str) -> str | None:
        state = self._delivery_value("state", (alert_id, subscriber, channel))
        return None if state is None else str(state)

    def attempts(self, alert_id: str, subscriber: str, channel: str) -> int:
        """How many times the delivery was claimed (0 if never)."""
        return int(self._delivery_value("attempts", (alert_id, subscriber, channel)) or 0)

    def unconfirmed(self) -> list[DeliveryKey]:
        with self._lock:
            return [
                (alert_id, subscriber, channel)
                for alert_id, subscriber, channel in self._conn.execute(
                    "SELECT alert_id, subscriber, channel FROM deliveries WHERE state = ? ORDER BY updated_at",
                    (CLAIMED,),
                )
            ]

    def counts(self) -> dict[str, int]:
        """Number of deliveries in each state (for summaries and tests)."""
        with self._lock:
            return dict(self._conn.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state"))

    # --- digest and quiet-hours queue --------------------------------------------------

    def enqueue(self, alert_id: str, subscriber: str, channel: str, due_at: dt.datetime) -> bool:
        """Queue a delivery for ``due_at``; False if it is already queued, claimed, sent or dead."""
        with self._lock:
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO deliveries(alert_id, subscriber, channel, state, attempts,"
                " updated_at, due_at) VALUES (?, ?, ?, ?, 0, ?, ?)",
                (
                    alert_id,
                    subscriber,
                    channel,
                    QUEUED,
                    self._now(),
                    due_at.astimezone(UTC).isoformat(),
                ),
            )
            return cur.rowcount == 1

    def due(self, now: dt.datetime) -> list[QueuedDelivery]:
        """Queued deliveries whose time has come, oldest due first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT alert_id, subscriber, channel, due_at FROM deliveries"
                " WHERE state = ? AND due_at <= ? ORDER BY due_at, updated_at, alert_id",
                (QUEUED, now.astimezone(UTC).isoformat()),
            ).fetchall()
        return [QueuedDelivery(a, s, c, dt.datetime.fromisoformat(d)) for a, s, c, d in rows]

    # --- payloads and threads ----------------------------------------------------------

    def save_payload(self, alert_id: str, payload: Payload) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO payloads(alert_id, payload) VALUES (?, ?)",
                (alert_id, json.dumps(payload, sort_keys=True, default=str)),
            )

    def load_payload(self, alert_id: str) -> Payload | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT payload FROM payloads WHERE alert_id=?", (alert_id,)
            ).fetchone()
        if row is None:
            return None
        payload: Payload = json.loads(row[0])
        return payload

    def thread_ts(self, subscriber: str, channel: str, storyline_id: str) -> str | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT thread_ts FROM threads WHERE subscriber=? AND channel=? AND storyline_id=?",
                (subscriber, channel, storyline_id),
            ).fetchone()
        return None if row is None else str(row[0])

    def set_thread_ts(self, subscriber: str, channel: str, storyline_id: str, ts: str) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO threads(subscriber, channel, storyline_id, thread_ts) VALUES (?, ?, ?, ?)",
                (subscriber, channel, storyline_id, ts),
            )

    # --- burst cadence -------------------------------------------------------------------

    def mark_feeds_hot(self, feed_ids: list[str], until: dt.datetime) -> None:
        stamp = until.astimezone(UTC).isoformat()
        with self._lock, self._transaction():
            self._conn.executemany(
                "INSERT INTO hot_feeds(feed_id, until) VALUES (?, ?) "
                "ON CONFLICT(feed_id) DO UPDATE SET until=max(until, excluded.until)",
                [(feed_id, stamp) for feed_id in feed_ids],
            )

    def hot_feeds(self, now: dt.datetime) -> dict[str, dt.datetime]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT feed_id, until FROM hot_feeds WHERE until > ?",
                (now.astimezone(UTC).isoformat(),),
            ).fetchall()
        return {str(feed_id): dt.datetime.fromisoformat(until) for feed_id, until in rows}

    def close(self) -> None:
        with self._lock:
            self._conn.close()
