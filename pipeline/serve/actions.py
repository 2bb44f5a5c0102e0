"""The page's one write action: retry a dead delivery, as ``deliver --retry-dead`` does.

    retry_dead(ledger_url, (alert id, subscriber, channel), subscribers_file=…) -> RetryResult

Order: the ledger row goes from ``dead`` to ``queued``, due now (only a row that is dead
now: a second click, or a row someone else already retried, changes nothing); then, with a
subscribers file, the due deliveries are sent at once through the same ``Dispatcher`` as
``storywatch deliver`` (claim, send, mark sent or dead again), and the result is the row's
state after that. Without one, a running ``storywatch run`` sends it on its next sweep.

The state change uses the ledger's own ``requeue_dead`` when the backend has one (the
delivery stage's ``--retry-dead``); for the SQLite file it is one guarded UPDATE in a
``BEGIN IMMEDIATE`` transaction, the same locking as every other ledger write.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from pipeline.config.subscribers import load_subscribers, resolve_secrets
from pipeline.deliver.dispatch import Dispatcher, default_dead_letter_path
from pipeline.errors import UserError
from pipeline.ledger import local_path, open_ledger, redact_url
from pipeline.ledger.protocol import DEAD, QUEUED, DeliveryKey

UTC = dt.UTC


@dataclass(frozen=True, slots=True)
class RetryResult:
    key: DeliveryKey
    requeued: bool  # False: the row was not dead (already retried, or unknown)
    state: str  # the row's state afterwards (sent, queued, dead, …), "" if no row
    reason: str  # the new failure, if it died again


def _requeue_sqlite(path: Path, key: DeliveryKey, now: dt.datetime) -> bool:
    conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        cur = conn.execute(
            "UPDATE deliveries SET state=?, due_at=?, updated_at=?, owner='', lease_until=''"
            " WHERE alert_id=? AND subscriber=? AND channel=? AND state=?",
            (QUEUED, now.isoformat(), now.isoformat(), *key, DEAD),
        )
        conn.execute("COMMIT")
        return cur.rowcount == 1
    finally:
        conn.close()


def retry_dead(
    ledger_url: str,
    key: DeliveryKey,
    *,
    subscribers_file: Path | None,
    dead_letter_out: Path | None = None,
    now: dt.datetime | None = None,
) -> RetryResult:
    """Queue one dead delivery again and, with subscribers, send it now."""
    now = now or dt.datetime.now(UTC)
    ledger = open_ledger(ledger_url)
    try:
        requeue = getattr(ledger, "requeue_dead", None)
        if callable(requeue):
            requeued = bool(requeue(*key))
        else:
            path = local_path(ledger_url)
            if path is None:
                raise UserError(
                    f"{redact_url(ledger_url)}: retrying from the page needs a SQLite ledger; run "
                    "`storywatch deliver --retry-dead` where the ledger is reachable"
                )
            requeued = _requeue_sqlite(path, key, now)
        reason = ""
        if requeued and subscribers_file is not None:
            subscribers = load_subscribers(subscribers_file)
            dispatcher = Dispatcher(
                ledger,
                subscribers=subscribers,
                secrets=resolve_secrets(subscribers),
                dead_letter_path=dead_letter_out or default_dead_letter_path(ledger_url),
            )
            try:
                results = dispatcher.flush_due(now)
            finally:
                dispatcher.close()
            for d in results:
                if (d.alert_id, d.subscriber, d.channel) == key and d.reason:
                    reason = d.reason
        return RetryResult(key, requeued, ledger.delivery_state(*key) or "", reason)
    finally:
        ledger.close()
