"""The ledger contract, one suite run on every backend: SQLite, PostgreSQL, Firestore.

SQLite runs on a real file, PostgreSQL on a real server the tests start
(``tests/ledger/postgres_server.py``, one fresh database per test) and Firestore on
``FakeFirestore`` (no emulator here; the only mock, it stands in for Google Cloud). Each
test gets a ``Store``: ``store.open()`` opens another ledger on the same file, database
or client, as a second worker or a restart would, and ``store.set_owner`` rewrites the
owner token of a row, as a worker that died (or runs on another host) would have left it.
"""

from __future__ import annotations

import datetime as dt
import doctest
import inspect
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

import pipeline.ledger.protocol
from pipeline.ledger import open_ledger
from pipeline.ledger.firestore import FirestoreLedger, doc_id
from pipeline.ledger.postgres import PostgresLedger
from pipeline.ledger.protocol import CLAIMED, DEAD, QUEUED, SENT, Ledger
from pipeline.ledger.sqlite import SqliteLedger
from tests.ledger.firestore_fake import FakeFirestore, fake_transaction_runner
from tests.paths import ROOT

UTC = dt.UTC
KEY = ("a1", "desk", "slack")
BACKENDS = ("sqlite", "postgresql", "firestore")
#: An owner token of a process on this host that no longer runs (pid above pid_max).
DEAD_OWNER_PID = 999_999_999


@dataclass
class Store:
    """One backend's storage and how to open ledgers on it."""

    name: str
    url: str  # "" for the Firestore fake
    make: Callable[[float], Ledger]
    rewrite: Callable[[str, tuple[str, ...], dict[str, str]], None]  # (table, key, fields)
    opened: list[Ledger] = field(default_factory=list)

    def open(self, *, lease_seconds: float = 600.0) -> Any:
        ledger = self.make(lease_seconds)
        self.opened.append(ledger)
        return ledger

    def set_owner(self, table: str, key: tuple[str, ...], owner: str) -> None:
        """Set the owner of an ``alerts`` row (key: alert id) or a ``deliveries`` row."""
        self.rewrite(table, key, {"owner": owner})

    def set_fields(self, table: str, key: tuple[str, ...], **fields: str) -> None:
        """Set text columns of a row, as another worker's write (or clock) would have."""
        self.rewrite(table, key, fields)


def _sqlite_store(tmp_path: Path) -> Store:
    path = tmp_path / "ledger.sqlite"

    def rewrite(table: str, key: tuple[str, ...], fields: dict[str, str]) -> None:
        where = "alert_id=?" if table == "alerts" else "alert_id=? AND subscriber=? AND channel=?"
        sets = ", ".join(f"{name}=?" for name in fields)
        with sqlite3.connect(path) as conn:
            conn.execute(f"UPDATE {table} SET {sets} WHERE {where}", (*fields.values(), *key))

    return Store(
        "sqlite",
        f"sqlite:///{path}",
        lambda lease: SqliteLedger(path, lease_seconds=lease),
        rewrite,
    )


def _postgres_store(url: str) -> Store:
    def rewrite(table: str, key: tuple[str, ...], fields: dict[str, str]) -> None:
        where = (
            "alert_id=%s" if table == "alerts" else "alert_id=%s AND subscriber=%s AND channel=%s"
        )
        sets = ", ".join(f"{name}=%s" for name in fields)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                f"UPDATE storywatch_{table} SET {sets} WHERE {where}", (*fields.values(), *key)
            )

    return Store("postgresql", url, lambda lease: PostgresLedger(url, lease_seconds=lease), rewrite)


def _firestore_store() -> Store:
    db = FakeFirestore()

    def rewrite(table: str, key: tuple[str, ...], fields: dict[str, str]) -> None:
        ref = (f"sw_{table}", doc_id(*key))
        with db.lock:
            version, row = db.docs[ref]
            db.docs[ref] = (version + 1, {**row, **fields})

    def make(lease: float) -> Ledger:
        return FirestoreLedger(
            db, prefix="sw", lease_seconds=lease, transaction_runner=fake_transaction_runner
        )

    return Store("firestore", "", make, rewrite)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        made = _sqlite_store(tmp_path)
    elif request.param == "postgresql":
        made = _postgres_store(request.getfixturevalue("postgres_url"))
    else:
        made = _firestore_store()
    yield made
    for ledger in made.opened:
        ledger.close()


@pytest.fixture
def ledger(store: Store) -> Any:
    return store.open()


