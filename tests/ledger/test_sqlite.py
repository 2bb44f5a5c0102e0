"""What only the SQLite ledger does: migrating an old file, refusing a foreign one.

The contract every backend shares (claims, restarts, concurrent claimants, the queue) is
tests/ledger/test_contract.py.
"""

from __future__ import annotations

import sqlite3

import pytest

from pipeline.errors import UserError
from pipeline.ledger import open_ledger
from pipeline.ledger.sqlite import SqliteLedger

KEY = ("a1", "desk", "slack")


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
        open_ledger("mysql://x/y")
