"""Parse fetched or recorded feed bytes into feed items, never losing the good for the bad.

Pure function first, Beam adapter second:

    parse_feed(raw: RawFeed, *, max_document_bytes=...) -> ParsedFeed
    ParseFeeds()          PCollection[RawFeed] -> StageOutputs(main=FeedItem, dead_letter=Failure)

What ``parse_feed`` handles, each either as items or as an explained ``Failure`` that
names the feed URL:

- RSS 0.9x/1.0/2.0, Atom, CDF via feedparser, which is always handed the *bytes* (in a
  BytesIO) plus the response headers, so it never opens a URL or a file itself;
- JSON Feed documents and recorded entry lists (RSS-Link-Database day files: a JSON
  list of ``{title, link, description, date_published}``);
- gzip bytes under any name (magic bytes sniffed, inflated with a size cap);
- entity declarations in the DOCTYPE (billion laughs, external entities, parameter
  entities) are refused by expat reading the prolog (``check_entities``) before
  feedparser parses the document;
- bad encodings and broken XML: feedparser's loose parser recovers what it can; the
  ``bozo`` reason is kept on the ParsedFeed and the items are still used;
- items with no date or a date before 1995 (e.g. 1970 from a broken scraper) get no
  ``published_at``; normalisation then falls back to the first-seen time and flags it;
- one item that cannot be read becomes one Failure; the other items go on.

The record between ParseFeeds and NormalizeArticles is ``FeedItem``: the item's fields as
the feed gave them (title and summary may still hold HTML), plus where and when it was seen.
"""

from __future__ import annotations

import calendar
import datetime as dt
import email.utils
import io
import itertools
import json
import logging
import re
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit
from xml.parsers import expat

import apache_beam as beam
import feedparser
from feedparser.encodings import convert_to_utf8

from pipeline.dates import parse_iso
from pipeline.ingest.outlet import outlet_name
from pipeline.records import Failure, FeedItem, RawFeed
from pipeline.stage import DEAD_LETTER, MAIN, StageOutputs, split_dead_letters

UTC = dt.UTC
log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
# Dates before this are scraper bugs (the 1970 epoch) rather than news.
EARLIEST_PLAUSIBLE = dt.datetime(1995, 1, 1, tzinfo=UTC)
# Publishers' clocks and time zones are sloppy; beyond this the date is not believed.
FUTURE_TOLERANCE = dt.timedelta(days=2)

_GZIP_MAGIC = b"\x1f\x8b"
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_TTL = re.compile(rb"<ttl>\s*(\d{1,6})\s*</ttl>", re.IGNORECASE)
_LANG = re.compile(r"^[A-Za-z]{2,3}")


@dataclass(slots=True)
class ParsedFeed:
    """What one document yielded: items, per-document or per-item failures, and warnings.

    ``bozo`` is feedparser's complaint about a document it still read (empty if clean);
    ``version`` is feedparser's format name (``rss20``, ``atom10``, ``json`` ...).
    """

    items: list[FeedItem] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    bozo: str = ""
    version: str = ""
    ttl_seconds: int | None = None
    undated: int = 0


class DocumentRefused(ValueError):
    """A document that is not parsed at all; the message says why and what to do."""


