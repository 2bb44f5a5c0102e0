"""OPML import: a feed reader's subscription export merged into the feed list.

    read_opml(path) -> OpmlRead(feeds, skipped, notes)
    import_opml(opml_path, feeds_path) -> ImportReport(added, duplicates, skipped, notes)

Reading. The file (at most ``limits.MAX_CONFIG_BYTES``) is first parsed strictly with
defusedxml: a document that declares entities or external references is refused, and a
well-formed one gives the ``<opml>``/``<body>`` checks and each outline's ``language``.
The feeds themselves are read by listparser, handed the bytes only (never a URL, so it
fetches nothing), which recovers real exports that the strict parser rejects: a bare
``&``, upper-case tags. A ``&`` that does not start a reference ending in ``;`` is
escaped first, as XML reads it, so ``?a=1&region=eu`` is not decoded to ``®ion``. An
export that is not well-formed is read all the same, with a note saying so.

Merging. A feed already listed under any spelling of its URL (``feeds.feed_url_key``:
scheme, ``www.``, case, trailing slash, tracking parameters) is a duplicate, so the
``http://`` twin of a listed ``https://`` feed is not added to be polled twice. A feed at
an address the fetcher would refuse (``fetch.guard.host_reason``: private, loopback, ...)
is skipped with the reason unless the feed list sets ``allow_private_addresses``;
metadata and link-local addresses always are. New feeds are appended as YAML, so the
comments in the file survive; nothing is written if the merged file would not load.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
import listparser
from defusedxml import DefusedXmlException

from pipeline.config.feeds import FeedList, address_problem, feed_url_key, load_feeds
from pipeline.config.limits import read_config_bytes
from pipeline.errors import ConfigError, UserError

# Folders inside folders deeper than this are a hostile file, not a reader's export.
MAX_FOLDER_DEPTH = 100
_BARE_AMPERSAND = re.compile(rb"&(?!(?:#[0-9]+|#[xX][0-9A-Fa-f]+|[A-Za-z_][\w.-]*);)")
_DECLARED_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


@dataclass
class OpmlFeed:
    url: str
    name: str = ""
    language: str = ""
    tags: list[str] = field(default_factory=list)


@dataclass
class OpmlRead:
    feeds: list[OpmlFeed]
    skipped: list[str]
    notes: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    added: list[OpmlFeed]
    duplicates: list[str]
    skipped: list[str]
    notes: list[str] = field(default_factory=list)


def _strict_check(path: Path, data: bytes) -> tuple[Element | None, str]:
    """The strict parse: the root if well-formed (else None and why); entity declarations
    and external references are refused here, whatever else is wrong with the file."""
    try:
        return SafeET.fromstring(data), ""
    except DefusedXmlException as exc:
        raise UserError(
            f"{path}:1: refused: the OPML declares entities or external references ({exc})"
        ) from None
    except ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else 1
        return None, f"line {line}: {exc}"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _languages(root: Element) -> dict[str, str]:
    """``xmlUrl`` -> ``language`` of every outline (listparser does not keep it)."""
    found = {}
    for node in root.iter():
        if _local(node.tag) != "outline":
            continue
        attrs = {k.lower(): v for k, v in node.attrib.items()}
        url, language = (attrs.get("xmlurl") or "").strip(), (attrs.get("language") or "").strip()
        if url and language:
            found.setdefault(url, language)
    return found


def _utf8(data: bytes) -> bytes:
    """The document as UTF-8 (listparser decodes UTF-8 only), from its BOM or declaration."""
    for bom, encoding in (
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(encoding, "replace").lstrip("\ufeff").encode("utf-8")
    declared = _DECLARED_ENCODING.match(data)
    encoding = declared.group(1).decode("ascii") if declared else "utf-8"
    try:
        return data.decode(encoding, "replace").encode("utf-8")
    except LookupError:  # an encoding Python does not know: read as UTF-8
        return data.decode("utf-8", "replace").encode("utf-8")


def read_opml(path: Path) -> OpmlRead:
    """Feeds of an OPML file (folders become tags), notes on skipped outlines, and notes
    on how it was read (not well-formed, recovered)."""
    data = read_config_bytes(path, kind="OPML file")
    root, ill_formed = _strict_check(path, data)
    notes = []
    if root is not None:
        if _local(root.tag) != "opml":
            raise UserError(
                f"{path}:1: not an OPML file: the root element is <{root.tag}>, expected <opml>"
            )
        if not any(_local(child.tag) == "body" for child in root):
            raise UserError(f"{path}:1: OPML file has no <body>; nothing to import")
        languages = _languages(root)
    else:
        languages = {}
    parsed = listparser.parse(_BARE_AMPERSAND.sub(b"&amp;", _utf8(data)))
    if root is None:
        if not str(parsed.get("version", "")).startswith("opml") or not parsed.get("feeds"):
            raise UserError(
                f"{path}:{ill_formed.split(':', 1)[0].removeprefix('line ')}: not well-formed "
                f"XML ({ill_formed.split(': ', 1)[-1]}) and no feeds could be recovered; fix "
                "the file or export it again"
            )
        notes.append(
            f"{path}: not well-formed XML ({ill_formed}); read leniently: check the imported "
            "feeds, or export the file again"
        )
    feeds: list[OpmlFeed] = []
    skipped: list[str] = []
    for entry in parsed.get("feeds", []):
        url, label = str(entry.get("url") or "").strip(), str(entry.get("title") or "").strip()
        categories = entry.get("categories") or []
        if any(len(category) > MAX_FOLDER_DEPTH for category in categories):
            raise UserError(
                f"{path}:1: outlines nested too deeply (folders inside folders hundreds of "
                "levels deep); export the subscriptions again"
            )
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            skipped.append(f"'{label or url}': not an http(s) feed URL ({url})")
            continue
        tags = list(dict.fromkeys(t for category in categories for t in category if t))
        feeds.append(OpmlFeed(url=url, name=label, language=languages.get(url, ""), tags=tags))
    if not feeds and not skipped:  # otherwise "0 added", exit 0: looks like a success
        raise UserError(
            f"{path}:1: no feeds found: no <outline> has an xmlUrl attribute; export the "
            "feed subscriptions (OPML) from your feed reader and import that file"
        )
    return OpmlRead(feeds, skipped, notes)


def _yaml_str(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _entry_yaml(feed: OpmlFeed) -> str:
    lines = [f"  - url: {_yaml_str(feed.url)}"]
    if feed.name:
        lines.append(f"    name: {_yaml_str(feed.name)}")
    if feed.language:
        lines.append(f"    language: {_yaml_str(feed.language)}")
    if feed.tags:
        lines.append("    tags: [" + ", ".join(_yaml_str(t) for t in feed.tags) + "]")
    return "\n".join(lines) + "\n"


_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:", re.MULTILINE)


def import_opml(opml_path: Path, feeds_path: Path) -> ImportReport:
    """Merge an OPML file into a feed list without duplicates; the result is validated first.

    New feeds are appended to the ``feeds:`` list (which must be the last top-level key),
    so the existing text and comments stay as they are. Nothing is written if the
    merged file would not load.
    """
    read = read_opml(opml_path)
    existing = load_feeds(feeds_path) if feeds_path.exists() else FeedList()
    known = {feed_url_key(f.url) for f in existing.feeds}
    added, duplicates, skipped = [], [], list(read.skipped)
    for feed in read.feeds:
        key = feed_url_key(feed.url)
        if key in known:
            duplicates.append(feed.url)
            continue
        if refused := address_problem(feed.url, allow_private=existing.allow_private_addresses):
            skipped.append(f"'{feed.name or feed.url}': {feed.url}: {refused}")
            continue
        known.add(key)
        added.append(feed)
    if not added:
        return ImportReport(added, duplicates, skipped, read.notes)
    text = feeds_path.read_text(encoding="utf-8") if feeds_path.exists() else ""
    keys = _TOP_KEY.findall(text)
    if not text.strip():
        text = "# Feed list: see pipeline/config/feeds.py for the fields.\nfeeds:\n"
    elif "feeds" not in keys:
        text = text.rstrip("\n") + "\nfeeds:\n"
    elif keys[-1] != "feeds":
        raise UserError(
            f"{feeds_path}:1: cannot append: 'feeds:' must be the last top-level key "
            f"(found '{keys[-1]}' after it); move the feeds list to the end"
        )
    elif re.search(r"^feeds\s*:\s*\[\s*\]\s*$", text, re.MULTILINE):
        text = re.sub(r"^feeds\s*:\s*\[\s*\]\s*$", "feeds:", text, flags=re.MULTILINE)
    if not text.endswith("\n"):
        text += "\n"
    text += f"  # imported from {opml_path.name}\n" + "".join(_entry_yaml(f) for f in added)
    feeds_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=feeds_path.parent, prefix=".feeds-", suffix=".yaml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        try:
            load_feeds(Path(tmp))
        except ConfigError as exc:
            raise UserError(
                *(p.replace(tmp, str(feeds_path)) for p in exc.problems),
                f"{opml_path}: nothing imported; the merged feed list would not load",
            ) from None
        os.replace(tmp, feeds_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return ImportReport(added, duplicates, skipped, read.notes)
