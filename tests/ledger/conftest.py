"""Fixtures of the ledger tests: a real PostgreSQL server for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ledger.postgres_server import PostgresServer, find_bin_dir


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server (temporary directory, 127.0.0.1 and a Unix socket), stopped
    at the end. Missing server binaries fail the test, in CI and locally alike."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.fail(
            "no PostgreSQL server binaries (initdb, pg_ctl, postgres): run "
            "tools/install_test_system.sh (or `apt-get install postgresql`), or set "
            "STORYWATCH_PG_BIN to their directory",
            pytrace=False,
        )
    server = PostgresServer(bin_dir)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL (with its password) of a new, empty database on the session's server."""
    return postgres_server.database()
