"""The address guard: which hosts a fetch may connect to.

    check_host(host, port, *, allow_private, resolve) -> resolved addresses, or BlockedAddress

Every hop of a fetch (the first request and each redirect) resolves the host and refuses
it if *any* address is loopback, private, link-local (169.254.169.254 cloud metadata
included), unique-local (fd00::/8), multicast, reserved or unspecified, unless the feed
list allows private addresses explicitly; even then, link-local and cloud-metadata
addresses stay refused. The fetcher then connects to a checked address itself, so DNS
cannot be rebound between check and connect. Pure apart from the resolver it is given.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

_METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)


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
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


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
