"""The WebSub subscriptions of one subscriber: what to ask each hub, and when. Pure.

    Subscriptions(callback_base_url, *, lease_seconds=864000, renew_fraction=0.8,
                  verify_timeout_seconds=300, retry_base_seconds=60, max_retry_seconds=3600)
      want(feed_id, topic, hubs, now)       a fetch saw the feed's hub links
      drop(feed_id, now)                    the feed left the feed list: unsubscribe
      due_requests(now) -> [HubRequest]     the subscribe/renew/unsubscribe POSTs to send now
      request_failed(request, error, now)   the hub refused the POST: retry with backoff
      verify_intent(token, mode, topic, challenge, lease_seconds, now) -> challenge | None
      push_secret(token) -> (feed_id, secret) | None;   is_live(feed_id, now)

Key: one ``Subscription`` per feed id (its first advertised hub), addressed by the hub
through a random ``token``, the last segment of its callback URL; each has its own random
``hub.secret`` (never in a repr or a log). Bound: one per feed of the feed list, plus the
ones being unsubscribed until their verification or ``verify_timeout_seconds``.
Timeline (lease L granted by the hub in its verification GET):
  t0 subscribe POST sent (status pending) -> hub GET: challenge echoed, status live,
  expires at t1 = tv + L, renewal due at tv + renew_fraction * L -> renewal POST (still
  live) -> hub GET: lease extended. No verification within verify_timeout_seconds, or a
  refused POST: retry after 60 s, doubling up to an hour. A lease that ends unrenewed
  lapses: not live (polling is back to normal) and subscribed again. A challenge is
  echoed only for a token, topic and mode we asked for: a stranger cannot confirm a
  subscription, nor unsubscribe a live one.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

DEFAULT_LEASE_SECONDS = 10 * 86400
SUBSCRIBE, UNSUBSCRIBE, DENIED = "subscribe", "unsubscribe", "denied"
NEW, PENDING, LIVE = "new", "pending", "live"


@dataclass(frozen=True)
class HubRequest:
    """One POST to a hub (WebSub section 5.1)."""

    mode: str
    hub: str
    topic: str
    callback: str
    token: str
    secret: str = field(repr=False)
    lease_seconds: int | None = None
    feed_id: str = ""

    def form(self) -> dict[str, str]:
        """The ``application/x-www-form-urlencoded`` fields of the request."""
        data = {"hub.mode": self.mode, "hub.topic": self.topic, "hub.callback": self.callback}
        if self.mode == SUBSCRIBE:
            data["hub.secret"] = self.secret
            if self.lease_seconds:
                data["hub.lease_seconds"] = str(self.lease_seconds)
        return data


@dataclass
class Subscription:
    """One feed's subscription at one hub; times are epoch seconds."""

    feed_id: str
    topic: str
    hub: str
    token: str
    secret: str = field(repr=False)
    status: str = NEW
    next_attempt_at: float = 0.0
    requested_at: float | None = None  # the last POST not yet verified
    expires_at: float | None = None
    renew_at: float | None = None
    lease_seconds: float | None = None
    failures: int = 0
    last_error: str = ""

    def live(self, now: float) -> bool:
        return self.status == LIVE and self.expires_at is not None and now < self.expires_at


