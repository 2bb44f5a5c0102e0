"""The ledger on Firestore (Native mode): what replaces the SQLite file on Dataflow.

Dataflow workers are many, short-lived machines: a SQLite file on one worker's disk would
neither be shared by the others nor survive a worker being replaced. Firestore keeps the
same four tables as collections, one document per row, and ``claim`` runs in a Firestore
transaction, so two workers never own the same delivery::

    firestore://PROJECT/PREFIX[?database=DB]     e.g. firestore://acme-news/storywatch

    PREFIX_alerts/<id>       alert_id, recorded_at, payload (JSON text), owner,
                             lease_until, routed
    PREFIX_deliveries/<id>   alert_id, subscriber, channel, state, attempts, updated_at,
                             last_error, owner, lease_until, due_at
    PREFIX_payloads/<id>     alert_id, payload (JSON text)
    PREFIX_threads/<id>      subscriber, channel, storyline_id, thread_ts
    PREFIX_hot_feeds/<id>    feed_id, until;  PREFIX_mutes/<id>  target, until, muted_at

Document ids are a SHA-256 of the row's key (alert ids and subscriber names may contain
``/``, which Firestore ids cannot). Times are ISO-8601 UTC strings, so they compare in
order as text, exactly as in the SQLite ledger. Queries filter on ``state`` only (served
by Firestore's automatic single-field index; no composite index to create); the rest is
filtered on the worker, which is fine because queued and claimed rows are few.

Every document carries ``expire_at`` (a Timestamp, ``retention_days`` after its last
write, 90 by default), so the ledger stays bounded once a TTL policy is enabled on that
field for each collection (``gcloud firestore fields ttls update expire_at
--collection-group=PREFIX_alerts --enable-ttl``, and the same for the others; a mute
without an end has no ``expire_at``).

A claim on another machine cannot be checked for a live process, so a crashed worker's
claims are taken over when their lease runs out (``lease_seconds``, 10 minutes by default);
on the same host a dead owner's claim is taken over at once, as in SQLite.

The semantics match ``SqliteLedger`` call for call; tests/ledger/test_contract.py runs the
same scenarios against every backend, this one with a fake Firestore client (no emulator
is available here).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

from pipeline.errors import UserError
from pipeline.ledger.claims import abandoned, claimable, owner_token
from pipeline.ledger.protocol import (
    CLAIMED,
    DEAD,
    DEFAULT_LEASE_SECONDS,
    QUEUED,
    SENT,
    DeliveryKey,
    DeliveryRecord,
    Payload,
    QueuedDelivery,
    RecordedAlert,
    payload_object,
)

UTC = dt.UTC
#: Documents carry ``expire_at`` this far ahead of their last write, for a Firestore TTL
#: policy on that field; longer than any storyline horizon (30 days by default).
DEFAULT_RETENTION_DAYS = 90.0

#: Runs ``fn(transaction)`` in a Firestore transaction, retrying on contention; returns its result.
TransactionRunner = Callable[[Any, Callable[[Any], Any]], Any]


def run_in_firestore_transaction(client: Any, fn: Callable[[Any], Any]) -> Any:
    """The real runner: google-cloud-firestore's ``transactional`` (retries aborted commits)."""
    from google.cloud import firestore  # lazy: google-cloud-firestore is the gcp extra

    return firestore.transactional(fn)(client.transaction())


def doc_id(*key: str) -> str:
    """A Firestore-safe, stable document id for a composite key.

    >>> doc_id("a1", "desk", "slack") == doc_id("a1", "desk", "slack") != doc_id("a1", "desk/slack")
    True
    """
    return hashlib.sha256(json.dumps(list(key), ensure_ascii=False).encode("utf-8")).hexdigest()


def parse_firestore_url(url: str) -> tuple[str, str, str | None]:
    """``firestore://PROJECT/PREFIX[?database=DB]`` -> (project, prefix, database).

    >>> parse_firestore_url("firestore://acme-news/storywatch?database=alerts")
    ('acme-news', 'storywatch', 'alerts')
    """
    parsed = urlparse(url)
    project, prefix = parsed.netloc, parsed.path.strip("/")
    database = parse_qs(parsed.query).get("database", [None])[0]
    if parsed.scheme != "firestore" or not project or not prefix or "/" in prefix:
        raise UserError(
            f"ledger '{url}': expected firestore://PROJECT/PREFIX[?database=DB], "
            "e.g. firestore://my-project/storywatch"
        )
    return project, prefix, database


