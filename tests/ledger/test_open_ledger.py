"""open_ledger picks the backend from the URL; local_path names a SQLite ledger's file."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

import pipeline.ledger
import pipeline.ledger.claims
import pipeline.ledger.url
from pipeline.errors import UserError
from pipeline.ledger import local_path, open_ledger
from pipeline.ledger.sqlite import SqliteLedger


def test_a_path_and_a_sqlite_url_open_the_same_file(tmp_path):
    path = tmp_path / "ledger.sqlite"
    for url in (str(path), f"sqlite:///{path}"):
        ledger = open_ledger(url, lease_seconds=5.0)
        assert isinstance(ledger, SqliteLedger) and ledger.path == path
        assert ledger.lease_seconds == 5.0
        ledger.close()


def test_local_path():
    assert local_path("sqlite:///build/l.sqlite") == Path("build/l.sqlite")
    assert local_path("firestore://p/sw") is None
    assert local_path("postgres://sw:pw@db/sw") is None
    assert local_path("postgresql://sw:pw@db/sw") is None
    with pytest.raises(UserError, match="unsupported scheme") as err:
        local_path("mysql://sw:hunter2@db/sw")
    assert "hunter2" not in str(err.value) and "mysql://sw:***@db/sw" in str(err.value)


def test_docstring_examples():
    for module in (pipeline.ledger, pipeline.ledger.claims, pipeline.ledger.url):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted >= 2, module.__name__