def gunzip_capped(data: bytes, *, max_bytes: int) -> bytes:
    """Inflate gzip bytes, refusing to produce more than ``max_bytes`` (gzip bombs)."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise DocumentRefused(f"gzip data is corrupt ({exc})") from None
    if len(out) > max_bytes:
        raise DocumentRefused(f"gzip data inflates beyond {max_bytes} bytes; refused")
    return out


class _PrologRead(Exception):
    """The first element was reached: the DOCTYPE, if any, has been read whole."""


def _refuse_entity(
    name: str,
    is_parameter_entity: int,
    value: str | None,
    base: str | None,
    system_id: str | None,
    public_id: str | None,
    notation_name: str | None,
) -> None:
    # expat gives the replacement text with character references already resolved, so
    # ``<!ENTITY nbsp "&#160;">`` arrives as one character: nothing to expand or fetch.
    if is_parameter_entity or value is None or len(value) > 1:
        kind = "external" if value is None else "parameter" if is_parameter_entity else "text"
        raise DocumentRefused(
            f"document declares XML entities in its DOCTYPE ({kind} entity '{name}': possible "
            "entity-expansion or external-entity attack); refused without parsing"
        )


def _stop_at_first_element(*_: object) -> None:
    raise _PrologRead


def check_entities(body: bytes, headers: dict[str, str] | None = None) -> None:
    """Refuse documents that declare entities: expansion bombs and external entities.

    The prolog is read by expat itself (stopping at the first element), on the very UTF-8
    bytes feedparser's XML parser will get (``convert_to_utf8`` with the same headers), so
    comments, padding or odd encodings in the DOCTYPE hide nothing. Declarations of a single
    character (``<!ENTITY nbsp "&#160;">``, seen in old feeds) are let through; parameter
    entities and external entities never. The external DTD is never read, so RSS 0.91 feeds
    that reference the Netscape DTD are accepted. A prolog expat cannot read (feedparser's
    loose parser takes over then) is refused if ``<!ENTITY`` appears anywhere in the document.
    """
    try:
        data = convert_to_utf8(dict(headers or {}), body, {"bozo": False})
    except Exception:  # feedparser raises on these bytes too (then a "feedparser failed" Failure)
        data = body
    parser = expat.ParserCreate("utf-8")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.EntityDeclHandler = _refuse_entity
    parser.StartElementHandler = _stop_at_first_element
    try:
        parser.Parse(data, True)
    except _PrologRead:
        return
    except expat.ExpatError:
        # NULs dropped: a UTF-16/32 document that the conversion left wide still counts.
        if _ENTITY_DECL.search(data.replace(b"\x00", b"")):
            raise DocumentRefused(
                "document declares XML entities in a DOCTYPE that cannot be read (possible "
                "entity-expansion attack); refused without parsing"
            ) from None


def _struct_to_utc(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, TypeError, OSError):
        return None


def believable(when: dt.datetime | None, seen_at: dt.datetime) -> dt.datetime | None:
    """``when`` if it could be a real publication time for an item seen at ``seen_at``."""
    if when is None or when < EARLIEST_PLAUSIBLE or when > seen_at + FUTURE_TOLERANCE:
        return None
    return when


def language_tag(value: str) -> str:
    """Primary language subtag, lower-cased: ``en-US`` -> ``en``, ``zh-Hans`` -> ``zh``."""
    match = _LANG.match((value or "").strip())
    return match.group(0).lower() if match else ""


_DATE_ELEMENT = re.compile(
    rb"<(?:pubDate|dc:date|published|updated|issued|modified|lastBuildDate)>"
    rb"\s*([^<]{8,64}?)\s*</",
    re.IGNORECASE,
)
_JSON_DATE = re.compile(rb"\"date_published\"\s*:\s*\"([^\"]{8,64})\"")
_ISO_START = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _date_value(text: str) -> dt.datetime | None:
    if _ISO_START.match(text):
        text = text.replace("Z", "+00:00")
        if len(text) > 10 and text[10] == " ":
            text = text[:10] + "T" + text[11:]
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    try:
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:  # "0001-01-01T00:00+05:00" is before year 1 in UTC
        return None


def document_dates(body: bytes) -> list[dt.datetime]:
    """Every believable (1995 or later) date written in a feed document, found without
    parsing it: RSS/RDF ``pubDate``/``dc:date``, Atom ``published``/``updated``, JSON
    ``date_published``. Cheap enough for the fetcher and the replay source."""
    dates = []
    # A date in the future is a typo or a hostile document ("31 Dec 9999"); as a replay's
    # clock it would make every item first seen in the year 9999.
    latest = dt.datetime.now(UTC) + FUTURE_TOLERANCE
    for raw in _DATE_ELEMENT.findall(body) + _JSON_DATE.findall(body):
        when = _date_value(raw.decode("latin-1").strip())
        if when is not None and EARLIEST_PLAUSIBLE <= when <= latest:
            dates.append(when)
    return dates


def publication_gap_seconds(body: bytes, *, newest: int = 10) -> float | None:
    """Median gap between the newest distinct publication dates of a document: how often
    the feed really publishes, which polling alone cannot see faster than it polls."""
    dates = sorted(set(document_dates(body)), reverse=True)[: newest + 1]
    if len(dates) < 3:
        return None
    gaps = sorted((a - b).total_seconds() for a, b in itertools.pairwise(dates))
    return gaps[len(gaps) // 2]


def feed_ttl_seconds(body: bytes) -> int | None:
    """The RSS ``<ttl>`` (minutes) of a document, in seconds, read without parsing."""
    match = _TTL.search(body[:16384])
    return int(match.group(1)) * 60 if match else None


def parse_feed(raw: RawFeed, *, max_document_bytes: int = MAX_DOCUMENT_BYTES) -> ParsedFeed:
    """Parse one feed document into items; never raises for bad input.

    >>> raw = RawFeed("f", "https://example.com/rss", dt.datetime(2024, 10, 25, tzinfo=UTC), 200, (),
    ...     b"<rss version='2.0'><channel><title>Ex</title><item><title>Hi</title>"
    ...     b"<link>https://example.com/1</link></item></channel></rss>")
    >>> parsed = parse_feed(raw)
    >>> [(i.title, i.link, i.outlet, i.published_at) for i in parsed.items]
    [('Hi', 'https://example.com/1', 'Ex', None)]
    """
    result = ParsedFeed()
    try:
        body = _document_bytes(raw.body, max_document_bytes=max_document_bytes)
        stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
        if stripped[:1] in (b"[", b"{"):
            result.version = "json"
            entries, feed_title, feed_language = _json_entries(stripped)
        else:
            entries, feed_title, feed_language = _xml_entries(raw, body, result)
    except DocumentRefused as exc:
        result.failures.append(Failure("parse", raw.url, str(exc), at=raw.fetched_at))
        return result
    outlet = outlet_name(raw.name, feed_title, raw.url)  # feeds.yaml name, title, host
    language = language_tag(raw.language or feed_language or raw.header("content-language"))
    for index, entry in enumerate(entries):
        try:
            item = _item(raw, index, entry, outlet=outlet, language=language)
        except Exception as exc:  # one unreadable item must not lose the rest of the feed
            result.failures.append(
                Failure(
                    "parse",
                    raw.url,
                    f"item {index}: unreadable ({type(exc).__name__}: {exc})",
                    at=raw.fetched_at,
                )
            )
            continue
        if item is None:
            result.failures.append(
                Failure(
                    "parse",
                    raw.url,
                    f"item {index}: no title and no text, nothing to watch; skipped",
                    at=raw.fetched_at,
                )
            )
            continue
        if item.published_at is None:
            result.undated += 1
        result.items.append(item)
    _mark_shared_links(result.items)
    return result


def _mark_shared_links(items: list[FeedItem]) -> None:
    counts = Counter(item.link for item in items if item.link)
    if counts and counts.most_common(1)[0][1] > 1:
        items[:] = [
            replace(item, link_is_shared=True) if item.link and counts[item.link] > 1 else item
            for item in items
        ]


def _document_bytes(body: bytes, *, max_document_bytes: int) -> bytes:
    if not body or not body.strip():
        raise DocumentRefused("empty document; the server sent no feed")
    if body[:2] == _GZIP_MAGIC:
        body = gunzip_capped(body, max_bytes=max_document_bytes)
    if len(body) > max_document_bytes:
        raise DocumentRefused(
            f"document is {len(body)} bytes, over the {max_document_bytes}-byte limit"
        )
    return body


def _xml_entries(raw: RawFeed, body: bytes, result: ParsedFeed) -> tuple[list, str, str]:
    headers = {key: value for key, value in raw.headers}
    if raw.url.startswith(("http://", "https://")):
        headers.setdefault("content-location", raw.url)
    check_entities(body, headers)
    # BytesIO, not bytes: feedparser treats a bytes/str argument as a file name or URL.
    try:
        parsed = feedparser.parse(
            io.BytesIO(body),
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as exc:  # feedparser raises on some mangled bytes (found by a property test)
        raise DocumentRefused(
            f"not readable as a feed: feedparser failed ({type(exc).__name__}: {exc})"
        ) from None
    entries = parsed.entries
    result.version = parsed.get("version", "") or ""
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        result.bozo = f"{type(exc).__name__}: {exc}" if exc else "ill-formed document"
    if not entries:
        if not result.version and parsed.feed.get("title") is None:
            reason = "not a feed: no RSS, Atom or RDF structure found"
            if result.bozo:
                reason += f" ({result.bozo})"
            raise DocumentRefused(reason + "; check the feed URL")
        if result.bozo:
            raise DocumentRefused(f"broken feed with no readable items ({result.bozo})")
    ttl = parsed.feed.get("ttl")
    if ttl and str(ttl).strip().isdigit():
        result.ttl_seconds = int(str(ttl).strip()) * 60
    return entries, parsed.feed.get("title", "") or "", parsed.feed.get("language", "") or ""


def _json_entries(body: bytes) -> tuple[list, str, str]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DocumentRefused(f"not a feed: looks like JSON but does not parse ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("items"), list):  # JSON Feed
        return (
            [_from_json_feed(e) for e in data["items"]],
            str(data.get("title") or ""),
            str(data.get("language") or ""),
        )
    if isinstance(data, list) and all(isinstance(e, dict) for e in data):  # recorded entry list
        # rumca-js's link database keeps the feed's title as "album"; else name the host.
        title = next((e["album"] for e in data if isinstance(e.get("album"), str)), "")
        source = next((e.get("source") for e in data if isinstance(e.get("source"), str)), "")
        host = (urlsplit(source).hostname or "") if source else ""
        return [_from_entry_list(e) for e in data], title.strip() or host, ""
    raise DocumentRefused("not a feed: JSON that is neither a JSON Feed nor a list of entries")


def _from_json_feed(entry: Any) -> dict:
    if not isinstance(entry, dict):
        return {"_bad": f"expected an object, got {type(entry).__name__}"}
    return {
        "id": entry.get("id") or "",
        "link": entry.get("url") or entry.get("external_url") or "",
        "title": entry.get("title") or "",
        "summary": entry.get("summary")
        or entry.get("content_text")
        or entry.get("content_html")
        or "",
        "_date": entry.get("date_published") or entry.get("date_modified"),
    }


def _from_entry_list(entry: dict) -> dict:
    return {
        "id": entry.get("id") or "",
        "link": entry.get("link") or "",
        "title": entry.get("title") or "",
        "summary": entry.get("description") or "",
        "_date": entry.get("date_published"),
        "_language": entry.get("language") or "",
    }


def _json_date(value: Any) -> dt.datetime | None:
    return parse_iso(value) if isinstance(value, str) and value.strip() else None


def _item(raw: RawFeed, index: int, entry: Any, *, outlet: str, language: str) -> FeedItem | None:
    if "_bad" in entry:
        raise ValueError(entry["_bad"])
    # dict.get, not FeedParserDict.get: skips its key aliasing (and its deprecation
    # warning for updated_parsed), which also makes the per-item work cheaper.
    get = (
        entry.get if "_date" in entry else (lambda key, default=None: dict.get(entry, key, default))
    )
    title = _as_text(get("title"))
    link = _as_text(get("link")).strip()
    summary = _as_text(get("summary"))
    content = ""
    contents = get("content")
    if contents:
        content = _as_text(contents[0].get("value")) if isinstance(contents, list) else ""
        if content == summary:
            content = ""
    if not summary and content:
        summary, content = content, ""
    if not (title.strip() or summary.strip()):
        return None
    # An aggregator's item names its publisher (RSS <source>): the article's outlet.
    source = get("source")
    if isinstance(source, dict) and (name := _as_text(source.get("title")).strip()):
        outlet = outlet_name("", name, _as_text(source.get("href"))) or outlet
    if "_date" in entry:
        published = _json_date(get("_date"))
    else:
        published = (
            _struct_to_utc(get("published_parsed"))
            or _struct_to_utc(get("updated_parsed"))
            or _struct_to_utc(get("created_parsed"))
        )
    return FeedItem(
        feed_id=raw.feed_id,
        feed_url=raw.url,
        index=index,
        guid=_as_text(get("id")).strip(),
        link=link,
        title=title,
        summary=summary,
        published_at=believable(published, raw.fetched_at),
        first_seen_at=raw.fetched_at,
        outlet=outlet,
        language=language or language_tag(_as_text(get("_language"))),
        content=content,
    )


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise ValueError(f"expected text, got {type(value).__name__}")


class _ParseFn(beam.DoFn):
    def __init__(self, max_document_bytes: int) -> None:
        self.max_document_bytes = max_document_bytes
        self.feeds = beam.metrics.Metrics.counter("ingest", "feeds_parsed")
        self.items = beam.metrics.Metrics.counter("ingest", "articles_parsed")
        self.failures = beam.metrics.Metrics.counter("ingest", "parse_failures")
        self.bozo = beam.metrics.Metrics.counter("ingest", "feeds_bozo")
        self.undated = beam.metrics.Metrics.counter("ingest", "items_undated")

    def process(self, raw: RawFeed) -> Iterable:
        if raw.status == 200:  # 304 Not Modified and friends carry no document
            yield from self._parse(raw)

    def _parse(self, raw: RawFeed) -> Iterable:
        parsed = parse_feed(raw, max_document_bytes=self.max_document_bytes)
        self.feeds.inc()
        self.items.inc(len(parsed.items))
        self.undated.inc(parsed.undated)
        if parsed.bozo and parsed.items:
            self.bozo.inc()
            log.info("feed %s is ill-formed but readable: %s", raw.url, parsed.bozo)
        for failure in parsed.failures:
            self.failures.inc()
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, failure)
        yield from parsed.items


class ParseFeeds(beam.PTransform):
    """RawFeed -> StageOutputs(main=FeedItem, dead_letter=Failure per unreadable document or item).

    ``ParseFeeds(*, max_document_bytes=16 MiB)``. Non-200 RawFeeds (304) are skipped.
    Counters (namespace ``ingest``): ``feeds_parsed``, ``articles_parsed``,
    ``parse_failures``, ``feeds_bozo``, ``items_undated``.
    """

    def __init__(
        self, *, max_document_bytes: int = MAX_DOCUMENT_BYTES, label: str | None = None
    ) -> None:
        super().__init__(label)
        self.max_document_bytes = max_document_bytes

    def expand(self, raw_feeds: beam.PCollection) -> StageOutputs:
        return split_dead_letters(
            raw_feeds
            | "ParseFeed"
            >> beam.ParDo(_ParseFn(self.max_document_bytes)).with_outputs(DEAD_LETTER, main=MAIN)
        )