def _owner_of(store: Store, table: str, key: tuple[str, ...]) -> str:
    """The owner token now on a row (read with the backend's own client)."""
    if store.name == "sqlite":
        where = "alert_id=?" if table == "alerts" else "alert_id=? AND subscriber=? AND channel=?"
        with sqlite3.connect(store.url.removeprefix("sqlite:///")) as conn:
            return str(conn.execute(f"SELECT owner FROM {table} WHERE {where}", key).fetchone()[0])
    if store.name == "postgresql":
        where = (
            "alert_id=%s" if table == "alerts" else "alert_id=%s AND subscriber=%s AND channel=%s"
        )
        with psycopg.connect(store.url) as conn:
            row = conn.execute(f"SELECT owner FROM storywatch_{table} WHERE {where}", key)
            return str(row.fetchone()[0])  # type: ignore[index]
    ledger = store.opened[0]
    assert isinstance(ledger, FirestoreLedger)
    db = ledger._client
    return str(db.docs[(f"sw_{table}", doc_id(*key))][1]["owner"])


def _dead_owner(owner: str) -> str:
    host, _, nonce, tag = owner.split("|")
    return f"{host}|{DEAD_OWNER_PID}|{nonce}|{tag}"


# --- alerts --------------------------------------------------------------------------


def test_alerts_are_recorded_once_oldest_first(ledger):
    assert ledger.record_alert("a1", {"title": "first"}) is True
    assert ledger.record_alert("a1", {"title": "again"}) is False
    assert ledger.record_alert("a/2", {"title": "slash in id"}) is True
    assert ledger.has_alert("a1") and ledger.has_alert("a/2") and not ledger.has_alert("a3")
    assert ledger.alert_ids() == ["a1", "a/2"]


def test_an_alert_is_unrouted_only_once_its_recorder_is_gone(store, ledger):
    assert ledger.record_alert("a1", {"n": 1}) and ledger.record_alert("a2", {"n": 2})
    assert ledger.unrouted_alerts() == []  # the recorder (this process) runs, within its lease
    store.set_owner("alerts", ("a1",), _dead_owner(_owner_of(store, "alerts", ("a1",))))
    assert ledger.unrouted_alerts() == ["a1"]  # killed between deciding and claiming
    other_host = "another-worker|1|x|y"
    store.set_owner("alerts", ("a2",), other_host)
    assert ledger.unrouted_alerts() == ["a1"]  # another host: wait for its lease
    ledger.mark_routed(["a1"])
    ledger.mark_routed([])
    assert ledger.unrouted_alerts() == []
    assert ledger.record_alert("a1", {"n": 1}) is False  # routed stays routed
    short = store.open(lease_seconds=0.0)
    assert short.record_alert("a3", {"n": 3})
    assert short.unrouted_alerts() == ["a3"]  # its lease ran out; a2's host still has one
    short.mark_routed(["a2", "a3", "never-recorded"])
    assert ledger.unrouted_alerts() == [] and ledger.alert_ids() == ["a1", "a2", "a3"]


# --- deliveries ----------------------------------------------------------------------


def test_claim_send_and_never_again(ledger):
    assert ledger.delivery_state(*KEY) is None and ledger.attempts(*KEY) == 0
    assert ledger.claim(*KEY) is True
    assert ledger.delivery_state(*KEY) == CLAIMED
    assert ledger.claim(*KEY) is False  # owned by a live sender with a lease
    assert ledger.unconfirmed() == [KEY]
    ledger.release(*KEY, "HTTP 503")
    assert ledger.unconfirmed() == [KEY]  # released: still unconfirmed, retried later
    assert ledger.claim(*KEY) is True
    assert ledger.attempts(*KEY) == 2
    ledger.mark_sent(*KEY)
    assert ledger.claim(*KEY) is False
    assert ledger.delivery_state(*KEY) == SENT
    assert ledger.unconfirmed() == []
    assert ledger.claim("a1", "desk/slack", "") is True  # parts with separators stay apart
    assert ledger.counts() == {SENT: 1, CLAIMED: 1}


def test_dead_deliveries_are_never_claimed(ledger):
    ledger.mark_dead("a1", "ana", "email", "550 no such user")
    assert ledger.delivery_state("a1", "ana", "email") == DEAD
    assert ledger.claim("a1", "ana", "email") is False
    assert ledger.claim(*KEY) and ledger.claim("a2", "desk", "slack")
    ledger.mark_dead(*KEY, "HTTP 400")
    assert ledger.claim(*KEY) is False
    assert ledger.counts() == {DEAD: 2, CLAIMED: 1}
    assert ledger.unconfirmed() == [("a2", "desk", "slack")]


