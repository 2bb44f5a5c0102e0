"""Fetch feeds politely and safely: conditional GET, caps, SSRF guard, adaptive cadence.

Pure parts first, then the Beam adapter:

    check_host(host, port, *, allow_private) -> list of resolved addresses (or BlockedAddress)
    fetch_feed(client, source, *, policy, now) -> FetchResult (or raises FetchError)
    FeedSchedule       per-feed cadence, backoff and health; pure, driven by a given clock
    HostGate           per-host politeness gap; pure
    FetchFeeds(*, policy=FetchPolicy(), host_gap_seconds=5.0, clock=time.time)
        PCollection[FeedSource] -> PCollection[RawFeed] (status 200 only)
        after applying: ``.dead_letter`` (Failure per failed fetch), ``.health`` (FeedHealth
        after every attempt)

Safety. Every hop (the first request and each redirect) resolves the host, refuses it if
*any* address is loopback, private, link-local (169.254.169.254 cloud metadata included),
unique-local (fd00::/8), multicast, reserved or unspecified, unless the feed list allows
private addresses explicitly (even then, link-local and cloud-metadata addresses stay
refused), and then connects to the checked address itself (Host
header and TLS SNI keep the name), so DNS cannot be rebound between check and connect.
Redirects are followed by hand, at most ``max_redirects``, loops refused. Bodies are
streamed and cut at ``max_body_bytes`` (after gzip decoding, so a gzip bomb is cut too);
connect/read timeouts plus a total deadline stop slow-drip servers. The client ignores
proxy environment variables, which would bypass the guard.

Feed errors do not raise: a failing feed is the feed's condition, not the worker's. The
schedule retries it with exponential backoff (never stopping), every attempt emits a
``FeedHealth`` record and a failure emits a ``Failure`` to the dead letter. Each failure
is logged at info level; the warning comes once per failing spell, when the feed reaches
``--failing_feed_after_failures`` in a row (``graph.ReportFeedHealth``).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import ipaddress
import logging
import re
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import apache_beam as beam
import httpx
from apache_beam.coders import PickleCoder
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec
from apache_beam.typehints import KV

from pipeline.ingest.parse import feed_ttl_seconds, publication_gap_seconds
from pipeline.records import Failure, FeedSource, RawFeed

UTC = dt.UTC
log = logging.getLogger(__name__)


def _identity() -> tuple[str, str]:
    """Version and project URL from the installed package metadata ([project.urls] in
    pyproject.toml), so the User-Agent names a page where site owners can reach us."""
    try:
        from importlib.metadata import PackageNotFoundError, metadata

        meta = metadata("storywatch")
    except (ImportError, PackageNotFoundError):  # a source tree without the package installed
        return "0.1.0", "https://github.com/storywatch/storywatch"
    urls = [entry.split(",", 1)[-1].strip() for entry in meta.get_all("Project-URL") or []]
    return meta["Version"], (
        urls or [meta.get("Home-page") or "https://github.com/storywatch/storywatch"]
    )[0]


VERSION, PROJECT_URL = _identity()
USER_AGENT = f"storywatch/{VERSION} (+{PROJECT_URL})"

_METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)


# --- address guard ---------------------------------------------------------------------


class FetchError(Exception):
    """A fetch that did not produce a document. ``kind`` is a short machine word
    (``blocked``, ``timeout``, ``network``, ``http``, ``throttled``, ``too_large``,
    ``redirect``, ``decoding``); the message says what happened and to which URL."""

    def __init__(
        self, kind: str, message: str, *, status: int = 0, retry_after_seconds: float | None = None
    ):
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after_seconds = retry_after_seconds


class BlockedAddress(FetchError):
    def __init__(self, message: str):
        super().__init__("blocked", message)


def forbidden_reason(address: str) -> str | None:
    """Why an IP address must not be fetched (None if it is a public address).

    >>> forbidden_reason("169.254.169.254"), forbidden_reason("8.8.8.8")
    ('cloud metadata address', None)
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return forbidden_reason(str(ip.ipv4_mapped))
        if ip.sixtofour:
            return forbidden_reason(str(ip.sixtofour))
    if ip in _METADATA_ADDRESSES:
        return "cloud metadata address"
    for test, reason in (
        (ip.is_loopback, "loopback address"),
        (ip.is_link_local, "link-local address"),
        (ip.is_unspecified, "unspecified address"),
        (ip.is_multicast, "multicast address"),
        (ip.is_private, "private address"),
        (ip.is_reserved, "reserved address"),
    ):
        if test:
            return reason
    if not ip.is_global:
        return "non-global address"
    return None


