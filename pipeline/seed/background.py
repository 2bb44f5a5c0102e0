"""A background of ordinary news: how common a word or phrase is, and how often it is capitalised.

Built from recorded feed files (as ``pipeline.ingest.recorded`` defines them, parsed with
feedparser; a file it finds no entries in adds nothing): every entry's title and summary
is one document. Two statistics come out of it:

- document frequency of lower-cased words and word bigrams (``idf``), so keywords that any
  news story uses ("said", "year", "government") rank below the ones that mark this story;
- how often a word is written capitalised in mid-sentence (``capital_share``), so a
  sentence-initial "Moreover" or "Last" is not mistaken for a name while "Kremlin" is.

Parsing the bundled feeds takes a few seconds, so the counts are cached as JSON under
``$XDG_CACHE_HOME/storywatch`` keyed by the feed files' names, sizes and modification times.

>>> bg = Background.from_texts(["Musk met Putin", "The talks were long", "Putin said talks"])
>>> bg.docs, bg.df("putin"), bg.df("talks"), bg.df("nothing")
(3, 2, 2, 0)
>>> round(bg.capital_share("putin"), 2), round(bg.capital_share("talks"), 2)
(1.0, 0.0)
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import feedparser

from pipeline.cli.progress import bar
from pipeline.errors import UserError
from pipeline.ingest.recorded import recorded_feed_files

CACHE_VERSION = 2
_TAG = re.compile(r"<[^>]*>")
_WORD = re.compile(r"[^\W\d_](?:[\w'’-]*\w)?")


def words(text: str) -> list[str]:
    """Word tokens (letters first; inner apostrophes and hyphens kept)."""
    return _WORD.findall(text)


@dataclass
class Background:
    """Document frequencies and capitalisation counts over a corpus of news items."""

    docs: int = 0
    doc_freq: Counter = field(default_factory=Counter)
    capitalised: Counter = field(default_factory=Counter)
    lowercase: Counter = field(default_factory=Counter)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Background:
        bg = cls()
        for text in texts:
            bg.add(text)
        return bg

    def add(self, text: str) -> None:
        tokens = words(text)
        if not tokens:
            return
        self.docs += 1
        lower = [t.lower() for t in tokens]
        self.doc_freq.update(set(lower) | {f"{a} {b}" for a, b in pairwise(lower)})
        previous = "."
        for m in _WORD.finditer(text):
            token = m.group(0)
            # Mid-sentence only: a capital after a full stop says nothing about the word.
            gap = text[max(0, m.start() - 3) : m.start()]
            if not re.search(r"[.!?:\"“‘]\s*$", gap) and previous != ".":
                (self.capitalised if token[0].isupper() else self.lowercase)[token.lower()] += 1
            previous = token
        return

    def df(self, phrase: str) -> int:
        """Documents containing the word or two-word phrase (lower-cased)."""
        tokens = [t.lower() for t in words(phrase)]
        if not tokens:
            return 0
        if len(tokens) <= 2:
            return self.doc_freq.get(" ".join(tokens), 0)
        # Longer phrases: bounded by their rarest bigram.
        return min(self.doc_freq.get(f"{a} {b}", 0) for a, b in pairwise(tokens))

    def idf(self, phrase: str) -> float:
        """Smoothed inverse document frequency scaled to [0, 1] (1 = never seen)."""
        if not self.docs:
            return 1.0
        return math.log((self.docs + 1) / (self.df(phrase) + 1)) / math.log(self.docs + 1)

    def capital_share(self, word: str) -> float:
        """Share of mid-sentence uses of ``word`` written with a capital (0.5 if unseen)."""
        up, low = self.capitalised.get(word.lower(), 0), self.lowercase.get(word.lower(), 0)
        return up / (up + low) if up + low else 0.5

    def to_json(self) -> dict:
        return {
            "version": CACHE_VERSION,
            "docs": self.docs,
            "doc_freq": dict(self.doc_freq),
            "capitalised": dict(self.capitalised),
            "lowercase": dict(self.lowercase),
        }

    @classmethod
    def from_json(cls, data: dict) -> Background:
        return cls(
            data["docs"],
            Counter(data["doc_freq"]),
            Counter(data["capitalised"]),
            Counter(data["lowercase"]),
        )


def entry_texts(paths: Iterable[Path]) -> Iterable[str]:
    """Title and summary text of every entry of every feed file (markup stripped)."""
    for path in paths:
        parsed = feedparser.parse(path.read_bytes())
        for entry in parsed.entries:
            title = entry.get("title", "") or ""
            summary = entry.get("summary", "") or ""
            text = html.unescape(_TAG.sub(" ", f"{title}. {summary}"))
            if text.strip(" ."):
                yield text


def _cache_path(paths: list[Path]) -> Path:
    digest = hashlib.sha256()
    for p in paths:
        st = p.stat()
        digest.update(f"{p.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "storywatch"
    return base / f"background-v{CACHE_VERSION}-{digest.hexdigest()[:16]}.json"


def load_background(directory: Path | None, *, use_cache: bool = True) -> Background:
    """Background statistics of the feed files under ``directory`` (empty if None or no feeds)."""
    if directory is None:
        return Background()
    try:
        paths = recorded_feed_files(directory)
    except UserError:  # not a folder, or no feed files in it
        return Background()
    cache = _cache_path(paths)
    if use_cache and cache.is_file():
        try:
            data = json.loads(cache.read_text(encoding="utf-8"))
            if data.get("version") == CACHE_VERSION:
                return Background.from_json(data)
        except (OSError, ValueError, KeyError):
            pass  # a broken cache is rebuilt below
    bg = Background.from_texts(entry_texts(bar(paths, desc="reading background feeds")))
    if use_cache:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(".tmp")
            tmp.write_text(json.dumps(bg.to_json()), encoding="utf-8")
            tmp.replace(cache)
        except OSError:
            pass  # caching is an optimisation; a read-only home still works
    return bg


def default_background_dir() -> Path | None:
    """The bundled feed recordings: tests/data/feeds in a checkout, else seeds/feeds."""
    root = Path(__file__).resolve().parents[2]
    for candidate in (root / "tests" / "data" / "feeds", root / "seeds" / "feeds"):
        if candidate.is_dir():
            return candidate
    return None
