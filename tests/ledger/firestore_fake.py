"""A stand-in for google-cloud-firestore's client, the only mock of the ledger tests.

No Firestore emulator runs here (no gcloud, no network), so ``FakeFirestore`` stands in
for the client: documents with versions, equality queries, ordered pages and counts, and
transactions that commit only if nothing they read changed (otherwise they are retried,
like ``firestore.transactional``: ``fake_transaction_runner``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from google.api_core import exceptions as gexc


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
            if self._db.docs.get(self.key, (0, None))[1] is not None:
                raise gexc.AlreadyExists(f"Document already exists: {self.key}")
            self._db.write(self.key, dict(data))


@dataclass(frozen=True)
class _AggregationResult:
    alias: str
    value: int


@dataclass(frozen=True)
class _Count:
    """An aggregation query: ``get()`` answers ``[[AggregationResult]]`` as the client does."""

    alias: str
    value: int

    def get(self) -> list[list[_AggregationResult]]:
        return [[_AggregationResult(self.alias, self.value)]]


class _Query:
    """Equality filters, ``order_by`` (one direction for all orders; ``__name__`` is the
    document id), ``start_after`` a dict of the ordered fields, ``limit``, ``count``."""

    def __init__(
        self,
        db: FakeFirestore,
        collection: str,
        filters: tuple = (),
        orders: tuple = (),
        after: dict | None = None,
        limit: int | None = None,
    ) -> None:
        self._db, self._collection, self._filters = db, collection, filters
        self._orders, self._after, self._limit = orders, after, limit

    def _with(self, **changes) -> _Query:
        values = dict(
            filters=self._filters, orders=self._orders, after=self._after, limit=self._limit
        )
        return _Query(self._db, self._collection, **(values | changes))

    def where(self, *, filter) -> _Query:
        assert filter.op_string == "==", "the ledger only queries by equality"
        return self._with(filters=self._filters + ((filter.field_path, filter.value),))

    def order_by(self, field: str, *, direction: str = "ASCENDING") -> _Query:
        assert not self._filters, "an equality filter and an order would need a composite index"
        assert all(d == direction for _, d in self._orders), "one direction for every order"
        return self._with(orders=self._orders + ((field, direction),))

    def start_after(self, fields: dict) -> _Query:
        assert self._orders and list(fields) == [f for f, _ in self._orders][: len(fields)]
        return self._with(after=dict(fields))

    def limit(self, count: int) -> _Query:
        return self._with(limit=count)

    def count(self, *, alias: str) -> _Count:
        return _Count(alias, len(self.stream()))

    def stream(self):
        self._db.queries += 1
        with self._db.lock:
            rows = [
                (doc, data)
                for (coll, doc), (_, data) in self._db.docs.items()
                if coll == self._collection
            ]
        rows = [
            (doc, r)
            for doc, r in rows
            if r is not None and all(r.get(f) == v for f, v in self._filters)
        ]
        if self._orders:
            descending = self._orders[0][1] == "DESCENDING"

            def key(row: tuple[str, dict]) -> tuple:
                doc, data = row
                return tuple(doc if f == "__name__" else data[f] for f, _ in self._orders)

            rows.sort(key=key, reverse=descending)
            if self._after is not None:
                cursor = tuple(self._after.values())

                def beyond(row: tuple[str, dict]) -> bool:
                    at = key(row)[: len(cursor)]
                    return at < cursor if descending else at > cursor

                rows = [row for row in rows if beyond(row)]
        if self._limit is not None:
            rows = rows[: self._limit]
        return [_Snapshot(r) for _, r in rows]


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

    def delete(self, ref: _DocRef) -> None:
        self.writes.append(("delete", ref.key, {}))


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

    def write(self, key: tuple, data: dict | None) -> None:
        """Store a new version of a document (None: deleted; the version still counts up,
        so a transaction that read it sees the change)."""
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
                current = client.docs.get(key, (0, None))[1]
                if op == "update":
                    if current is None:
                        raise gexc.NotFound(f"No document to update: {key}")
                    data = {**current, **data}
                client.write(key, None if op == "delete" else data)
        return result
    raise gexc.Aborted("Transaction contention: too many attempts")
