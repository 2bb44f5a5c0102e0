"""The Firestore ledger behaves like the SQLite ledger, scenario for scenario.

No Firestore emulator runs here (no gcloud, no network), so ``FakeFirestore`` stands in
for google-cloud-firestore's client: documents with versions, queries on one field, and
transactions that commit only if nothing they read changed (otherwise they are retried,
like ``firestore.transactional``). It is the only mock, and it stands in for Google Cloud.
Every scenario also runs on a real ``SqliteLedger`` file, the tested local default.
"""

from __future__ import annotations

import datetime as dt
import doctest
import inspect
import threading

import pytest
from google.api_core import exceptions as gexc
from google.cloud import firestore

import pipeline.ledger.firestore
from pipeline.errors import UserError
from pipeline.ledger import open_ledger
from pipeline.ledger.firestore import FirestoreLedger, doc_id, parse_firestore_url
from pipeline.ledger.protocol import CLAIMED, DEAD, QUEUED, SENT, Ledger
from pipeline.ledger.sqlite import SqliteLedger

UTC = dt.UTC


# --- the fake Google Cloud client -----------------------------------------------------


class _Snapshot:
    def __init__(self, data: dict | None) -> None:
        self._data = data

    @property
    def exists(self) -> bool:
        return self._data is not None

    def to_dict(self) -> dict | None:
        return dict(self._data) if self._data is not None else None


class _DocRef:
    def __init__(self, db: FakeFirestore, collection: str, doc: str) -> None:
        self._db, self.key = db, (collection, doc)

    def get(self, transaction: _Transaction | None = None) -> _Snapshot:
        self._db.gets += 1
        with self._db.lock:
            version, data = self._db.docs.get(self.key, (0, None))
        if transaction is not None:
            transaction.reads.setdefault(self.key, version)
        return _Snapshot(data)

    def create(self, data: dict) -> None:
        with self._db.lock:
            if self.key in self._db.docs:
                raise gexc.AlreadyExists(f"Document already exists: {self.key}")
            self._db.write(self.key, dict(data))


class _Query:
    def __init__(self, db: FakeFirestore, collection: str, filters: tuple = ()) -> None:
        self._db, self._collection, self._filters = db, collection, filters

    def where(self, *, filter) -> _Query:
        assert filter.op_string == "==", "the ledger only queries by equality"
        return _Query(
            self._db, self._collection, self._filters + ((filter.field_path, filter.value),)
        )

    def stream(self):
        self._db.queries += 1
        with self._db.lock:
            rows = [
                data for (coll, _), (_, data) in self._db.docs.items() if coll == self._collection
            ]
        return [_Snapshot(r) for r in rows if all(r.get(f) == v for f, v in self._filters)]


class _Collection(_Query):
    def document(self, doc: str) -> _DocRef:
        assert "/" not in doc and doc not in (".", "..") and len(doc.encode()) <= 1500
        return _DocRef(self._db, self._collection, doc)


class _Transaction:
    def __init__(self) -> None:
        self.reads: dict[tuple, int] = {}
        self.writes: list[tuple[str, tuple, dict]] = []

    def set(self, ref: _DocRef, data: dict) -> None:
        self.writes.append(("set", ref.key, dict(data)))

    def update(self, ref: _DocRef, data: dict) -> None:
        self.writes.append(("update", ref.key, dict(data)))


