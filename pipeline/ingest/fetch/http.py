"""One fetch of one feed: conditional GET, caps and redirects, over a pinned address.

    make_client(policy) -> httpx.Client           one per worker
    fetch_feed(client, source, *, policy, now, etag, last_modified) -> FetchResult
                                                  (or raises FetchError)

Conditional GET with ETag / Last-Modified; redirects are followed by hand, at most
``max_redirects``, loops refused, each hop checked by the guard (``guard.check_host``)
and connected to the checked address (Host header and TLS SNI keep the name). Bodies
are streamed and cut at ``max_body_bytes`` after gzip decoding, so a gzip bomb is cut
too. ``total_timeout_seconds`` is a wall-clock deadline over the whole exchange (every
hop's connect, status line, headers and body): each hop's connect timeout is cut to the
time left, and a watchdog shuts the connection's socket down when the deadline passes, so
a server that drips its status line or headers one byte at a time is cut too (a per-read
timeout alone never fires on it). Safe to call from many threads with one client. The
client ignores proxy environment variables, which would bypass the guard. Feed errors
raise ``FetchError`` with what failed and, where the server said, when to retry.
A fetched ``RawFeed`` carries the feed's WebSub links (``hubs``, ``self_url``;
``websub.discovery``).
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, metadata
from urllib.parse import urljoin, urlsplit

import httpx

from pipeline.http_headers import parse_retry_after
from pipeline.ingest.fetch.guard import (
    FetchError,
    Resolver,
    check_host,
    forbidden_reason,
    system_resolver,
)
from pipeline.ingest.parse import feed_ttl_seconds, publication_gap_seconds
from pipeline.ingest.websub.discovery import discover
from pipeline.records import FeedSource, RawFeed


def _identity() -> tuple[str, str]:
    """Version and project URL from the installed package metadata ([project.urls] in
    pyproject.toml), so the User-Agent names a page where site owners can reach us."""
    try:
        meta = metadata("storywatch")
    except PackageNotFoundError:  # a source tree without the package installed
        return "0.1.0", "https://github.com/storywatch/storywatch"
    urls = [entry.split(",", 1)[-1].strip() for entry in meta.get_all("Project-URL") or []]
    return meta["Version"], (
        urls or [meta.get("Home-page") or "https://github.com/storywatch/storywatch"]
    )[0]


UTC = dt.UTC
VERSION, PROJECT_URL = _identity()
USER_AGENT = f"storywatch/{VERSION} (+{PROJECT_URL})"


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


@dataclass
class _Watchdog:
    """Shuts down the sockets of one fetch when its wall-clock deadline passes.

    httpcore reports each new connection through the ``trace`` request extension; the
    watchdog keeps their sockets and a timer that shuts them down, which makes a blocked
    read return at once, however slowly the server drips."""

    deadline: float  # time.monotonic()
    expired: bool = False
    sockets: list[socket.socket] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    timer: threading.Timer | None = None

    def __post_init__(self) -> None:
        self.timer = threading.Timer(max(0.0, self.deadline - time.monotonic()), self._expire)
        self.timer.daemon = True
        self.timer.start()

    def remaining_seconds(self) -> float:
        return max(0.001, self.deadline - time.monotonic())

    def trace(self, event: str, info: dict[str, object]) -> None:
        if not event.endswith("connect_tcp.complete"):
            return
        stream = info.get("return_value")
        sock = getattr(stream, "get_extra_info", lambda _name: None)("socket")
        if isinstance(sock, socket.socket):
            with self.lock:
                self.sockets.append(sock)
                if self.expired:
                    _shut(sock)

    def _expire(self) -> None:
        with self.lock:
            self.expired = True
            for sock in self.sockets:
                _shut(sock)

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed
        pass


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
    watchdog = _Watchdog(time.monotonic() + policy.total_timeout_seconds)
    try:
        return _fetch(
            client, source, policy, now, resolver, classify, etag, last_modified, watchdog
        )
    except FetchError as exc:
        if watchdog.expired and exc.kind != "timeout":
            raise _deadline_error(source.url, policy) from None
        raise
    finally:
        watchdog.cancel()


def _deadline_error(url: str, policy: FetchPolicy) -> FetchError:
    return FetchError(
        "timeout",
        f"{url}: download took over {policy.total_timeout_seconds:g} s (connect, headers and body)",
    )


def _fetch(
    client: httpx.Client,
    source: FeedSource,
    policy: FetchPolicy,
    now: float,
    resolver: Resolver,
    classify: Callable[[str], str | None],
    etag: str | None,
    last_modified: str | None,
    watchdog: _Watchdog,
) -> FetchResult:
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
            response = _send(client, url, addresses, headers, policy, watchdog)
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
                    watchdog=watchdog,
                    permanent=permanent,
                )
            finally:
                response.close()
        except httpx.TimeoutException as exc:
            if watchdog.expired:
                raise _deadline_error(url, policy) from None
            raise FetchError("timeout", f"{url}: timed out ({type(exc).__name__})") from None
        except httpx.DecodingError as exc:
            raise FetchError("decoding", f"{url}: response body does not decode ({exc})") from None
        except (httpx.HTTPError, httpx.InvalidURL, UnicodeError, ValueError) as exc:
            raise FetchError("network", f"{url}: {type(exc).__name__}: {exc}") from None
    raise FetchError("redirect", f"{source.url}: more than {policy.max_redirects} redirects")


def _send(
    client: httpx.Client,
    url: str,
    addresses: list[str],
    headers: dict,
    policy: FetchPolicy,
    watchdog: _Watchdog,
) -> httpx.Response:
    """Open a streamed response from the first checked address that accepts a connection."""
    error: httpx.ConnectError | None = None
    for address in addresses:
        pinned, host_header, extensions = _pinned_request(url, address)
        left = watchdog.remaining_seconds()
        extensions["trace"] = watchdog.trace
        extensions["timeout"] = {
            "connect": min(policy.connect_timeout_seconds, left),
            "read": min(policy.read_timeout_seconds, left),
            "write": min(policy.read_timeout_seconds, left),
            "pool": left,
        }
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
    watchdog: _Watchdog,
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
        if watchdog.expired or time.monotonic() > watchdog.deadline:
            raise _deadline_error(url, policy)
        chunks.append(chunk)
    if watchdog.expired:  # the shut-down socket can look like a close-delimited body's end
        raise _deadline_error(url, policy)
    body = b"".join(chunks)
    kept = tuple(
        (k.lower(), v)
        for k, v in headers.multi_items()
        if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
    )
    links = discover(kept, body, base_url=url)  # WebSub: rel=hub / rel=self
    raw = RawFeed(
        feed_id=source.feed_id,
        url=url,
        fetched_at=dt.datetime.fromtimestamp(now, UTC),
        status=200,
        headers=kept,
        body=body,
        name=source.name,
        language=source.language,
        hubs=links.hubs,
        self_url=links.self_url,
    )
    return FetchResult(
        200,
        url,
        raw,
        ttl_seconds=feed_ttl_seconds(body),
        publication_gap_seconds=publication_gap_seconds(body),
        **common,
    )