class Subscriptions:
    """Every subscription of one callback server; see the module docstring."""

    def __init__(
        self,
        callback_base_url: str,
        *,
        lease_seconds: int = DEFAULT_LEASE_SECONDS,
        renew_fraction: float = 0.8,
        verify_timeout_seconds: float = 300.0,
        retry_base_seconds: float = 60.0,
        max_retry_seconds: float = 3600.0,
        new_token: Callable[[], str] = lambda: secrets.token_urlsafe(18),
        new_secret: Callable[[], str] = lambda: secrets.token_urlsafe(32),
    ) -> None:
        self.callback_base_url = callback_base_url.rstrip("/")
        self.lease_seconds = lease_seconds
        self.renew_fraction = renew_fraction
        self.verify_timeout_seconds = verify_timeout_seconds
        self.retry_base_seconds = retry_base_seconds
        self.max_retry_seconds = max_retry_seconds
        self._new_token = new_token
        self._new_secret = new_secret
        self.by_feed: dict[str, Subscription] = {}
        self._by_token: dict[str, Subscription] = {}
        # token -> (subscription, when the unsubscribe POST went out, or None: not yet)
        self.leaving: dict[str, tuple[Subscription, float | None]] = {}

    def callback_url(self, token: str) -> str:
        return f"{self.callback_base_url}/{token}"

    def want(self, feed_id: str, topic: str, hubs: Sequence[str], now: float) -> None:
        """The feed advertises ``hubs`` for ``topic``: subscribe at the first, keeping a
        subscription already at one of them; a feed that stopped advertising is left."""
        current = self.by_feed.get(feed_id)
        if current is not None and current.topic == topic and current.hub in hubs:
            return
        if current is not None:
            self.drop(feed_id, now)
        if hubs:
            sub = Subscription(feed_id, topic, hubs[0], self._new_token(), self._new_secret())
            self.by_feed[feed_id] = self._by_token[sub.token] = sub

    def drop(self, feed_id: str, now: float) -> None:
        """Forget the feed's subscription; unsubscribe at the hub if one was asked for."""
        sub = self.by_feed.pop(feed_id, None)
        if sub is None:
            return
        del self._by_token[sub.token]
        if sub.status != NEW or sub.requested_at is not None:
            self.leaving[sub.token] = (sub, None)

    def feeds(self) -> list[str]:
        return list(self.by_feed)

    def is_live(self, feed_id: str, now: float) -> bool:
        sub = self.by_feed.get(feed_id)
        return sub is not None and sub.live(now)

    def push_secret(self, token: str) -> tuple[str, str] | None:
        """(feed id, secret) of the subscription a push to ``token`` belongs to."""
        sub = self._by_token.get(token)
        return None if sub is None or sub.status == NEW else (sub.feed_id, sub.secret)

    def _request(self, sub: Subscription, mode: str) -> HubRequest:
        return HubRequest(
            mode,
            sub.hub,
            sub.topic,
            self.callback_url(sub.token),
            sub.token,
            sub.secret,
            self.lease_seconds if mode == SUBSCRIBE else None,
            sub.feed_id,
        )

    def _retry(self, sub: Subscription, error: str, now: float) -> None:
        sub.failures += 1
        sub.last_error = error
        sub.requested_at = None
        delay = self.retry_base_seconds * 2 ** (sub.failures - 1)
        sub.next_attempt_at = now + min(self.max_retry_seconds, delay)
        if not sub.live(now):
            sub.status = NEW

    def _expire(self, now: float) -> None:
        for sub in self.by_feed.values():
            if sub.status == LIVE and not sub.live(now):
                sub.status, sub.requested_at = NEW, None  # lapsed: subscribe again
                sub.next_attempt_at = min(sub.next_attempt_at, now)
            if (
                sub.requested_at is not None
                and now - sub.requested_at > self.verify_timeout_seconds
            ):
                self._retry(sub, "the hub sent no verification of intent", now)
        for token, (_sub, sent_at) in list(self.leaving.items()):
            if sent_at is not None and now - sent_at > self.verify_timeout_seconds:
                del self.leaving[token]  # the hub will drop it when the lease ends

    def due_requests(self, now: float) -> list[HubRequest]:
        """The POSTs to send now; each is marked sent (awaiting the hub's verification)."""
        self._expire(now)
        due = []
        for sub in self.by_feed.values():
            if sub.requested_at is not None or now < sub.next_attempt_at:
                continue
            renewing = sub.status == LIVE and sub.renew_at is not None and now >= sub.renew_at
            if sub.status == NEW or renewing:
                if sub.status == NEW:
                    sub.status = PENDING
                sub.requested_at = now
                due.append(self._request(sub, SUBSCRIBE))
        for token, (sub, sent_at) in list(self.leaving.items()):
            if sent_at is None:
                self.leaving[token] = (sub, now)
                due.append(self._request(sub, UNSUBSCRIBE))
        return due

    def request_failed(self, request: HubRequest, error: str, now: float) -> None:
        """The hub did not accept ``request`` (network error or HTTP status >= 300)."""
        if request.mode == UNSUBSCRIBE:
            self.leaving.pop(request.token, None)
            return
        sub = self._by_token.get(request.token)
        if sub is not None:
            self._retry(sub, error, now)

    def verify_intent(
        self,
        token: str,
        mode: str,
        topic: str,
        challenge: str,
        lease_seconds: float | None,
        now: float,
    ) -> str | None:
        """The hub's verification GET: the challenge to echo, or None (answer 404)."""
        if mode == UNSUBSCRIBE:
            leaving = self.leaving.get(token)
            if leaving is None or leaving[0].topic != topic or leaving[1] is None or not challenge:
                return None
            del self.leaving[token]
            return challenge
        sub = self._by_token.get(token)
        if sub is None or sub.topic != topic:
            return None
        if mode == DENIED:  # at any time (WebSub 5.2): the hub has dropped or refused it
            sub.status, sub.expires_at = NEW, None
            self._retry(sub, "the hub denied the subscription", now)
            return ""
        if mode != SUBSCRIBE or not challenge or sub.requested_at is None:
            return None
        lease = lease_seconds if lease_seconds and lease_seconds > 0 else self.lease_seconds
        sub.status, sub.requested_at, sub.failures, sub.last_error = LIVE, None, 0, ""
        sub.lease_seconds = float(lease)
        sub.expires_at = now + lease
        sub.renew_at = now + self.renew_fraction * lease
        return challenge