def test_dead_deliveries_are_listed_and_queued_again_on_request(ledger):
    ledger.mark_dead("a1", "ana", "email", "550 no such user")
    assert ledger.claim(*KEY)
    ledger.mark_dead(*KEY, "HTTP 404")
    assert ledger.claim("a3", "desk", "slack")
    assert ledger.dead_deliveries() == [("a1", "ana", "email"), KEY]
    assert ledger.requeue_dead(*KEY) is True
    assert ledger.requeue_dead(*KEY) is False  # not dead any more
    assert ledger.requeue_dead("a3", "desk", "slack") is False  # claimed: never requeued
    assert ledger.requeue_dead("never", "desk", "slack") is False
    assert ledger.delivery_state(*KEY) == QUEUED
    assert ledger.dead_deliveries() == [("a1", "ana", "email")]
    [due] = ledger.due(dt.datetime.now(UTC) + dt.timedelta(seconds=1))  # due now
    assert (due.alert_id, due.subscriber, due.channel) == KEY
    assert ledger.claim(*KEY) and ledger.attempts(*KEY) == 2


def test_a_state_survives_closing_and_reopening(store, ledger):
    assert ledger.claim(*KEY)
    ledger.mark_sent(*KEY)
    ledger.record_alert("a1", {"title": "Кремль"})
    ledger.close()
    store.opened.remove(ledger)
    again = store.open()
    assert again.delivery_state(*KEY) == SENT and not again.claim(*KEY)
    assert again.alert_ids() == ["a1"] and again.unconfirmed() == []


def test_an_expired_lease_is_taken_over(store):
    ledger = store.open(lease_seconds=0.0)
    assert ledger.claim(*KEY) is True
    assert ledger.claim(*KEY) is True  # the first sender's lease ran out
    assert ledger.attempts(*KEY) == 2


def test_a_dead_owner_on_this_host_is_taken_over_at_once_another_host_waits(store, ledger):
    assert ledger.claim(*KEY)
    store.set_owner("deliveries", KEY, _dead_owner(_owner_of(store, "deliveries", KEY)))
    second = store.open()  # a restarted worker, same host
    assert second.claim(*KEY) is True
    assert second.attempts(*KEY) == 2
    store.set_owner("deliveries", KEY, "another-worker|1|nonce|tag")
    assert ledger.claim(*KEY) is False  # another host: wait for its lease


