"""The records that flow between pipeline stages.

Every record is a small frozen dataclass: hashable, picklable by Beam, and cheap to
copy. Times are timezone-aware UTC ``datetime`` objects; names carry their time kind
(``published_at``, ``first_seen_at``, ``fetched_at``). ``to_json`` turns any record into
plain JSON-ready data for sinks and CLI output.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

UTC = dt.UTC


@dataclass(frozen=True, slots=True)
class FeedSource:
    """One feed to poll, with the conditional-GET validators from its last fetch.

    ``etag`` and ``last_modified`` are echoed back as ``If-None-Match`` and
    ``If-Modified-Since``; both are empty before the first successful fetch.
    """

    feed_id: str
    url: str
    name: str = ""
    language: str = ""
    etag: str = ""
    last_modified: str = ""
    allow_private: bool = False
    # Poll interval bounds from the feed list.
    min_poll_seconds: int = 300
    max_poll_seconds: int = 3600
    # Marked ``hot: true`` in the feed list (wire, breaking news): a 60 s default floor.
    hot: bool = False


@dataclass(frozen=True, slots=True)
class RawFeed:
    """The bytes and headers of one fetched (or recorded) feed document.

    ``status`` is the HTTP status (200 for recorded files); ``headers`` is a tuple of
    (lower-case name, value) pairs so the record stays hashable.
    """

    feed_id: str
    url: str
    fetched_at: dt.datetime
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    # Outlet name and language from the feed list, which win over the document's own.
    name: str = ""
    language: str = ""
    # WebSub discovery at fetch time (Link header, then the feed head): the feed's hubs
    # (rel=hub) and its topic URL (rel=self, empty if not given).
    hubs: tuple[str, ...] = ()
    self_url: str = ""

    def header(self, name: str, default: str = "") -> str:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return default


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One item of one feed document, as the feed gave it, before normalisation.

    ``title``/``summary``/``content`` may hold HTML. ``published_at`` is UTC, or None when
    the feed gave no believable date. ``first_seen_at`` is the fetch (or snapshot) time.
    ``index`` is the item's position in its document, for error messages.
    """

    feed_id: str
    feed_url: str
    index: int
    guid: str
    link: str
    title: str
    summary: str
    published_at: dt.datetime | None
    first_seen_at: dt.datetime
    outlet: str = ""
    language: str = ""
    content: str = ""
    # True when the link is not this item's own page (several items of the document
    # share it, e.g. every item linking to the site's home page): it must not identify it.
    link_is_shared: bool = False


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """How a feed is doing, emitted after every fetch attempt.

    ``status`` is ``ok`` (last attempt succeeded) or ``failing``. Times are UTC; the
    next attempt is at ``next_due_at`` (failing feeds are retried forever, more slowly).
    """

    feed_id: str
    url: str
    status: str
    consecutive_failures: int
    last_error: str
    last_attempt_at: dt.datetime | None
    last_success_at: dt.datetime | None
    last_change_at: dt.datetime | None
    next_due_at: dt.datetime
    interval_seconds: float
    # What the last attempt found: "new" (a changed body), "not_modified" (a 304),
    # "same_body" (200 with the body seen before) or "failed".
    last_outcome: str = ""


@dataclass(frozen=True, slots=True)
class Article:
    """One news item, normalised: plain text, canonical URL, UTC times.

    ``published_is_estimated`` is true when the feed gave no usable date and
    ``published_at`` fell back to ``first_seen_at``. ``published_precision`` says how
    much of ``published_at`` the source stated: ``instant`` (feeds, ISO timestamps),
    ``day`` (``2024-10-25``), ``month`` (``2024-11``, stored as the 1st), ``year`` or
    ``unknown`` (no date at all; ``published_at`` is an arbitrary fallback). ``content_hash`` is over the
    normalised title and summary, so a re-published item with a new GUID hashes alike.
    """

    article_id: str
    feed_id: str
    url: str
    canonical_url: str
    title: str
    summary: str
    published_at: dt.datetime
    first_seen_at: dt.datetime
    outlet: str = ""
    language: str = ""
    content_hash: str = ""
    published_is_estimated: bool = False
    body: str = ""
    # The feed's GUID for the item, for dedup by GUID.
    guid: str = ""
    # How precise published_at is: instant/day/month/year/unknown (pipeline.dates).
    published_precision: str = "instant"


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why an entity or topic was found: which alias, where, and how.

    ``field`` is ``title``, ``summary`` or ``body``; ``start``/``end`` are character
    offsets into that field of the article as given. ``kind`` is ``exact``,
    ``transliterated`` or ``fuzzy``; ``similarity`` is 100 for exact hits.
    """

    ref: str
    alias: str
    field: str
    start: int
    end: int
    text: str
    kind: str
    similarity: float = 100.0


@dataclass(frozen=True, slots=True)
class Match:
    """An article that satisfies a storyline's rule, with its score in [0, 1]."""

    article: Article
    storyline_id: str
    score: float
    evidence: tuple[Evidence, ...]
    # The storyline's title in the watchlists the matcher used (live, the reloaded ones).
    storyline_title: str = ""


@dataclass(frozen=True, slots=True)
class StorylineEvent:
    """What the storyline tracker decided about one matched article.

    ``kind`` is ``new_development``, ``coverage`` (another source on a known
    development), ``duplicate`` (near-copy of an article already seen) or ``burst``.
    ``articles`` lists the development's article ids so far, lead first.
    """

    storyline_id: str
    development_id: str
    kind: str
    lead: Match
    articles: tuple[str, ...]
    sources: tuple[tuple[str, str, str], ...] = ()
    reason: str = ""
    baseline_per_hour: float | None = None
    rate_per_hour: float | None = None
    article: Match | None = None  # the article this event is about (lead is the development's)
    # A burst: the feeds whose articles of this storyline fell in its window.
    feed_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Alert:
    """One message-worthy event for subscribers.

    ``alert_id`` is derived from storyline, development and kind, so the same
    development always yields the same id, across restarts. ``sources`` holds
    (outlet, title, url) for the other articles so far.
    """

    alert_id: str
    storyline_id: str
    development_id: str
    kind: str
    title: str
    url: str
    published_at: dt.datetime
    first_seen_at: dt.datetime
    article_ids: tuple[str, ...]
    score: float
    outlet: str = ""
    storyline_title: str = ""
    sources: tuple[tuple[str, str, str], ...] = ()
    evidence: tuple[Evidence, ...] = ()
    reason: str = ""
    # new_development alerts: what makes it news, in a desk editor's words (new actor,
    # new action, nearest known development); "" for other kinds.
    why_new: str = ""
    baseline_per_hour: float | None = None  # burst alerts: the storyline's usual rate
    rate_per_hour: float | None = None  # burst alerts: the rate that triggered it
    published_precision: str = (
        "instant"  # of the lead's published_at: instant/day/month/year/unknown
    )
    # The summary's or body's sentence with the most evidence ("" if only the title
    # matched): pipeline.alerts.sentence.
    matched_sentence: str = ""


@dataclass(frozen=True, slots=True)
class Failure:
    """A permanent failure sent to the dead-letter output: which stage, which item, why."""

    stage: str
    key: str
    reason: str
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(UTC))


def to_json(value: Any) -> Any:
    """Plain JSON-ready data for a record (datetimes as ISO 8601 UTC, bytes dropped)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_json(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not isinstance(getattr(value, f.name), bytes)
        }
    if isinstance(value, dt.datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value
