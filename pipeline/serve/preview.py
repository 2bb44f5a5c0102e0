"""The page's preview of a watchlist draft: what it would have matched, with the evidence.

    corpus = Corpus(feed_dirs=[…])                  recorded feeds, parsed once and kept
    preview(draft_text, watchlists_dir, corpus, live_alerts, days=7, now=…) -> Preview

This is ``storywatch seed --check-feeds`` made visible: the same loading of the draft beside
the watchlists (``pipeline.seed.draft.validate_draft``), the same parse of the recorded
feeds (``feed_articles``) and the same ``Matcher``. "Live articles" are the articles the
pipeline kept from its live run: the leads of the alerts of the last ``days`` days (their
titles; the pipeline keeps no archive of every polled item). A draft that does not load is
reported with its problems (``FILE:LINE`` refers to the draft as ``zz-seed-draft.yaml``).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.dates import parse_time
from pipeline.errors import ConfigError, UserError
from pipeline.match.matcher import Matcher
from pipeline.records import Article, Evidence
from pipeline.seed.draft import feed_articles, validate_draft

UTC = dt.UTC
#: Matches shown per storyline and source (the count is always complete).
SHOWN_PER_STORYLINE = 50
#: Largest draft accepted (a watchlist file is a few kB).
MAX_DRAFT_BYTES = 256 * 1024


# validate_draft loads the draft beside the watchlists in a temporary folder; its problems
# name files there, which mean nothing to the reader (and are the server's paths).
_TEMP_DIR = re.compile(r"[^\s:'\"]*/storywatch-seed-[^/\s]+/")


def _without_temp_dir(problem: str) -> str:
    """``/tmp/storywatch-seed-x1/zz-seed-draft.yaml:2: …`` -> ``zz-seed-draft.yaml:2: …``"""
    return _TEMP_DIR.sub("", problem)


class Corpus:
    """The recorded feeds' articles, parsed on first use and kept for the server's life."""

    def __init__(self, feed_dirs: list[Path]) -> None:
        self.feed_dirs = feed_dirs
        self._articles: list[Article] | None = None
        self.problems: list[str] = []
        self._lock = threading.Lock()

    def articles(self) -> list[Article]:
        with self._lock:
            if self._articles is None:
                out: list[Article] = []
                for folder in self.feed_dirs:
                    try:
                        items, problems = feed_articles(folder)
                    except UserError as exc:
                        self.problems += exc.problems
                        continue
                    out += items
                    self.problems += problems
                self._articles = out
            return self._articles


@dataclass(frozen=True, slots=True)
class Hit:
    source: str  # "recorded" or "live"
    title: str
    url: str
    outlet: str
    published_at: dt.datetime
    score: float
    evidence: tuple[Evidence, ...]


@dataclass
class StorylinePreview:
    storyline_id: str
    title: str
    recorded: list[Hit] = field(default_factory=list)
    live: list[Hit] = field(default_factory=list)
    recorded_count: int = 0
    live_count: int = 0


@dataclass
class Preview:
    problems: list[str]
    storylines: list[StorylinePreview]
    recorded_items: int
    live_items: int
    days: int


def live_articles(alerts: list[dict[str, Any]], *, days: int, now: dt.datetime) -> list[Article]:
    """The alerts' lead articles published within ``days`` of ``now``, as articles."""
    since = now - dt.timedelta(days=days)
    out = []
    for data in alerts:
        published = parse_time(data.get("published_at") or data.get("published"))
        if published is None or published < since or published > now:
            continue
        first_seen = parse_time(data.get("first_seen_at")) or published
        out.append(
            Article(
                article_id=f"alert:{data.get('alert_id')}",
                feed_id="",
                url=str(data.get("url") or ""),
                canonical_url=str(data.get("url") or ""),
                title=str(data.get("title") or ""),
                summary="",
                published_at=published,
                first_seen_at=first_seen,
                outlet=str(data.get("outlet") or ""),
            )
        )
    return out


def preview(
    draft_text: str,
    watchlists_dir: Path,
    corpus: Corpus,
    live_alerts: list[dict[str, Any]],
    *,
    days: int,
    now: dt.datetime,
) -> Preview:
    """Match the recorded feeds and the live articles with the watchlists plus the draft,
    keeping the draft's storylines only."""
    if len(draft_text.encode("utf-8")) > MAX_DRAFT_BYTES:
        return Preview(
            [f"the draft is over {MAX_DRAFT_BYTES // 1024} kB; paste one watchlist file"],
            [],
            0,
            0,
            days,
        )
    if not draft_text.strip():
        return Preview(
            ["the draft is empty: paste a watchlist YAML (entities, topics, storylines)"],
            [],
            0,
            0,
            days,
        )
    try:
        combined = validate_draft(draft_text, watchlists_dir)
        shipped = {s.id for s in validate_draft(None, watchlists_dir).storylines}
    except (ConfigError, UserError) as exc:
        return Preview([_without_temp_dir(p) for p in exc.problems], [], 0, 0, days)
    drafted = [s for s in combined.storylines if s.id not in shipped]
    if not drafted:
        return Preview(
            [
                "the draft defines no new storyline (every storyline id is already in the watchlists)"
            ],
            [],
            0,
            0,
            days,
        )
    wanted = {s.id: StorylinePreview(s.id, s.title or s.id) for s in drafted}
    matcher = Matcher(combined)
    recorded = corpus.articles()
    live = live_articles(live_alerts, days=days, now=now)
    for source, articles in (("recorded", recorded), ("live", live)):
        for article in articles:
            for m in matcher.match(article):
                sp = wanted.get(m.storyline_id)
                if sp is None:
                    continue
                hits = sp.recorded if source == "recorded" else sp.live
                if source == "recorded":
                    sp.recorded_count += 1
                else:
                    sp.live_count += 1
                if len(hits) < SHOWN_PER_STORYLINE:
                    hits.append(
                        Hit(
                            source,
                            article.title,
                            article.url,
                            article.outlet,
                            article.published_at,
                            m.score,
                            m.evidence,
                        )
                    )
    for sp in wanted.values():
        sp.recorded.sort(key=lambda h: h.published_at, reverse=True)
        sp.live.sort(key=lambda h: h.published_at, reverse=True)
    return Preview(list(corpus.problems), list(wanted.values()), len(recorded), len(live), days)