def test_concurrent_claims_from_several_connections_have_one_winner_each(store):
    ledgers = [store.open() for _ in range(4)]  # separate connections, like several workers
    barrier = threading.Barrier(8)
    wins: list[int] = []

    def claim(worker: int) -> None:
        ledger = ledgers[worker % 4]
        barrier.wait()
        for n in range(25):
            if ledger.claim(f"a{n}", "desk", "slack"):
                wins.append(n)

    threads = [threading.Thread(target=claim, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == list(range(25))
    assert ledgers[0].counts() == {CLAIMED: 25}
    assert all(ledgers[0].attempts(f"a{n}", "desk", "slack") == 1 for n in range(25))


CLAIM_AND_WAIT = """
import sys, time
from pipeline.ledger import open_ledger
ledger = open_ledger(sys.argv[1])
assert ledger.claim("a1", "desk", "slack")
print("claimed", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_claim_of_a_killed_process_is_taken_over_at_once(backend, request, tmp_path):
    url = (
        f"sqlite:///{tmp_path / 'l.sqlite'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", CLAIM_AND_WAIT, url], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "claimed"
        ledger = open_ledger(url)
        assert not ledger.claim(*KEY)  # the owner is alive: in flight
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert ledger.unconfirmed() == [KEY]
        assert ledger.claim(*KEY)  # the owner is gone: retry now, not after the lease
        assert ledger.attempts(*KEY) == 2
        ledger.close()
    finally:
        proc.kill()
        proc.wait()


# --- digest and quiet-hours queue ------------------------------------------------------


def test_queue_and_due(ledger):
    t0 = dt.datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
    assert ledger.enqueue("a1", "ana", "email", t0 + dt.timedelta(hours=1)) is True
    assert ledger.enqueue("a2", "ana", "email", t0 + dt.timedelta(minutes=30)) is True
    assert ledger.enqueue("a1", "ana", "email", t0) is False
    assert ledger.due(t0) == []
    due = ledger.due(t0 + dt.timedelta(hours=2))
    assert [d.alert_id for d in due] == ["a2", "a1"]
    assert (due[0].subscriber, due[0].channel, due[0].due_at) == (
        "ana",
        "email",
        t0 + dt.timedelta(minutes=30),
    )
    assert ledger.delivery_state("a1", "ana", "email") == QUEUED
    assert ledger.attempts("a1", "ana", "email") == 0
    assert ledger.unconfirmed() == []  # queued is not unconfirmed
    assert ledger.claim("a1", "ana", "email") is True
    assert [d.alert_id for d in ledger.due(t0 + dt.timedelta(hours=2))] == ["a2"]
    assert ledger.claim("a2", "ana", "email") is True
    ledger.mark_many_sent(
        [("a2", "ana", "email"), ("a1", "ana", "email"), ("nope", "ana", "email")]
    )
    ledger.mark_many_sent([])
    assert ledger.counts() == {SENT: 2}
    assert ledger.delivery_state("nope", "ana", "email") is None
    assert ledger.enqueue("a1", "ana", "email", t0) is False  # sent: never queued again


def test_due_compares_instants_not_time_zone_spellings(ledger):
    due_at = dt.datetime(2026, 11, 28, 7, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert ledger.enqueue("a1", "ana", "email", due_at)
    assert ledger.due(dt.datetime(2026, 11, 28, 5, 59, 59, 999999, tzinfo=UTC)) == []
    [item] = ledger.due(dt.datetime(2026, 11, 28, 6, 0, tzinfo=UTC))
    assert item.due_at == due_at


# --- payloads, threads, hot feeds, mutes -----------------------------------------------


def test_payloads_and_threads_keep_the_first_value(ledger):
    ledger.save_payload("a1", {"title": "Кремль и Маск", "n": 1})
    ledger.save_payload("a1", {"title": "changed"})
    assert ledger.load_payload("a1") == {"n": 1, "title": "Кремль и Маск"}
    assert ledger.load_payload("a2") is None
    assert ledger.thread_ts("desk", "slack", "musk-putin") is None
    ledger.set_thread_ts("desk", "slack", "musk-putin", "1732770000.000100")
    ledger.set_thread_ts("desk", "slack", "musk-putin", "1732779999.000200")
    assert ledger.thread_ts("desk", "slack", "musk-putin") == "1732770000.000100"
    assert ledger.thread_ts("desk", "email", "musk-putin") is None


def test_hot_feeds_keep_the_latest_until_and_expire(ledger):
    t0 = dt.datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    hour = dt.timedelta(hours=1)
    assert ledger.hot_feeds(t0) == {}
    ledger.mark_feeds_hot(["reuters", "ap"], t0 + hour)
    ledger.mark_feeds_hot(["ap"], t0 + 2 * hour)
    ledger.mark_feeds_hot(["reuters"], t0 + hour / 2)  # an earlier end never shortens it
    ledger.mark_feeds_hot([], t0 + 9 * hour)
    assert ledger.hot_feeds(t0) == {"reuters": t0 + hour, "ap": t0 + 2 * hour}
    assert ledger.hot_feeds(t0 + hour) == {"ap": t0 + 2 * hour}
    assert ledger.hot_feeds(t0 + 2 * hour) == {}


def test_mutes_replace_expire_and_are_removed(store, ledger):
    t0 = dt.datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    day = dt.timedelta(days=1)
    assert ledger.active_mutes(t0) == {}
    ledger.add_mute("musk-kremlin-contacts", t0 + day)
    ledger.add_mute("dev-42", None)
    ledger.add_mute("musk-kremlin-contacts", t0 + 2 * day)  # a second mute replaces the first
    assert ledger.active_mutes(t0) == {"musk-kremlin-contacts": t0 + 2 * day, "dev-42": None}
    assert store.open().active_mutes(t0 + 2 * day) == {"dev-42": None}  # shared, and it ran out
    assert ledger.remove_mute("dev-42") is True
    assert ledger.remove_mute("dev-42") is False
    ledger.add_mute("short", t0 + day)
    ledger.add_mute("short", None)  # until unmuted now
    assert ledger.active_mutes(t0 + 9 * day) == {"short": None}


# --- reads for the status page -----------------------------------------------------------


def _all_pages(read: Callable[..., list[Any]], size: int) -> list[Any]:
    """Every row, read ``size`` at a time, each page going on from the last one's last row."""
    rows: list[Any] = []
    while True:
        page = read(limit=size, older_than=rows[-1] if rows else None)
        assert len(page) <= size
        rows += page
        if len(page) < size:
            return rows


def test_recent_alerts_come_newest_first_in_pages_that_never_repeat_or_skip(store, ledger):
    for n in range(1, 7):
        assert ledger.record_alert(f"a{n}", {"title": f"Кремль {n}", "n": n})
    tie = "2026-12-03T10:00:00.000001+00:00"
    for n, at in ((1, "2026-12-03T09:00:00+00:00"), (6, "2026-12-03T11:00:00+00:00")):
        store.set_fields("alerts", (f"a{n}",), recorded_at=at)
    for n in (2, 3, 4, 5):  # four recorded in the same microsecond (two workers' clocks)
        store.set_fields("alerts", (f"a{n}",), recorded_at=tie)
    everything = ledger.recent_alerts(limit=100)
    assert [a.alert_id for a in everything][0] == "a6" and everything[-1].alert_id == "a1"
    assert {a.alert_id for a in everything[1:5]} == {"a2", "a3", "a4", "a5"}
    assert ledger.recent_alerts(limit=100) == everything  # ties in a stable order
    for size in (1, 2, 3, 5):
        assert _all_pages(ledger.recent_alerts, size) == everything, size
    assert everything[0].payload == {"title": "Кремль 6", "n": 6}
    assert everything[0].recorded_at == "2026-12-03T11:00:00+00:00"
    assert ledger.recent_alerts(limit=0) == []
    assert ledger.recent_alerts(limit=2, older_than=everything[-1]) == []


def test_recent_deliveries_come_most_recently_changed_first_and_by_state(store, ledger):
    sent, dead, queued, retrying = (
        ("a1", "desk", "slack"),
        ("a2", "ana", "email"),
        ("a3", "ana", "email"),
        ("a4", "desk/x", "slack"),
    )
    assert ledger.claim(*sent) and ledger.claim(*dead) and ledger.claim(*retrying)
    ledger.mark_sent(*sent)
    ledger.mark_dead(*dead, "550 no such user")
    assert ledger.enqueue(*queued, dt.datetime(2026, 12, 3, 12, 0, tzinfo=UTC))
    ledger.release(*retrying, "HTTP 503")
    assert ledger.claim(*retrying)
    everything = ledger.recent_deliveries(limit=100)
    assert [(d.alert_id, d.subscriber, d.channel) for d in everything] == [
        retrying,
        queued,
        dead,
        sent,
    ]
    by_key = {(d.alert_id, d.subscriber, d.channel): d for d in everything}
    assert (by_key[retrying].state, by_key[retrying].attempts) == (CLAIMED, 2)
    assert by_key[retrying].last_error == "HTTP 503"
    assert (by_key[dead].state, by_key[dead].last_error) == (DEAD, "550 no such user")
    assert (by_key[queued].state, by_key[queued].attempts) == (QUEUED, 0)
    assert by_key[sent].state == SENT and by_key[sent].updated_at < by_key[dead].updated_at
    ledger.mark_sent(*dead)  # a change moves a row to the top
    assert ledger.recent_deliveries(limit=1)[0].alert_id == "a2"
    tie = "2026-01-01T10:00:00+00:00"  # before any row written now
    for key in (sent, dead, queued, retrying):
        store.set_fields("deliveries", key, updated_at=tie)
    everything = ledger.recent_deliveries(limit=100)
    assert len(everything) == 4 and ledger.recent_deliveries(limit=100) == everything
    for size in (1, 3):
        assert _all_pages(ledger.recent_deliveries, size) == everything, size
    assert ledger.claim("a5", "desk", "slack")
    ledger.mark_dead("a5", "desk", "slack", "HTTP 404")
    only_dead = ledger.recent_deliveries(limit=100, state=DEAD)
    assert [(d.alert_id, d.state) for d in only_dead] == [("a5", DEAD)]
    assert ledger.recent_deliveries(limit=5, state=SENT, older_than=only_dead[0]) == [
        d for d in everything if d.state == SENT
    ]
    assert _all_pages(lambda **kw: ledger.recent_deliveries(state=SENT, **kw), 1) == [
        d for d in everything if d.state == SENT
    ]
    assert ledger.recent_deliveries(limit=0) == []
    assert ledger.counts() == {SENT: 2, QUEUED: 1, CLAIMED: 1, DEAD: 1}


# --- the interface -----------------------------------------------------------------------


def test_protocol_doctests():
    assert doctest.testmod(pipeline.ledger.protocol).failed == 0


@pytest.mark.parametrize("cls", [SqliteLedger, PostgresLedger, FirestoreLedger])
def test_every_backend_implements_the_whole_protocol(cls):
    protocol = [n for n, v in vars(Ledger).items() if callable(v) and not n.startswith("_")]
    for name in protocol:
        assert list(inspect.signature(getattr(cls, name)).parameters) == list(
            inspect.signature(getattr(Ledger, name)).parameters
        ), (cls.__name__, name)
    public_sqlite = {
        n for n, v in vars(SqliteLedger).items() if callable(v) and not n.startswith("_")
    }
    assert public_sqlite <= set(dir(cls)), public_sqlite - set(dir(cls))
