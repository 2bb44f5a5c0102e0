"""The delivery loop shared by the Beam DoFn and ``storywatch deliver``.

For each alert: write it to the local sink, route it to every subscriber channel that
wants it, then either send it now or queue it in the ledger for a digest or the end of
quiet hours. Each send is claimed in the ledger first and marked sent after the channel
accepted it, so restarts and retried bundles never send twice (see ``pipeline.ledger.protocol``
for the one at-least-once window and how channels narrow it with idempotency keys).

An alert is marked routed in the ledger (``mark_routed``) once every (subscriber,
channel) that wants it has a delivery row: claimed, queued, sent or dead (``_Routing``). The sweep
(``retry_unconfirmed``) first routes and delivers, from their saved payload, the alerts a
process recorded and then died before routing (``unrouted_alerts``), then re-sends the
claims nobody confirmed.

Lanes (``pipeline.deliver.lanes``): the alerts for one (subscriber, channel) are claimed
and sent in order by that lane's own thread, from a bounded queue (a claim is taken just
before its send, so a kill leaves at most one claim in flight per lane); lanes
never wait for each other, so a stalled SMTP server never holds up Slack, and a
Retry-After on one webhook never delays another. With ``wait_for_channels`` (replays,
``storywatch deliver``) each call waits for its own sends; without it (live) a call
returns at once and the results are collected later (``take_finished``). A full lane
queue refuses the job: nothing is claimed, and a later sweep sends it (an unconfirmed
claim at once, a recorded alert once its record lease runs out). Failures never escape: a permanent one
is marked dead in the ledger, written to the dead-letter file and counted; transient
ones are retried (``RetryPolicy``) and, if they outlast the retry budget, released in the
ledger so the next sweep (``retry_unconfirmed``) sends them. A send that may repeat one
that already landed (after a kill, a timeout or a 5xx) on a channel that cannot check is
a ``Delivery`` with ``repeat=True``, counted in ``counts["repeats"]`` and logged.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from pathlib import Path

from pipeline.alert_json import BadAlert, alert_from_json, alert_to_json
from pipeline.config.subscribers import Secrets, Subscriber, Subscribers
from pipeline.deliver.base import (
    DEAD,
    QUEUED,
    RETRY_LATER,
    SENT,
    SKIPPED,
    WAITING,
    Delivery,
    PermanentError,
    TransientError,
    redact,
)
from pipeline.deliver.dead_letters import DeadLetters
from pipeline.deliver.digest import Digest
from pipeline.deliver.email import EmailSender
from pipeline.deliver.file_sink import SINK_SUBSCRIBER, JsonlSink
from pipeline.deliver.lanes import Job, Lane
from pipeline.deliver.pace import MachineRateLimiter
from pipeline.deliver.retry import RateLimiter, RetryPolicy
from pipeline.deliver.routing import fold_same_article, routes
from pipeline.deliver.slack import SlackBot, SlackWebhook
from pipeline.deliver.wording import merge_alerts
from pipeline.ledger import local_path
from pipeline.ledger.protocol import CLAIMED as LEDGER_CLAIMED
from pipeline.ledger.protocol import DEFAULT_LEASE_SECONDS, Ledger
from pipeline.ledger.protocol import SENT as LEDGER_SENT
from pipeline.records import UTC, Alert

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


def can_check(channel: object) -> bool:
    """Can ``channel`` tell whether an earlier attempt landed before sending again? A Slack
    bot reads the channel's history (``posted_ts``); a webhook and SMTP cannot."""
    return callable(getattr(channel, "posted_ts", None))


class _Routing:
    """Marks each alert routed once every lane it went to has claimed it (thread-safe).

    A lane claims on its own thread, just before sending; until the last claim the alert
    stays unrouted, owned by its recorder, and a kill before then leaves it to the sweep.
    """

    def __init__(self, ledger: Ledger, lanes: dict[tuple[str, str], list[Alert]]) -> None:
        self._ledger = ledger
        self._lock = threading.Lock()
        self._pending: Counter[str] = Counter(
            a.alert_id for alerts in lanes.values() for a in alerts
        )

    def claimed(self, keys: list[tuple[str, str, str]]) -> None:
        done = []
        with self._lock:
            for alert_id, _, _ in keys:
                self._pending[alert_id] -= 1
                if self._pending[alert_id] == 0:
                    done.append(alert_id)
        if done:
            self._ledger.mark_routed(done)


