"""The ledger on PostgreSQL: one ledger shared by many workers (self-hosted, Cloud SQL, AlloyDB).

``--ledger=postgresql://USER:PASSWORD@HOST:PORT/DB`` (``postgres://`` too; any libpq
parameter, e.g. ``?host=/run/postgresql`` for a Unix socket or ``?sslmode=require``). The
tables are those of the SQLite ledger, prefixed ``storywatch_`` so they can share a
database; they are created on first open (under an advisory lock, so workers starting
together do not race). Times are ISO-8601 UTC text, compared as text, exactly as in the
SQLite and Firestore ledgers, so the takeover rule (``pipeline.ledger.claims``) is one.

Claims use row locks: ``claim`` inserts the row (``ON CONFLICT DO NOTHING``) or locks the
existing one with ``SELECT … FOR UPDATE SKIP LOCKED``, so of two workers claiming the same
delivery at once the second never wins and never waits on a sender (at most on the first's
insert committing): it sees the row taken and moves on. A claim has
an owner and a lease (``lease_seconds``, 10 minutes by default); a dead owner on the same
host is taken over at once, one on another machine when its lease runs out. Every other
write is a single statement or one transaction. Times are ISO text in "C" collation
columns, so a server whose default collation is a language's still orders them by byte.

Secrets: the password in the URL is never printed; errors show the URL with it replaced
by ``***`` (``redact_url``), and any echo of it in a server message is removed too.
One connection per ledger object (autocommit, guarded by a lock), as Beam may call
setup, process and teardown on different threads. A dropped connection (server restart,
failover) is reopened once and the statement run again; ``record_alert`` and ``claim``
recognise their own row if the lost reply was a commit. Deadlocks are retried; TCP
keepalives notice a server that vanished without closing the connection.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pgerrors
from psycopg.conninfo import conninfo_to_dict, make_conninfo

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
from pipeline.ledger.url import POSTGRES_SCHEMES as SCHEMES
from pipeline.ledger.url import is_postgres_url, redact_url, url_secrets

__all__ = ["SCHEMES", "PostgresLedger", "is_postgres_url", "redact_url"]

UTC = dt.UTC
DEFAULT_CONNECT_TIMEOUT_SECONDS = 10.0
# A server that vanished without closing the connection (a VM gone, a network cut) is
# noticed in about a minute instead of a query hanging for ever. The URL's own values win.
_KEEPALIVES = {
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
}
_SCHEMA_LOCK = 0x5754_4C45  # pg_advisory_xact_lock key: "SWLE"
T = TypeVar("T")

# Times are compared as text in SQL (due_at <= now, until > now) and sorted: "C" collation,
# so a server whose default is a language collation (Cloud SQL: en_US.UTF8) compares them
# byte by byte, as SQLite and Python do.
_TIME = "TEXT COLLATE \"C\" NOT NULL DEFAULT ''"
_TABLES = (
    f"""CREATE TABLE IF NOT EXISTS storywatch_alerts (
        alert_id TEXT PRIMARY KEY, recorded_at {_TIME}, payload TEXT NOT NULL,
        owner TEXT NOT NULL DEFAULT '', lease_until {_TIME},
        routed BOOLEAN NOT NULL DEFAULT TRUE)""",
    """CREATE INDEX IF NOT EXISTS storywatch_alerts_unrouted
        ON storywatch_alerts(recorded_at) WHERE NOT routed""",
    f"""CREATE TABLE IF NOT EXISTS storywatch_deliveries (
        alert_id TEXT NOT NULL, subscriber TEXT NOT NULL, channel TEXT NOT NULL,
        state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, updated_at {_TIME},
        last_error TEXT NOT NULL DEFAULT '', owner TEXT NOT NULL DEFAULT '',
        lease_until {_TIME}, due_at {_TIME},
        PRIMARY KEY (alert_id, subscriber, channel))""",
    """CREATE INDEX IF NOT EXISTS storywatch_deliveries_state
        ON storywatch_deliveries(state, due_at)""",
    # The status page's newest-first pages (recent_alerts, recent_deliveries).
    """CREATE INDEX IF NOT EXISTS storywatch_alerts_recorded
        ON storywatch_alerts(recorded_at)""",
    """CREATE INDEX IF NOT EXISTS storywatch_deliveries_updated
        ON storywatch_deliveries(updated_at)""",
    """CREATE TABLE IF NOT EXISTS storywatch_payloads (
        alert_id TEXT PRIMARY KEY, payload TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS storywatch_threads (
        subscriber TEXT NOT NULL, channel TEXT NOT NULL, storyline_id TEXT NOT NULL,
        thread_ts TEXT NOT NULL, PRIMARY KEY (subscriber, channel, storyline_id))""",
    f"""CREATE TABLE IF NOT EXISTS storywatch_hot_feeds (
        feed_id TEXT PRIMARY KEY, until {_TIME})""",
    f"""CREATE TABLE IF NOT EXISTS storywatch_mutes (
        target TEXT PRIMARY KEY, until {_TIME}, muted_at {_TIME})""",
)
# A deadlock or serialization failure rolls the whole transaction back: run it again.
_ROLLBACK_RETRIES = 3
_KEY = "alert_id=%s AND subscriber=%s AND channel=%s"
# Ids in byte order (the "C" collation), as SQLite and Python order them, whatever the
# database's default collation: the page cursors compare them the same way.
_C = 'COLLATE "C"'


class PostgresLedger:
    """The ``Ledger`` protocol on PostgreSQL tables named ``storywatch_*``."""

    def __init__(
        self,
        url: str,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        connect_timeout_seconds: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
    ) -> None:
        self._url = url
        self.url = redact_url(url)
        self.lease_seconds = lease_seconds
        self._connect_timeout_seconds = connect_timeout_seconds
        self._host = socket.gethostname()
        self._lock = threading.Lock()
        self._conn = self._connect()

        def create_schema(conn: psycopg.Connection[Any]) -> None:
            # Workers starting together: the lock makes one create, the others then see it.
            with self._tx(conn):
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                for ddl in _TABLES:
                    conn.execute(ddl)

        self._run(create_schema, doing="cannot create the ledger's tables")

    # --- connection and errors ----------------------------------------------------------

    def _error(self, exc: BaseException, doing: str, hint: str = "") -> UserError:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        for secret in url_secrets(self._url):
            message = message.replace(secret, "***")
        return UserError(
            f"ledger '{self.url}': {doing} ({message})" + (f"; {hint}" if hint else "")
        )

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            given = conninfo_to_dict(self._url)
            defaults = {
                "connect_timeout": str(max(1, round(self._connect_timeout_seconds))),
                **_KEEPALIVES,
            }
            extra = {k: v for k, v in defaults.items() if k not in given}
            return psycopg.connect(make_conninfo(self._url, **extra), autocommit=True)
        except (psycopg.Error, ValueError) as exc:  # ValueError: a malformed URL
            raise self._error(
                exc,
                "cannot connect to the PostgreSQL ledger",
                "check the URL (postgresql://USER:PASSWORD@HOST:PORT/DB), that the server "
                "runs and that it accepts this user and password",
            ) from None

    def _run(
        self,
        fn: Callable[[psycopg.Connection[Any]], T],
        *,
        doing: str = "the PostgreSQL ledger failed",
    ) -> T:
        """``fn(connection)`` under the lock. A dropped connection is reopened once and
        ``fn`` run again (each ``fn`` is one statement or one transaction, so a rolled-back
        try left nothing behind); a deadlock or serialization failure is retried too."""
        with self._lock:
            reconnected, rollbacks = False, 0
            while True:
                try:
                    return fn(self._conn)
                except pgerrors.TransactionRollback as exc:
                    rollbacks += 1
                    if rollbacks > _ROLLBACK_RETRIES:
                        raise self._error(exc, doing) from None
                except psycopg.Error as exc:
                    if reconnected or not self._conn.broken:
                        raise self._error(exc, doing) from None
                    reconnected = True
                    self._conn = self._connect()

    @contextmanager
    def _tx(self, conn: psycopg.Connection[Any]) -> Iterator[psycopg.Connection[Any]]:
        with conn.transaction():
            yield conn

    @staticmethod
    def _now() -> str:
        return dt.datetime.now(UTC).isoformat()

    def _lease_until(self, now: dt.datetime) -> str:
        return (now + dt.timedelta(seconds=self.lease_seconds)).isoformat()

    # --- alerts ------------------------------------------------------------------------

    def record_alert(self, alert_id: str, payload: Payload) -> bool:
        now = dt.datetime.now(UTC)
        owner = owner_token(self._host)
        row = (
            alert_id,
            now.isoformat(),
            json.dumps(payload, sort_keys=True, default=str),
            owner,
            self._lease_until(now),
        )

        def attempt(conn: psycopg.Connection[Any]) -> bool:
            inserted = conn.execute(
                "INSERT INTO storywatch_alerts(alert_id, recorded_at, payload, owner, lease_until,"
                " routed) VALUES (%s, %s, %s, %s, %s, FALSE) ON CONFLICT DO NOTHING",
                row,
            ).rowcount
            if inserted == 1:
                return True
            # Recorded before, unless by this very call on a connection whose reply was lost.
            found = conn.execute(
                "SELECT owner FROM storywatch_alerts WHERE alert_id=%s", (alert_id,)
            ).fetchone()
            return found is not None and found[0] == owner

        return self._run(attempt)

    def has_alert(self, alert_id: str) -> bool:
        return self._run(
            lambda c: (
                c.execute(
                    "SELECT 1 FROM storywatch_alerts WHERE alert_id=%s", (alert_id,)
                ).fetchone()
                is not None
            )
        )

    def alert_ids(self) -> list[str]:
        return self._run(
            lambda c: [
                r[0]
                for r in c.execute(
                    "SELECT alert_id FROM storywatch_alerts ORDER BY recorded_at, alert_id"
                )
            ]
        )

    def unrouted_alerts(self) -> list[str]:
        now_iso = self._now()
        rows = self._run(
            lambda c: c.execute(
                "SELECT alert_id, owner, lease_until FROM storywatch_alerts WHERE NOT routed"
                " ORDER BY recorded_at, alert_id"
            ).fetchall()
        )
        return [a for a, o, lease in rows if abandoned(o, lease, now_iso=now_iso, host=self._host)]

    def mark_routed(self, alert_ids: list[str]) -> None:
        if not alert_ids:
            return
        self._run(
            lambda c: c.execute(
                "UPDATE storywatch_alerts SET routed=TRUE, owner='', lease_until=''"
                " WHERE alert_id = ANY(%s) AND NOT routed",
                (list(alert_ids),),
            )
        )

    # --- deliveries --------------------------------------------------------------------

    def claim(self, alert_id: str, subscriber: str, channel: str) -> bool:
        now = dt.datetime.now(UTC)
        owner, lease_until, key = (
            owner_token(self._host),
            self._lease_until(now),
            (
                alert_id,
                subscriber,
                channel,
            ),
        )

        def attempt(conn: psycopg.Connection[Any]) -> bool:
            with self._tx(conn):
                inserted = conn.execute(
                    "INSERT INTO storywatch_deliveries(alert_id, subscriber, channel, state,"
                    " attempts, updated_at, owner, lease_until) VALUES (%s, %s, %s, %s, 1, %s, %s, %s)"
                    " ON CONFLICT DO NOTHING",
                    (*key, CLAIMED, now.isoformat(), owner, lease_until),
                ).rowcount
                if inserted == 1:
                    return True
                row = conn.execute(
                    f"SELECT state, owner, lease_until FROM storywatch_deliveries WHERE {_KEY}"
                    " FOR UPDATE SKIP LOCKED",
                    key,
                ).fetchone()
                if row is None:  # another worker holds the row this instant: it is theirs
                    return False
                if row[0] == CLAIMED and row[1] == owner:  # a retry after a lost commit reply
                    return True
                if not claimable(*row, now_iso=now.isoformat(), host=self._host):
                    return False
                conn.execute(
                    "UPDATE storywatch_deliveries SET state=%s, attempts=attempts+1, updated_at=%s,"
                    f" owner=%s, lease_until=%s WHERE {_KEY}",
                    (CLAIMED, now.isoformat(), owner, lease_until, *key),
                )
                return True

        return self._run(attempt)

    def release(self, alert_id: str, subscriber: str, channel: str, reason: str) -> None:
        self._run(
            lambda c: c.execute(
                "UPDATE storywatch_deliveries SET owner='', lease_until='', updated_at=%s,"
                f" last_error=%s WHERE {_KEY} AND state=%s",
                (self._now(), reason, alert_id, subscriber, channel, CLAIMED),
            )
        )

    def _set_state(
        self, alert_id: str, subscriber: str, channel: str, state: str, reason: str = ""
    ) -> None:
        self._run(
            lambda c: c.execute(
                "INSERT INTO storywatch_deliveries(alert_id, subscriber, channel, state, attempts,"
                " updated_at, last_error) VALUES (%s, %s, %s, %s, 1, %s, %s)"
                " ON CONFLICT (alert_id, subscriber, channel) DO UPDATE SET state=excluded.state,"
                " updated_at=excluded.updated_at, last_error=excluded.last_error, owner='',"
                " lease_until=''",
                (alert_id, subscriber, channel, state, self._now(), reason),
            )
        )

    def mark_sent(self, alert_id: str, subscriber: str, channel: str) -> None:
        self._set_state(alert_id, subscriber, channel, SENT)

    def mark_many_sent(self, keys: list[DeliveryKey]) -> None:
        now = self._now()

        def attempt(conn: psycopg.Connection[Any]) -> None:
            with self._tx(conn), conn.cursor() as cur:
                cur.executemany(
                    "UPDATE storywatch_deliveries SET state=%s, updated_at=%s, owner='',"
                    f" lease_until='' WHERE {_KEY}",
                    [(SENT, now, *key) for key in sorted(keys)],  # one lock order: no deadlock
                )

        if keys:
            self._run(attempt)

    def mark_dead(self, alert_id: str, subscriber: str, channel: str, reason: str) -> None:
        self._set_state(alert_id, subscriber, channel, DEAD, reason)

    def _delivery_value(self, column: str, key: DeliveryKey) -> Any:
        row = self._run(
            lambda c: c.execute(
                f"SELECT {column} FROM storywatch_deliveries WHERE {_KEY}", key
            ).fetchone()
        )
        return row[0] if row else None

    def delivery_state(self, alert_id: str, subscriber: str, channel: str) -> str | None:
        state = self._delivery_value("state", (alert_id, subscriber, channel))
        return None if state is None else str(state)

    def attempts(self, alert_id: str, subscriber: str, channel: str) -> int:
        return int(self._delivery_value("attempts", (alert_id, subscriber, channel)) or 0)

    def unconfirmed(self) -> list[DeliveryKey]:
        rows = self._run(
            lambda c: c.execute(
                "SELECT alert_id, subscriber, channel FROM storywatch_deliveries WHERE state=%s"
                " ORDER BY updated_at, alert_id",
                (CLAIMED,),
            ).fetchall()
        )
        return [(str(a), str(s), str(ch)) for a, s, ch in rows]

    def dead_deliveries(self) -> list[DeliveryKey]:
        """Every dead delivery, oldest first (``deliver --retry-dead`` queues them again)."""
        rows = self._run(
            lambda c: c.execute(
                "SELECT alert_id, subscriber, channel FROM storywatch_deliveries WHERE state=%s"
                " ORDER BY updated_at, alert_id",
                (DEAD,),
            ).fetchall()
        )
        return [(str(a), str(s), str(ch)) for a, s, ch in rows]

    def requeue_dead(
        self, alert_id: str, subscriber: str, channel: str, *, due_at: dt.datetime | None = None
    ) -> bool:
        """Queue a dead delivery again, due at ``due_at`` (default now); False if it is not
        dead (any more)."""
        now = self._now()
        due = now if due_at is None else due_at.astimezone(UTC).isoformat()
        return self._run(
            lambda c: (
                c.execute(
                    "UPDATE storywatch_deliveries SET state=%s, due_at=%s, updated_at=%s,"
                    f" owner='', lease_until='' WHERE {_KEY} AND state=%s",
                    (QUEUED, due, now, alert_id, subscriber, channel, DEAD),
                ).rowcount
                == 1
            )
        )

    def counts(self) -> dict[str, int]:
        """Number of deliveries in each state (for summaries and tests)."""
        rows = self._run(
            lambda c: c.execute(
                "SELECT state, COUNT(*) FROM storywatch_deliveries GROUP BY state"
            ).fetchall()
        )
        return {str(state): int(n) for state, n in rows}

    # --- digest and quiet-hours queue --------------------------------------------------

    def enqueue(self, alert_id: str, subscriber: str, channel: str, due_at: dt.datetime) -> bool:
        """Queue a delivery for ``due_at``; False if it is already queued, claimed, sent or dead."""
        row = (
            alert_id,
            subscriber,
            channel,
            QUEUED,
            self._now(),
            due_at.astimezone(UTC).isoformat(),
        )
        return self._run(
            lambda c: (
                c.execute(
                    "INSERT INTO storywatch_deliveries(alert_id, subscriber, channel, state, attempts,"
                    " updated_at, due_at) VALUES (%s, %s, %s, %s, 0, %s, %s) ON CONFLICT DO NOTHING",
                    row,
                ).rowcount
                == 1
            )
        )

    def due(self, now: dt.datetime) -> list[QueuedDelivery]:
        rows = self._run(
            lambda c: c.execute(
                "SELECT alert_id, subscriber, channel, due_at FROM storywatch_deliveries"
                " WHERE state=%s AND due_at <= %s ORDER BY due_at, updated_at, alert_id",
                (QUEUED, now.astimezone(UTC).isoformat()),
            ).fetchall()
        )
        return [QueuedDelivery(a, s, c, dt.datetime.fromisoformat(d)) for a, s, c, d in rows]

    # --- payloads and threads ----------------------------------------------------------

    def save_payload(self, alert_id: str, payload: Payload) -> None:
        text = json.dumps(payload, sort_keys=True, default=str)
        self._run(
            lambda c: c.execute(
                "INSERT INTO storywatch_payloads(alert_id, payload) VALUES (%s, %s)"
                " ON CONFLICT DO NOTHING",
                (alert_id, text),
            )
        )

    def load_payload(self, alert_id: str) -> Payload | None:
        row = self._run(
            lambda c: c.execute(
                "SELECT payload FROM storywatch_payloads WHERE alert_id=%s", (alert_id,)
            ).fetchone()
        )
        if row is None:
            return None
        payload: Payload = json.loads(row[0])
        return payload

    def thread_ts(self, subscriber: str, channel: str, storyline_id: str) -> str | None:
        row = self._run(
            lambda c: c.execute(
                "SELECT thread_ts FROM storywatch_threads"
                " WHERE subscriber=%s AND channel=%s AND storyline_id=%s",
                (subscriber, channel, storyline_id),
            ).fetchone()
        )
        return None if row is None else str(row[0])

    def set_thread_ts(self, subscriber: str, channel: str, storyline_id: str, ts: str) -> None:
        self._run(
            lambda c: c.execute(
                "INSERT INTO storywatch_threads(subscriber, channel, storyline_id, thread_ts)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (subscriber, channel, storyline_id, ts),
            )
        )

    # --- burst cadence -------------------------------------------------------------------

    def mark_feeds_hot(self, feed_ids: list[str], until: dt.datetime) -> None:
        stamp = until.astimezone(UTC).isoformat()

        def attempt(conn: psycopg.Connection[Any]) -> None:
            with self._tx(conn), conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO storywatch_hot_feeds(feed_id, until) VALUES (%s, %s)"
                    " ON CONFLICT (feed_id) DO UPDATE"
                    " SET until=GREATEST(storywatch_hot_feeds.until, excluded.until)",
                    [(feed_id, stamp) for feed_id in sorted(set(feed_ids))],
                )

        if feed_ids:
            self._run(attempt)

    def hot_feeds(self, now: dt.datetime) -> dict[str, dt.datetime]:
        rows = self._run(
            lambda c: c.execute(
                "SELECT feed_id, until FROM storywatch_hot_feeds WHERE until > %s",
                (now.astimezone(UTC).isoformat(),),
            ).fetchall()
        )
        return {str(f): dt.datetime.fromisoformat(u) for f, u in rows}

    # --- mutes -------------------------------------------------------------------------

    def add_mute(self, target: str, until: dt.datetime | None) -> None:
        stamp = until.astimezone(UTC).isoformat() if until is not None else ""
        self._run(
            lambda c: c.execute(
                "INSERT INTO storywatch_mutes(target, until, muted_at) VALUES (%s, %s, %s)"
                " ON CONFLICT (target) DO UPDATE SET until=excluded.until,"
                " muted_at=excluded.muted_at",
                (target, stamp, self._now()),
            )
        )

    def remove_mute(self, target: str) -> bool:
        return self._run(
            lambda c: (
                c.execute("DELETE FROM storywatch_mutes WHERE target=%s", (target,)).rowcount == 1
            )
        )

    def active_mutes(self, now: dt.datetime) -> dict[str, dt.datetime | None]:
        rows = self._run(
            lambda c: c.execute(
                "SELECT target, until FROM storywatch_mutes WHERE until='' OR until > %s",
                (now.astimezone(UTC).isoformat(),),
            ).fetchall()
        )
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
            where = f"WHERE (recorded_at, alert_id {_C}) < (%s, %s)"
            params = (older_than.recorded_at, older_than.alert_id)
        rows = self._run(
            lambda c: c.execute(
                f"SELECT alert_id, recorded_at, payload FROM storywatch_alerts {where}"
                f" ORDER BY recorded_at DESC, alert_id {_C} DESC LIMIT %s",
                (*params, limit),
            ).fetchall()
        )
        return [RecordedAlert(str(a), str(t), payload_object(p)) for a, t, p in rows]

    def recent_deliveries(
        self, *, limit: int, older_than: DeliveryRecord | None = None, state: str | None = None
    ) -> list[DeliveryRecord]:
        if limit <= 0:
            return []
        clauses: list[str] = []
        params: list[Any] = []
        if state is not None:
            clauses.append("state=%s")
            params.append(state)
        if older_than is not None:
            clauses.append(
                f"(updated_at, alert_id {_C}, subscriber {_C}, channel {_C}) < (%s, %s, %s, %s)"
            )
            o = older_than
            params += [o.updated_at, o.alert_id, o.subscriber, o.channel]
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._run(
            lambda c: c.execute(
                "SELECT alert_id, subscriber, channel, state, attempts, last_error, updated_at"
                f" FROM storywatch_deliveries {where} ORDER BY updated_at DESC,"
                f" alert_id {_C} DESC, subscriber {_C} DESC, channel {_C} DESC LIMIT %s",
                (*params, limit),
            ).fetchall()
        )
        return [
            DeliveryRecord(str(a), str(s), str(ch), str(st), int(n or 0), str(e or ""), str(t))
            for a, s, ch, st, n, e, t in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
