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
from pipeline.ledger.claims import abandoned, claimable, owner_token
from pipeline.ledger.protocol import (
    CLAIMED,
    DEAD,
    DEFAULT_LEASE_SECONDS,
    QUEUED,
    SENT,
    DeliveryKey,
    DeliveryRecord,
    Payload,
    QueuedDelivery,
    RecordedAlert,
    payload_object,
)
from pipeline.ledger.sqlite_file import check_contents, check_header, create_new, ledger_file_error

UTC = dt.UTC
DEFAULT_TIMEOUT_SECONDS = 30.0

_TABLES = """
CREATE TABLE IF NOT EXISTS alerts (
    alert_id TEXT PRIMARY KEY,
    recorded_at TEXT NOT NULL,
    payload TEXT NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    lease_until TEXT NOT NULL DEFAULT '',
    routed INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS deliveries (
    alert_id TEXT NOT NULL,
    subscriber TEXT NOT NULL,
    channel TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    owner TEXT NOT NULL DEFAULT '',
    lease_until TEXT NOT NULL DEFAULT '',
    due_at TEXT NOT NULL DEFAULT '',
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
CREATE TABLE IF NOT EXISTS mutes (
    target TEXT PRIMARY KEY,
    until TEXT NOT NULL DEFAULT '',
    muted_at TEXT NOT NULL
);
"""

# Columns added since the first ledgers; an old file gets them on open. Alerts recorded
# before routing was tracked count as routed (their deliveries carry them).
_ADDED_COLUMNS = {
    "deliveries": (
        ("owner", "TEXT NOT NULL DEFAULT ''"),
        ("lease_until", "TEXT NOT NULL DEFAULT ''"),
        ("due_at", "TEXT NOT NULL DEFAULT ''"),
    ),
    "alerts": (
        ("owner", "TEXT NOT NULL DEFAULT ''"),
        ("lease_until", "TEXT NOT NULL DEFAULT ''"),
        ("routed", "INTEGER NOT NULL DEFAULT 1"),
    ),
}


def _create_tables(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(_TABLES)


def _migrate(conn: sqlite3.Connection) -> None:
    for table, added in _ADDED_COLUMNS.items():
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for name, ddl in added:
            if name not in columns:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}")
    conn.execute("CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries(state, due_at)")
    conn.execute("CREATE INDEX IF NOT EXISTS alerts_unrouted ON alerts(routed)")
    # The status page's newest-first pages (recent_alerts, recent_deliveries).
    conn.execute("CREATE INDEX IF NOT EXISTS alerts_recorded ON alerts(recorded_at)")
    conn.execute("CREATE INDEX IF NOT EXISTS deliveries_updated ON deliveries(updated_at)")


