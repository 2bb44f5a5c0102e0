"""The alert and delivery ledger: what survives a restart.

Tables:

- ``alerts``: every alert id when it is decided, before anything is delivered, so a
  restarted pipeline recognises what it already alerted (``record_alert``/``has_alert``).
- ``deliveries``: one row per (alert id, subscriber, channel): ``queued`` while it
  waits for a digest or the end of quiet hours, ``claimed`` while a sender owns it,
  ``sent`` after the channel confirmed, ``dead`` after a permanent failure.
- ``payloads``: the alert JSON a delivery needs to be retried after a restart.
- ``threads``: the Slack thread of each (subscriber, channel, storyline).

A claim has an owner (host, process id and a random token) and a lease. A claimed row
can be claimed again only when its owner released it (transient failure, retry later),
its lease ran out, or its owner process is gone from this host (killed mid-send). So two
threads or processes never send the same delivery at once, a crashed sender's rows are
retried at once by the next process, and a sent row is never sent again. (A killed process
that its parent has not reaped yet still looks alive; its claims then wait for the lease.)

Timeline for one delivery::

    t0 claim(a1, desk, slack)      -> True   row: claimed by P1, attempts=1
    t1 (P1 killed with SIGKILL before the webhook answered)
    t2 claim(a1, desk, slack) in P2 -> True  P1 is gone: claimed by P2, attempts=2
    t3 mark_sent(a1, desk, slack)            row: sent
    t4 claim(a1, desk, slack)      -> False  (already sent: skip)

The at-least-once window runs from the moment a request leaves for the channel until
``mark_sent`` commits (one SQLite write right after the answer): a kill inside it means
the restarted process cannot know whether the message arrived, so it sends again. The
claim it takes over has ``attempts`` > 1, which tells the channel to be careful: a Slack
bot first looks for the delivery id (message metadata) in the channel and does not post
twice; a webhook and email cannot be asked, so their repeat carries the same idempotency
key (``X-Storywatch-Delivery-Id`` header, stable ``Message-ID``) for the receiver to drop.

``Ledger`` is the interface; ``SqliteLedger`` is the local default. SQLite connections
are opened with ``check_same_thread=False`` and guarded by a lock because Beam may call
setup, process and teardown on different threads.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pipeline.errors import UserError

UTC = dt.UTC

QUEUED, CLAIMED, SENT, DEAD = "queued", "claimed", "sent", "dead"
DEFAULT_LEASE_SECONDS = 600.0
# Tells this process's claims from those of an earlier process that had the same pid
# (containers restart as pid 1).
_PROCESS_NONCE = uuid.uuid4().hex[:12]


@dataclass(frozen=True, slots=True)
class QueuedDelivery:
    """A delivery waiting for its digest (or for the end of quiet hours) until ``due_at``."""

    alert_id: str
    subscriber: str
    channel: str
    due_at: dt.datetime


class Ledger(Protocol):
    """Durable record of alerts decided and deliveries made."""

    def record_alert(self, alert_id: str, payload: dict) -> bool:
        """Record an alert id; True if it is new, False if it was recorded before."""

    def has_alert(self, alert_id: str) -> bool: ...

    def claim(self, alert_id: str, subscriber: str, channel: str) -> bool:
        """Claim a delivery before sending; False if it was sent, is dead, or another sender owns it."""

    def release(self, alert_id: str, subscriber: str, channel: str, reason: str) -> None:
        """Give a claim back after a transient failure: it stays unconfirmed and is retried later."""

    def mark_sent(self, alert_id: str, subscriber: str, channel: str) -> None: ...

    def mark_many_sent(self, keys: list[tuple[str, str, str]]) -> None:
        """Mark several deliveries sent at once (a digest and the alerts in it)."""

    def mark_dead(self, alert_id: str, subscriber: str, channel: str, reason: str) -> None: ...

    def delivery_state(self, alert_id: str, subscriber: str, channel: str) -> str | None: ...

    def attempts(self, alert_id: str, subscriber: str, channel: str) -> int:
        """How many times the delivery was claimed (0 if never); above 1, an earlier try may have landed."""

    def unconfirmed(self) -> list[tuple[str, str, str]]:
        """Deliveries claimed but never confirmed (to retry after a crash)."""

    def enqueue(
        self, alert_id: str, subscriber: str, channel: str, due_at: dt.datetime
    ) -> bool: ...

    def due(self, now: dt.datetime) -> list[QueuedDelivery]: ...

    def save_payload(self, alert_id: str, payload: dict) -> None: ...

    def load_payload(self, alert_id: str) -> dict | None: ...

    def thread_ts(self, subscriber: str, channel: str, storyline_id: str) -> str | None: ...

    def set_thread_ts(self, subscriber: str, channel: str, storyline_id: str, ts: str) -> None: ...

    def close(self) -> None: ...


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SqliteLedger:
    """The Ledger on one SQLite file (WAL mode, safe across processes and threads)."""

    def __init__(
        self,
        path: Path | str,
        *,
        timeout_seconds: float = 30.0,
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

    def _owner_token(self) -> str:
        return f"{self._host}|{os.getpid()}|{_PROCESS_NONCE}|{uuid.uuid4().hex[:8]}"

    def _owner_gone(self, owner: str) -> bool:
        """True if ``owner`` was a process on this host that no longer runs."""
        parts = owner.split("|")
        if len(parts) != 4 or parts[0] != self._host:
            return False
        try:
            pid = int(parts[1])
        except ValueError:
            return False
        if pid == os.getpid():
            return parts[2] != _PROCESS_NONCE
        return not _pid_alive(pid)

    # --- alerts ------------------------------------------------------------------------

    def record_alert(self, alert_id: str, payload: dict) -> bool:
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

    def _transaction(self):
        return _Transaction(self._conn)

    def claim(self, alert_id: str, subscriber: str, channel: str) -> bool:
        now = dt.datetime.now(UTC)
        lease_until = (now + dt.timedelta(seconds=self.lease_seconds)).isoformat()
        owner = self._owner_token()
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
            if state == QUEUED:
                claimable = True
            elif state == CLAIMED:
                claimable = (
                    not current_owner
                    or not current_lease
                    or current_lease <= now.isoformat()
                    or self._owner_gone(current_owner)
                )
            else:
                claimable = False
            if claimable:
                self._conn.execute(
                    "UPDATE deliveries SET state=?, attempts = attempts + 1, updated_at=?, owner=?,"
                    " lease_until=? WHERE alert_id=? AND subscriber=? AND channel=?",
                    (CLAIMED, now.isoformat(), owner, lease_until, alert_id, subscriber, channel),
                )
            return claimable

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

    def mark_many_sent(self, keys: list[tuple[str, str, str]]) -> None:
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

    def _delivery_value(self, column: str, key: tuple[str, str, str]):
        with self._lock:
            row = self._conn.execute(
                f"SELECT {column} FROM deliveries WHERE alert_id=? AND subscriber=? AND channel=?",
                key,
            ).fetchone()
            return row[0] if row else None

    def delivery_state(self, alert_id: str, subscriber: str, channel: str) -> str | None:
        return self._delivery_value("state", (alert_id, subscriber, channel))

    def attempts(self, alert_id: str, subscriber: str, channel: str) -> int:
        """How many times the delivery was claimed (0 if never)."""
        return self._delivery_value("attempts", (alert_id, subscriber, channel)) or 0

    def unconfirmed(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return [
                tuple(r)
                for r in self._conn.execute(
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

    def save_payload(self, alert_id: str, payload: dict) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO payloads(alert_id, payload) VALUES (?, ?)",
                (alert_id, json.dumps(payload, sort_keys=True, default=str)),
            )

    def load_payload(self, alert_id: str) -> dict | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT payload FROM payloads WHERE alert_id=?", (alert_id,)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def thread_ts(self, subscriber: str, channel: str, storyline_id: str) -> str | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT thread_ts FROM threads WHERE subscriber=? AND channel=? AND storyline_id=?",
                (subscriber, channel, storyline_id),
            ).fetchone()
        return row[0] if row else None

    def set_thread_ts(self, subscriber: str, channel: str, storyline_id: str, ts: str) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO threads(subscriber, channel, storyline_id, thread_ts) VALUES (?, ?, ?, ?)",
                (subscriber, channel, storyline_id, ts),
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (or ``ROLLBACK`` on any exception)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> bool:
        self._conn.execute("ROLLBACK" if exc_type else "COMMIT")
        return False


def open_ledger(url: str, **kwargs) -> Ledger:
    """Open the ledger named by ``url``: a file path, ``sqlite:///path`` or
    ``firestore://PROJECT/PREFIX`` (on Dataflow; see pipeline/ledger/firestore.py)."""
    if url.startswith("firestore://"):
        from pipeline.ledger.firestore import FirestoreLedger

        return FirestoreLedger.from_url(
            url, **{k: v for k, v in kwargs.items() if k == "lease_seconds"}
        )
    if url.startswith("sqlite:///"):
        url = url[len("sqlite:///") :]
    elif "://" in url:
        raise UserError(
            f"ledger '{url}': unsupported scheme; use a file path, sqlite:///path "
            "or firestore://PROJECT/PREFIX"
        )
    return SqliteLedger(url, **kwargs)
