"""WebSub discovery: a fetched feed's hubs (``rel=hub``) and its topic URL (``rel=self``).

    discover(headers, body, *, base_url) -> HubLinks(hubs, self_url)

Looked for, as WebSub section 4 says, in the HTTP ``Link`` header first, then in the
document: Atom ``<link rel="hub" href=…>`` and RSS ``<atom:link rel="hub" …>`` in the
feed head (the scan stops at the first ``item``/``entry``, and at the first XML error, so
a broken or hostile document yields what came before it; defusedxml refuses entity
declarations). Relative URLs are resolved against ``base_url``; only http(s) URLs count.
Pure: no network, no state.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse
from requests.utils import parse_header_links

# The feed head is small; a hub link after this many bytes is not looked for.
MAX_HEAD_BYTES = 256 * 1024
_ITEM_TAGS = ("item", "entry")


@dataclass(frozen=True, slots=True)
class HubLinks:
    """What a feed advertises for WebSub: its hubs (in document order, no repeats) and
    the topic URL to subscribe to (``self_url``; empty when the feed names none)."""

    hubs: tuple[str, ...] = ()
    self_url: str = ""

    def topic(self, fetched_url: str) -> str:
        """The topic to subscribe to: ``rel=self`` if given, else the URL fetched."""
        return self.self_url or fetched_url


def _http_url(href: str, base_url: str) -> str:
    url = urljoin(base_url, href.strip())
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.hostname else ""


def _rels(value: str) -> set[str]:
    return {rel.lower() for rel in value.split()}


def header_links(link_headers: Iterable[str], *, base_url: str) -> list[tuple[str, str]]:
    """(rel, url) for every hub/self link in ``Link`` header values.

    >>> header_links(['<https://hub.example/>; rel="hub", </feed>; rel=self'],
    ...              base_url="https://news.example/x")
    [('hub', 'https://hub.example/'), ('self', 'https://news.example/feed')]
    """
    found = []
    for value in link_headers:
        for link in parse_header_links(value):
            url = _http_url(link.get("url", ""), base_url)
            for rel in sorted(_rels(link.get("rel", "")) & {"hub", "self"}):
                if url:
                    found.append((rel, url))
    return found


def document_links(body: bytes, *, base_url: str) -> list[tuple[str, str]]:
    """(rel, url) for every ``<link rel="hub|self" href=…>`` in the feed head, any namespace.

    >>> document_links(b'<feed xmlns="http://www.w3.org/2005/Atom"><link rel="hub" '
    ...     b'href="https://hub.example/"/><entry><link rel="hub" href="https://no/"/></entry></feed>',
    ...     base_url="https://news.example/")
    [('hub', 'https://hub.example/')]
    """
    found: list[tuple[str, str]] = []
    try:
        for _event, element in iterparse(io.BytesIO(body[:MAX_HEAD_BYTES]), events=("start",)):
            local = element.tag.rsplit("}", 1)[-1].lower()
            if local in _ITEM_TAGS:
                break
            if local != "link" or "href" not in element.attrib:
                continue
            url = _http_url(element.attrib["href"], base_url)
            for rel in sorted(_rels(element.attrib.get("rel", "")) & {"hub", "self"}):
                if url:
                    found.append((rel, url))
    except (ParseError, DefusedXmlException, ValueError):
        pass  # a broken or cut document: what came before the break counts
    return found


def discover(headers: Iterable[tuple[str, str]], body: bytes, *, base_url: str) -> HubLinks:
    """The feed's WebSub links: the ``Link`` header's first, then the document's.

    ``headers`` are (name, value) pairs (``RawFeed.headers``).

    >>> discover([("link", '<https://hub.example/>; rel="hub"')], b"<rss/>",
    ...          base_url="https://news.example/feed")
    HubLinks(hubs=('https://hub.example/',), self_url='')
    """
    links = header_links(
        (value for name, value in headers if name.lower() == "link"), base_url=base_url
    )
    links += document_links(body, base_url=base_url)
    hubs = tuple(dict.fromkeys(url for rel, url in links if rel == "hub"))
    selves = [url for rel, url in links if rel == "self"]
    return HubLinks(hubs, selves[0] if selves else "")