# Cloud metadata and link-local services hold credentials; no feed lives there, so not
# even allow_private_addresses (meant for loopback tests and LAN replays) opens them.
ALWAYS_FORBIDDEN = frozenset({"cloud metadata address", "link-local address"})

Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses the system resolver gives for ``host``."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def check_host(
    host: str,
    port: int,
    *,
    allow_private: bool,
    resolver: Resolver = system_resolver,
    classify: Callable[[str], str | None] = forbidden_reason,
) -> list[str]:
    """Resolve ``host`` and refuse it if any address is not public (unless allowed).

    ``classify`` says why an address is forbidden (None: public); tests may pass one that
    treats the local test server as public, to exercise later hops.
    """
    try:
        addresses = [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        try:
            addresses = resolver(host, port)
        except (socket.gaierror, UnicodeError, OSError) as exc:
            raise FetchError("network", f"cannot resolve {host}: {exc}") from None
    if not addresses:
        raise FetchError("network", f"cannot resolve {host}: no addresses")
    for address in addresses:
        reason = classify(address)
        if reason is None or (allow_private and reason not in ALWAYS_FORBIDDEN):
            continue
        if reason in ALWAYS_FORBIDDEN:
            raise BlockedAddress(
                f"refused to fetch {host} ({address}): {reason}; never fetched, "
                "even with allow_private_addresses"
            )
        raise BlockedAddress(
            f"refused to fetch {host} ({address}): {reason}; only public addresses are fetched "
            "unless the feed list sets allow_private_addresses"
        )
    return addresses


# --- one fetch ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchPolicy:
    """Limits for one fetch. Times in seconds, sizes in bytes."""

    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 20.0
    total_timeout_seconds: float = 60.0
    max_body_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    user_agent: str = USER_AGENT


@dataclass(frozen=True)
class FetchResult:
    """Outcome of a successful exchange: a document (200) or ``not modified`` (304)."""

    status: int
    final_url: str
    raw: RawFeed | None
    etag: str = ""
    last_modified: str = ""
    max_age_seconds: float | None = None
    retry_after_seconds: float | None = None
    ttl_seconds: float | None = None
    permanent_redirect: str = ""
    publication_gap_seconds: float | None = None


def make_client(policy: FetchPolicy = FetchPolicy()) -> httpx.Client:
    """One client per worker: explicit timeouts, no env proxies, no connection reuse."""
    timeout = httpx.Timeout(policy.read_timeout_seconds, connect=policy.connect_timeout_seconds)
    # No keep-alive: requests go to pinned IPs, and a pooled connection is keyed by IP, so
    # two hosts on one CDN address would share a TLS session opened with the other's SNI.
    # Feeds are polled minutes apart, so reuse would buy little anyway.
    limits = httpx.Limits(max_connections=20, max_keepalive_connections=0)
    return httpx.Client(
        timeout=timeout,
        limits=limits,
        follow_redirects=False,
        trust_env=False,
        headers={
            "User-Agent": policy.user_agent,
            "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, "
            "text/xml;q=0.9, application/feed+json;q=0.8, */*;q=0.5",
        },
    )


def parse_retry_after(value: str, *, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date)."""
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


def parse_max_age(cache_control: str) -> float | None:
    """``max-age`` of a Cache-Control header in seconds (None if absent or no-cache)."""
    if not cache_control:
        return None
    match = _MAX_AGE.search(cache_control)
    return float(match.group(1)) if match else None


def _pinned_request(url: str, address: str) -> tuple[httpx.URL, dict, dict]:
    """The URL rewritten to connect to ``address``, with Host and SNI keeping the name."""
    parsed = httpx.URL(url)
    host_header = parsed.host if parsed.port is None else f"{parsed.host}:{parsed.port}"
    if ":" in parsed.host and not parsed.host.startswith("["):
        host_header = f"[{parsed.host}]" + (f":{parsed.port}" if parsed.port else "")
    pinned = parsed.copy_with(host=address)
    extensions = {"sni_hostname": parsed.host} if parsed.scheme == "https" else {}
    return pinned, {"Host": host_header}, extensions


def fetch_feed(
    client: httpx.Client,
    source: FeedSource,
    *,
    policy: FetchPolicy = FetchPolicy(),
    now: float | None = None,
    resolver: Resolver = system_resolver,
    classify: Callable[[str], str | None] = forbidden_reason,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FetchResult:
    """GET one feed with conditional headers, following redirects by hand; raise FetchError.

    ``etag``/``last_modified`` default to the ones on ``source``.
    """
    now = time.time() if now is None else now
    deadline = time.monotonic() + policy.total_timeout_seconds
    headers = {}
    if etag if etag is not None else source.etag:
        headers["If-None-Match"] = etag if etag is not None else source.etag
    if last_modified if last_modified is not None else source.last_modified:
        headers["If-Modified-Since"] = (
            last_modified if last_modified is not None else source.last_modified
        )
    url = source.url
    visited = {url}
    permanent = ""
    for hop in range(policy.max_redirects + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError("redirect", f"{source.url}: cannot fetch {url!r}: not an http(s) URL")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = check_host(
            parts.hostname,
            port,
            allow_private=source.allow_private,
            resolver=resolver,
            classify=classify,
        )
        try:
            response = _send(client, url, addresses, headers)
            try:
                if response.status_code in (301, 302, 303, 307, 308):
                    target = _redirect_target(response, url, source.url, visited)
                    if response.status_code in (301, 308) and hop == 0:
                        permanent = target
                    url = target
                    continue
                return _result(
                    response,
                    source,
                    url,
                    policy=policy,
                    now=now,
                    deadline=deadline,
                    permanent=permanent,
                )
            finally:
                response.close()
        except httpx.TimeoutException as exc:
            raise FetchError("timeout", f"{url}: timed out ({type(exc).__name__})") from None
        except httpx.DecodingError as exc:
            raise FetchError("decoding", f"{url}: response body does not decode ({exc})") from None
        except (httpx.HTTPError, httpx.InvalidURL, UnicodeError, ValueError) as exc:
            raise FetchError("network", f"{url}: {type(exc).__name__}: {exc}") from None
    raise FetchError("redirect", f"{source.url}: more than {policy.max_redirects} redirects")


def _send(client: httpx.Client, url: str, addresses: list[str], headers: dict) -> httpx.Response:
    """Open a streamed response from the first checked address that accepts a connection."""
    error: httpx.ConnectError | None = None
    for address in addresses:
        pinned, host_header, extensions = _pinned_request(url, address)
        request = client.build_request(
            "GET", pinned, headers={**headers, **host_header}, extensions=extensions
        )
        try:
            return client.send(request, stream=True)
        except httpx.ConnectError as exc:
            error = exc
    assert error is not None
    raise error


def _redirect_target(response: httpx.Response, url: str, first_url: str, visited: set[str]) -> str:
    location = response.headers.get("location", "")
    if not location:
        raise FetchError(
            "redirect",
            f"{url}: redirect {response.status_code} without a Location header",
            status=response.status_code,
        )
    target = urljoin(url, location)
    if target in visited:
        raise FetchError(
            "redirect", f"{first_url}: redirect loop at {target}", status=response.status_code
        )
    visited.add(target)
    return target


def _result(
    response: httpx.Response,
    source: FeedSource,
    url: str,
    *,
    policy: FetchPolicy,
    now: float,
    deadline: float,
    permanent: str,
) -> FetchResult:
    status = response.status_code
    headers = response.headers
    retry_after = parse_retry_after(headers.get("retry-after", ""), now=now)
    common = dict(
        etag=headers.get("etag", ""),
        last_modified=headers.get("last-modified", ""),
        max_age_seconds=parse_max_age(headers.get("cache-control", "")),
        retry_after_seconds=retry_after,
        permanent_redirect=permanent,
    )
    if status == 304:
        return FetchResult(304, url, None, **common)
    if status in (429, 503):
        raise FetchError(
            "throttled",
            f"{url}: HTTP {status} (server asks to slow down)",
            status=status,
            retry_after_seconds=retry_after,
        )
    if status != 200:
        raise FetchError(
            "http",
            f"{url}: HTTP {status} {response.reason_phrase}".rstrip(),
            status=status,
            retry_after_seconds=retry_after,
        )
    declared = headers.get("content-length", "")
    if (
        declared.isdigit()
        and int(declared) > policy.max_body_bytes
        and "content-encoding" not in headers
    ):
        raise FetchError(
            "too_large",
            f"{url}: body of {declared} bytes is over the {policy.max_body_bytes}-byte limit",
        )
    chunks, size = [], 0
    for chunk in response.iter_bytes():  # decoded: a gzip bomb is cut at the same limit
        size += len(chunk)
        if size > policy.max_body_bytes:
            raise FetchError(
                "too_large", f"{url}: body is over the {policy.max_body_bytes}-byte limit"
            )
        if time.monotonic() > deadline:
            raise FetchError(
                "timeout", f"{url}: download took over {policy.total_timeout_seconds:g} s"
            )
        chunks.append(chunk)
    body = b"".join(chunks)
    kept = tuple(
        (k.lower(), v)
        for k, v in headers.multi_items()
        if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
    )
    raw = RawFeed(
        feed_id=source.feed_id,
        url=url,
        fetched_at=dt.datetime.fromtimestamp(now, UTC),
        status=200,
        headers=kept,
        body=body,
        name=source.name,
        language=source.language,
    )
    return FetchResult(
        200,
        url,
        raw,
        ttl_seconds=feed_ttl_seconds(body),
        publication_gap_seconds=publication_gap_seconds(body),
        **common,
    )


# --- cadence, backoff and health -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """How a feed is doing, emitted after every fetch attempt.

    ``status`` is ``ok`` (last attempt succeeded) or ``failing``. Times are UTC; the
    next attempt is at ``next_due_at`` (failing feeds are retried forever, more slowly).
    """

    feed_id: str
    url: str
    status: str
    consecutive_failures: int
    last_error: str
    last_attempt_at: dt.datetime | None
    last_success_at: dt.datetime | None
    last_change_at: dt.datetime | None
    next_due_at: dt.datetime
    interval_seconds: float


def _utc(seconds: float | None) -> dt.datetime | None:
    return None if seconds is None else dt.datetime.fromtimestamp(seconds, UTC)


@dataclass
class FeedSchedule:
    """When to poll one feed next, learned from what the feed does; times are epoch seconds.

    - Success with new content: the feed's update gap (the median gap between its items'
      publication dates, or else the time since the previous observed change) feeds a
      moving average; the next interval is half of it (poll twice per update).
    - Success without new content (304, or the same bytes): the interval grows by 1.5x.
    - The interval stays within [min_interval_seconds, max_interval_seconds]; the feed's
      ``<ttl>`` and Cache-Control ``max-age`` raise it (up to the max bound); a
      Retry-After always delays the next attempt, up to ``max_backoff_seconds``.
    - Failure: exponential backoff from the current interval, doubling per consecutive
      failure up to ``max_backoff_seconds`` (default 6 h), never giving up.

    >>> s = FeedSchedule("f", "https://x", min_interval_seconds=300, max_interval_seconds=3600)
    >>> s.due(0.0), s.record_success(0.0, changed=True), s.next_due_at
    (True, None, 300.0)
    >>> s.record_success(300.0, changed=False); s.next_due_at
    750.0
    >>> s.record_failure(750.0, "HTTP 500"); s.record_failure(1200.0, "HTTP 500"); s.health().consecutive_failures
    2
    """

    feed_id: str
    url: str
    min_interval_seconds: float = 300.0
    max_interval_seconds: float = 3600.0
    max_backoff_seconds: float = 6 * 3600.0
    interval_seconds: float = 0.0
    next_due_at: float = 0.0
    etag: str = ""
    last_modified: str = ""
    body_digest: str = ""
    mean_change_gap_seconds: float | None = None
    last_attempt_at: float | None = None
    last_success_at: float | None = None
    last_change_at: float | None = None
    last_offered_at: float | None = None
    consecutive_failures: int = 0
    last_error: str = ""

    def __post_init__(self) -> None:
        if not self.interval_seconds:
            self.interval_seconds = self.min_interval_seconds

    @classmethod
    def for_source(cls, source: FeedSource) -> FeedSchedule:
        return cls(
            source.feed_id,
            source.url,
            min_interval_seconds=float(source.min_poll_seconds),
            max_interval_seconds=float(source.max_poll_seconds),
            max_backoff_seconds=max(6 * 3600.0, float(source.max_poll_seconds)),
            etag=source.etag,
            last_modified=source.last_modified,
        )

    def due(self, now: float) -> bool:
        return now >= self.next_due_at

    def _clamp(self, seconds: float) -> float:
        return min(self.max_interval_seconds, max(self.min_interval_seconds, seconds))

    def record_success(
        self,
        now: float,
        *,
        changed: bool,
        ttl_seconds: float | None = None,
        max_age_seconds: float | None = None,
        retry_after_seconds: float | None = None,
        publication_gap_seconds: float | None = None,
    ) -> None:
        if changed:
            # The gap between the items' own publication dates is the better signal: the
            # gap between observed changes can never be shorter than our polling interval.
            gap = publication_gap_seconds
            if gap is None and self.last_change_at is not None:
                gap = now - self.last_change_at
            if gap is not None:
                mean = self.mean_change_gap_seconds
                self.mean_change_gap_seconds = gap if mean is None else 0.5 * mean + 0.5 * gap
                self.interval_seconds = self._clamp(self.mean_change_gap_seconds / 2)
            else:
                self.interval_seconds = self.min_interval_seconds
            self.last_change_at = now
        else:
            self.interval_seconds = self._clamp(self.interval_seconds * 1.5)
        for floor in (ttl_seconds, max_age_seconds):
            if floor:
                self.interval_seconds = max(
                    self.interval_seconds, min(floor, self.max_interval_seconds)
                )
        wait = self.interval_seconds
        if retry_after_seconds:
            wait = max(wait, min(retry_after_seconds, self.max_backoff_seconds))
        self.last_attempt_at = self.last_success_at = now
        self.consecutive_failures = 0
        self.last_error = ""
        self.next_due_at = now + wait

    def record_failure(
        self, now: float, error: str, *, retry_after_seconds: float | None = None
    ) -> None:
        self.consecutive_failures += 1
        self.last_error = error
        self.last_attempt_at = now
        base = max(self.interval_seconds, self.min_interval_seconds)
        backoff = min(self.max_backoff_seconds, base * 2 ** (self.consecutive_failures - 1))
        # Deterministic jitter (up to +10%) so feeds that failed together spread out.
        jitter = int(
            hashlib.sha256(f"{self.feed_id}:{self.consecutive_failures}".encode()).hexdigest()[:4],
            16,
        )
        backoff = min(self.max_backoff_seconds, backoff * (1 + 0.1 * jitter / 0xFFFF))
        if retry_after_seconds:
            backoff = max(backoff, min(retry_after_seconds, self.max_backoff_seconds))
        self.next_due_at = now + backoff

    def health(self) -> FeedHealth:
        return FeedHealth(
            feed_id=self.feed_id,
            url=self.url,
            status="failing" if self.consecutive_failures else "ok",
            consecutive_failures=self.consecutive_failures,
            last_error=self.last_error,
            last_attempt_at=_utc(self.last_attempt_at),
            last_success_at=_utc(self.last_success_at),
            last_change_at=_utc(self.last_change_at),
            next_due_at=_utc(self.next_due_at),
            interval_seconds=self.interval_seconds,
        )


@dataclass
class HostGate:
    """At most one request start per ``gap_seconds`` to one host.

    >>> g = HostGate(gap_seconds=5)
    >>> g.try_acquire(0.0), g.try_acquire(3.0), g.try_acquire(5.0)
    (True, False, True)
    """

    gap_seconds: float = 5.0
    last_request_at: float = float("-inf")

    def try_acquire(self, now: float) -> bool:
        if now - self.last_request_at < self.gap_seconds:
            return False
        self.last_request_at = now
        return True


@dataclass
class HostState:
    """Everything FetchFeeds keeps for one host: its gate and its feeds' schedules."""

    gate: HostGate
    schedules: dict[str, FeedSchedule] = field(default_factory=dict)

    def forget_stale(self, now: float, *, after_seconds: float) -> None:
        """Drop feeds no longer offered by the poller (removed from the feed list)."""
        for feed_id in [
            f
            for f, s in self.schedules.items()
            if s.last_offered_at is not None and now - s.last_offered_at > after_seconds
        ]:
            del self.schedules[feed_id]


