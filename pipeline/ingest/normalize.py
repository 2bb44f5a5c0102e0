"""Normalise feed items into ``Article`` records: canonical URL, plain text, UTC times.

Pure functions (``canonical_url``, ``plain_text``, ``content_hash``, ``article_id``,
``normalize_item``); the Beam adapter is ``ingest.normalize_transform.NormalizeArticles``.

>>> canonical_url("HTTPS://M.Example.COM:443/News/Story/amp?utm_source=x&b=2&a=1#top")
'https://example.com/News/Story?a=1&b=2'
>>> plain_text("<p>Musk &amp; Putin<br/>  talked</p>")
'Musk & Putin talked'
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import unicodedata
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import idna
from selectolax.lexbor import LexborHTMLParser

from pipeline.records import Article, FeedItem
from pipeline.text import safe_text

UTC = dt.UTC
log = logging.getLogger(__name__)

# Query parameters that only say how a reader arrived, never which page they read.
# Kept conservative: a parameter that might name content (id, cid, ref ...) stays, since
# merging two different stories is worse than missing a duplicate.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gclsrc",
        "msclkid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
        "traffic_source",
        "cmpid",
        "ocid",
        "smid",
        "smtyp",
        "ref_src",
        "_ga",
        "_gl",
        "guccounter",
        "amp",
        "outputtype",
        "s_cid",
        "wt.mc_id",
        "xtor",
        "tpcc",
        "__twitter_impression",
        "rss_source",
    }
)
TRACKING_PREFIXES = ("utm_", "hsa_", "pk_", "mtm_", "oly_", "vero_", "at_", "ns_")
DEFAULT_PORTS = {"http": 80, "https": 443}
# Host prefixes that mark a mobile or AMP edition of the same site.
_VARIANT_HOST = re.compile(r"^(?:m|mobile|amp|www)\.(?=[^.]+\.[^.]+)")
# What is left must still be a site, not a second-level public suffix (m.co.uk is a site).
_SECOND_LEVEL_SUFFIX = re.compile(r"(?:ac|co|com|edu|go|gob|gov|mil|ne|net|or|org)\.[a-z]{2}")


def _fold_variant_host(host: str) -> str:
    """``m.``/``mobile.``/``amp.``/``www.`` labels dropped, all of them (amp.www.x.com), so
    that folding twice changes nothing.

    >>> [_fold_variant_host(h) for h in ("www.m.bbc.co.uk", "www.m.co.uk", "m.co.uk", "www.com")]
    ['bbc.co.uk', 'm.co.uk', 'm.co.uk', 'www.com']
    """
    while (m := _VARIANT_HOST.match(host)) and not _SECOND_LEVEL_SUFFIX.fullmatch(host[m.end() :]):
        host = host[m.end() :]
    return host


_AMP_PATH = re.compile(r"(?:/amp|\.amp|/amp\.html)$")
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
# RFC 3986 unreserved characters, sub-delimiters, ":" and "@": what an escape may be
# decoded to without changing which resource the path names ("/", "?", "#", "%" not).
_DECODED_IN_PATH = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@"
)
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")

# A reference HTML decodes everywhere: named or numeric, ended by ";".
_REFERENCE = r"&(?:#[0-9]+|#[xX][0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);"
_BARE_AMPERSAND = re.compile(r"&(?!(?:#[0-9]+|#[xX][0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);)")
# What one parse can leave that a second must read: a tag or a reference (escaped twice).
_MARKUP_LEFT = re.compile(rf"<[A-Za-z/!?]|{_REFERENCE}")
_CUT_END_TAG = re.compile(r"</\s*$")
_WORD = re.compile(r"\w+")


def canonical_url(url: str, *, fold_variants: bool = True) -> str:
    """The URL that names the same page however a reader arrived at it.

    Lower-cases scheme and host (international names in punycode), drops default ports,
    the fragment and tracking parameters (``utm_*``, ``fbclid``, ``ns_mchannel``, ...),
    normalises path escapes (``%2F`` stays escaped), sorts the query, and with
    ``fold_variants`` folds ``m.``/``mobile.``/``amp.``/``www.`` hosts and ``/amp``
    paths onto the main site. Anything that is not an http(s) URL comes back stripped.

    >>> canonical_url("http://www.bbc.co.uk/news/world-123?at_medium=RSS&ns_source=x")
    'http://bbc.co.uk/news/world-123'
    >>> canonical_url("https://Bücher.de/a%2fb/%7Ex")
    'https://xn--bcher-kva.de/a%2Fb/~x'
    """
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return url
    host = _ascii_host(parts.hostname.rstrip("."))
    if fold_variants:
        host = _fold_variant_host(host)
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _normal_path(parts.path)
    if fold_variants:
        path = _AMP_PATH.sub("", path) or "/"
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    ]
    query.sort()
    return urlunsplit((scheme, netloc, path, urlencode(query, quote_via=quote), ""))


def _ascii_host(host: str) -> str:
    """The host as DNS names it: lower case, international labels in punycode (IDNA 2008
    with UTS 46 mapping, as browsers do), so ``bücher.de`` and ``xn--bcher-kva.de`` agree."""
    if "%" in host:
        host = unquote(host)
    host = host.lower()
    if host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except (
        UnicodeError
    ):  # not a valid IDNA 2008 name (idna.IDNAError): the looser IDNA 2003 codec, else as is
        try:
            return host.encode("idna").decode("ascii")
        except UnicodeError:
            return host


def _normal_escape(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _DECODED_IN_PATH else "%" + match.group(1).upper()


def _normal_path(path: str) -> str:
    """``path`` with its escapes normalised but its meaning kept: escapes of unreserved
    characters and sub-delimiters are decoded (servers read them alike), the others, ``%2F``
    above all (a slash inside a segment), stay escaped in upper case; bytes outside ASCII
    and spaces are escaped as UTF-8."""
    return quote(_ESCAPE.sub(_normal_escape, path), safe=_PATH_SAFE) or "/"


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def _html_text(markup: str) -> str:
    """Text of one HTML parse (lexbor, as a browser reads it), script/style dropped. A ``&``
    that does not start a reference ending in ``;`` is literal: HTML5 would read
    ``&notes`` as ``¬es``, but in feed text it is nearly always an escaped ``&``."""
    if "<" not in markup and "&" not in markup:
        return markup
    # A summary cut inside an end tag ("...side.</"): HTML5 keeps "</" as text.
    markup = _CUT_END_TAG.sub("", markup)
    tree = LexborHTMLParser(_BARE_AMPERSAND.sub("&amp;", markup))
    if "<s" in markup.lower():
        tree.strip_tags(["script", "style"])
    return tree.text(separator=" ")


def plain_text(markup: str) -> str:
    """Text of an HTML fragment: tags stripped, entities decoded, whitespace folded.

    An HTML parser (selectolax's lexbor) reads the markup, so comments (``<!-- a > b -->``)
    and attributes (``<img alt="a>b">``) leave nothing behind. Script and style contents
    are dropped; tags become spaces so words never glue. Feeds often escape twice
    (``&amp;amp;``, ``&lt;b&gt;``): text that still holds markup or a reference after one
    parse is parsed once more, with the same rule for a bare ``&`` (so ``Rock &amp;notes``
    stays ``Rock &notes``). Control characters and bidi overrides are removed
    (``pipeline.text.safe_text``).

    >>> plain_text("<b>Starlink</b>&nbsp;in&#32;<i>Taiwan</i><script>x()</script>")
    'Starlink in Taiwan'
    >>> plain_text("Rock &amp;notes <!-- a > b --><img alt='a>b'>")
    'Rock &notes'
    """
    if not markup:
        return ""
    text = _html_text(markup)
    if _MARKUP_LEFT.search(text):
        text = _html_text(text)
    return safe_text(text)


def _fold(text: str) -> str:
    return " ".join(_WORD.findall(unicodedata.normalize("NFKC", text).casefold()))


def content_hash(title: str, summary: str) -> str:
    """Hash of the normalised title and summary: case, punctuation and spacing ignored.

    >>> content_hash("Musk, Putin talk", "x") == content_hash("musk putin  TALK", "X.")
    True
    """
    folded = f"{_fold(title)}\n{_fold(summary)}"
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()[:20]


def article_id(*, canonical: str, feed_id: str, guid: str, digest: str) -> str:
    """Stable id: from the canonical URL when there is one, else the feed GUID, else content.

    The same story seen through two feeds has the same canonical URL and so the same id.
    """
    if canonical:
        basis = "url:" + canonical
    elif guid:
        basis = f"guid:{feed_id}:{guid}"
    else:
        basis = "hash:" + digest
    return "a" + hashlib.sha256(basis.encode("utf-8")).hexdigest()[:19]


def _is_site_root(canonical: str) -> bool:
    if not canonical.startswith(("http://", "https://")):
        return False
    parts = urlsplit(canonical)
    return parts.path in ("", "/") and not parts.query


class UnusableItem(ValueError):
    """A feed item with neither a title nor any text: there is nothing to watch."""


def normalize_item(item: FeedItem) -> Article:
    """Turn one parsed feed item into an Article; raise UnusableItem if it is empty.

    A link shared by several items of the document, or pointing at a site's home page,
    is kept as ``url`` but gives no ``canonical_url``, so it neither names nor dedups the
    article (a scraper that links every item to https://meduza.io/ must not collapse
    24 stories into one).

    ``published_at`` falls back to the item's ``first_seen_at`` (the fetch time) when the
    feed gave no usable date; the article is then flagged ``published_is_estimated``.
    """
    title = plain_text(item.title)
    summary = plain_text(item.summary)
    if not title:
        title = summary[:140].rsplit(" ", 1)[0] if len(summary) > 140 else summary
    if not title:
        raise UnusableItem(f"item {item.guid or item.link or item.index} has no title and no text")
    canonical = canonical_url(item.link) if item.link else ""
    if item.link_is_shared or _is_site_root(canonical):
        canonical = ""  # a home-page link names the site, not this story
    digest = content_hash(title, summary)
    published = item.published_at
    estimated = published is None
    return Article(
        article_id=article_id(
            canonical=canonical, feed_id=item.feed_id, guid=item.guid, digest=digest
        ),
        feed_id=item.feed_id,
        url=item.link,
        canonical_url=canonical,
        title=title,
        summary=summary,
        published_at=published or item.first_seen_at,
        first_seen_at=item.first_seen_at,
        outlet=item.outlet,
        language=item.language,
        content_hash=digest,
        published_is_estimated=estimated,
        body=plain_text(item.content) if item.content else "",
        guid=item.guid,
    )
