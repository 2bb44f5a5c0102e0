"""What the storyline tracker remembers: one ``StorylineState`` per storyline, its developments.

Plain dataclasses (picklable: the Beam state value of ``TrackStorylines``), kept and
bounded by ``tracker.StorylineTracker``: per storyline at most ``max_developments``
developments, each keeping at most ``max_articles_per_development`` headlines and word
sets; the storyline's vocabulary and known actors are counted over the live developments
only, so they shrink as developments expire. ``span_overlaps`` (timestamped articles) and
``general_overlaps`` (coarse dates) compare an article's words with a development's kept ones.

``DevelopmentColumns`` (``StorylineState.columns``) mirrors what the candidate scan reads
of every live development, by slot (``_Development.slot``, reused once a development
goes): first and last time, span, plain (timestamped articles only), answers, size and
lead action as numpy columns, and word, actor, language and outlet indexes (key -> slots).
Written only through ``StorylineState.add_development``, ``refresh``, ``drop`` and
``add_actors`` (the tracker calls them wherever it changes a development); ``fresh_rows``
rebuilds the same from the developments (the tests compare the two after every article).
Bound: a row per live development and its vocabulary's, actors', languages' and outlets'
entries.
``KeptArticles`` (``DevelopmentColumns.kept``): a row per kept timestamped article and a
word index, for ``span_overlaps`` of all developments at once; derived, so not pickled
(the tracker rebuilds it after unpickling, ``ensure_kept``).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from pipeline.records import Match
from pipeline.storylines.headlines import word_overlap
from pipeline.storylines.signature import ACTIONS
from pipeline.storylines.timing import TimeRange, separation_hours


@dataclass(slots=True)
class _Development:
    development_id: str
    lead: Match
    first_at: dt.datetime  # earliest time any article of it may have been published
    last_at: dt.datetime  # latest such time (the end of a coarse date's period)
    article_ids: list[str]
    keys: list[str]
    sources: list[tuple[str, str, str]]
    count: int = 1
    words: list[frozenset[str]] = field(default_factory=list)  # kept articles with a timestamp
    span: TimeRange | None = None  # first and last timestamp of its articles
    coarse: list[tuple[frozenset[str], TimeRange]] = field(default_factory=list)
    # ^ kept articles dated only by day/month/year or not at all: (words, published_range)
    responds: bool = False  # a kept headline is a denial or admission (``responds``)
    aliases: list[str] = field(default_factory=list)  # ids it had before its original came
    # Actors named by its kept articles (``signature``), and its lead's action class: what
    # a later new development is new against ("why new").
    actors: set[str] = field(default_factory=set)
    action: str | None = None
    # Every word of ``words``: an article sharing none of them overlaps none (0), so the
    # per-article Jaccards are skipped (the cost with 200 live developments).
    vocab: set[str] = field(default_factory=set)
    languages: set[str] = field(default_factory=set)  # of its kept articles (``Signature``)
    # Its articles' outlets (``ingest.outlet.outlet_key``): a second report of one outlet.
    outlets: set[str] = field(default_factory=set)
    counted: list[frozenset[str]] = field(default_factory=list)  # in term_articles, per article
    lead_words: frozenset[str] = frozenset()  # the lead's content words
    slot: int = -1  # its row in the storyline's ``DevelopmentColumns`` (-1: none yet)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
# An action class as a small integer (None is 0), so that columns compare in numpy.
ACTION_CODES: dict[str | None, int] = {None: 0, **{a: i for i, a in enumerate(ACTIONS, 1)}}


def microseconds(at: dt.datetime) -> int:
    """Microseconds since 1970 (exact: datetimes are whole microseconds)."""
    return (at - _EPOCH) // _MICROSECOND


def action_code(action: str | None) -> int:
    return ACTION_CODES.get(action, len(ACTION_CODES))  # no other action exists (signature)


class DevelopmentColumns:
    """Per-storyline numpy columns of the live developments, by slot (module docstring)."""

    __slots__ = (
        "first_us",
        "last_us",
        "span_start_us",
        "span_end_us",
        "plain",
        "responds",
        "count",
        "action",
        "free",
        "words",
        "actors",
        "languages",
        "outlets",
        "kept",
    )
    _COLUMNS = 8  # the numpy columns, first in __slots__
    # Each key -> the slots of the developments whose vocab, actors, languages, outlets have it.
    _INDEXES = ("words", "actors", "languages", "outlets")

    def __init__(self) -> None:
        self.first_us = np.zeros(0, np.int64)
        self.last_us = np.zeros(0, np.int64)
        self.span_start_us = np.zeros(0, np.int64)
        self.span_end_us = np.zeros(0, np.int64)
        self.plain = np.zeros(0, bool)
        self.responds = np.zeros(0, bool)
        self.count = np.zeros(0, np.int64)
        self.action = np.zeros(0, np.int64)
        self.free: list[int] = []  # slots no live development holds
        self.words: dict[str, set[int]] = {}
        self.actors: dict[str, set[int]] = {}
        self.languages: dict[str, set[int]] = {}
        self.outlets: dict[str, set[int]] = {}
        self.kept: KeptArticles | None = KeptArticles()

    # The kept articles' rows are derived (from the developments' ``words``), so the
    # pickled state (the Beam state value) leaves them out: the same bytes as without
    # them; the tracker rebuilds them on its next article (``ensure_kept``).
    def __getstate__(self) -> tuple[None, dict[str, object]]:
        return None, {name: getattr(self, name) for name in self.__slots__[:-1]}

    def __setstate__(self, state: tuple[None, dict[str, object]]) -> None:
        for name, value in state[1].items():
            setattr(self, name, value)
        self.kept = None

    def ensure_kept(self, devs: list[_Development]) -> None:
        """Build the kept articles' rows (after unpickling) from all live developments."""
        if self.kept is None:
            kept = KeptArticles()
            for dev in devs:
                if dev.slot >= 0:
                    kept.register(dev)
            self.kept = kept

    def add(self, dev: _Development) -> None:
        """Give a new development a slot and its row (and index its vocabulary, actors and
        languages)."""
        if not self.free:
            size = len(self.first_us)
            grown = max(8, 2 * size)
            for name in self.__slots__[: self._COLUMNS]:
                column = getattr(self, name)
                setattr(self, name, np.concatenate([column, np.zeros(grown - size, column.dtype)]))
            self.free = list(range(grown - 1, size - 1, -1))
        dev.slot = self.free.pop()
        self.put(dev, dev.vocab)
        _index(self.actors, dev.actors, dev.slot)

    def put(self, dev: _Development, new_words: frozenset[str] | set[str] = frozenset()) -> None:
        """Write a development's row from its attributes; ``new_words``: words just added to
        its ``vocab`` (``state.keep_words``), indexed for it, as are its languages."""
        slot = dev.slot
        self.first_us[slot] = microseconds(dev.first_at)
        self.last_us[slot] = microseconds(dev.last_at)
        span = dev.span
        self.plain[slot] = plain = span is not None and not dev.coarse and bool(dev.words)
        if span is not None and plain:
            self.span_start_us[slot] = microseconds(span[0])
            self.span_end_us[slot] = microseconds(span[1])
        else:
            self.span_start_us[slot] = self.span_end_us[slot] = 0
        self.responds[slot] = dev.responds
        self.count[slot] = dev.count
        self.action[slot] = action_code(dev.action)
        _index(self.words, new_words, slot)
        _index(self.languages, dev.languages, slot)
        _index(self.outlets, dev.outlets, slot)
        if self.kept is not None:
            self.kept.register(dev)

    def add_actor(self, dev: _Development, actor: str) -> None:
        if dev.slot >= 0:
            _index(self.actors, (actor,), dev.slot)

    def release(self, dev: _Development) -> None:
        """A development goes: its slot is free and no key points at it any more."""
        slot = dev.slot
        if slot < 0:
            return
        for index, keys in (
            (self.words, dev.vocab),
            (self.actors, dev.actors),
            (self.languages, dev.languages),
            (self.outlets, dev.outlets),
        ):
            for key in keys:
                slots = index[key]
                slots.discard(slot)
                if not slots:
                    del index[key]
        if self.kept is not None:
            self.kept.release(slot)
        self.free.append(slot)
        dev.slot = -1

    def sharing(self, words: frozenset[str]) -> np.ndarray:
        """By slot: whether the development's vocabulary has any of ``words``."""
        out = np.zeros(len(self.first_us), bool)
        index = self.words
        hit = [s for w in words if (s := index.get(w)) is not None]
        if hit:
            out[list(set().union(*hit))] = True
        return out

    def shared_actors(self, actors: Iterable[str]) -> np.ndarray:
        """By slot: how many of ``actors`` the development names (``len(actors & d.actors)``)."""
        index = self.actors
        slots = [s for a in actors if (ss := index.get(a)) is not None for s in ss]
        return np.bincount(np.array(slots, np.intp), minlength=len(self.first_us))

    def speaks(self, language: str) -> np.ndarray:
        """By slot: whether a kept article of the development is in ``language``."""
        return self._having(self.languages, language)

    def reported_by(self, outlet: str) -> np.ndarray:
        """By slot: whether an article of the development is from ``outlet`` (a key)."""
        return self._having(self.outlets, outlet)

    def _having(self, index: dict[str, set[int]], key: str) -> np.ndarray:
        out = np.zeros(len(self.first_us), bool)
        slots = index.get(key)
        if slots:
            out[list(slots)] = True
        return out

    def rows(self, devs: list[_Development]) -> dict[str, list[object]]:
        """The developments' rows and index entries (by their position in ``devs``; -1:
        a slot none of them holds), for comparing with ``fresh_rows``."""
        slots = [d.slot for d in devs]
        out: dict[str, list[object]] = {
            name: getattr(self, name)[slots].tolist() for name in self.__slots__[: self._COLUMNS]
        }
        position = {slot: i for i, slot in enumerate(slots)}
        for name in self._INDEXES:
            index: dict[str, set[int]] = getattr(self, name)
            out[name] = sorted(  # type: ignore[assignment]
                (k, position.get(s, -1)) for k, ss in index.items() for s in ss
            )
        self.ensure_kept(devs)  # as the tracker does before its scan
        assert self.kept is not None
        out["kept"] = self.kept.rows(position)
        return out


