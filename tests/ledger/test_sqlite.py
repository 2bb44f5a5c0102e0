"""The SQLite ledger on real files: claims, restarts, concurrent claimants, queue, migration."""

from __future__ import annotations

import datetime as dt
import signal
import sqlite3
import subprocess
import sys
import threading

import pytest

from pipeline.errors import UserError
from pipeline.ledger import open_ledger
from pipeline.ledger.sqlite import SqliteLedger
from pipeline.records import UTC
from tests.paths import ROOT

KEY = ("a1", "desk", "slack")


def test_claim_send_and_restart(tmp_path):
    path = tmp_path / "ledger.sqlite"
    ledger = SqliteLedger(path)
    assert ledger.claim(*KEY)
    assert not ledger.claim(*KEY)  # in flight in this process
    ledger.mark_sent(*KEY)
    ledger.close()
    ledger = open_ledger(f"sqlite:///{path}")
    assert ledger.delivery_state(*KEY) == "sent"
    assert not ledger.claim(*KEY)
    assert ledger.unconfirmed() == []


def test_release_makes_it_claimable_again_and_dead_never_is(tmp_path):
    ledger = SqliteLedger(tmp_path / "l.sqlite")
    assert ledger.claim(*KEY)
    ledger.release(*KEY, "HTTP 503")
    assert ledger.unconfirmed() == [KEY]
    assert ledger.claim(*KEY) and ledger.attempts(*KEY) == 2
    ledger.mark_dead(*KEY, "HTTP 400")
    assert not ledger.claim(*KEY) and ledger.delivery_state(*KEY) == "dead"


def test_expired_lease_is_claimable(tmp_path):
    ledger = SqliteLedger(tmp_path / "l.sqlite", lease_seconds=0.0)
    assert ledger.claim(*KEY)
    assert ledger.claim(*KEY)  # lease ran out at once


def test_concurrent_claims_from_threads_have_one_winner(tmp_path):
    path = tmp_path / "l.sqlite"
    ledgers = [SqliteLedger(path) for _ in range(4)]  # separate connections, like several DoFns
    barrier = threading.Barrier(16)
    wins: list[tuple[int, int]] = []

    def claim(worker: int) -> None:
        ledger = ledgers[worker % 4]
        barrier.wait()
        for n in range(50):
            if ledger.claim(f"a{n}", "desk", "slack"):
                wins.append((n, worker))

    threads = [threading.Thread(target=claim, args=(w,)) for w in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(n for n, _ in wins) == list(range(50))


CLAIM_AND_WAIT = """
import sys, time
from pipeline.ledger.sqlite import SqliteLedger
ledger = SqliteLedger(sys.argv[1])
assert ledger.claim("a1", "desk", "slack")
print("claimed", flush=True)
time.sleep(60)
"""


def test_claim_of_a_killed_process_is_taken_over_at_once(tmp_path):
    path = tmp_path / "l.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", CLAIM_AND_WAIT, str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "claimed"
        ledger = SqliteLedger(path)
        assert not ledger.claim(*KEY)  # the owner is alive: in flight
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert ledger.unconfirmed() == [KEY]
        assert ledger.claim(*KEY)  # the owner is gone: retry now, not after the lease
        assert ledger.attempts(*KEY) == 2
    finally:
        proc.kill()
        proc.wait()


def test_queue_payloads_and_threads(tmp_path):
    ledger = SqliteLedger(tmp_path / "l.sqlite")
    due = dt.datetime(2024, 10, 25, 11, tzinfo=UTC)
    assert ledger.enqueue("a1", "desk", "email", due)
    assert not ledger.enqueue("a1", "desk", "email", due)
    assert ledger.due(due - dt.timedelta(seconds=1)) == []
    [item] = ledger.due(due)
    assert (item.alert_id, item.subscriber, item.channel, item.due_at) == (
        "a1",
        "desk",
        "email",
        due,
    )
    ledger.mark_many_sent([("a1", "desk", "email")])
    assert ledger.due(due) == [] and ledger.counts() == {"sent": 1}

    ledger.save_payload("a1", {"alert_id": "a1", "title": "Кремль"})
    ledger.save_payload("a1", {"alert_id": "a1", "title": "changed"})  # first one wins
    assert ledger.load_payload("a1") == {"alert_id": "a1", "title": "Кремль"}
    assert ledger.load_payload("nope") is None

    assert ledger.thread_ts("desk", "slack", "s1") is None
    ledger.set_thread_ts("desk", "slack", "s1", "1700.1")
    ledger.set_thread_ts("desk", "slack", "s1", "1700.2")
    assert ledger.thread_ts("desk", "slack", "s1") == "1700.1"


def test_alert_records_for_the_graph(tmp_path):
    ledger = SqliteLedger(tmp_path / "l.sqlite")
    assert ledger.record_alert("a1", {"x": 1}) and not ledger.record_alert("a1", {"x": 2})
    assert ledger.has_alert("a1") and not ledger.has_alert("a2")
    assert ledger.alert_ids() == ["a1"]


def test_ledger_from_before_owners_and_queues_is_migrated(tmp_path):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE deliveries (alert_id TEXT NOT NULL, subscriber TEXT NOT NULL, channel TEXT NOT NULL,
            state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, updated_at TEXT NOT NULL,
            last_error TEXT NOT NULL DEFAULT '', PRIMARY KEY (alert_id, subscriber, channel));
        INSERT INTO deliveries VALUES ('a1', 'desk', 'slack', 'claimed', 1, '2024-01-01', '');
        INSERT INTO deliveries VALUES ('a2', 'desk', 'slack', 'sent', 1, '2024-01-01', '');
    """)
    conn.commit()
    conn.close()
    ledger = SqliteLedger(path)
    assert ledger.claim("a1", "desk", "slack")  # an old unconfirmed claim has no owner: retried
    assert not ledger.claim("a2", "desk", "slack")


def test_not_a_database_is_a_user_error(tmp_path):
    bad = tmp_path / "ledger.sqlite"
    bad.write_text("this is not sqlite " * 100)
    with pytest.raises(UserError, match="not a SQLite database"):
        SqliteLedger(bad)
    with pytest.raises(UserError, match="unsupported scheme"):
        open_ledger("postgres://x/y")