class FirestoreLedger:
    """The ``Ledger`` protocol on Firestore collections named ``PREFIX_*``."""

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "storywatch",
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        retention_days: float = DEFAULT_RETENTION_DAYS,
        transaction_runner: TransactionRunner = run_in_firestore_transaction,
    ) -> None:
        self._client = client
        self.prefix = prefix
        self.lease_seconds = lease_seconds
        self.retention = dt.timedelta(days=retention_days)
        self._run = transaction_runner
        self._host = socket.gethostname()
        self._alerts = client.collection(f"{prefix}_alerts")
        self._deliveries = client.collection(f"{prefix}_deliveries")
        self._payloads = client.collection(f"{prefix}_payloads")
        self._threads = client.collection(f"{prefix}_threads")
        self._hot_feeds = client.collection(f"{prefix}_hot_feeds")
        self._mutes = client.collection(f"{prefix}_mutes")
        self._payload_cache: dict[str, str] = {}

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> FirestoreLedger:
        project, prefix, database = parse_firestore_url(url)
        # lazy: google-auth and google-cloud-firestore are the gcp extra
        from google.auth.exceptions import DefaultCredentialsError
        from google.cloud import firestore

        try:
            client = (
                firestore.Client(project=project, database=database)
                if database
                else firestore.Client(project=project)
            )
        except DefaultCredentialsError:  # a local run pointed at the cloud ledger
            raise UserError(
                f"ledger '{url}': no Google Cloud credentials here; run `gcloud auth "
                "application-default login`, or use a local ledger (a file path)"
            ) from None
        return cls(client, prefix=prefix, **kwargs)

    # --- helpers -----------------------------------------------------------------------

    @staticmethod
    def _now() -> dt.datetime:
        return dt.datetime.now(UTC)

    def _expire_at(self, after: dt.datetime | None = None) -> dt.datetime:
        """When Firestore's TTL policy may delete a document written now (a Timestamp field)."""
        return max(self._now(), after or self._now()) + self.retention

    def _delivery(self, alert_id: str, subscriber: str, channel: str) -> Any:
        return self._deliveries.document(doc_id(alert_id, subscriber, channel))

    def _create_once(self, ref: Any, data: dict[str, Any]) -> bool:
        from google.api_core.exceptions import AlreadyExists  # lazy: the gcp extra

        try:
            ref.create(data)
        except AlreadyExists:
            return False
        return True

    def _rows(self, state: str) -> list[dict[str, Any]]:
        from google.cloud.firestore_v1.base_query import FieldFilter  # lazy: the gcp extra

        return [
            snap.to_dict()
            for snap in self._deliveries.where(filter=FieldFilter("state", "==", state)).stream()
        ]

    # --- alerts ------------------------------------------------------------------------

    def record_alert(self, alert_id: str, payload: Payload) -> bool:
        now = self._now()
        return self._create_once(
            self._alerts.document(doc_id(alert_id)),
            {
                "alert_id": alert_id,
                "recorded_at": now.isoformat(),
                "payload": json.dumps(payload, sort_keys=True, default=str),
                "owner": owner_token(self._host),
                "lease_until": (now + dt.timedelta(seconds=self.lease_seconds)).isoformat(),
                "routed": False,
                "expire_at": self._expire_at(),
            },
        )

    def unrouted_alerts(self) -> list[str]:
        from google.cloud.firestore_v1.base_query import FieldFilter  # lazy: the gcp extra

        now_iso = self._now().isoformat()
        rows = [
            snap.to_dict()
            for snap in self._alerts.where(filter=FieldFilter("routed", "==", False)).stream()
        ]
        return [
            r["alert_id"]
            for r in sorted(rows, key=lambda r: r["recorded_at"])
            if abandoned(r["owner"], r["lease_until"], now_iso=now_iso, host=self._host)
        ]

    def mark_routed(self, alert_ids: list[str]) -> None:
        refs = [self._alerts.document(doc_id(a)) for a in alert_ids]

        def attempt(transaction: Any) -> None:
            pending = [
                ref
                for ref in refs
                if (snap := ref.get(transaction=transaction)).exists
                and snap.to_dict().get("routed") is False
            ]
            for ref in pending:
                transaction.update(ref, {"routed": True, "owner": "", "lease_until": ""})

        if refs:
            self._run(self._client, attempt)

    def has_alert(self, alert_id: str) -> bool:
        return bool(self._alerts.document(doc_id(alert_id)).get().exists)

    def alert_ids(self) -> list[str]:
        """Every recorded alert id, oldest first.

        Callers read the payload of each id next (the live tracker re-seeds its state from
        them at start-up), so the payloads are fetched here too, in one query instead of
        one read per alert; payloads never change once saved, so the cache cannot be stale.
        """
        rows = [snap.to_dict() for snap in self._alerts.stream()]
        self._payload_cache = {
            r["alert_id"]: r["payload"]
            for r in (snap.to_dict() for snap in self._payloads.stream())
        }
        return [r["alert_id"] for r in sorted(rows, key=lambda r: r["recorded_at"])]

    # --- deliveries --------------------------------------------------------------------

    def claim(self, alert_id: str, subscriber: str, channel: str) -> bool:
        ref = self._delivery(alert_id, subscriber, channel)
        now = self._now()
        lease_until = (now + dt.timedelta(seconds=self.lease_seconds)).isoformat()
        owner = owner_token(self._host)

        def attempt(transaction: Any) -> bool:
            snap = ref.get(transaction=transaction)
            if not snap.exists:
                transaction.set(
                    ref,
                    {
                        "alert_id": alert_id,
                        "subscriber": subscriber,
                        "channel": channel,
                        "state": CLAIMED,
                        "attempts": 1,
                        "updated_at": now.isoformat(),
                        "last_error": "",
                        "owner": owner,
                        "lease_until": lease_until,
                        "due_at": "",
                        "expire_at": self._expire_at(),
                    },
                )
                return True
            row = snap.to_dict()
            won = claimable(
                row["state"],
                row.get("owner", ""),
                row.get("lease_until", ""),
                now_iso=now.isoformat(),
                host=self._host,
            )
            if won:
                transaction.update(
                    ref,
                    {
                        "state": CLAIMED,
                        "attempts": row.get("attempts", 0) + 1,
                        "updated_at": now.isoformat(),
                        "owner": owner,
                        "lease_until": lease_until,
                        "expire_at": self._expire_at(),
                    },
                )
            return won

        claimed: bool = self._run(self._client, attempt)
        return claimed

    def release(self, alert_id: str, subscriber: str, channel: str, reason: str) -> None:
        ref = self._delivery(alert_id, subscriber, channel)

        def attempt(transaction: Any) -> None:
            snap = ref.get(transaction=transaction)
            if snap.exists and snap.to_dict()["state"] == CLAIMED:
                transaction.update(
                    ref,
                    {
                        "owner": "",
                        "lease_until": "",
                        "last_error": reason,
                        "updated_at": self._now().isoformat(),
                        "expire_at": self._expire_at(),
                    },
                )

        self._run(self._client, attempt)

    def _set_state(
        self, alert_id: str, subscriber: str, channel: str, state: str, reason: str = ""
    ) -> None:
        ref = self._delivery(alert_id, subscriber, channel)

        def attempt(transaction: Any) -> None:
            snap = ref.get(transaction=transaction)
            fields = {
                "state": state,
                "updated_at": self._now().isoformat(),
                "last_error": reason,
                "owner": "",
                "lease_until": "",
                "expire_at": self._expire_at(),
            }
            if snap.exists:
                transaction.update(ref, fields)
            else:
                transaction.set(
                    ref,
                    {
                        "alert_id": alert_id,
                        "subscriber": subscriber,
                        "channel": channel,
                        "attempts": 1,
                        "due_at": "",
                        **fields,
                    },
                )

        self._run(self._client, attempt)

    def mark_sent(self, alert_id: str, subscriber: str, channel: str) -> None:
        self._set_state(alert_id, subscriber, channel, SENT)

    def mark_many_sent(self, keys: list[DeliveryKey]) -> None:
        """Mark several existing deliveries sent in one transaction (the alerts of one digest)."""
        refs = [self._delivery(*key) for key in keys]
        now = self._now().isoformat()

        def attempt(transaction: Any) -> None:
            existing = [ref for ref in refs if ref.get(transaction=transaction).exists]
            for ref in existing:
                transaction.update(
                    ref,
                    {
                        "state": SENT,
                        "updated_at": now,
                        "owner": "",
                        "lease_until": "",
                        "expire_at": self._expire_at(),
                    },
                )

        self._run(self._client, attempt)

    def mark_dead(self, alert_id: str, subscriber: str, channel: str, reason: str) -> None:
        self._set_state(alert_id, subscriber, channel, DEAD, reason)

    def delivery_state(self, alert_id: str, subscriber: str, channel: str) -> str | None:
        snap = self._delivery(alert_id, subscriber, channel).get()
        return str(snap.to_dict()["state"]) if snap.exists else None

    def attempts(self, alert_id: str, subscriber: str, channel: str) -> int:
        snap = self._delivery(alert_id, subscriber, channel).get()
        return int(snap.to_dict().get("attempts", 0)) if snap.exists else 0

    def unconfirmed(self) -> list[DeliveryKey]:
        rows = sorted(self._rows(CLAIMED), key=lambda r: r["updated_at"])
        return [(r["alert_id"], r["subscriber"], r["channel"]) for r in rows]

    def dead_deliveries(self) -> list[DeliveryKey]:
        """Every dead delivery, oldest first (``deliver --retry-dead`` queues them again)."""
        rows = sorted(self._rows(DEAD), key=lambda r: (r["updated_at"], r["alert_id"]))
        return [(r["alert_id"], r["subscriber"], r["channel"]) for r in rows]

    def requeue_dead(
        self, alert_id: str, subscriber: str, channel: str, *, due_at: dt.datetime | None = None
    ) -> bool:
        """Queue a dead delivery again, due at ``due_at`` (default now); False if it is not
        dead (any more)."""
        ref = self._delivery(alert_id, subscriber, channel)

        def attempt(transaction: Any) -> bool:
            snap = ref.get(transaction=transaction)
            if not snap.exists or snap.to_dict()["state"] != DEAD:
                return False
            now = self._now()
            due = now if due_at is None else due_at.astimezone(UTC)
            transaction.update(
                ref,
                {
                    "state": QUEUED,
                    "due_at": due.isoformat(),
                    "updated_at": now.isoformat(),
                    "owner": "",
                    "lease_until": "",
                    "expire_at": self._expire_at(due),
                },
            )
            return True

        requeued: bool = self._run(self._client, attempt)
        return requeued

    def counts(self) -> dict[str, int]:
        """Number of deliveries in each state: one count aggregation per state (billed per
        1,000 index entries), never a read of every row (the status page asks often)."""
        from google.cloud.firestore_v1.base_query import FieldFilter  # lazy: the gcp extra

        counts = {}
        for state in (QUEUED, CLAIMED, SENT, DEAD):
            query = self._deliveries.where(filter=FieldFilter("state", "==", state))
            counts[state] = int(query.count(alias="n").get()[0][0].value)
        return {state: n for state, n in counts.items() if n}

    # --- digest and quiet-hours queue --------------------------------------------------

    def enqueue(self, alert_id: str, subscriber: str, channel: str, due_at: dt.datetime) -> bool:
        """Queue a delivery for ``due_at``; False if it is already queued, claimed, sent or dead."""
        return self._create_once(
            self._delivery(alert_id, subscriber, channel),
            {
                "alert_id": alert_id,
                "subscriber": subscriber,
                "channel": channel,
                "state": QUEUED,
                "attempts": 0,
                "updated_at": self._now().isoformat(),
                "last_error": "",
                "owner": "",
                "lease_until": "",
                "due_at": due_at.astimezone(UTC).isoformat(),
                "expire_at": self._expire_at(due_at.astimezone(UTC)),
            },
        )

    def due(self, now: dt.datetime) -> list[QueuedDelivery]:
        """Queued deliveries whose time has come, oldest due first."""
        cutoff = now.astimezone(UTC).isoformat()
        rows = sorted(
            (r for r in self._rows(QUEUED) if r["due_at"] <= cutoff),
            key=lambda r: (r["due_at"], r["updated_at"], r["alert_id"]),
        )
        return [
            QueuedDelivery(
                r["alert_id"], r["subscriber"], r["channel"], dt.datetime.fromisoformat(r["due_at"])
            )
            for r in rows
        ]

    # --- payloads and threads ----------------------------------------------------------

    def save_payload(self, alert_id: str, payload: Payload) -> None:
        self._create_once(
            self._payloads.document(doc_id(alert_id)),
            {
                "alert_id": alert_id,
                "payload": json.dumps(payload, sort_keys=True, default=str),
                "expire_at": self._expire_at(),
            },
        )

    def load_payload(self, alert_id: str) -> Payload | None:
        text = self._payload_cache.get(alert_id)
        if text is None:
            snap = self._payloads.document(doc_id(alert_id)).get()
            if not snap.exists:
                return None
            text = snap.to_dict()["payload"]
        payload: Payload = json.loads(text)
        return payload

    def thread_ts(self, subscriber: str, channel: str, storyline_id: str) -> str | None:
        snap = self._threads.document(doc_id(subscriber, channel, storyline_id)).get()
        return str(snap.to_dict()["thread_ts"]) if snap.exists else None

    def set_thread_ts(self, subscriber: str, channel: str, storyline_id: str, ts: str) -> None:
        self._create_once(
            self._threads.document(doc_id(subscriber, channel, storyline_id)),
            {
                "subscriber": subscriber,
                "channel": channel,
                "storyline_id": storyline_id,
                "thread_ts": ts,
                "expire_at": self._expire_at(),
            },
        )

    def mark_feeds_hot(self, feed_ids: list[str], until: dt.datetime) -> None:
        for feed_id in feed_ids:
            ref = self._hot_feeds.document(doc_id(feed_id))

            def attempt(transaction: Any, ref: Any = ref, feed_id: str = feed_id) -> None:
                snap = ref.get(transaction=transaction)
                if snap.exists and snap.to_dict()["until"] >= until:
                    return
                transaction.set(ref, {"feed_id": feed_id, "until": until, "expire_at": until})

            self._run(self._client, attempt)

    def hot_feeds(self, now: dt.datetime) -> dict[str, dt.datetime]:
        # Few rows (bursts are rare and each expires; Firestore's TTL drops old ones), so
        # read them all rather than keep a range index.
        rows = (snap.to_dict() for snap in self._hot_feeds.stream())
        return {r["feed_id"]: r["until"] for r in rows if r["until"] > now}

    def add_mute(self, target: str, until: dt.datetime | None) -> None:
        ref = self._mutes.document(doc_id(target))
        row: dict[str, Any] = {
            "target": target,
            "until": until.astimezone(UTC).isoformat() if until is not None else "",
            "muted_at": self._now().isoformat(),
        }
        if until is not None:  # a mute without an end must outlive any TTL
            row["expire_at"] = self._expire_at(until.astimezone(UTC))
        self._run(self._client, lambda transaction: transaction.set(ref, row))

    def remove_mute(self, target: str) -> bool:
        ref = self._mutes.document(doc_id(target))

        def attempt(transaction: Any) -> bool:
            if not ref.get(transaction=transaction).exists:
                return False
            transaction.delete(ref)
            return True

        removed: bool = self._run(self._client, attempt)
        return removed

    def active_mutes(self, now: dt.datetime) -> dict[str, dt.datetime | None]:
        cutoff = now.astimezone(UTC).isoformat()
        rows = (snap.to_dict() for snap in self._mutes.stream())  # few: one per mute command
        return {
            r["target"]: dt.datetime.fromisoformat(r["until"]) if r["until"] else None
            for r in rows
            if not r["until"] or r["until"] > cutoff
        }

    # --- reads for the status page -------------------------------------------------------
    # Newest first on one time field, then the document id (``__name__``, the order
    # Firestore itself adds): the automatic single-field index serves it, no composite
    # index. A page goes on after the previous page's last row, from that row's values.

    def _newest_first(
        self, collection: Any, field: str, limit: int, after: tuple[str, str] | None
    ) -> list[dict[str, Any]]:
        from google.cloud.firestore_v1.base_query import BaseQuery  # lazy: the gcp extra

        query = collection.order_by(field, direction=BaseQuery.DESCENDING).order_by(
            "__name__", direction=BaseQuery.DESCENDING
        )
        if after is not None:
            query = query.start_after({field: after[0], "__name__": after[1]})
        return [snap.to_dict() for snap in query.limit(limit).stream()]

    def recent_alerts(
        self, *, limit: int, older_than: RecordedAlert | None = None
    ) -> list[RecordedAlert]:
        if limit <= 0:
            return []
        after = (
            None if older_than is None else (older_than.recorded_at, doc_id(older_than.alert_id))
        )
        rows = self._newest_first(self._alerts, "recorded_at", limit, after)
        return [
            RecordedAlert(r["alert_id"], r["recorded_at"], payload_object(r["payload"]))
            for r in rows
        ]

    def recent_deliveries(
        self, *, limit: int, older_than: DeliveryRecord | None = None, state: str | None = None
    ) -> list[DeliveryRecord]:
        if limit <= 0:
            return []
        o = older_than
        after = None if o is None else (o.updated_at, doc_id(o.alert_id, o.subscriber, o.channel))
        if state is None:
            rows = self._newest_first(self._deliveries, "updated_at", limit, after)
        else:
            # state == X ordered by updated_at would need a composite index: the state's
            # rows are ordered here instead (dead, queued and claimed rows are few).
            def key(r: dict[str, Any]) -> tuple[str, str]:
                return (r["updated_at"], doc_id(r["alert_id"], r["subscriber"], r["channel"]))

            rows = sorted(self._rows(state), key=key, reverse=True)
            rows = [r for r in rows if after is None or key(r) < after][:limit]
        return [
            DeliveryRecord(
                r["alert_id"],
                r["subscriber"],
                r["channel"],
                r["state"],
                int(r.get("attempts", 0)),
                str(r.get("last_error", "")),
                r["updated_at"],
            )
            for r in rows
        ]

    def close(self) -> None:
        close = getattr(self._client, "close", None)
        if close is not None:
            close()
