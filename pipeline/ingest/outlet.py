"""Outlet names: the one definition of what an alert calls the publication of an article.

``outlet_name(name, feed_title, url)`` picks, in order:

1. ``name``: the feed list's ``name:`` (feeds.yaml), verbatim: the user said so.
2. the feed's own title, cleaned: split at `` - ``, `` – ``, `` — ``, `` | ``, `` > ``,
   `` / `` and ``: ``, parts made only of section words ("World", "Top stories", "Breaking
   news") dropped, the part matching the feed's host preferred, else the first; then
   trailing feed words (``Feed``, ``RSS``, ``Atom``, ``Channel``) removed. A title that is
   a bare host name (``rss.cnn.com``) is read as a host (3.).
3. the host of ``url``: the registrable label (public suffix list), without ``rss.``,
   ``feeds.``, ``www.`` and the like or the TLD; three letters or fewer in capitals, else
   capitalised; punycode shown as Unicode.

An empty string when none of them gives a name (no title, a path or an IP address).
An aggregator's item that names its publisher (RSS ``<source>``) has that outlet instead:
``outlet_name("", source title, source url)`` (``ingest.parse``).
``outlet_key`` is what two articles' outlets compare by (the storyline tracker's "same
outlet").

>>> outlet_name("Reuters (via Google News)", "Top News - Google News", "")
'Reuters (via Google News)'
>>> outlet_name("", "BBC News - World", "https://feeds.bbci.co.uk/news/world/rss.xml")
'BBC News'
>>> outlet_name("", "Reuters Feed", ""), outlet_name("", "The Washington Post - Tech", "")
('Reuters', 'The Washington Post')
>>> outlet_name("", "World news | The Guardian", "https://www.theguardian.com/world/rss")
'The Guardian'
>>> outlet_name("", "Le Monde.fr - Actualités et Infos en France et dans le monde", "")
'Le Monde'
>>> outlet_name("", "WSJ.com: World News", ""), outlet_name("", "Meduza — Хроника статей", "")
('WSJ', 'Meduza')
>>> outlet_name("", "rss.cnn.com", ""), outlet_name("", "", "https://feeds.reuters.com/x")
('CNN', 'Reuters')
>>> outlet_name("", "Top stories", "http://xn--80aswg.xn--p1ai/rss"), outlet_name("", "", "http://10.0.0.1/f")
('Сайт', '')
"""

from __future__ import annotations

import functools
import ipaddress
import re
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

_SEPARATORS = re.compile(r"\s+[-–—|>/·•]\s+|:\s+")
# Words a feed adds to the outlet's name: the feed itself...
_FEED_WORDS = {"feed", "feeds", "rss", "atom", "channel", "xml", "rss2", "podcast"}
# ... and sections: a part made only of these names a section, not the outlet.
_SECTION_WORDS = _FEED_WORDS | set(
    """world news top stories story latest breaking headlines home front page all
    international national local politics business economy tech technology science
    health sport sports culture opinion europe asia africa americas us uk middle east
    and the in from of on for to""".split()
)
_WORD = re.compile(r"[^\W_]+")


@functools.cache
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # the list shipped with the package: no network


def _letters(text: str) -> str:
    return "".join(_WORD.findall(text.casefold()))


def host_label(host: str) -> str:
    """The registrable label of a host name, "" for an IP address or a bare name.

    >>> host_label("rss.cnn.com"), host_label("feeds.bbci.co.uk"), host_label("localhost")
    ('cnn', 'bbci', '')
    """
    host = host.strip().rstrip(".").lower()
    if not host or "." not in host:
        return ""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return ""
    except ValueError:
        pass
    registrable = _suffixes().privatesuffix(host)
    if registrable is None:
        return ""
    label = registrable.split(".", 1)[0]
    if label.startswith("xn--"):
        try:
            label = label.encode("ascii").decode("idna")
        except UnicodeError:
            pass
    return label


def _display_label(label: str) -> str:
    return label.upper() if len(label) <= 3 else label[:1].upper() + label[1:]


def _host_of(text: str) -> str:
    """``text`` if it is a host name (``rss.cnn.com``, ``CNN.com``), else ""."""
    text = text.strip().rstrip(".")
    if not text or " " in text or "." not in text or "/" in text or "@" in text:
        return ""
    return text if _suffixes().publicsuffix(text.lower()) != text.lower() else ""


def _clean_title(title: str, host: str) -> str:
    parts = [p.strip() for p in _SEPARATORS.split(title) if p.strip()]
    named = [p for p in parts if any(w not in _SECTION_WORDS for w in _words(p))]
    if not named:
        return ""
    label = _letters(host_label(host)) if host else ""
    chosen = next(
        (p for p in named if label and (label in _letters(p) or _letters(p) in label)),
        named[0],
    )
    words = chosen.split()
    while len(words) > 1 and words[-1].casefold().strip(".,") in _FEED_WORDS:
        words.pop()
    if as_host := _host_of(words[-1]):
        # "CNN.com", "Le Monde.fr": the name without its TLD, as the outlet writes it.
        suffix = _suffixes().publicsuffix(as_host.lower()) or ""
        bare = as_host[: -len(suffix) - 1]
        words[-1] = bare if "." not in bare else _display_label(host_label(as_host))
    return " ".join(words)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def outlet_name(name: str, feed_title: str, url: str) -> str:
    """The outlet of a feed's articles, as alerts show it (module docstring: the rules)."""
    if name.strip():
        return " ".join(name.split())
    host = (urlsplit(url).hostname or "") if "://" in url else ""
    title = " ".join((feed_title or "").split())
    if title and _host_of(title):  # a recorded feed named after its host
        host, title = title.rstrip("."), ""
    if title and (cleaned := _clean_title(title, host)):
        return cleaned
    label = host_label(host)
    return _display_label(label) if label else ""


@functools.lru_cache(maxsize=1024)
def outlet_key(name: str) -> str:
    """What two articles' outlets compare by: casefolded, spaces collapsed; empty for none.
    A channel stays part of it: "Reuters (via The Star)" is The Star's copy of a Reuters
    story, another outlet's article than Reuters' own.

    >>> outlet_key("  BBC  News "), outlet_key(""), outlet_key("Le Monde") == outlet_key("LE MONDE")
    ('bbc news', '', True)
    >>> outlet_key("Reuters (via The Star)") == outlet_key("Reuters")
    False
    """
    return " ".join(name.casefold().split())
