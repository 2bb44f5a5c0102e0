"""The address guard: which hosts a fetch may connect to.

    check_host(host, port, *, allow_private, resolve) -> resolved addresses, or BlockedAddress

Every hop of a fetch (the first request and each redirect) resolves the host and refuses
it if *any* address is loopback, private, link-local (169.254.169.254 cloud metadata
included), unique-local (fd00::/8), site-local (fec0::/10), multicast, reserved,
unspecified or outside global unicast, unless the feed list allows private addresses
explicitly; even then, link-local and cloud-metadata addresses stay refused, in every
encoding (NAT64, 6to4, Teredo, IPv4-mapped/compatible, decimal/octal/hex IPv4). One
classification, ``forbidden_reason``, serves the fetcher, WebSub hubs and the feed-list
checks (``host_reason``: what is known without DNS). The fetcher then connects to a
checked address itself, so DNS cannot be rebound between check and connect. Pure apart
from the resolver it is given.
"""

from __future__ import annotations

import ipaddress
import re
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


# Prefixes whose address is only a carrier of an IPv4 address, which alone says where the
# packet goes: NAT64 (RFC 6052; a DNS64 network gives 64:ff9b::8.8.8.8 for a public
# host), IPv4-mapped and 6to4. A public IPv4 inside is public, a private one private.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_TRANSLATED = (_NAT64, ipaddress.ip_network("::ffff:0:0/96"), ipaddress.ip_network("2002::/16"))
# Local-use NAT64 (RFC 8215): the operator picks a prefix of /48 to /96 inside it, so the
# IPv4 address may sit at any of RFC 6052's places; every one is checked.
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")
_RFC6052_PREFIXES = (48, 56, 64, 96)
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d
_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
_TEREDO = ipaddress.ip_network("2001::/32")
# Python 3.11 counts these as global although no public host lives there.
_NOT_GLOBAL_V6 = (
    (ipaddress.ip_network("fec0::/10"), "site-local address"),
    (_LOCAL_NAT64, "non-global address"),
    (ipaddress.ip_network("3fff::/20"), "reserved address"),  # documentation (RFC 9637)
)


def _rfc6052_ipv4(ip: ipaddress.IPv6Address, prefix_length: int) -> ipaddress.IPv4Address:
    """The IPv4 address embedded after a NAT64 prefix of ``prefix_length`` bits: bits 64-71
    (the "u" octet) are skipped, as RFC 6052 section 2.2 lays them out."""
    packed = ip.packed
    start = prefix_length // 8
    octets = [packed[i] for i in range(start, 16) if i != 8][:4]
    return ipaddress.IPv4Address(bytes(octets))


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address an IPv6 address can lead to: IPv4-mapped and -compatible, NAT64
    (well-known and local-use), 6to4, and Teredo's server and (de-obfuscated) client."""
    found = []
    if ip.ipv4_mapped:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour:
        found.append(ip.sixtofour)
    if ip.teredo:
        found.extend(ip.teredo)
    if ip in _NAT64 or ip in _IPV4_COMPATIBLE:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip in _LOCAL_NAT64:
        found.extend(_rfc6052_ipv4(ip, length) for length in _RFC6052_PREFIXES)
    return found


def _own_reason(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
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
    if isinstance(ip, ipaddress.IPv6Address):
        for network, reason in _NOT_GLOBAL_V6:
            if ip in network:
                return reason
        if ip not in _GLOBAL_UNICAST:
            return "non-global address"
    if not ip.is_global:
        return "non-global address"
    return None


def forbidden_reason(address: str) -> str | None:
    """Why an IP address must not be fetched (None if it is a public address).

    The one classification of addresses: an IPv6 address that embeds an IPv4 address
    (``embedded_ipv4``) is refused for the worst of the two, so the metadata address and
    link-local stay refused in every encoding (``64:ff9b::a9fe:a9fe``,
    ``2002:a9fe:a9fe::``, ``::ffff:169.254.169.254``, Teredo); behind a translation
    prefix (NAT64, IPv4-mapped, 6to4) the IPv4 address alone decides.

    >>> forbidden_reason("169.254.169.254"), forbidden_reason("8.8.8.8")
    ('cloud metadata address', None)
    >>> forbidden_reason("64:ff9b::a9fe:a9fe"), forbidden_reason("64:ff9b::8.8.8.8")
    ('cloud metadata address', None)
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv4Address):
        return _own_reason(ip)
    inner = [_own_reason(v4) for v4 in embedded_ipv4(ip)]
    for reason in inner:
        if reason in ALWAYS_FORBIDDEN:
            return reason
    if any(ip in network for network in _TRANSLATED):
        return inner[0] if inner else _own_reason(ip)
    own = _own_reason(ip)
    if own is None and ip in _TEREDO:
        return "non-global address"
    return own or next((reason for reason in inner if reason), None)


# What inet_aton reads as IPv4: one to four parts, each decimal, octal (0-led) or hex (0x).
_INET_ATON_FORM = re.compile(r"(?:0[xX][0-9A-Fa-f]*|[0-9]+)(?:\.(?:0[xX][0-9A-Fa-f]*|[0-9]+)){0,3}")


def literal_address(host: str) -> str | None:
    """The IP address ``host`` names without DNS, in any form a resolver takes: IPv6
    (bracketed or not), dotted quad, and the old inet_aton forms (``2852039166``,
    ``0251.0376.0251.0376``, ``0xa9.0xfe.0xa9.0xfe``, ``169.254.43518``); else None.

    >>> literal_address("0xa9.0xfe.0xa9.0xfe"), literal_address("news.example")
    ('169.254.169.254', None)
    """
    host = host.strip().strip("[]").rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not host or not _INET_ATON_FORM.fullmatch(host):
        return None
    try:
        return str(ipaddress.IPv4Address(socket.inet_aton(host)))
    except OSError:
        return None


def host_reason(host: str) -> str | None:
    """Why ``host`` is refused, as far as that is known without DNS: a literal address
    (``literal_address``) classified by ``forbidden_reason``, or a ``localhost`` name
    (RFC 6761: always loopback). None: a public address or a name to resolve."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return "loopback address"
    address = literal_address(name)
    return forbidden_reason(address) if address else None


def refusal(host: str, address: str, reason: str, *, allow_private: bool) -> str | None:
    """The message for fetching ``host`` at ``address`` classified ``reason``; None if the
    fetch may go ahead (a private address where the feed list allows those)."""
    if allow_private and reason not in ALWAYS_FORBIDDEN:
        return None
    shown = host if host == address else f"{host} ({address})"
    if reason in ALWAYS_FORBIDDEN:
        return f"{shown}: {reason}; never fetched, even with allow_private_addresses"
    return (
        f"{shown}: {reason}; only public addresses are fetched unless the feed list sets "
        "allow_private_addresses"
    )


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
    literal = literal_address(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = resolver(host, port)
        except (socket.gaierror, UnicodeError, OSError) as exc:
            raise FetchError("network", f"cannot resolve {host}: {exc}") from None
    if not addresses:
        raise FetchError("network", f"cannot resolve {host}: no addresses")
    for address in addresses:
        reason = classify(address)
        message = refusal(host, address, reason, allow_private=allow_private) if reason else None
        if message:
            raise BlockedAddress(f"refused to fetch {message}")
    return addresses