class _Guard:
    """The connection's lock; a SQLite error under it becomes a UserError naming the file
    (a page damaged after open, a disk gone), never a traceback."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        self._lock.release()
        if isinstance(exc, sqlite3.DatabaseError) and "locked" not in str(exc):
            raise ledger_file_error(self._path, f"the ledger cannot be read ({exc})") from None


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
        if not self.path.exists() and not self.path.is_symlink():
            try:
                create_new(self.path, _create_tables)
            except (sqlite3.Error, OSError) as exc:
                raise UserError(f"{self.path}: cannot create the ledger ({exc})") from None
        check_header(self.path)
        try:
            self._conn = sqlite3.connect(
                str(self.path),
                timeout=timeout_seconds,
                check_same_thread=False,
                isolation_level=None,
            )
        except sqlite3.Error as exc:
            raise UserError(f"{self.path}: cannot open the ledger ({exc})") from None
        check_contents(self.path, self._conn)
        self._lock = _Guard(self.path)
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            _create_tables(self._conn)
            with self._transaction():  # two processes opening an old ledger at once
                _migrate(self._conn)

    @staticmethod
    def _now() -> str:
        return dt.datetime.now(UTC).isoformat()

    # --- alerts ------------------------------------------------------------------------

    def record_alert(self, alert_id: str, payload: Payload) -> bool:
        now = dt.datetime.now(UTC)
        lease_until = (now + dt.timedelta(seconds=self.lease_seconds)).isoformat()
        with self._lock:
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO alerts(alert_id, recorded_at, payload, owner, lease_until,"
                " routed) VALUES (?, ?, ?, ?, ?, 0)",
                (
                    alert_id,
                    now.isoformat(),
                    json.dumps(payload, sort_keys=True, default=str),
                    owner_token(self._host),
                    lease_until,
                ),
            )
            return cur.rowcount == 1

    def unrouted_alerts(self) -> list[str]:
        now_iso = self._now()
        with self._lock:
            rows = self._conn.execute(
                "SELECT alert_id, owner, lease_until FROM alerts WHERE routed = 0"
                " ORDER BY recorded_at"
            ).fetchall()
        return [
            a
            for a, owner, lease in rows
            if abandoned(owner, lease, now_iso=now_iso, host=self._host)
        ]

    def mark_routed(self, alert_ids: list[str]) -> None:
        with self._lock, self._transaction():
            self._conn.executemany(
                "UPDATE alerts SET routed = 1, owner = '', lease_until = ''"
                " WHERE alert_id = ? AND routed = 0",
                [(a,) for a in alert_ids],
            )

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

    def dead_deliveries(self) -> list[DeliveryKey]:
        """Every dead delivery, oldest first (``deliver --retry-dead`` queues them again)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT alert_id, subscriber, channel FROM deliveries WHERE state = ?"
                " ORDER BY updated_at, alert_id",
                (DEAD,),
            ).fetchall()
        return [(str(a), str(s), str(c)) for a, s, c in rows]

    def requeue_dead(
        self, alert_id: str, subscriber: str, channel: str, *, due_at: dt.datetime | None = None
    ) -> bool:
        """Queue a dead delivery again, due at ``due_at`` (default now); False if it is not
        dead (any more)."""
        now = self._now()
        due = now if due_at is None else due_at.astimezone(UTC).isoformat()
        with self._lock:
            cur = self._conn.execute(
                "UPDATE deliveries SET state=?, due_at=?, updated_at=?, owner='', lease_until=''"
                " WHERE alert_id=? AND subscriber=? AND channel=? AND state=?",
                (QUEUED, due, now, alert_id, subscriber, channel, DEAD),
            )
            return cur.rowcount == 1

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

    # --- mutes -------------------------------------------------------------------------

    def add_mute(self, target: str, until: dt.datetime | None) -> None:
        stamp = until.astimezone(UTC).isoformat() if until is not None else ""
        with self._lock:
            self._conn.execute(
                "INSERT INTO mutes(target, until, muted_at) VALUES (?, ?, ?) ON CONFLICT(target)"
                " DO UPDATE SET until=excluded.until, muted_at=excluded.muted_at",
                (target, stamp, self._now()),
            )

    def remove_mute(self, target: str) -> bool:
        with self._lock:
            return self._conn.execute("DELETE FROM mutes WHERE target = ?", (target,)).rowcount == 1

    def active_mutes(self, now: dt.datetime) -> dict[str, dt.datetime | None]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT target, until FROM mutes WHERE until = '' OR until > ?",
                (now.astimezone(UTC).isoformat(),),
            ).fetchall()
        return {str(t): dt.datetime.fromisoformat(u) if u else None for t, u in rows}

    # --- reads for the status page -------------------------------------------------------

    def recent_alerts(
        self, *, limit: int, older_than: RecordedAlert | None = None
    ) -> list[RecordedAlert]:
        if limit <= 0:
            return []
        where = ""
        params: tuple[str, ...] = ()
        if older_than is not None:
            where, params = (
                "WHERE (recorded_at, alert_id) < (?, ?)",
                (older_than.recorded_at, older_than.alert_id),
            )
        with self._lock:
            rows = self._conn.execute(
                f"SELECT alert_id, recorded_at, payload FROM alerts {where}"
                " ORDER BY recorded_at DESC, alert_id DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [RecordedAlert(str(a), str(t), payload_object(p)) for a, t, p in rows]

    def recent_deliveries(
        self, *, limit: int, older_than: DeliveryRecord | None = None, state: str | None = None
    ) -> list[DeliveryRecord]:
        if limit <= 0:
            return []
        clauses, params = [], []
        if state is not None:
            clauses.append("state = ?")
            params.append(state)
        if older_than is not None:
            clauses.append("(updated_at, alert_id, subscriber, channel) < (?, ?, ?, ?)")
            o = older_than
            params += [o.updated_at, o.alert_id, o.subscriber, o.channel]
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._conn.execute(
                "SELECT alert_id, subscriber, channel, state, attempts, last_error, updated_at"
                f" FROM deliveries {where} ORDER BY updated_at DESC, alert_id DESC,"
                " subscriber DESC, channel DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [
            DeliveryRecord(str(a), str(s), str(c), str(st), int(n or 0), str(e or ""), str(t))
            for a, s, c, st, n, e, t in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
