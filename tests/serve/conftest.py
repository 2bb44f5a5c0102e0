"""Fixtures of the status page tests: the ledger tests' real PostgreSQL server (one for the
session, shared by the backend and browser tests)."""

from tests.ledger.conftest import postgres_server, postgres_url

__all__ = ["postgres_server", "postgres_url"]
