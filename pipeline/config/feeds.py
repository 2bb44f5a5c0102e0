"""The feed list (``watchlists/feeds.yaml``) and OPML import.

A feed list has optional ``defaults`` (poll bounds, language), an explicit
``allow_private_addresses`` switch (for loopback tests and local replays only), and a
``feeds`` list; each feed has a ``url``, optional ``id``, ``name``, ``language``,
``min_poll_seconds``/``max_poll_seconds`` bounds, ``tags`` and its own
``allow_private_addresses``. Problems are reported as ``FILE:LINE: where: what``.

>>> from pipeline.config import parse_yaml
>>> FeedList.model_validate({"feeds": [{"url": "https://tass.com/rss/v2.xml"}]}).feeds[0].feed_id
'tass.com-188d1719'

``import_opml(opml, feeds_file)`` adds the OPML's feeds that are not already listed,
appending them as YAML so the comments in the file survive.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.config import load_model
from pipeline.errors import ConfigError, UserError
from pipeline.records import FeedSource

MIN_POLL_FLOOR_SECONDS = 60
MAX_POLL_CEILING_SECONDS = 7 * 24 * 3600
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
# ``tags: [hot]`` marks a wire or breaking-news feed: polled from a 60 s floor by default.
HOT_TAG = "hot"
HOT_MIN_POLL_SECONDS = 60


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeedDefaults(_Strict):
    """Values a feed inherits when it does not set them."""

    min_poll_seconds: int = Field(300, ge=MIN_POLL_FLOOR_SECONDS, le=MAX_POLL_CEILING_SECONDS)
    max_poll_seconds: int = Field(3600, ge=MIN_POLL_FLOOR_SECONDS, le=MAX_POLL_CEILING_SECONDS)
    language: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> FeedDefaults:
        if self.min_poll_seconds > self.max_poll_seconds:
            raise ValueError(
                f"min_poll_seconds ({self.min_poll_seconds}) is above max_poll_seconds "
                f"({self.max_poll_seconds}); swap them"
            )
        return self


class Feed(_Strict):
    """One feed to poll. Unset poll bounds and language come from ``defaults``."""

    url: str = Field(min_length=1, description="http(s) URL of the RSS/Atom/JSON feed")
    id: str | None = Field(
        None, pattern=ID_PATTERN, description="stable id; default: host + URL hash"
    )
    name: str = Field("", description="outlet name shown in alerts; default: the feed's own title")
    language: str | None = Field(None, description="language tag, e.g. en, uk, ru, zh-TW")
    min_poll_seconds: int | None = Field(
        None, ge=MIN_POLL_FLOOR_SECONDS, le=MAX_POLL_CEILING_SECONDS
    )
    max_poll_seconds: int | None = Field(
        None, ge=MIN_POLL_FLOOR_SECONDS, le=MAX_POLL_CEILING_SECONDS
    )
    tags: list[str] = Field(default_factory=list)
    allow_private_addresses: bool = Field(
        False, description="allow loopback/private addresses (tests only)"
    )
    enabled: bool = Field(
        True, description="false: kept in the list but not polled (`storywatch feeds disable`)"
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        url = url.strip()
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise ValueError(f"not a valid URL ({exc})") from None
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"'{url}' is not an http(s) URL with a host; write it as https://host/path"
            )
        return url

    @model_validator(mode="after")
    def _ordered(self) -> Feed:
        if (
            self.min_poll_seconds is not None
            and self.max_poll_seconds is not None
            and self.min_poll_seconds > self.max_poll_seconds
        ):
            raise ValueError(
                f"min_poll_seconds ({self.min_poll_seconds}) is above max_poll_seconds "
                f"({self.max_poll_seconds}); swap them"
            )
        return self

    @property
    def feed_id(self) -> str:
        if self.id:
            return self.id
        host = (urlsplit(self.url).hostname or "feed").lower()
        host = host[4:] if host.startswith("www.") else host
        return f"{host}-{hashlib.sha256(self.url.encode()).hexdigest()[:8]}"


class FeedList(_Strict):
    """The whole feed list. ``allow_private_addresses`` here allows it for every feed."""

    defaults: FeedDefaults = FeedDefaults()
    allow_private_addresses: bool = Field(
        False, description="allow loopback/private addresses for all feeds"
    )
    feeds: list[Feed] = Field(default_factory=list)

    def sources(self, *, default_min_poll_seconds: float | None = None) -> list[FeedSource]:
        """The feeds as FeedSource records with the defaults applied.

        A feed without its own ``min_poll_seconds`` gets ``default_min_poll_seconds`` (the
        run's ``--poll_interval_seconds``) when given; else a feed tagged ``hot`` gets
        ``HOT_MIN_POLL_SECONDS`` and the others the file's ``defaults``. Disabled feeds
        (``enabled: false``) are left out.
        """
        out = []
        for feed in self.feeds:
            if not feed.enabled:
                continue
            hot = HOT_TAG in feed.tags
            if feed.min_poll_seconds:
                low = feed.min_poll_seconds
            elif default_min_poll_seconds is not None:
                low = max(1, round(default_min_poll_seconds))
            else:
                low = HOT_MIN_POLL_SECONDS if hot else self.defaults.min_poll_seconds
            high = feed.max_poll_seconds or self.defaults.max_poll_seconds
            out.append(
                FeedSource(
                    feed_id=feed.feed_id,
                    url=feed.url,
                    name=feed.name,
                    language=feed.language if feed.language is not None else self.defaults.language,
                    allow_private=self.allow_private_addresses or feed.allow_private_addresses,
                    min_poll_seconds=min(low, high),
                    max_poll_seconds=max(low, high),
                    hot=hot,
                )
            )
        return out


def feed_url_key(url: str) -> str:
    """What makes two feed URLs the same feed: case of scheme/host, default port, trailing slash."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    port = parts.port if parts.port not in (None, 80, 443) else None
    path = parts.path.rstrip("/") or "/"
    return f"{scheme}://{host}{':' + str(port) if port else ''}{path}{'?' + parts.query if parts.query else ''}"


def load_feeds(path: Path | str) -> FeedList:
    """Load and check a feed list; every problem is raised together as ConfigError."""
    path = Path(path)
    feeds, lines = load_model(path, FeedList, empty_ok=True)
    problems = []
    seen_urls: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    for index, feed in enumerate(feeds.feeds):
        key = feed_url_key(feed.url)
        if key in seen_urls:
            problems.append(
                f"{path}:{lines.line_of(('feeds', index, 'url'))}: feeds.{index}.url: duplicate of "
                f"feeds.{seen_urls[key]} ({feed.url}); remove one of them"
            )
        seen_urls.setdefault(key, index)
        if feed.feed_id in seen_ids:
            problems.append(
                f"{path}:{lines.line_of(('feeds', index, 'id'))}: feeds.{index}.id: id "
                f"'{feed.feed_id}' is already used by feeds.{seen_ids[feed.feed_id]}; pick another"
            )
        seen_ids.setdefault(feed.feed_id, index)
    if problems:
        raise ConfigError(*problems)
    return feeds


# --- OPML ------------------------------------------------------------------------------


@dataclass
class OpmlFeed:
    url: str
    name: str = ""
    language: str = ""
    tags: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    added: list[OpmlFeed]
    duplicates: list[str]
    skipped: list[str]


def read_opml(path: Path) -> tuple[list[OpmlFeed], list[str]]:
    """Feeds of an OPML file (nested outlines become tags) and notes on skipped outlines.

    The XML is parsed with defusedxml: entity declarations and external references are
    refused, so an OPML file from anywhere is safe to import.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(
            f"{path}:1: cannot read OPML file ({exc.strerror}); check the path"
        ) from None
    try:
        root = SafeET.fromstring(data)
    except ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else 1
        raise UserError(
            f"{path}:{line}: not well-formed XML ({exc}); fix the file or export it again"
        ) from None
    except DefusedXmlException as exc:
        raise UserError(
            f"{path}:1: refused: the OPML declares entities or external references ({exc})"
        ) from None
    if root.tag.lower() != "opml":
        raise UserError(
            f"{path}:1: not an OPML file: the root element is <{root.tag}>, expected <opml>"
        )
    body = root.find("body")
    if body is None:
        raise UserError(f"{path}:1: OPML file has no <body>; nothing to import")
    feeds: list[OpmlFeed] = []
    skipped: list[str] = []

    def walk(node, tags: list[str]) -> None:
        for outline in node.findall("outline"):
            attrs = {k.lower(): v for k, v in outline.attrib.items()}
            label = (attrs.get("title") or attrs.get("text") or "").strip()
            url = (attrs.get("xmlurl") or "").strip()
            if url:
                scheme = urlsplit(url).scheme.lower()
                if scheme not in ("http", "https"):
                    skipped.append(f"'{label or url}': not an http(s) feed URL ({url})")
                else:
                    feeds.append(
                        OpmlFeed(
                            url=url,
                            name=label,
                            language=(attrs.get("language") or "").strip(),
                            tags=list(tags),
                        )
                    )
            children = tags + [label] if (label and not url) else tags
            walk(outline, children)

    try:
        walk(body, [])
    except RecursionError:  # thousands of nested folders: a hostile file, not a reader's export
        raise UserError(
            f"{path}:1: outlines nested too deeply (folders inside folders hundreds of "
            "levels deep); export the subscriptions again"
        ) from None
    if not feeds and not skipped:  # otherwise "0 added", exit 0: looks like a success
        raise UserError(
            f"{path}:1: no feeds found: no <outline> has an xmlUrl attribute; export the "
            "feed subscriptions (OPML) from your feed reader and import that file"
        )
    return feeds, skipped


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
    found, skipped = read_opml(opml_path)
    existing = load_feeds(feeds_path) if feeds_path.exists() else FeedList()
    known = {feed_url_key(f.url) for f in existing.feeds}
    added, duplicates = [], []
    for feed in found:
        key = feed_url_key(feed.url)
        if key in known:
            duplicates.append(feed.url)
            continue
        known.add(key)
        added.append(feed)
    if not added:
        return ImportReport(added, duplicates, skipped)
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
    return ImportReport(added, duplicates, skipped)
