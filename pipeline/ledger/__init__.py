"""The alert and delivery ledger: what survives a restart; ``open_ledger`` picks the backend.

- ``protocol``: the ``Ledger`` interface, delivery states, ``QueuedDelivery``.
- ``claims``: claim owners and leases, the takeover rule every backend applies.
- ``sqlite``: ``SqliteLedger``, one local file (the default).
- ``postgres``: ``PostgresLedger``, one database shared by many workers.
- ``firestore``: ``FirestoreLedger``, for Dataflow (needs the gcp extra).
- ``url``: which backend a URL names; ``redact_url``, the only form a URL is shown in.

A ledger URL is a file path, ``sqlite:///path``, ``postgresql://USER:PASSWORD@HOST:PORT/DB``
(or ``postgres://``) or ``firestore://PROJECT/PREFIX``. The password is never printed.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import UserError
from pipeline.ledger.firestore import FirestoreLedger
from pipeline.ledger.protocol import DEFAULT_LEASE_SECONDS, Ledger
from pipeline.ledger.sqlite import DEFAULT_TIMEOUT_SECONDS, SqliteLedger
from pipeline.ledger.url import is_postgres_url, redact_url

__all__ = ["Ledger", "local_path", "open_ledger", "redact_url"]

_SQLITE_SCHEME = "sqlite:///"
_FIRESTORE_SCHEME = "firestore://"


def local_path(url: str) -> Path | None:
    """The file of a SQLite ledger URL; None for a remote (PostgreSQL, Firestore) ledger.

    >>> str(local_path("sqlite:///build/ledger.sqlite")), str(local_path("build/l.sqlite"))
    ('build/ledger.sqlite', 'build/l.sqlite')
    >>> local_path("firestore://project/storywatch"), local_path("postgresql://sw:pw@db/sw")
    (None, None)
    """
    if url.startswith(_FIRESTORE_SCHEME) or is_postgres_url(url):
        return None
    if url.startswith(_SQLITE_SCHEME):
        return Path(url[len(_SQLITE_SCHEME) :])
    if "://" in url:
        raise UserError(
            f"ledger '{redact_url(url)}': unsupported scheme; use a file path, sqlite:///path, "
            "postgresql://USER:PASSWORD@HOST:PORT/DB or firestore://PROJECT/PREFIX"
        )
    return Path(url)


def open_ledger(
    url: str,
    *,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> Ledger:
    """Open the ledger named by ``url`` (``timeout_seconds`` is SQLite's lock wait and
    PostgreSQL's connect timeout)."""
    if is_postgres_url(url):
        from pipeline.ledger.postgres import PostgresLedger  # psycopg takes 0.5 s to import

        return PostgresLedger(
            url, lease_seconds=lease_seconds, connect_timeout_seconds=timeout_seconds
        )
    path = local_path(url)
    if path is None:  # FirestoreLedger imports the gcp extra only when it connects
        return FirestoreLedger.from_url(url, lease_seconds=lease_seconds)
    return SqliteLedger(path, timeout_seconds=timeout_seconds, lease_seconds=lease_seconds)
