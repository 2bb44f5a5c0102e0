"""What only the Firestore ledger does: TTL timestamps, cheap reads, contention, URLs.

The contract every backend shares is tests/ledger/test_contract.py; both run on
``FakeFirestore`` (tests/ledger/firestore_fake.py), the only mock, standing in for
Google Cloud.
"""

from __future__ import annotations

import datetime as dt
import doctest
import threading

import pytest
from google.cloud import firestore

import pipeline.ledger.firestore
from pipeline.errors import UserError
from pipeline.ledger import open_ledger
from pipeline.ledger.firestore import FirestoreLedger, doc_id, parse_firestore_url
from pipeline.ledger.protocol import CLAIMED
from tests.ledger.firestore_fake import FakeFirestore, fake_transaction_runner

UTC = dt.UTC


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
