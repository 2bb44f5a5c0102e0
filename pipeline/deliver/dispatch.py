"""The delivery loop shared by the Beam DoFn and ``storywatch deliver``.

For each alert: write it to the local sink, route it to every subscriber channel that
wants it, then either send it now or queue it in the ledger for a digest or the end of
quiet hours. Each send is claimed in the ledger first and marked sent after the channel
accepted it, so restarts and retried bundles never send twice (see ``pipeline.ledger.protocol``
for the one at-least-once window and how channels narrow it with idempotency keys).

Lanes: the alerts for one (subscriber, channel) are sent in order on one thread; lanes
run in parallel, so a slow or failing Slack webhook never holds up an email, and a
Retry-After on one webhook never delays another. Failures never escape: a permanent one
is marked dead in the ledger, written to the dead-letter file and counted; transient
ones are retried (``RetryPolicy``) and, if they outlast the retry budget, released in the
ledger so the next sweep (``retry_unconfirmed``) sends them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pipeline.alert_json import BadAlert, alert_from_json, alert_to_json
from pipeline.config.subscribers import Secrets, Subscriber, Subscribers
from pipeline.deliver.base import (
    DEAD,
    QUEUED,
    RETRY_LATER,
    SENT,
    SKIPPED,
    Delivery,
    PermanentError,
    TransientError,
    redact,
)
from pipeline.deliver.digest import Digest
from pipeline.deliver.email import EmailSender
from pipeline.deliver.file_sink import SINK_SUBSCRIBER, JsonlSink
from pipeline.deliver.pace import MachineRateLimiter
from pipeline.deliver.retry import RateLimiter, RetryPolicy
from pipeline.deliver.routing import fold_same_article, routes
from pipeline.deliver.slack import SlackBot, SlackWebhook
from pipeline.deliver.wording import merge_alerts
from pipeline.ledger import local_path
from pipeline.ledger.protocol import SENT as LEDGER_SENT
from pipeline.ledger.protocol import Ledger
from pipeline.records import UTC, Alert, Failure, to_json

log = logging.getLogger("storywatch.deliver")

# One pace per machine: every Dispatcher (one per DoFn instance) and every process on
# this machine shares the per-webhook pace (pipeline.deliver.pace).
SHARED_RATE_LIMITER = MachineRateLimiter()


def utc_now() -> dt.datetime:
    return dt.datetime.now(UTC)


def default_dead_letter_path(ledger_url: str) -> Path | None:
    """``delivery-dead-letters.jsonl`` next to a SQLite ledger file; None for a remote ledger.

    >>> str(default_dead_letter_path("sqlite:///build/ledger.sqlite"))
    'build/delivery-dead-letters.jsonl'
    >>> default_dead_letter_path("firestore://project/storywatch") is None
    True
    """
    path = local_path(ledger_url)
    if path is None:
        return None  # no shared disk: dead letters are counted, logged and in the Delivery output
    return path.parent / "delivery-dead-letters.jsonl"


def build_channels(
    subscribers: Subscribers | None, secrets: Secrets | None, ledger: Ledger
) -> dict:
    """(subscriber name, channel name) → channel client, secrets taken from ``secrets``."""
    channels: dict[tuple[str, str], object] = {}
    if subscribers is None:
        return channels
    for sub in subscribers.subscribers:
        slack, email = sub.channels.slack, sub.channels.email
        if slack is not None:
            if slack.webhook_url_env:
                channels[(sub.name, "slack")] = SlackWebhook(
                    secrets.get(slack.webhook_url_env),
                    timeout_seconds=slack.timeout_seconds,
                    max_messages_per_second=slack.max_messages_per_second,
                )
            else:
                channels[(sub.name, "slack")] = SlackBot(
                    secrets.get(slack.bot_token_env),
                    slack.channel,
                    ledger=ledger,
                    subscriber=sub.name,
                    api_url=slack.api_url,
                    timeout_seconds=slack.timeout_seconds,
                    max_messages_per_second=slack.max_messages_per_second,
                )
        if email is not None:
            channels[(sub.name, "email")] = EmailSender(
                email,
                subscriber=sub.name,
                username=secrets.get(email.smtp.username_env),
                password=secrets.get(email.smtp.password_env),
            )
    return channels


class DeadLetters:
    """Appends permanent failures to a JSONL file (thread-safe); the file has no secrets."""

    def __init__(self, path: Path | str | None) -> None:
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, delivery: Delivery, title: str = "", *, recipient: str = "") -> None:
        if self.path is None:
            return
        failure = Failure(
            stage="deliver",
            key=f"{delivery.alert_id}/{delivery.subscriber}/{delivery.channel}",
            reason=delivery.reason,
            at=delivery.at,
        )
        record = (
            to_json(failure)
            | {
                "alert_id": delivery.alert_id,
                "subscriber": delivery.subscriber,
                "channel": delivery.channel,
                "attempts": delivery.attempts,
                "title": title,
            }
            | ({"recipient": recipient} if recipient else {})
        )
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")


class Dispatcher:
    """Delivers alerts to the sink and to every subscriber channel that wants them, once each."""

    #: Claims after which an unexpected exception (not a Transient/PermanentError) is final.
    max_unexpected_failures = 3

    def __init__(
        self,
        ledger: Ledger,
        *,
        subscribers: Subscribers | None = None,
        secrets: Secrets | None = None,
        sink: JsonlSink | None = None,
        dead_letter_path: Path | str | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        max_workers: int = 8,
        channels: dict | None = None,
    ) -> None:
        self.ledger = ledger
        self.subscribers: tuple[Subscriber, ...] = subscribers.subscribers if subscribers else ()
        self._by_name = {s.name: s for s in self.subscribers}
        self._secret_values = secrets.all_values() if secrets else []
        self.sink = sink
        self.dead_letters = DeadLetters(dead_letter_path)
        self.clock = clock or utc_now
        self.retry = retry or RetryPolicy()
        self.limiter = limiter or SHARED_RATE_LIMITER
        self.channels = (
            channels if channels is not None else build_channels(subscribers, secrets, ledger)
        )
        self.counts: Counter[str] = Counter()
        self._max_workers = max_workers
        self._executor: ThreadPoolExecutor | None = None

    # --- public ------------------------------------------------------------------------

    def deliver(self, alerts: Iterable[Alert]) -> list[Delivery]:
        """Sink, route and send (or queue) ``alerts``; then send any digest that is due."""
        now = self.clock()
        results: list[Delivery] = []
        lanes: dict[tuple[str, str], list[Alert]] = defaultdict(list)
        mutes = self.ledger.active_mutes(now)
        for alert in alerts:
            if self.sink is not None and self.sink.enabled:
                results.append(self.sink.write(alert))
            planned = routes(alert, self.subscribers, now, muted=mutes)
            if planned and planned[0].muted:
                # Muted (`storywatch mute`): not sent, not queued; counted and logged.
                self.counts["muted"] += 1
                log.info("alert %s not delivered: %s is muted", alert.alert_id, planned[0].muted)
                results += [
                    Delivery(
                        alert.alert_id,
                        r.subscriber.name,
                        r.channel,
                        SKIPPED,
                        reason=f"muted: {r.muted}",
                    )
                    for r in planned
                ]
                continue
            if planned:
                self.ledger.save_payload(alert.alert_id, alert_to_json(alert))
            for route in planned:
                if route.due_at is None:
                    lanes[(route.subscriber.name, route.channel)].append(alert)
                elif self.ledger.enqueue(
                    alert.alert_id, route.subscriber.name, route.channel, route.due_at
                ):
                    results.append(
                        Delivery(
                            alert.alert_id,
                            route.subscriber.name,
                            route.channel,
                            QUEUED,
                            due_at=route.due_at,
                        )
                    )
                else:
                    results.append(
                        Delivery(
                            alert.alert_id,
                            route.subscriber.name,
                            route.channel,
                            SKIPPED,
                            reason="already queued or delivered",
                        )
                    )
        results += self._run_lanes(lanes)
        self._count(results)
        return results + self.flush_due()

    def retry_unconfirmed(self) -> list[Delivery]:
        """Send again what was claimed but never confirmed (a crash, or retries ran out)."""
        lanes: dict[tuple[str, str], list[Alert]] = defaultdict(list)
        results: list[Delivery] = []
        for alert_id, subscriber, channel in self.ledger.unconfirmed():
            if subscriber == SINK_SUBSCRIBER or alert_id.startswith("digest-"):
                continue  # the sink recovers on open; digests are rebuilt from the queue
            if (subscriber, channel) not in self.channels:
                continue  # subscriber or channel removed from the config since
            payload = self.ledger.load_payload(alert_id)
            try:
                alert = alert_from_json(payload or {})
            except BadAlert as exc:
                delivery = Delivery(
                    alert_id, subscriber, channel, DEAD, reason=f"cannot rebuild the alert: {exc}"
                )
                self.ledger.mark_dead(alert_id, subscriber, channel, delivery.reason)
                self.dead_letters.write(delivery)
                results.append(delivery)
                continue
            lanes[(subscriber, channel)].append(alert)
        results += self._run_lanes(lanes)
        self._count(results)
        return results

    def flush_due(self, now: dt.datetime | None = None) -> list[Delivery]:
        """Send every digest (and quiet-hours hold) whose time has come."""
        now = now or self.clock()
        groups: dict[tuple[str, str, dt.datetime], list[str]] = defaultdict(list)
        for item in self.ledger.due(now):
            groups[(item.subscriber, item.channel, item.due_at)].append(item.alert_id)
        if not groups:
            return []
        jobs = []
        for (subscriber, channel, due), alert_ids in groups.items():
            sub = self._by_name.get(subscriber)
            if sub is None or (subscriber, channel) not in self.channels:
                continue
            alerts = []
            for alert_id in alert_ids:
                try:
                    alerts.append(alert_from_json(self.ledger.load_payload(alert_id) or {}))
                except BadAlert:
                    self.ledger.mark_dead(
                        alert_id, subscriber, channel, "alert payload missing from the ledger"
                    )
            if alerts:
                jobs.append(
                    Digest(subscriber, channel, due, tuple(alerts), held=sub.mode == "immediate")
                )
        results = [d for batch in self._map(self._send_digest, jobs) for d in batch]
        self._count(results)
        return results

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        for channel in self.channels.values():
            channel.close()

    # --- sending -----------------------------------------------------------------------

    def _map(self, fn, items: list) -> list:
        if len(items) <= 1:
            return [fn(item) for item in items]
        if self._executor is None:
            # One thread per channel (up to a cap), so a lane sleeping on Retry-After
            # never holds up the others.
            workers = min(32, max(self._max_workers, len(self.channels)))
            self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="deliver")
        return list(self._executor.map(fn, items))

    def _run_lanes(self, lanes: dict[tuple[str, str], list[Alert]]) -> list[Delivery]:
        def run(lane: tuple[tuple[str, str], list[Alert]]) -> list[Delivery]:
            (subscriber, channel), alerts = lane
            # One article that develops several storylines: one message (issue 13).
            return [
                d
                for group in fold_same_article(alerts)
                for d in self._send_alert(group[0], subscriber, channel, also=group[1:])
            ]

        return [d for batch in self._map(run, list(lanes.items())) for d in batch]

    def _attempt(self, channel, send: Callable[[], object]) -> object:
        self.limiter.wait(channel.rate_key, channel.per_second)
        return send()

    def _send_alert(
        self, alert: Alert, subscriber: str, channel_name: str, *, also: Iterable[Alert] = ()
    ) -> list[Delivery]:
        """Claim and send ``alert``, together with ``also`` (alerts of the same article)."""
        claimed: list[Alert] = []
        skipped: list[Delivery] = []
        for each in (alert, *also):
            key = (each.alert_id, subscriber, channel_name)
            if self.ledger.claim(*key):
                claimed.append(each)
                continue
            state = self.ledger.delivery_state(*key)
            skipped.append(
                Delivery(
                    *key,
                    SKIPPED,
                    reason=f"already {state}" if state != "claimed" else "in flight elsewhere",
                )
            )
        if not claimed:
            return skipped
        message = merge_alerts(claimed)
        key = (message.alert_id, subscriber, channel_name)
        members = [(a.alert_id, subscriber, channel_name) for a in claimed[1:]]
        channel = self.channels[(subscriber, channel_name)]
        delivery_key = ":".join(key)
        result = self._send(
            key,
            message.title,
            lambda maybe_sent: self._attempt(
                channel,
                lambda: channel.send_alert(
                    message, delivery_key=delivery_key, maybe_sent=maybe_sent
                ),
            ),
            members=members,
        )
        together = [
            Delivery(*m, result.status, attempts=result.attempts, reason=result.reason)
            for m in members
        ]
        return [result, *together, *skipped]

    def _send_digest(self, digest: Digest) -> list[Delivery]:
        key = (digest.digest_id, digest.subscriber, digest.channel)
        members = [(a.alert_id, digest.subscriber, digest.channel) for a in digest.alerts]
        if not self.ledger.claim(*key):
            if self.ledger.delivery_state(*key) == LEDGER_SENT:
                # Sent before a crash that came before its alerts were marked: mark them now.
                self.ledger.mark_many_sent(members)
            return [
                Delivery(
                    *m,
                    SKIPPED,
                    reason="digest already sent or in flight",
                    message_id=digest.digest_id,
                )
                for m in members
            ]
        channel = self.channels[(digest.subscriber, digest.channel)]
        result = self._send(
            key,
            digest.title(),
            lambda maybe_sent: self._attempt(
                channel,
                lambda: channel.send_digest(
                    digest, delivery_key=digest.digest_id, maybe_sent=maybe_sent
                ),
            ),
            members=members,
        )
        return [
            Delivery(
                *m,
                result.status,
                attempts=result.attempts,
                reason=result.reason,
                due_at=digest.due_at,
                message_id=digest.digest_id,
            )
            for m in members
        ]

    def _send(
        self,
        key: tuple[str, str, str],
        title: str,
        send: Callable[[bool], object],
        members: list[tuple[str, str, str]] = (),
    ) -> Delivery:
        """Send with retries; ``send(maybe_sent)`` is told when an earlier attempt may have landed.

        An earlier attempt may have landed when this claim took over from a sender that
        never confirmed (killed mid-send) or after a failure that does not prove the
        message was refused (timeout, dropped connection, 5xx).
        """
        attempts = 0
        claimed_before = self.ledger.attempts(*key) > 1

        def count(n: int) -> None:
            nonlocal attempts
            attempts = n

        try:
            refused, _ = self.retry.call(
                lambda: send(claimed_before or attempts > 1), on_attempt=count
            )
        except PermanentError as exc:
            reason = redact(exc.reason, self._secret_values)
            for member in [key, *members]:
                self.ledger.mark_dead(*member, reason)
            delivery = Delivery(*key, DEAD, attempts=attempts, reason=reason)
            self.dead_letters.write(delivery, title)
            log.warning(
                "delivery %s to %s/%s failed permanently: %s", key[0], key[1], key[2], reason
            )
            return delivery
        except TransientError as exc:
            reason = redact(exc.reason, self._secret_values)
            for member in [key, *members]:
                self.ledger.release(*member, reason)
            log.warning(
                "delivery %s to %s/%s will be retried later: %s", key[0], key[1], key[2], reason
            )
            return Delivery(*key, RETRY_LATER, attempts=attempts, reason=reason)
        except Exception as exc:  # a bug (e.g. an alert we cannot render) must not stop the others
            reason = redact(f"unexpected {type(exc).__name__}: {exc}", self._secret_values)
            log.exception("delivery %s to %s/%s: %s", key[0], key[1], key[2], reason)
            if self.ledger.attempts(*key) < self.max_unexpected_failures:
                for member in [key, *members]:
                    self.ledger.release(*member, reason)
                return Delivery(*key, RETRY_LATER, attempts=attempts, reason=reason)
            # The same failure on every try: a poison alert. Dead-letter it rather than loop.
            for member in [key, *members]:
                self.ledger.mark_dead(*member, reason)
            delivery = Delivery(*key, DEAD, attempts=attempts, reason=reason)
            self.dead_letters.write(delivery, title)
            return delivery
        self.ledger.mark_many_sent([key, *members])
        if not refused:
            return Delivery(*key, SENT, attempts=attempts)
        # Sent to the others: each refused recipient is a dead letter of its own (issue 14/4).
        for address, why in refused:
            dead = Delivery(*key, DEAD, attempts=attempts, reason=redact(why, self._secret_values))
            self.dead_letters.write(dead, title, recipient=address)
        self.counts["refused_recipients"] += len(refused)
        reason = "refused: " + "; ".join(f"{a} ({w})" for a, w in refused)
        reason = redact(reason, self._secret_values)
        log.warning("delivery %s to %s/%s partly refused: %s", key[0], key[1], key[2], reason)
        return Delivery(*key, SENT, attempts=attempts, reason=reason)

    def _count(self, results: list[Delivery]) -> None:
        self.counts.update(d.status for d in results if d.subscriber != SINK_SUBSCRIBER)