def _should_log(failures: int) -> bool:
    return failures in (1, 3) or failures % 10 == 0


class Poller:
    """The pure core of FetchFeeds for one host: offer a feed, maybe fetch it, learn.

    ``offer(source, now)`` returns (fetch result or None, failure or None, health or
    None); nothing is fetched when the feed is not due or the host gate is closed.
    """

    def __init__(
        self,
        fetch: Callable[..., FetchResult],
        *,
        host_gap_seconds: float = 5.0,
        forget_after_seconds: float = 7 * 24 * 3600.0,
    ) -> None:
        self.fetch = fetch
        self.host_gap_seconds = host_gap_seconds
        self.forget_after_seconds = forget_after_seconds

    def new_state(self) -> HostState:
        return HostState(HostGate(self.host_gap_seconds))

    def offer(self, state: HostState, source: FeedSource, now: float):
        state.forget_stale(now, after_seconds=self.forget_after_seconds)
        schedule = state.schedules.get(source.feed_id)
        if schedule is None:
            schedule = state.schedules[source.feed_id] = FeedSchedule.for_source(source)
        schedule.min_interval_seconds = float(source.min_poll_seconds)
        schedule.max_interval_seconds = float(source.max_poll_seconds)
        schedule.last_offered_at = now
        if not schedule.due(now) or not state.gate.try_acquire(now):
            return None, None, None
        try:
            result = self.fetch(
                source, now=now, etag=schedule.etag, last_modified=schedule.last_modified
            )
        except FetchError as exc:
            schedule.record_failure(now, str(exc), retry_after_seconds=exc.retry_after_seconds)
            failure = Failure(
                "fetch",
                source.url,
                f"{exc} (attempt {schedule.consecutive_failures}, "
                f"next try in {schedule.next_due_at - now:.0f} s)",
                at=dt.datetime.fromtimestamp(now, UTC),
            )
            if _should_log(schedule.consecutive_failures):
                # Info, not warning: the feed-health sink (graph.ReportFeedHealth) warns once
                # when a feed crosses --failing_feed_after_failures; this is the trail.
                log.info(
                    "feed %s failing (%d in a row): %s",
                    source.feed_id,
                    schedule.consecutive_failures,
                    exc,
                )
            return None, failure, schedule.health()
        if schedule.consecutive_failures >= 3:
            log.warning(
                "feed %s recovered after %d failures", source.feed_id, schedule.consecutive_failures
            )
        changed = False
        if result.raw is not None:
            digest = hashlib.sha256(result.raw.body).hexdigest()
            changed = digest != schedule.body_digest
            schedule.body_digest = digest
        schedule.etag = result.etag or (schedule.etag if result.status == 304 else "")
        schedule.last_modified = result.last_modified or (
            schedule.last_modified if result.status == 304 else ""
        )
        schedule.record_success(
            now,
            changed=changed,
            ttl_seconds=result.ttl_seconds,
            max_age_seconds=result.max_age_seconds,
            retry_after_seconds=result.retry_after_seconds,
            publication_gap_seconds=result.publication_gap_seconds,
        )
        if result.permanent_redirect:
            log.warning(
                "feed %s moved permanently to %s; update the feed list",
                source.feed_id,
                result.permanent_redirect,
            )
        return (result if changed else None), None, schedule.health()


