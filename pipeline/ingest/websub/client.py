"""One worker's WebSub subscriber: subscriptions, the callback server and the hub POSTs.

    WebSubConfig(callback_url, *, port, bind_host="127.0.0.1", lease_seconds=…, …)
    WebSubClient(config)  .start() / .close()
      discovered(feed_id, topic, hubs, *, allow_private)   from a fetched feed's links
      offered(feed_ids, now)       the feed list's feeds this tick; one not offered for
                                   ``forget_after_seconds`` is unsubscribed
      pump(now)                    send the due subscribe/renew/unsubscribe POSTs (a thread)
      take_pushes(feed_ids) -> [Push]   verified pushes received for those feeds
      is_live(feed_id, now), counts

The callback server calls ``verify_intent`` and ``receive`` from its own threads; one lock
guards the ``Subscriptions``. A push is kept only if its X-Hub-Signature verifies with the
subscription's secret (else ``counts["pushes_rejected"]``). Bound: ``max_pending_pushes``
per feed (older ones dropped first, counted); a feed's pushes are taken on its host's next
tick. Hub hosts pass the same address guard as feeds (``fetch.guard.check_host``), and a
plain-http hub is only used where the feed list allows private addresses (tests). No
secret is ever logged: requests are logged by mode, feed, hub and topic only.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from pipeline.ingest.fetch.guard import FetchError, check_host
from pipeline.ingest.websub.callback import MAX_PUSH_BYTES, CallbackApp, CallbackServer
from pipeline.ingest.websub.signature import verify_signature
from pipeline.ingest.websub.subscriptions import (
    DEFAULT_LEASE_SECONDS,
    HubRequest,
    Subscriptions,
)

UTC = dt.UTC
log = logging.getLogger(__name__)
# Headers of a push worth passing on to parsing (the content type names the format).
_KEPT_HEADERS = ("content-type", "link")


@dataclass(frozen=True)
class WebSubConfig:
    """How this run subscribes. ``callback_url`` is what hubs call (public, or loopback in
    tests); the server listens on ``bind_host:port``. Polling of a feed with a live
    subscription is slowed to ``fallback_poll_factor`` x its floor, at most
    ``max_fallback_poll_seconds`` (never below the floor)."""

    callback_url: str
    port: int
    bind_host: str = "127.0.0.1"
    lease_seconds: int = DEFAULT_LEASE_SECONDS
    renew_fraction: float = 0.8
    verify_timeout_seconds: float = 300.0
    retry_base_seconds: float = 60.0
    fallback_poll_factor: float = 10.0
    max_fallback_poll_seconds: float = 3600.0
    forget_after_seconds: float = 60.0
    max_push_bytes: int = MAX_PUSH_BYTES
    max_pending_pushes: int = 100
    hub_timeout_seconds: float = 10.0


@dataclass(frozen=True)
class Push:
    """One verified content distribution for a feed."""

    feed_id: str
    topic: str
    received_at: dt.datetime
    headers: tuple[tuple[str, str], ...]
    body: bytes


class WebSubClient:
    """See the module docstring. ``clock`` is epoch seconds (tests pass their own)."""

    def __init__(self, config: WebSubConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.subscriptions = Subscriptions(
            config.callback_url,
            lease_seconds=config.lease_seconds,
            renew_fraction=config.renew_fraction,
            verify_timeout_seconds=config.verify_timeout_seconds,
            retry_base_seconds=config.retry_base_seconds,
        )
        self.counts = {
            "pushes": 0,
            "pushes_rejected": 0,
            "pushes_dropped": 0,
            "verified": 0,
            "hub_requests": 0,
            "hub_failures": 0,
        }
        self._lock = threading.Lock()
        self._pushes: dict[str, deque[Push]] = {}
        self._allow_private: dict[str, bool] = {}
        self._offered_at: dict[str, float] = {}
        self._server: CallbackServer | None = None
        self._http: httpx.Client | None = None
        self._senders: cf.ThreadPoolExecutor | None = None

    def _count(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> WebSubClient:
        app = CallbackApp(self, max_body_bytes=self.config.max_push_bytes)
        self._server = CallbackServer(app, host=self.config.bind_host, port=self.config.port)
        self._http = httpx.Client(
            timeout=self.config.hub_timeout_seconds, trust_env=False, follow_redirects=False
        )
        self._senders = cf.ThreadPoolExecutor(max_workers=2, thread_name_prefix="websub-hub")
        log.info(
            "websub: callback server on %s:%d for %s",
            self.config.bind_host,
            self._server.port,
            self.config.callback_url,
        )
        return self

    def close(self) -> None:
        if self._senders is not None:
            self._senders.shutdown(wait=False, cancel_futures=True)
        if self._server is not None:
            self._server.close()
        if self._http is not None:
            self._http.close()
        self._server = self._http = self._senders = None

    # --- what the fetch stage tells us ----------------------------------------------
    def discovered(
        self, feed_id: str, topic: str, hubs: Sequence[str], *, allow_private: bool = False
    ) -> None:
        with self._lock:
            self._allow_private[feed_id] = allow_private
            self.subscriptions.want(feed_id, topic, hubs, self.clock())

    def offered(self, feed_ids: Iterable[str], now: float) -> None:
        with self._lock:
            for feed_id in feed_ids:
                self._offered_at[feed_id] = now
            for feed_id in self.subscriptions.feeds():
                seen = self._offered_at.get(feed_id)
                if seen is None or now - seen > self.config.forget_after_seconds:
                    log.info("websub: feed %s left the feed list; unsubscribing", feed_id)
                    self.subscriptions.drop(feed_id, now)
                    self._pushes.pop(feed_id, None)

    def is_live(self, feed_id: str, now: float) -> bool:
        with self._lock:
            return self.subscriptions.is_live(feed_id, now)

    def pump(self, now: float) -> list[cf.Future[None]]:
        """Send the due hub requests, each on a sender thread; the futures are for tests."""
        with self._lock:
            requests = self.subscriptions.due_requests(now)
        assert self._senders is not None, "start() first"
        return [self._senders.submit(self._send, request) for request in requests]

    def take_pushes(self, feed_ids: Iterable[str]) -> list[Push]:
        with self._lock:
            taken = []
            for feed_id in feed_ids:
                queue = self._pushes.pop(feed_id, None)
                if queue:
                    taken.extend(queue)
            return taken

    # --- the hub ----------------------------------------------------------------------
    def _send(self, request: HubRequest) -> None:
        feed_id = request.feed_id
        self._count("hub_requests")
        log.info(
            "websub: %s feed %s at hub %s (topic %s)",
            request.mode,
            feed_id,
            request.hub,
            request.topic,
        )
        with self._lock:
            allow_private, http = self._allow_private.get(feed_id, False), self._http
        try:
            parts = urlsplit(request.hub)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise FetchError("blocked", f"{request.hub}: not an http(s) URL")
            if parts.scheme == "http" and not allow_private:
                raise FetchError(
                    "blocked",
                    f"{request.hub}: a plain-http hub would carry hub.secret in clear "
                    "(WebSub 5.1); the feed stays polled",
                )
            check_host(
                parts.hostname,
                parts.port or (443 if parts.scheme == "https" else 80),
                allow_private=allow_private,
            )
            if http is None:
                return  # closed meanwhile
            response = http.post(request.hub, data=request.form())
            if response.status_code >= 300:
                raise FetchError("http", f"{request.hub}: HTTP {response.status_code}")
        except (FetchError, httpx.HTTPError) as exc:
            self._count("hub_failures")
            log.warning("websub: %s of feed %s refused: %s", request.mode, feed_id, exc)
            with self._lock:
                self.subscriptions.request_failed(request, str(exc), self.clock())

    # --- the callback server (its threads) -------------------------------------------
    def verify_intent(
        self, token: str, mode: str, topic: str, challenge: str, lease_seconds: float | None
    ) -> str | None:
        with self._lock:
            echoed = self.subscriptions.verify_intent(
                token, mode, topic, challenge, lease_seconds, self.clock()
            )
        if echoed is not None and mode == "subscribe":
            self._count("verified")
            log.info(
                "websub: hub verified the subscription to %s (lease %s s)", topic, lease_seconds
            )
        elif echoed is None:
            log.info("websub: refused a %s verification for %s (not asked for)", mode, topic)
        return echoed

    def receive(self, token: str, body: bytes, headers: list[tuple[str, str]]) -> bool | None:
        with self._lock:
            found = self.subscriptions.push_secret(token)
        if found is None:
            return None
        feed_id, secret = found
        signature = next((v for k, v in headers if k.lower() == "x-hub-signature"), "")
        if not verify_signature(signature, body, secret):
            self._count("pushes_rejected")
            log.warning("websub: push for feed %s refused: bad or missing X-Hub-Signature", feed_id)
            return False
        topic = (
            self.subscriptions.by_feed[feed_id].topic
            if feed_id in self.subscriptions.by_feed
            else ""
        )
        kept = tuple((k.lower(), v) for k, v in headers if k.lower() in _KEPT_HEADERS)
        with self._lock:
            sub = self.subscriptions.by_feed.get(feed_id)
            topic = sub.topic if sub is not None else ""
            push = Push(feed_id, topic, dt.datetime.fromtimestamp(self.clock(), UTC), kept, body)
            queue = self._pushes.setdefault(feed_id, deque())
            if len(queue) >= self.config.max_pending_pushes:
                queue.popleft()
                self.counts["pushes_dropped"] += 1
            queue.append(push)
            self.counts["pushes"] += 1
        return True


_SHARED_LOCK = threading.Lock()
_SHARED: dict[tuple[str, int], tuple[WebSubClient, int]] = {}


def acquire_client(config: WebSubConfig) -> WebSubClient:
    """The process's started client for ``config``'s address (one server per port),
    shared by every DoFn instance that asks; ``release_client`` when done."""
    key = (config.bind_host, config.port)
    with _SHARED_LOCK:
        client, users = _SHARED.get(key, (None, 0))
        if client is None:
            client = WebSubClient(config).start()
        _SHARED[key] = (client, users + 1)
        return client


def release_client(config: WebSubConfig) -> None:
    key = (config.bind_host, config.port)
    with _SHARED_LOCK:
        client, users = _SHARED.get(key, (None, 0))
        if client is None:
            return
        if users <= 1:
            del _SHARED[key]
            client.close()
        else:
            _SHARED[key] = (client, users - 1)
