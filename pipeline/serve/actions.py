"""The page's one write action: retry a dead delivery, as ``deliver --retry-dead`` does.

    retry_dead(ledger_url, (alert id, subscriber, channel), subscribers_file=…) -> RetryResult

Order: the ledger row goes from ``dead`` to ``queued``, due now (only a row that is dead
now: a second click, or a row someone else already retried, changes nothing); then, with a
subscribers file, the due deliveries are sent at once through the same ``Dispatcher`` as
``storywatch deliver`` (claim, send, mark sent or dead again), and the result is the row's
state after that. Without one, a running ``storywatch run`` sends it on its next sweep.

The state change is the ledger's own ``requeue_dead`` (one guarded write on every backend,
the same as ``deliver --retry-dead``), due at ``now``, so the flush that follows finds it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.config.subscribers import load_subscribers, resolve_secrets
from pipeline.deliver.dispatch import Dispatcher, default_dead_letter_path
from pipeline.ledger import Ledger, open_ledger
from pipeline.ledger.protocol import DeliveryKey

UTC = dt.UTC


@dataclass(frozen=True, slots=True)
class RetryResult:
    key: DeliveryKey
    requeued: bool  # False: the row was not dead (already retried, or unknown)
    state: str  # the row's state afterwards (sent, queued, dead, …), "" if no row
    reason: str  # the new failure, if it died again


def retry_dead(
    ledger_url: str,
    key: DeliveryKey,
    *,
    subscribers_file: Path | None,
    dead_letter_out: Path | None = None,
    now: dt.datetime | None = None,
    opener: Callable[..., Ledger] = open_ledger,
) -> RetryResult:
    """Queue one dead delivery again and, with subscribers, send it now."""
    now = now or dt.datetime.now(UTC)
    ledger = opener(ledger_url)
    try:
        requeued = ledger.requeue_dead(*key, due_at=now)
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