# --- Beam adapter ------------------------------------------------------------------------


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


class _FetchFn(beam.DoFn):
    """Fetch the due feeds of one host.

    State, per key = host name: one ``HostState`` (politeness gate + a ``FeedSchedule``
    per feed of that host, holding validators, cadence and health).
    Bound: one schedule per feed of the host in the feed list. Expiry: lazily, a feed not
    offered by the poller for 7 days (removed from the list) is forgotten; no timers.
    Timeline (gap 5 s, feeds A and B on one host, min interval 300 s, no item dates):

        t=0    A offered: due, gate open -> fetched, 200, A next due at 300
        t=0    B offered: due, gate closed (A just went) -> skipped, still due
        t=60   B offered: fetched; A offered: not due
        t=300  A offered: fetched, 304 -> interval 450, A next due at 750
    """

    STATE = ReadModifyWriteStateSpec("host", PickleCoder())

    def __init__(
        self, policy: FetchPolicy, host_gap_seconds: float, clock: Callable[[], float]
    ) -> None:
        self.policy = policy
        self.host_gap_seconds = host_gap_seconds
        self.clock = clock
        self.client: httpx.Client | None = None
        self.polled = beam.metrics.Metrics.counter("ingest", "feeds_polled")
        self.fetched = beam.metrics.Metrics.counter("ingest", "feeds_fetched")
        self.not_modified = beam.metrics.Metrics.counter("ingest", "feeds_not_modified")
        self.errors = beam.metrics.Metrics.counter("ingest", "fetch_errors")

    def setup(self) -> None:
        self.client = make_client(self.policy)
        self.poller = Poller(self._fetch, host_gap_seconds=self.host_gap_seconds)

    def teardown(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def _fetch(self, source: FeedSource, **kwargs) -> FetchResult:
        return fetch_feed(self.client, source, policy=self.policy, **kwargs)

    def process(self, element, state=beam.DoFn.StateParam(STATE)) -> Iterable:
        _, source = element
        host_state = state.read() or self.poller.new_state()
        result, failure, health = self.poller.offer(host_state, source, self.clock())
        state.write(host_state)
        if health is None:
            return
        self.polled.inc()
        yield beam.pvalue.TaggedOutput("health", health)
        if failure is not None:
            self.errors.inc()
            yield beam.pvalue.TaggedOutput("dead_letter", failure)
        elif result is None:
            self.not_modified.inc()
        else:
            self.fetched.inc()
            yield result.raw


class FetchFeeds(beam.PTransform):
    """FeedSource -> RawFeed for the feeds that are due and have new content.

    ``FetchFeeds(*, policy=FetchPolicy(), host_gap_seconds=5.0, clock=time.time)``.
    After applying: ``.dead_letter`` (Failure per failed attempt) and ``.health``
    (FeedHealth per attempt). Counters (namespace ``ingest``): ``feeds_polled``,
    ``feeds_fetched``, ``feeds_not_modified``, ``fetch_errors``.
    """

    def __init__(
        self,
        *,
        policy: FetchPolicy = FetchPolicy(),
        host_gap_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
        label: str | None = None,
    ) -> None:
        super().__init__(label)
        self.policy = policy
        self.host_gap_seconds = host_gap_seconds
        self.clock = clock
        self.dead_letter = None
        self.health = None

    def expand(self, sources):
        results = (
            sources
            | "KeyByHost" >> beam.Map(lambda s: (host_of(s.url), s)).with_output_types(KV[str, Any])
            | "FetchDue"
            >> beam.ParDo(_FetchFn(self.policy, self.host_gap_seconds, self.clock)).with_outputs(
                "dead_letter", "health", main="raw"
            )
        )
        self.dead_letter = results.dead_letter
        self.health = results.health
        return results.raw
