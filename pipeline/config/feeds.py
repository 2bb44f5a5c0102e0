"""The feed list (``watchlists/feeds.yaml``).

A feed list has optional ``defaults`` (poll bounds, language), an explicit
``allow_private_addresses`` switch (for loopback tests and local replays only), and a
``feeds`` list; each feed has a ``url``, optional ``id``, ``name``, ``language``,
``min_poll_seconds``/``max_poll_seconds`` bounds, ``tags`` and its own
``allow_private_addresses``. Problems are reported as ``FILE:LINE: where: what``.

>>> from pipeline.config import parse_yaml
>>> FeedList.model_validate({"feeds": [{"url": "https://tass.com/rss/v2.xml"}]}).feeds[0].feed_id
'tass.com-188d1719'

A feed whose host is an address the fetcher refuses (``fetch.guard.host_reason``, known
without DNS: private, loopback, site-local, ... in any spelling) is a problem unless the
list or the feed sets ``allow_private_addresses``; metadata and link-local addresses
always are. Two spellings of one feed URL (``feed_url_key``) are duplicates. OPML import
is ``pipeline.config.opml``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.config import load_model
from pipeline.errors import ConfigError
from pipeline.ingest.fetch.guard import host_reason, refusal
from pipeline.ingest.normalize import canonical_url
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
    """What makes two feed URLs the same feed: the canonical URL (``normalize.canonical_url``:
    case, punycode, default port, trailing slash, tracking parameters, query order) without
    its scheme or a ``www.``, since ``http://`` and ``https://`` of one feed are one feed.

    >>> feed_url_key("http://WWW.Example.com:80/rss/?utm_source=x") == feed_url_key(
    ...     "https://example.com/rss")
    True
    """
    canonical = canonical_url(url, fold_variants=False)
    rest = (
        canonical.split("://", 1)[-1]
        if canonical.startswith(("http://", "https://"))
        else canonical
    )
    return rest[4:] if rest.startswith("www.") else rest


def address_problem(url: str, *, allow_private: bool) -> str | None:
    """Why the fetcher would refuse ``url``'s host, as far as is known without DNS (a
    literal private, loopback, metadata ... address or ``localhost``); None if it may try."""
    host = urlsplit(url).hostname or ""
    reason = host_reason(host)
    return refusal(host, host, reason, allow_private=allow_private) if reason else None


def load_feeds(path: Path | str) -> FeedList:
    """Load and check a feed list; every problem is raised together as ConfigError."""
    path = Path(path)
    feeds, lines = load_model(path, FeedList, empty_ok=True)
    problems = []
    seen_urls: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    for index, feed in enumerate(feeds.feeds):
        allow_private = feeds.allow_private_addresses or feed.allow_private_addresses
        if (refused := address_problem(feed.url, allow_private=allow_private)) is not None:
            problems.append(
                f"{path}:{lines.line_of(('feeds', index, 'url'))}: feeds.{index}.url: {refused}"
            )
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