class KeptArticles:
    """Every kept timestamped article (``_Development.words``) of the live developments
    as a row: its development's slot, its position there, its size, and a word index
    (word -> rows); what ``overlaps`` reads for all developments at once."""

    __slots__ = ("slot", "position", "size", "words", "index", "of_slot", "free", "count")

    def __init__(self) -> None:
        self.slot = np.zeros(0, np.int64)
        self.position = np.zeros(0, np.int64)
        self.size = np.zeros(0, np.int64)
        self.words: list[frozenset[str]] = []  # each row's words (the development's set)
        self.index: dict[str, set[int]] = {}
        self.of_slot: dict[int, list[int]] = {}  # slot -> its rows, in kept order
        self.free: list[int] = []
        self.count = np.zeros(0, np.int64)  # by slot: its rows

    def register(self, dev: _Development) -> None:
        """Rows for the development's kept articles it has none for yet (appended ones)."""
        rows = self.of_slot.setdefault(dev.slot, [])
        for position in range(len(rows), len(dev.words)):
            if not self.free:
                size = len(self.slot)
                grown = max(64, 2 * size)
                for name in ("slot", "position", "size"):
                    column = getattr(self, name)
                    setattr(self, name, np.concatenate([column, np.zeros(grown - size, np.int64)]))
                self.words += [frozenset()] * (grown - size)
                self.free = list(range(grown - 1, size - 1, -1))
            row = self.free.pop()
            words = dev.words[position]
            self.slot[row], self.position[row], self.size[row] = dev.slot, position, len(words)
            self.words[row] = words
            _index(self.index, words, row)
            rows.append(row)
        if dev.slot >= len(self.count):
            grown = max(8, 2 * len(self.count), dev.slot + 1)
            self.count = np.concatenate([self.count, np.zeros(grown - len(self.count), np.int64)])
        self.count[dev.slot] = len(rows)

    def release(self, slot: int) -> None:
        index = self.index
        for row in self.of_slot.pop(slot, ()):
            for word in self.words[row]:
                rows = index[word]
                rows.discard(row)
                if not rows:
                    del index[word]
            self.words[row] = frozenset()
            self.size[row] = 0
            self.free.append(row)
        if slot < len(self.count):
            self.count[slot] = 0

    def rows(self, position: dict[int, int]) -> list[object]:
        """(development's position, kept position, size, words) of every row and the
        word index as (word, development's position, kept position): for comparing."""
        live = sorted(
            (position.get(int(self.slot[r]), -1), int(self.position[r]), int(self.size[r]),
             sorted(self.words[r]), r == rows[int(self.position[r])])
            for slot, rows in self.of_slot.items() for r in rows
        )  # fmt: skip
        index = sorted(
            (w, position.get(int(self.slot[r]), -1), int(self.position[r]))
            for w, rs in self.index.items()
            for r in rs
        )
        return [live, index]

    def overlaps(
        self, n_slots: int, words: frozenset[str], residual: frozenset[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """By slot: ``span_overlaps`` of every development at once (best, best residual,
        mean), the same floats: each row's shared words counted from the word index, the
        overlaps by ``span_overlaps``' arithmetic, the mean's sum added in kept order."""
        best, best_residual, total = np.zeros(n_slots), np.zeros(n_slots), np.zeros(n_slots)
        index = self.index
        shared = [rows for w in words if (rows := index.get(w)) is not None]
        if not shared:
            return best, best_residual, total
        both = np.bincount(
            np.fromiter(itertools.chain.from_iterable(shared), np.intp), minlength=len(self.slot)
        )
        hit = both.nonzero()[0]
        both = both[hit]
        slots, size = self.slot[hit], self.size[hit]
        overlap = 100.0 * both / (len(words) + size - both)
        np.maximum.at(best, slots, overlap)
        # np.add.at adds in the order given: each development's rows in kept order.
        order = np.argsort(slots * (int(self.position[hit].max()) + 1) + self.position[hit])
        np.add.at(total, slots[order], overlap[order])
        if residual:
            in_residual = [rows for w in residual if (rows := index.get(w)) is not None]
            if in_residual:
                counts = np.bincount(
                    np.fromiter(itertools.chain.from_iterable(in_residual), np.intp),
                    minlength=len(self.slot),
                )[hit]
                r = counts.nonzero()[0]
                b = counts[r]
                # The common words a row has are the shared ones that are not residual.
                r_size = size[r] - (both[r] - b)
                np.maximum.at(best_residual, slots[r], 100.0 * b / (len(residual) + r_size - b))
        count = self.count
        if len(count) < n_slots:
            count = self.count = np.concatenate([count, np.zeros(n_slots - len(count), np.int64)])
        # total / len(dev.words), as span_overlaps divides (a development sharing no word: 0)
        return best, best_residual, total / np.maximum(count[:n_slots], 1)


def _index(index: dict[str, set[int]], keys: Iterable[str], slot: int) -> None:
    for key in keys:
        slots = index.get(key)
        if slots is None:
            index[key] = {slot}
        else:
            slots.add(slot)


def fresh_rows(devs: list[_Development]) -> dict[str, list[object]]:
    """``DevelopmentColumns.rows`` of columns built anew from the developments' attributes:
    what the kept columns must equal. The developments keep their slots."""
    columns, slots = DevelopmentColumns(), [d.slot for d in devs]
    try:
        for dev in devs:
            columns.add(dev)
        return columns.rows(devs)
    finally:
        for dev, slot in zip(devs, slots, strict=True):
            dev.slot = slot


@dataclass(slots=True)
class StorylineState:
    """Everything remembered about one storyline (picklable; the Beam state value)."""

    storyline_id: str
    developments: list[_Development] = field(default_factory=list)
    newest_at: dt.datetime | None = None
    recent_times: list[dt.datetime] = field(default_factory=list)
    last_burst_at: dt.datetime | None = None
    # feed id -> its latest matched article's time, within the burst window and baseline:
    # the feeds a burst names, so that polling tightens on them.
    recent_feeds: dict[str, dt.datetime] = field(default_factory=dict)
    # word -> how many kept articles of the live developments have it, of kept_articles:
    # how common a word is in the storyline, whichever development an article is in.
    term_articles: dict[str, int] = field(default_factory=dict)
    kept_articles: int = 0
    # actor key -> how many live developments name it: the storyline's known actors.
    actor_developments: dict[str, int] = field(default_factory=dict)
    # The live developments' times, flags and words as numpy columns, by slot: what the
    # candidate scan reads (``candidates.scan_timestamped``).
    columns: DevelopmentColumns = field(default_factory=DevelopmentColumns)

    def add_development(self, dev: _Development) -> None:
        """A new live development (last in ``developments``), with its columns."""
        self.columns.add(dev)
        self.developments.append(dev)

    def refresh(self, dev: _Development, new_words: frozenset[str] = frozenset()) -> None:
        """After a development changed (an article attached): its columns, and the
        ``new_words`` its vocabulary gained."""
        if dev.slot < 0:  # a development added by hand (tests): adopted
            self.columns.add(dev)
        else:
            self.columns.put(dev, new_words)

    def drop(self, dev: _Development) -> None:
        """A development that expires or is evicted: uncounted, its slot freed."""
        self.forget_terms(dev)
        self.columns.release(dev)

    def add_actors(self, dev: _Development, actors: Iterable[str]) -> None:
        """Add actors to a development, counting the ones it did not name yet."""
        for actor in actors:
            if actor not in dev.actors:
                dev.actors.add(actor)
                self.actor_developments[actor] = self.actor_developments.get(actor, 0) + 1
                self.columns.add_actor(dev, actor)

    def count_terms(self, terms: frozenset[str], *, kept_by: _Development | None = None) -> None:
        """Count the terms (words and actor keys) of one kept article; ``kept_by`` holds
        them to uncount when it expires."""
        for term in terms:
            self.term_articles[term] = self.term_articles.get(term, 0) + 1
        self.kept_articles += 1
        if kept_by is not None:
            kept_by.counted.append(terms)

    def forget_terms(self, dev: _Development) -> None:
        """Uncount the kept articles and the actors of a development that expires."""
        _uncount(self.actor_developments, dev.actors)
        for words in dev.counted:
            self.kept_articles -= 1
            _uncount(self.term_articles, words)

    def storyline_vocabulary(self, words: frozenset[str], share: float) -> frozenset[str]:
        """Those of ``words`` that at least ``share`` of the storyline's kept articles (and
        three or more, of five or more) have: the storyline's own vocabulary.

        >>> state = StorylineState("s")
        >>> for title in ["iran blockade ships", "iran talks pakistan", "iran talks trump",
        ...               "iran oil waiver", "hormuz ships"]:
        ...     state.count_terms(frozenset(title.split()))
        >>> sorted(state.storyline_vocabulary(frozenset({"iran", "talks", "ships"}), 0.5))
        ['iran']
        """
        if not share or self.kept_articles < 5:
            return frozenset()
        needed = max(3.0, share * self.kept_articles)
        return frozenset(w for w in words if self.term_articles.get(w, 0) >= needed)

    def size(self) -> int:
        """Headlines plus rate samples held: the quantity the bounds keep flat."""
        return (
            sum(len(d.keys) for d in self.developments)
            + len(self.recent_times)
            + len(self.recent_feeds)
        )


def _uncount(counts: dict[str, int], keys: Iterable[str]) -> None:
    """One fewer of each key; a key counted no more is dropped (the counts stay bounded)."""
    for key in keys:
        left = counts.get(key, 0) - 1
        if left > 0:
            counts[key] = left
        else:
            counts.pop(key, None)


def keep_words(dev: _Development, words: frozenset[str], at: TimeRange) -> frozenset[str]:
    """Keep an article's words in its development; the words its ``vocab`` gained."""
    if at[0] == at[1]:
        dev.words.append(words)
        vocab = dev.vocab
        new = words - vocab if vocab else words
        vocab.update(new)
        return new
    dev.coarse.append((words, at))
    return frozenset()


def span_overlaps(
    dev: _Development, words: frozenset[str], residual: frozenset[str], common: frozenset[str]
) -> tuple[float, float, float]:
    """An article's best, best residual and mean ``headlines.word_overlap`` with the
    timestamped kept articles of a development (``dev.words``), in one pass: the
    tracker's cost with 200 live developments. ``residual`` is ``words - common`` (and
    ``common`` part of ``words``).

    >>> dev = _Development("d", None, None, None, [], [], [])
    >>> sorted(keep_words(dev, frozenset({"iran", "talks"}), (0, 0)))  # the new words
    ['iran', 'talks']
    >>> sorted(keep_words(dev, frozenset({"iran", "oil"}), (0, 0)))
    ['oil']
    >>> [round(x, 1) for x in span_overlaps(dev, frozenset({"iran", "talks", "end"}),
    ...                                      frozenset({"talks", "end"}), frozenset({"iran"}))]
    [66.7, 50.0, 45.8]
    """
    kept = dev.words
    # The tracker calls it only for a development sharing a word (``dev.vocab``); one
    # sharing none gets the same zeros from the loop below, one keeping none from here.
    if not kept:
        return 0.0, 0.0, 0.0
    n_words, n_residual = len(words), len(residual)
    # The mean as sum() adds the overlaps, in order from 0.0 (a zero adds nothing).
    total = best = best_residual = 0.0
    for v in kept:
        # word_overlap's arithmetic, term for term, so the floats are the same.
        both = len(words & v)
        if not both:  # nor any residual word (residual is part of words)
            continue
        overlap = 100.0 * both / (n_words + len(v) - both)
        total += overlap
        if overlap > best:
            best = overlap
        if residual:
            both_residual = len(residual & v)
            if both_residual:
                # The common words v has are the shared ones that are not residual
                # (``common`` is part of ``words``): len(v & common) without the set.
                size = len(v) - (both - both_residual)
                overlap = 100.0 * both_residual / (n_residual + size - both_residual)
                if overlap > best_residual:
                    best_residual = overlap
    return best, best_residual, total / len(kept)


def _ranges(dev: _Development) -> list[tuple[frozenset[str], TimeRange, bool]]:
    """The timestamped articles as one span (the distance to the nearest of them), each
    coarse-dated article by its own range: (words, range, is the span)."""
    ranges = [(w, r, False) for w, r in dev.coarse]
    if dev.span is not None and dev.words:
        ranges.append((frozenset(), dev.span, True))  # the span's words are dev.words
    return ranges


def nearest_kept_hours(dev: _Development, at: TimeRange, *, window: dt.timedelta) -> float | None:
    """How near in time the development's nearest kept article is (the general path)."""
    hours = [
        h
        for _, r, span in _ranges(dev)
        if (h := separation_hours(at, r, window=window, span=span)) is not None
    ]
    return min(hours) if hours else None


def general_overlaps(
    dev: _Development,
    at: TimeRange,
    words: frozenset[str],
    residual: frozenset[str],
    common: frozenset[str],
    *,
    window: dt.timedelta,
) -> tuple[float, float, float, float] | None:
    """(best, best residual, hours apart, mean) overlap with the kept articles in
    reach, for a coarse-dated article or development; None if none is in reach."""
    overlaps: list[float] = []  # of each kept article within reach
    residuals: list[float] = []
    hours_apart: float | None = None
    for w, r, span in _ranges(dev):
        hours = separation_hours(at, r, window=window, span=span)
        if hours is None:
            continue
        hours_apart = hours if hours_apart is None else min(hours_apart, hours)
        kept = dev.words if span else [w]
        if span and words.isdisjoint(dev.vocab):
            overlaps += [0.0] * len(kept)
            residuals += [0.0] * len(kept)
            continue
        overlaps += [word_overlap(words, v) for v in kept]
        residuals += [word_overlap(residual, v, ignore=common) for v in kept]
    if hours_apart is None or not overlaps:
        return None
    return max(overlaps), max(residuals), hours_apart, sum(overlaps) / len(overlaps)
