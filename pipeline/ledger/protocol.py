"""The ``Ledger`` interface every backend implements, and the states it shares.

The ledger is what survives a restart: every alert id decided (before anything is
delivered), one delivery row per (alert id, subscriber, channel), the alert JSON a
delivery needs to be retried, and the Slack thread of each (subscriber, channel,
storyline). A delivery row is ``queued`` while it waits for a digest or the end of quiet
hours, ``claimed`` while a sender owns it, ``sent`` after the channel confirmed and
``dead`` after a permanent failure.

A claim has an owner and a lease (``pipeline.ledger.claims``), so two senders never send
the same delivery at once, a crashed sender's rows are retried and a sent row is never
sent again. Timeline for one delivery::

    t0 claim(a1, desk, slack)      -> True   row: claimed by P1, attempts=1
    t1 (P1 killed with SIGKILL before the webhook answered)
    t2 claim(a1, desk, slack) in P2 -> True  P1 is gone: claimed by P2, attempts=2
    t3 mark_sent(a1, desk, slack)            row: sent
    t4 claim(a1, desk, slack)      -> False  (already sent: skip)

An alert is recorded with an owner and a lease too, and is ``routed`` once every
(subscriber, channel) that wants it has a delivery row. If its recorder dies before that,
the next sweep (any process) routes and delivers it (``unrouted_alerts``); the claims make
that safe when the recorder's own process reaches it after all.

The at-least-once window runs from the moment a request leaves for the channel until
``mark_sent`` commits: a kill inside it means the restarted process cannot know whether
the message arrived, so it sends again, with ``attempts`` > 1 to tell the channel to be
careful (docs/ledger.md has how each channel narrows that window).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Protocol

QUEUED, CLAIMED, SENT, DEAD = "queued", "claimed", "sent", "dead"
DEFAULT_LEASE_SECONDS = 600.0

#: An alert's JSON object, as ``pipeline.alert_json.alert_to_json`` writes it.
Payload = dict[str, Any]
#: (alert id, subscriber, channel): the key of one delivery.
DeliveryKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class QueuedDelivery:
    """A delivery waiting for its digest (or for the end of quiet hours) until ``due_at``."""

    alert_id: str
    subscriber: str
    channel: str
    due_at: dt.datetime


def payload_object(text: str) -> Payload:
    """The JSON object stored as ``text``; ``{}`` for text that is not one (a damaged row
    reads as an empty payload, so one bad row never hides the others).

    >>> payload_object('{"title": "x"}'), payload_object("[1]"), payload_object("{")
    ({'title': 'x'}, {}, {})
    """
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class RecordedAlert:
    """An alert as the ledger recorded it (``recent_alerts``): the status page's source."""

    alert_id: str
    recorded_at: str  # ISO-8601 UTC
    payload: Payload


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One delivery row as the ledger holds it (``recent_deliveries``)."""

    alert_id: str
    subscriber: str
    channel: str
    state: str
    attempts: int
    last_error: str
    updated_at: str  # ISO-8601 UTC, the row's last change


class Ledger(Protocol):
    """Durable record of alerts decided and deliveries made."""

    def record_alert(self, alert_id: str, payload: Payload) -> bool:
        """Record an alert id, owned by this process until it is routed; True if it is new,
        False if it was recorded before."""

    def unrouted_alerts(self) -> list[str]:
        """Alerts recorded but never routed whose recorder died or ran out of lease, oldest
        first: the recovery sweep delivers them (a kill between deciding and claiming)."""

    def mark_routed(self, alert_ids: list[str]) -> None:
        """Every (subscriber, channel) of these alerts has a delivery row now (claimed,
        queued, sent or dead), so the delivery rows carry them from here on."""

    def has_alert(self, alert_id: str) -> bool: ...

    def alert_ids(self) -> list[str]:
        """Every recorded alert id, oldest first."""

    def claim(self, alert_id: str, subscriber: str, channel: str) -> bool:
        """Claim a delivery before sending; False if it was sent, is dead, or another sender owns it."""

    def release(self, alert_id: str, subscriber: str, channel: str, reason: str) -> None:
        """Give a claim back after a transient failure: it stays unconfirmed and is retried later."""

    def mark_sent(self, alert_id: str, subscriber: str, channel: str) -> None: ...

    def mark_many_sent(self, keys: list[DeliveryKey]) -> None:
        """Mark several deliveries sent at once (a digest and the alerts in it)."""

    def mark_dead(self, alert_id: str, subscriber: str, channel: str, reason: str) -> None: ...

    def delivery_state(self, alert_id: str, subscriber: str, channel: str) -> str | None: ...

    def attempts(self, alert_id: str, subscriber: str, channel: str) -> int:
        """How many times the delivery was claimed (0 if never); above 1, an earlier try may have landed."""

    def unconfirmed(self) -> list[DeliveryKey]:
        """Deliveries claimed but never confirmed (to retry after a crash)."""

    def dead_deliveries(self) -> list[DeliveryKey]:
        """Every dead delivery, oldest first (``deliver --retry-dead`` queues them again)."""

    def requeue_dead(
        self, alert_id: str, subscriber: str, channel: str, *, due_at: dt.datetime | None = None
    ) -> bool:
        """Queue a dead delivery again, due at ``due_at`` (default now); False if it is not
        dead (any more)."""

    def enqueue(
        self, alert_id: str, subscriber: str, channel: str, due_at: dt.datetime
    ) -> bool: ...

    def due(self, now: dt.datetime) -> list[QueuedDelivery]: ...

    def save_payload(self, alert_id: str, payload: Payload) -> None: ...

    def load_payload(self, alert_id: str) -> Payload | None: ...

    def thread_ts(self, subscriber: str, channel: str, storyline_id: str) -> str | None: ...

    def set_thread_ts(self, subscriber: str, channel: str, storyline_id: str, ts: str) -> None: ...

    def mark_feeds_hot(self, feed_ids: list[str], until: dt.datetime) -> None:
        """A storyline burst: poll these feeds at the burst cadence until ``until`` (a later
        ``until`` for a feed wins; an earlier one never shortens it)."""

    def hot_feeds(self, now: dt.datetime) -> dict[str, dt.datetime]:
        """The feeds marked hot whose ``until`` is after ``now``, with it."""

    def add_mute(self, target: str, until: dt.datetime | None) -> None:
        """Mute a storyline or development id until ``until`` (None: until unmuted); a
        second mute of the same target replaces the first."""

    def remove_mute(self, target: str) -> bool:
        """Unmute ``target``; False if it was not muted."""

    def active_mutes(self, now: dt.datetime) -> dict[str, dt.datetime | None]:
        """Muted targets whose mute has not run out at ``now``, with its end (None: forever)."""

    # --- reads for the status page: bounded pages, newest first ---------------------------
    # Rows with the same time come in an order each backend keeps stable, so paging with
    # ``older_than`` (the previous page's last row) never repeats or skips a row.

    def recent_alerts(
        self, *, limit: int, older_than: RecordedAlert | None = None
    ) -> list[RecordedAlert]:
        """At most ``limit`` recorded alerts with their payloads, newest first; with
        ``older_than``, the page that follows that one."""

    def recent_deliveries(
        self, *, limit: int, older_than: DeliveryRecord | None = None, state: str | None = None
    ) -> list[DeliveryRecord]:
        """At most ``limit`` delivery rows (only those in ``state``, if given), the most
        recently changed first; with ``older_than``, the page that follows that row."""

    def counts(self) -> dict[str, int]:
        """Number of deliveries in each state (states with none left out)."""

    def close(self) -> None: ...