class Dispatcher:
    """Delivers alerts to the sink and to every subscriber channel that wants them, once each."""

    #: Claims after which an unexpected exception (not a Transient/PermanentError) is final.
    max_unexpected_failures = 3
    #: Results of finished sends kept for ``take_finished`` (the oldest go first).
    max_finished_kept = 10_000

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
        channels: dict | None = None,
        wait_for_channels: bool = True,
        max_queued_per_channel: int = 200,
        close_timeout_seconds: float = 5.0,
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
        self.wait_for_channels = wait_for_channels
        self.max_queued_per_channel = max_queued_per_channel
        self.close_timeout_seconds = close_timeout_seconds
        self._lanes: dict[tuple[str, str], Lane] = {}
        self._state_lock = threading.Lock()
        # Deliveries handed to a lane and not finished: never claimed again meanwhile,
        # even once the claim's lease runs out while a stalled channel holds the queue.
        self._in_flight: set[tuple[str, str, str]] = set()
        self._finished: list[Delivery] = []
        #: Called on the lane's thread with each finished send's results (live metrics).
        self.on_finished: Callable[[list[Delivery]], None] | None = None

    # --- public ------------------------------------------------------------------------

    def deliver(self, alerts: Iterable[Alert]) -> list[Delivery]:
        """Sink, route and send (or queue) ``alerts``; then send any digest that is due."""
        return self._route(alerts) + self.flush_due()

    def _route(self, alerts: Iterable[Alert]) -> list[Delivery]:
        now = self.clock()
        routed: list[str] = []
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
                routed.append(alert.alert_id)
                continue
            routed.append(alert.alert_id)
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
        futures: list[Future] = []
        # Muted, queued for a digest, or wanted by nobody: routed now; the others once
        # every lane has claimed them (``_Routing``).
        in_lanes = {a.alert_id for alerts in lanes.values() for a in alerts}
        self.ledger.mark_routed([i for i in routed if i not in in_lanes])
        results += self._submit_lanes(lanes, futures, routing=_Routing(self.ledger, lanes))
        results += self._collect(futures)
        self._count(results)
        return results

    def retry_unconfirmed(self) -> list[Delivery]:
        """Route the alerts a dead process recorded but never routed, then send again what
        was claimed but never confirmed (a crash, or retries ran out)."""
        results = self._route_unrouted()
        lanes: dict[tuple[str, str], list[Alert]] = defaultdict(list)
        for alert_id, subscriber, channel in self.ledger.unconfirmed():
            if subscriber == SINK_SUBSCRIBER or alert_id.startswith("digest-"):
                continue  # the sink recovers on open; digests are rebuilt from the queue
            if (subscriber, channel) not in self.channels:
                continue  # subscriber or channel removed from the config since
            with self._state_lock:
                if (alert_id, subscriber, channel) in self._in_flight:
                    continue  # queued on its lane in this process
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
        futures: list[Future] = []
        results += self._submit_lanes(lanes, futures, retry=True)
        results += self._collect(futures)
        self._count(results)
        return results

    def _route_unrouted(self) -> list[Delivery]:
        """Deliver the alerts recorded by a process that died before routing them (defect 1
        of issue 14: a kill between deciding an alert and claiming its deliveries)."""
        alerts: list[Alert] = []
        for alert_id in self.ledger.unrouted_alerts():
            try:
                alerts.append(alert_from_json(self.ledger.load_payload(alert_id) or {}))
            except BadAlert as exc:
                # Nothing to send from; say so once rather than retry forever.
                log.error(
                    "alert %s was recorded but never routed, and its saved copy is "
                    "unusable (%s): it cannot be delivered",
                    alert_id,
                    exc,
                )
                self.ledger.mark_routed([alert_id])
        if not alerts:
            return []
        log.warning(
            "routing %d alert(s) recorded by a process that stopped before delivering them: %s",
            len(alerts),
            ", ".join(a.alert_id for a in alerts[:10]),
        )
        return self._route(alerts)

    def flush_due(self, now: dt.datetime | None = None) -> list[Delivery]:
        """Send every digest (and quiet-hours hold) whose time has come."""
        now = now or self.clock()
        groups: dict[tuple[str, str, dt.datetime], list[str]] = defaultdict(list)
        for item in self.ledger.due(now):
            groups[(item.subscriber, item.channel, item.due_at)].append(item.alert_id)
        if not groups:
            return []
        futures: list[Future] = []
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
                digest = Digest(
                    subscriber, channel, due, tuple(alerts), held=sub.mode == "immediate"
                )
                key = (digest.digest_id, subscriber, channel)
                future = self._submit(key[1:], lambda d=digest: self._send_digest(d), [key])
                if future is not None:
                    futures.append(future)
        results = self._collect(futures)
        self._count(results)
        return results

    def take_finished(self) -> list[Delivery]:
        """The results of sends finished since the last call (``wait_for_channels=False``)."""
        with self._state_lock:
            finished, self._finished = self._finished, []
        self._count(finished)
        return finished

    def close(self) -> None:
        """Stop the lanes (queued sends give their claims back) and close the channels."""
        for lane in self._lanes.values():
            lane.close(join_timeout_seconds=self.close_timeout_seconds, on_cancel=self._give_back)
        self._lanes = {}
        for channel in self.channels.values():
            channel.close()

    # --- lanes -------------------------------------------------------------------------

    def _give_back(self, job: Job) -> None:
        # A cancelled job claimed nothing: its alerts stay unrouted (or unconfirmed) for
        # the next sweep of whichever process comes next.
        self._done(job.keys)

    def _done(self, keys: list[tuple[str, str, str]]) -> None:
        with self._state_lock:
            self._in_flight.difference_update(keys)

    def _submit(
        self,
        lane_key: tuple[str, str],
        run: Callable[[], list[Delivery]],
        keys: list[tuple[str, str, str]],
    ) -> Future | None:
        """Queue ``run`` on its lane; None if one of ``keys`` is queued already or the lane
        queue is full (only without ``wait_for_channels``: a waiting caller blocks instead)."""
        with self._state_lock:
            if self._in_flight.intersection(keys):
                return None
            self._in_flight.update(keys)
            lane = self._lanes.get(lane_key)
            if lane is None:
                lane = self._lanes[lane_key] = Lane(
                    "/".join(lane_key), max_queued=self.max_queued_per_channel
                )
        job = Job(run, keys)
        future = lane.submit(job, block=self.wait_for_channels)
        if future is None:
            self._done(keys)
            return None
        future.add_done_callback(lambda f: self._finish(job, f))
        return future

    def _finish(self, job: Job, future: Future) -> None:
        self._done(job.keys)
        if self.wait_for_channels or future.cancelled() or future.exception() is not None:
            return
        with self._state_lock:
            self._finished.extend(future.result())
            # Bound: a live step that sees no alert for weeks still sends digests; the
            # ledger and the log keep every result, this list only feeds the step's output.
            del self._finished[: -self.max_finished_kept]
        if self.on_finished is not None:
            self.on_finished(future.result())

    def _collect(self, futures: list[Future]) -> list[Delivery]:
        if not self.wait_for_channels:
            return []
        return [
            d for f in futures if not f.cancelled() and f.exception() is None for d in f.result()
        ]

    def _submit_lanes(
        self,
        lanes: dict[tuple[str, str], list[Alert]],
        futures: list[Future],
        *,
        retry: bool = False,
        routing: _Routing | None = None,
    ) -> list[Delivery]:
        """Hand each lane's alerts to the lane's thread, which claims and sends them; with
        ``routing``, each alert is marked routed once every lane has claimed it."""
        results: list[Delivery] = []
        for (subscriber, channel), alerts in lanes.items():
            if (subscriber, channel) not in self.channels:
                continue
            # One article that develops several storylines: one message (issue 13).
            for group in fold_same_article(alerts):
                keys = [(a.alert_id, subscriber, channel) for a in group]

                def job(g=group, s=subscriber, ch=channel) -> list[Delivery]:
                    return self._claim_and_send(g, s, ch, retry=retry, routing=routing)

                future = self._submit((subscriber, channel), job, keys)
                if future is not None:
                    futures.append(future)
                    continue
                with self._state_lock:
                    queued_here = bool(self._in_flight.intersection(keys))
                if queued_here:  # a job already queued here claims and sends them
                    if routing is not None:
                        routing.claimed(keys)
                    continue
                # Unclaimed, so no row yet: a recorded alert stays unrouted until its record
                # lease runs out and a sweep routes it; a released claim stays unconfirmed.
                reason = (
                    f"the {channel} queue of {subscriber} is full "
                    f"({self.max_queued_per_channel} waiting); a later sweep sends it"
                )
                log.warning("delivery %s to %s/%s: %s", keys[0][0], subscriber, channel, reason)
                results += [Delivery(*key, RETRY_LATER, reason=reason) for key in keys]
        return results

    def _claim_and_send(
        self,
        group: list[Alert],
        subscriber: str,
        channel_name: str,
        *,
        retry: bool,
        routing: _Routing | None,
    ) -> list[Delivery]:
        """On the lane's thread: claim ``group`` (one article's alerts), then send what was
        claimed as one message."""
        claimed: list[Alert] = []
        skipped: list[Delivery] = []
        try:
            for each in group:
                key = (each.alert_id, subscriber, channel_name)
                if self.ledger.claim(*key):
                    claimed.append(each)
                    continue
                state = self.ledger.delivery_state(*key)
                if retry and state == LEDGER_CLAIMED:
                    skipped.append(self._waiting(key))
                    continue
                skipped.append(
                    Delivery(
                        *key,
                        SKIPPED,
                        reason=f"already {state}"
                        if state != LEDGER_CLAIMED
                        else "in flight elsewhere",
                    )
                )
        except Exception:
            for each in claimed:  # a ledger failure: hand back what this job holds
                self.ledger.release(each.alert_id, subscriber, channel_name, "ledger error")
            raise
        if routing is not None:
            # Every key of the group has a row now (claimed here or by someone else).
            routing.claimed([(a.alert_id, subscriber, channel_name) for a in group])
        if not claimed:
            return skipped
        return self._send_alert(claimed, subscriber, channel_name) + skipped

    def _waiting(self, key: tuple[str, str, str]) -> Delivery:
        """A claim another process holds: it waits for that process to finish, die or run
        out of lease (issue 14, defect 10: say what waits and until when)."""
        lease_seconds = float(getattr(self.ledger, "lease_seconds", DEFAULT_LEASE_SECONDS))
        latest = self.clock() + dt.timedelta(seconds=lease_seconds)
        reason = (
            "claimed by another process that has not confirmed it (still running, or "
            "killed and not yet reaped); it is sent again once that process is gone or "
            f"its lease runs out, by {latest:%Y-%m-%d %H:%M:%S} UTC at the latest"
        )
        return Delivery(*key, WAITING, reason=reason, due_at=latest)

    # --- sending -----------------------------------------------------------------------

    def _attempt(self, channel, send: Callable[[], object]) -> object:
        self.limiter.wait(channel.rate_key, channel.per_second)
        return send()

    def _send_alert(
        self, claimed: list[Alert], subscriber: str, channel_name: str
    ) -> list[Delivery]:
        """Send the ``claimed`` alerts (one article's) as one message."""
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
            can_check=can_check(channel),
        )
        together = [
            Delivery(*m, result.status, attempts=result.attempts, reason=result.reason)
            for m in members
        ]
        return [result, *together]

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
            can_check=can_check(channel),
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
        *,
        can_check: bool = False,
    ) -> Delivery:
        """Send with retries; ``send(maybe_sent)`` is told when an earlier attempt may have landed.

        An earlier attempt may have landed when this claim took over from a sender that
        never confirmed (killed mid-send) or after a failure that does not prove the
        message was refused (timeout, dropped connection, 5xx). A channel that
        ``can_check`` (a Slack bot reads the channel's history) does not post again if it
        did land; any other success after such a failure may be a repeat, and is counted.
        """
        attempts = 0
        claimed_before = self.ledger.attempts(*key) > 1
        maybe_sent = False

        def count(n: int) -> None:
            nonlocal attempts, maybe_sent
            attempts = n
            maybe_sent = claimed_before or attempts > 1
            if maybe_sent and not can_check:
                # Before the attempt, not after it: a kill between a send that lands and
                # its confirmation must still leave the possible repeat in the log.
                log.warning(
                    "delivery %s to %s/%s sending again after an attempt that may have landed "
                    "(at-least-once window); the receiver may see it twice, with the same id",
                    *key,
                )

        try:
            refused, _ = self.retry.call(lambda: send(maybe_sent), on_attempt=count)
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
        repeat = maybe_sent and not can_check
        if repeat:
            self.counts["repeats"] += 1
        if not refused:
            return Delivery(*key, SENT, attempts=attempts, repeat=repeat)
        # Sent to the others: each refused recipient is a dead letter of its own (issue 14/4).
        for address, why in refused:
            dead = Delivery(*key, DEAD, attempts=attempts, reason=redact(why, self._secret_values))
            self.dead_letters.write(dead, title, recipient=address)
        self.counts["refused_recipients"] += len(refused)
        reason = "refused: " + "; ".join(f"{a} ({w})" for a, w in refused)
        reason = redact(reason, self._secret_values)
        log.warning("delivery %s to %s/%s partly refused: %s", key[0], key[1], key[2], reason)
        return Delivery(*key, SENT, attempts=attempts, reason=reason, repeat=repeat)

    def _count(self, results: list[Delivery]) -> None:
        self.counts.update(d.status for d in results if d.subscriber != SINK_SUBSCRIBER)