class FakeFirestore:
    """Stands in for google.cloud.firestore.Client (documents, equality queries, transactions)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.docs: dict[tuple, tuple[int, dict]] = {}
        self.aborted = 0
        self.queries = 0
        self.gets = 0
        self.closed = False

    def collection(self, name: str) -> _Collection:
        return _Collection(self, name)

    def write(self, key: tuple, data: dict) -> None:
        version = self.docs.get(key, (0, None))[0] + 1
        self.docs[key] = (version, data)

    def close(self) -> None:
        self.closed = True


def fake_transaction_runner(client: FakeFirestore, fn, *, max_attempts: int = 20):
    """Like firestore.transactional: run, commit if nothing read has changed, else retry."""
    for _ in range(max_attempts):
        tx = _Transaction()
        result = fn(tx)
        with client.lock:
            if any(
                client.docs.get(key, (0, None))[0] != version for key, version in tx.reads.items()
            ):
                client.aborted += 1
                continue
            for op, key, data in tx.writes:
                if op == "update":
                    if key not in client.docs:
                        raise gexc.NotFound(f"No document to update: {key}")
                    data = {**client.docs[key][1], **data}
                client.write(key, data)
        return result
    raise gexc.Aborted("Transaction contention: too many attempts")


# --- one scenario set, two backends ---------------------------------------------------


@pytest.fixture(params=["sqlite", "firestore"])
def ledger(request, tmp_path):
    if request.param == "sqlite":
        led = SqliteLedger(tmp_path / "ledger.sqlite")
    else:
        led = FirestoreLedger(
            FakeFirestore(), prefix="sw", transaction_runner=fake_transaction_runner
        )
    yield led
    led.close()


def test_alerts_are_recorded_once(ledger):
    assert ledger.record_alert("a1", {"title": "first"}) is True
    assert ledger.record_alert("a1", {"title": "again"}) is False
    assert ledger.record_alert("a/2", {"title": "slash in id"}) is True
    assert ledger.has_alert("a1") and ledger.has_alert("a/2") and not ledger.has_alert("a3")
    assert ledger.alert_ids() == ["a1", "a/2"]


def test_hot_feeds_keep_the_latest_until_and_expire(ledger):
    t0 = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)
    hour = dt.timedelta(hours=1)
    assert ledger.hot_feeds(t0) == {}
    ledger.mark_feeds_hot(["reuters", "ap"], t0 + hour)
    ledger.mark_feeds_hot(["ap"], t0 + 2 * hour)
    ledger.mark_feeds_hot(["reuters"], t0 + hour / 2)  # an earlier end never shortens it
    assert ledger.hot_feeds(t0) == {"reuters": t0 + hour, "ap": t0 + 2 * hour}
    assert ledger.hot_feeds(t0 + hour) == {"ap": t0 + 2 * hour}
    assert ledger.hot_feeds(t0 + 2 * hour) == {}


def test_claim_send_and_never_again(ledger):
    assert ledger.delivery_state("a1", "desk", "slack") is None
    assert ledger.claim("a1", "desk", "slack") is True
    assert ledger.delivery_state("a1", "desk", "slack") == CLAIMED
    assert ledger.claim("a1", "desk", "slack") is False  # owned by a live sender with a lease
    assert ledger.unconfirmed() == [("a1", "desk", "slack")]
    ledger.release("a1", "desk", "slack", "HTTP 503")
    assert ledger.claim("a1", "desk", "slack") is True  # released: retried
    assert ledger.attempts("a1", "desk", "slack") == 2
    ledger.mark_sent("a1", "desk", "slack")
    assert ledger.claim("a1", "desk", "slack") is False
    assert ledger.delivery_state("a1", "desk", "slack") == SENT
    assert ledger.unconfirmed() == []
    # Keys are kept apart even when their parts contain separators.
    assert ledger.claim("a1", "desk/slack", "") is True


def test_dead_deliveries_are_not_claimed(ledger):
    ledger.mark_dead("a1", "ana", "email", "550 no such user")
    assert ledger.delivery_state("a1", "ana", "email") == DEAD
    assert ledger.claim("a1", "ana", "email") is False
    assert ledger.counts() == {DEAD: 1}


def test_expired_lease_is_taken_over(ledger):
    ledger.lease_seconds = 0.0
    assert ledger.claim("a1", "desk", "slack") is True
    assert ledger.claim("a1", "desk", "slack") is True  # the first sender's lease ran out
    assert ledger.attempts("a1", "desk", "slack") == 2


def test_queue_and_due(ledger):
    t0 = dt.datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
    assert ledger.enqueue("a1", "ana", "email", t0 + dt.timedelta(hours=1)) is True
    assert ledger.enqueue("a2", "ana", "email", t0 + dt.timedelta(minutes=30)) is True
    assert ledger.enqueue("a1", "ana", "email", t0) is False
    assert ledger.due(t0) == []
    due = ledger.due(t0 + dt.timedelta(hours=2))
    assert [d.alert_id for d in due] == ["a2", "a1"]
    assert due[0].due_at == t0 + dt.timedelta(minutes=30)
    assert ledger.delivery_state("a1", "ana", "email") == QUEUED
    assert ledger.claim("a1", "ana", "email") is True
    assert [d.alert_id for d in ledger.due(t0 + dt.timedelta(hours=2))] == ["a2"]
    assert ledger.claim("a2", "ana", "email") is True
    ledger.mark_many_sent(
        [("a1", "ana", "email"), ("a2", "ana", "email"), ("nope", "ana", "email")]
    )
    assert ledger.counts() == {SENT: 2}
    assert ledger.delivery_state("nope", "ana", "email") is None


def test_payloads_and_threads_keep_the_first_value(ledger):
    ledger.save_payload("a1", {"title": "Putin and Musk", "n": 1})
    ledger.save_payload("a1", {"title": "changed"})
    assert ledger.load_payload("a1") == {"n": 1, "title": "Putin and Musk"}
    assert ledger.load_payload("a2") is None
    assert ledger.thread_ts("desk", "slack", "musk-putin") is None
    ledger.set_thread_ts("desk", "slack", "musk-putin", "1732770000.000100")
    ledger.set_thread_ts("desk", "slack", "musk-putin", "1732779999.000200")
    assert ledger.thread_ts("desk", "slack", "musk-putin") == "1732770000.000100"


def test_concurrent_claims_have_exactly_one_winner(ledger):
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        results.append(ledger.claim("a1", "desk", "slack"))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
    assert ledger.attempts("a1", "desk", "slack") == 1


# --- Firestore specifics --------------------------------------------------------------


def test_claim_of_a_dead_process_on_this_host_is_taken_over_at_once():
    db = FakeFirestore()
    led = FirestoreLedger(db, prefix="sw", transaction_runner=fake_transaction_runner)
    assert led.claim("a1", "desk", "slack") is True
    key = ("sw_deliveries", doc_id("a1", "desk", "slack"))
    version, row = db.docs[key]
    host, _, nonce, tag = row["owner"].split("|")
    db.docs[key] = (version + 1, {**row, "owner": f"{host}|999999999|{nonce}|{tag}"})  # pid gone
    assert led.claim("a1", "desk", "slack") is True
    version, row = db.docs[key]
    db.docs[key] = (
        version + 1,
        {**row, "owner": f"another-worker|{row['owner'].split('|')[1]}|x|y"},
    )
    assert led.claim("a1", "desk", "slack") is False  # another host: wait for its lease


def test_every_document_carries_a_ttl_timestamp_refreshed_on_write():
    db = FakeFirestore()
    led = FirestoreLedger(
        db, prefix="sw", retention_days=90, transaction_runner=fake_transaction_runner
    )
    before = dt.datetime.now(UTC)
    led.record_alert("a1", {"t": 1})
    led.save_payload("a1", {"t": 1})
    led.set_thread_ts("desk", "slack", "s", "1.0")
    led.claim("a1", "desk", "slack")
    far = before + dt.timedelta(days=30)
    led.enqueue("a2", "ana", "email", far)
    for (collection, _), (_, row) in db.docs.items():
        assert isinstance(row["expire_at"], dt.datetime), collection
        assert row["expire_at"] >= before + dt.timedelta(days=90), collection
    queued = db.docs[("sw_deliveries", doc_id("a2", "ana", "email"))][1]
    assert queued["expire_at"] >= far + dt.timedelta(days=90)  # never before it is due
    key = ("sw_deliveries", doc_id("a1", "desk", "slack"))
    first = db.docs[key][1]["expire_at"]
    led.mark_sent("a1", "desk", "slack")
    assert db.docs[key][1]["expire_at"] >= first


def test_reading_every_alert_back_costs_two_queries_not_one_read_per_alert():
    db = FakeFirestore()
    led = FirestoreLedger(db, prefix="sw", transaction_runner=fake_transaction_runner)
    for i in range(50):
        led.save_payload(f"a{i}", {"n": i})
        led.record_alert(f"a{i}", {"n": i})
    gets, queries = db.gets, db.queries
    payloads = [led.load_payload(i) for i in led.alert_ids()]  # what the tracker does at start-up
    assert payloads == [{"n": i} for i in range(50)]
    assert db.gets == gets and db.queries == queries + 2
    led.save_payload("late", {"n": "late"})  # saved after the ids were read: still found
    assert led.load_payload("late") == {"n": "late"}


def test_contention_is_retried_not_lost():
    db = FakeFirestore()
    led = FirestoreLedger(db, prefix="sw", transaction_runner=fake_transaction_runner)
    barrier = threading.Barrier(6)

    def claim_many(worker: int) -> None:
        barrier.wait()
        for i in range(20):
            led.claim(f"a{i}", "desk", "slack")

    threads = [threading.Thread(target=claim_many, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert led.counts() == {CLAIMED: 20}
    assert all(led.attempts(f"a{i}", "desk", "slack") == 1 for i in range(20))


def test_firestore_ledger_implements_the_whole_protocol_and_what_sqlite_offers():
    protocol = [n for n, v in vars(Ledger).items() if callable(v) and not n.startswith("_")]
    for name in protocol:
        assert list(inspect.signature(getattr(FirestoreLedger, name)).parameters) == list(
            inspect.signature(getattr(Ledger, name)).parameters
        ), name
    public_sqlite = {
        n for n, v in vars(SqliteLedger).items() if callable(v) and not n.startswith("_")
    }
    assert public_sqlite <= set(dir(FirestoreLedger)), public_sqlite - set(dir(FirestoreLedger))


def test_firestore_urls():
    assert parse_firestore_url("firestore://acme/storywatch") == ("acme", "storywatch", None)
    assert parse_firestore_url("firestore://acme/sw?database=ledger") == ("acme", "sw", "ledger")
    for bad in ("firestore://acme", "firestore:///sw", "firestore://acme/a/b"):
        with pytest.raises(UserError) as err:
            parse_firestore_url(bad)
        assert "firestore://PROJECT/PREFIX" in str(err.value)


def test_open_ledger_opens_firestore_for_its_scheme(monkeypatch):
    made = []

    def fake_client(**kwargs):
        made.append(kwargs)
        return FakeFirestore()

    monkeypatch.setattr(firestore, "Client", fake_client)
    led = open_ledger("firestore://acme-news/storywatch?database=alerts")
    assert isinstance(led, FirestoreLedger) and led.prefix == "storywatch"
    assert made == [{"project": "acme-news", "database": "alerts"}]
    led.close()


def test_docstring_examples():
    result = doctest.testmod(pipeline.ledger.firestore)
    assert result.failed == 0 and result.attempted >= 2
