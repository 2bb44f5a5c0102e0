"""The matcher: which watched entities and topics an article mentions, and which storylines it belongs to.

Pure Python (no Beam); ``MatchWatchlists`` in ``pipeline/match/transform.py`` wraps it for
the pipeline. Each field (title, summary, body) is folded once (``pipeline.match.folding``)
and scanned once by the automaton of ``pipeline.match.index``; then:

1. **Boundaries.** A hit must end on a word boundary; Latin-script aliases may take a
   plural/possessive ``s`` (``musks``), other scripts up to three letters of case ending
   (Путина); a term written ``negotiat*`` matches any word that starts so. Raw hits are
   first only or-ed into rule marks; a field is read in full only when a rule could hold.
2. **Fuzzy rescue, never alone.** Misspellings of name-like aliases (``Vladmir Putin``,
   ``Stellar Link``) are found at the words where probes fired and verified with
   rapidfuzz. A fuzzy hit never overlaps an exact hit of another entity; it keeps the
   first letter and the last two of the name; for people it is at most one edit away (two
   from ten letters). ``match`` follows up only probes whose targets a rule could use.
3. **Vetoes.** A negative context of an entity (``musk deer``) vetoes every hit of that
   entity it overlaps, and one-word hits within ``negative_window_words`` words in the
   same field; multi-word hits only by overlap. A mask (an outlet's name) hides only the
   hits it overlaps.
4. **Rules and score.** A storyline matches when its rule, or one of its alternatives,
   holds (``pipeline.config.watchlists``) and its score reaches the threshold; the
   best-scoring rule gives score and evidence (each ref's first few mentions). The score
   is the mean, over the rule's groups, of the group's best hit, weighing ``kind weight ×
   field weight × depth weight``: exact 1.0, transliterated 0.95, fuzzy 0.9 ×
   similarity/100; title 1.0, summary 0.9, body 0.8; a mention past the first 1,500
   characters of a summary or body down to 0.6 (``hits.depth_weight``).
5. **Time span.** A storyline with ``published_from``/``published_until`` matches only an
   article whose publication date (its whole day, month or year when that is all it
   states) overlaps the span; an article with no date at all is not held back by it.

>>> from pipeline.config.watchlists import Entity, Rule, Storyline, Watchlists
>>> wl = Watchlists(entities=(Entity(id="putin", kind="person", name="Vladimir Putin",
...                                  aliases=["Putin"], transliterations=["Путин"]),),
...                 storylines=(Storyline(id="s", title="S", rule=Rule(all_of=[["putin"]])),))
>>> m = Matcher(wl)
>>> [(e.ref, e.text, e.kind) for e in m.find_text("Путина и Vladmir Putin's")]
[('putin', 'Путина', 'transliterated'), ('putin', 'Vladmir Putin', 'fuzzy'), ('putin', 'Putin', 'exact')]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from functools import reduce
from itertools import groupby
from operator import itemgetter, or_
from pathlib import Path
from typing import Any

from rapidfuzz.distance import Levenshtein
from rapidfuzz.fuzz import ratio

from pipeline.config.watchlists import Storyline, Watchlists, load_watchlists
from pipeline.dates import UNKNOWN, UTC, period_end
from pipeline.match.folding import NormalizedText, fold_text, skeleton
from pipeline.match.hits import (
    FIELDS,
    POSITION,
    Hit,
    depth_weight,
    drop_contained,
    evidence_of,
    in_lede,
    near,
)
from pipeline.match.index import (
    ANY_ENDING,
    NEGATIVE,
    PLURAL,
    CompiledRule,
    FuzzyTarget,
    MatchIndex,
    Probe,
)
from pipeline.records import Article, Evidence, Match

__all__ = ["FIELDS", "Matcher", "NormalizedText", "fold_text", "matches_to_json", "skeleton"]

DEFAULT_FIELD_WEIGHTS = {"title": 1.0, "summary": 0.9, "body": 0.8}
KIND_WEIGHTS = {"exact": 1.0, "transliterated": 0.95}
FUZZY_WEIGHT = 0.9
FUZZY_CACHE_SIZE = 100_000

# (ref, start, end, first word, last word, is a negative context rather than a mask)
_Negative = tuple[str, int, int, int, int, bool]
# The arguments of a _Field: a field as read by the automaton pass.
_Read = tuple[str, NormalizedText, list[tuple[int, int, int]], list[Hit]]
_Expanded = tuple[list[Hit], list[_Negative], list[tuple[Probe, int]]]


class _Field:
    """One field after the automaton pass: its raw hits; and, once ``Matcher._expand`` has
    read them (only for articles where a rule could hold), exact hits, negative contexts
    and fired probes, before fuzzy rescue and vetoes (``Matcher._settle``)."""

    __slots__ = ("field", "norm", "raw", "pattern_hits", "expanded")

    def __init__(
        self,
        field: str,
        norm: NormalizedText,
        raw: list[tuple[int, int, int]],
        pattern_hits: list[Hit],
    ) -> None:
        self.field = field
        self.norm = norm
        self.raw = raw  # (pattern, start, end) from the automaton
        self.pattern_hits = pattern_hits  # of topic patterns (regular expressions)
        # looked_at → (exact hits, negative contexts, fired probes), see Matcher._expand
        self.expanded: dict[int, _Expanded] = {}


class Matcher:
    """Finds watched entities/topics in articles and decides storyline matches, with evidence.

    Build it once (it compiles one automaton) and call ``match`` per article; it is
    picklable (rebuilt from the watchlists) so Beam can ship it to workers.
    """

    def __init__(
        self,
        watchlists: Watchlists,
        *,
        fuzzy: bool = True,
        fuzzy_min_similarity: float = 85.0,
        fuzzy_min_length: int = 6,
        negative_window_words: int = 10,
        max_evidence_per_ref: int = 3,
        field_weights: dict[str, float] | None = None,
        fields: Iterable[str] = FIELDS,
        dfa_max_keys: int = 30_000,
    ) -> None:
        self.watchlists = watchlists
        self.fuzzy = fuzzy
        self.fuzzy_min_similarity = fuzzy_min_similarity
        self.fuzzy_min_length = fuzzy_min_length
        self.negative_window_words = negative_window_words
        self.max_evidence_per_ref = max_evidence_per_ref
        self.field_weights = dict(field_weights or DEFAULT_FIELD_WEIGHTS)
        self.fields = tuple(fields)
        self.dfa_max_keys = dfa_max_keys
        self._index = MatchIndex(
            watchlists,
            fuzzy=fuzzy,
            fuzzy_min_length=fuzzy_min_length,
            dfa_max_keys=dfa_max_keys,
        )
        self._spans = {s.id: span for s in watchlists.storylines if (span := _span(s))}
        # (probe, words) → verdicts; words repeat across articles, rapidfuzz runs once per pair.
        self._fuzzy_cache: dict[tuple[str, str], tuple[tuple[FuzzyTarget, float], ...]] = {}

    @classmethod
    def from_dir(cls, path: Path | str, **tunables: Any) -> Matcher:
        """A matcher for the watchlists in ``path`` (raises ConfigError if they are invalid)."""
        return cls(load_watchlists(path), **tunables)

    # Beam pickles DoFns holding a matcher: ship the watchlists, rebuild the automaton.
    def __getstate__(self) -> dict[str, Any]:
        return {"watchlists": self.watchlists, "tunables": self._tunables()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        Matcher.__init__(self, state["watchlists"], **state["tunables"])

    def _tunables(self) -> dict[str, Any]:
        return {
            "fuzzy": self.fuzzy,
            "fuzzy_min_similarity": self.fuzzy_min_similarity,
            "fuzzy_min_length": self.fuzzy_min_length,
            "negative_window_words": self.negative_window_words,
            "max_evidence_per_ref": self.max_evidence_per_ref,
            "field_weights": self.field_weights,
            "fields": self.fields,
            "dfa_max_keys": self.dfa_max_keys,
        }

    # --- finding ----------------------------------------------------------------------

    def _read(self, article: Article) -> tuple[list[_Read], int]:
        """``_read_texts`` of the article's fields."""
        return self._read_texts([(field, getattr(article, field, "")) for field in self.fields])

    def _read_texts(self, texts: Iterable[tuple[str, str]]) -> tuple[list[_Read], int]:
        """Normalise every (field, text) and run the automaton over each once, keeping the
        raw hits (as the arguments of a ``_Field``); and the marks of all of them. What the
        hits mean is worked out by ``_expand``, only where a rule could hold."""
        reads: list[_Read] = []
        keys: set[int] = set()
        index = self._index
        find = index.automaton.find_matches_as_indexes if index.automaton else None
        patterns = index.patterns
        for field, text in texts:
            if text:
                norm = fold_text(text)
                raw = find(norm.skeleton, True) if find else []  # True: overlapping hits too
                keys.update(map(_FIRST, raw))
                reads.append(
                    (field, norm, raw, self._pattern_hits(norm, field) if patterns else [])
                )
        # The marks of every key hit, or-ed in C: most articles stop at this.
        marks: int = reduce(or_, map(index.key_marks.__getitem__, keys), 0)
        if patterns:
            marks = reduce(
                or_, (index.marks.get(h.ref, 0) for read in reads for h in read[3]), marks
            )
        return reads, marks

    def _pattern_hits(self, norm: NormalizedText, field: str) -> list[Hit]:
        """Hits of the topics' regular expressions in one field."""
        s = norm.skeleton
        hits: list[Hit] = []
        for ref, pattern, compiled in self._index.patterns:
            for m in compiled.finditer(s):
                a, b = m.span()
                while a < b and s[a] == " ":
                    a += 1
                while b > a and s[b - 1] == " ":
                    b -= 1
                if a < b:
                    first, last = norm.word_index(a), norm.word_index(b - 1)
                    hits.append(
                        Hit(ref, pattern, field, a, b, "exact", 100.0, True, norm, first, last)
                    )
        return hits

    def _expand(self, read: _Field, looked_at: int = -1) -> _Expanded:
        """A field's raw hits as exact hits (with word positions), negative contexts and
        fired probes, keeping only those that may concern a ref with one of the
        ``looked_at`` bits (all by default); computed once per ``looked_at``."""
        done = read.expanded.get(looked_at)
        if done is not None:
            return done
        s, norm, field, payloads = read.norm.skeleton, read.norm, read.field, self._index.payloads
        raw = read.raw
        if looked_at != -1:
            relevant = self._index.relevance
            raw = [r for r in raw if relevant[r[0]] & looked_at]
        hits: list[Hit] = []
        negatives: list[_Negative] = []
        fired: list[tuple[Probe, int]] = []
        spaces = counted = 0  # spaces in s[:counted], for word indices
        for key_index, start, end in raw:  # s[start]: the key's leading space; s[end] follows it
            inner_spaces, entries, probe = payloads[key_index]
            if probe is not None:
                fired.append((probe, end - 1))
                if not entries:
                    continue
            start += 1  # the key's leading space is not part of the hit
            after = s[end]
            for role, ref, alias, kind, multiword, ending, capital in entries:
                # The key must end a word, or be followed by what its ending allows.
                if after == " ":
                    stop = end
                elif ending == PLURAL:  # musks, spacexs
                    if after != "s" or s[end + 1] != " ":
                        continue
                    stop = end + 1
                elif ending == ANY_ENDING:  # a term written "negotiat*"
                    stop = s.index(" ", end)
                else:  # CASE_ENDING: Путина, Кремля
                    stop = s.index(" ", end)
                    if stop - end > 3 or not s[end:stop].isupper():
                        continue
                # "маски" (masks) is not Маски (Musk's): in a script with case, a name is capitalised.
                if capital and norm.text[norm.original(start, stop)[0]].islower():
                    continue
                if counted < end:  # hits come in order of their end
                    spaces += s.count(" ", counted, end)
                    counted = end
                if role >= NEGATIVE:
                    negatives.append(
                        (ref, start, stop, spaces - 1 - inner_spaces, spaces - 1, role == NEGATIVE)
                    )
                else:
                    first = spaces - 1 - inner_spaces
                    hits.append(
                        Hit(
                            ref,
                            alias,
                            field,
                            start,
                            stop,
                            kind,
                            100.0,
                            multiword,
                            norm,
                            first,
                            spaces - 1,
                        )
                    )
        done = read.expanded[looked_at] = (hits + read.pattern_hits, negatives, fired)
        return done

    def _settle(self, read: _Field, looked_at: int = -1) -> list[Hit]:
        """The field's final hits: fuzzy rescue, then vetoes; only of refs with one of the
        ``looked_at`` bits, and other refs' hits where they could interfere (all by default)."""
        hits, negatives, fired = self._expand(read, looked_at)
        if fired:
            if looked_at != -1:
                fired = [f for f in fired if f[0].mark & looked_at]
            if fired:
                hits = hits + self._rescue(read, fired)
        if negatives:
            hits = self._veto(hits, negatives)
        if len(hits) > 1:
            hits = drop_contained(hits)
        return hits

    def _rescue(self, read: _Field, fired: list[tuple[Probe, int]]) -> list[Hit]:
        """Fuzzy hits for misspelt aliases at the words where probes fired.

        A probe's candidates are its word alone and with the neighbour on its open side
        ("Stellar Link", "Vladmir Putin"). Before any string is cut, a candidate must have
        a length, a first letter and last two letters that one of the probe's targets
        accepts (see ``_similar``); verdicts are cached per (probe, candidate).
        """
        norm, field = read.norm, read.field
        s = norm.skeleton
        found: dict[tuple[str, int, int], Hit] = {}
        cache = self._fuzzy_cache
        exact: list[Hit] | None = None  # every exact hit, of any ref: fetched when first needed
        last = len(s) - 1
        for probe, end in fired:
            if probe.suffix:  # the word ends at end (a space)
                firsts = probe.firsts
                a = s.rindex(" ", 0, end) + 1
                spans = [(a, end)] if s[a] in firsts else []
                if a > 1:  # and the previous word with it ("Stellar Link")
                    a = s.rindex(" ", 0, a - 1) + 1
                    if s[a] in firsts:
                        spans.append((a, end))
            else:  # the word starts after the key's space
                ends = probe.ends
                a = end - len(probe.key) + 1
                b = s.index(" ", a)
                spans = [(a, b)] if s[b - 2 : b] in ends else []
                if b < last:  # and the next word with it ("Vladmir Putin")
                    b = s.index(" ", b + 1)
                    if s[b - 2 : b] in ends:
                        spans.append((a, b))
            for a, b in spans:
                if (
                    not probe.lo <= b - a <= probe.hi + 1
                ):  # +1: the space inside a two-word candidate
                    continue
                candidate = s[a:b]
                verdicts = cache.get((probe.key, candidate))
                if verdicts is None:
                    verdicts = self._verify(probe.key, candidate)
                    if len(cache) >= FUZZY_CACHE_SIZE:
                        cache.clear()
                    cache[(probe.key, candidate)] = verdicts
                for target, similarity in verdicts:
                    if (target.ref, a, b) in found:
                        continue
                    if exact is None:
                        exact = self._expand(read)[0]
                    # Never claim a span another entity matched exactly; and a span that
                    # holds an exact hit of the same entity is only a misspelling of a longer
                    # name ("Vladmir Putin"), not a name plus a word ("Russian man").
                    if any(
                        h.start < b
                        and a < h.end
                        and (
                            h.ref != target.ref
                            and h.ref in self._index.entity_ids
                            or h.ref == target.ref
                            and (not target.multiword or h.start <= a and b <= h.end)
                        )
                        for h in exact
                    ):
                        continue
                    first, last_word = norm.word_index(a), norm.word_index(b - 1)
                    found[(target.ref, a, b)] = Hit(
                        target.ref,
                        target.alias,
                        field,
                        a,
                        b,
                        "fuzzy",
                        similarity,
                        True,
                        norm,
                        first,
                        last_word,
                    )
        return list(found.values())

    def _verify(self, probe_key: str, candidate: str) -> tuple[tuple[FuzzyTarget, float], ...]:
        """The fuzzy targets behind a probe that ``candidate`` (a word or two) may misspell."""
        if " " in candidate and min(map(len, candidate.split())) < 3:
            return ()  # "s starlink": a possessive's leftover is not part of a misspelling
        compact = candidate.replace(" ", "")
        if compact in self._index.exact_keys or candidate in self._index.exact_keys:
            return ()
        out: list[tuple[FuzzyTarget, float]] = []
        for target in self._index.targets[probe_key]:
            similarity = self._similar(compact, target)
            if similarity is not None:
                out.append((target, similarity))
        return tuple(out)

    def _similar(self, compact: str, target: FuzzyTarget) -> float | None:
        """Similarity (0-100) if ``compact`` passes as a misspelling of the target, else None."""
        t = target.compact
        if (
            abs(len(compact) - len(t)) > max(3, len(t) // 3)
            or compact[-2:] != t[-2:]
            or compact[0] != t[0]
        ):
            return None
        if target.person:
            # People: one edit (two from ten letters), so Kirichenko stays apart from Kiriyenko.
            limit = 2 if len(t) >= 10 else 1
            if Levenshtein.distance(compact, t, score_cutoff=limit) > limit:
                return None
            return ratio(compact, t)
        similarity = ratio(compact, t)
        if similarity >= self.fuzzy_min_similarity or (
            len(compact) >= 10 and similarity >= self.fuzzy_min_similarity - 5
        ):
            return similarity
        return None

    def _veto(self, hits: list[Hit], negatives: list[_Negative]) -> list[Hit]:
        """Drop hits vetoed by a negative context of their entity or hidden by one of its
        masks (see the module docstring)."""
        by_ref: dict[str, list[tuple[int, int, int, int, int]]] = {}
        window = self.negative_window_words
        for ref, start, end, first, last, negative in negatives:
            by_ref.setdefault(ref, []).append((start, end, first, last, window if negative else -1))
        kept: list[Hit] = []
        for hit in hits:
            near = by_ref.get(hit.ref)
            if near is None or not any(
                hit.start < end
                and start < hit.end  # overlaps: "musk deer", "Kyiv Independent"
                or not hit.multiword
                and (first - hit.last_word if first > hit.last_word else hit.first_word - last)
                <= reach
                for start, end, first, last, reach in near
            ):
                kept.append(hit)
        return kept

    def _hits(self, reads: list[_Read], looked_at: int = -1) -> list[Hit]:
        """Hits of every field; word positions count through the fields in order.

        Only probes that may name a ref with one of the ``looked_at`` bits are followed up
        (all by default; see ``match``).
        """
        hits: list[Hit] = []
        offset = 0
        for args in reads:
            read = _Field(*args)
            found = self._settle(read, looked_at)
            if found:
                if offset:
                    for hit in found:
                        hit.first_word += offset
                        hit.last_word += offset
                hits += found
            offset += read.norm.skeleton.count(" ")  # its words, and one for the field break
        return hits

    def find(self, article: Article) -> list[Evidence]:
        """Every entity and topic mention in the article, in field and text order."""
        return evidence_of(self._hits(self._read(article)[0]))

    def find_text(self, text: str, field: str = "title") -> list[Evidence]:
        """``find`` for a bare string (as if it were the given field)."""
        return evidence_of(self._hits(self._read_texts([(field, text)])[0]))

    # --- deciding ---------------------------------------------------------------------

    def match(self, article: Article) -> list[Match]:
        """One Match per storyline whose rule holds and whose score reaches its threshold."""
        reads, marks = self._read(article)
        looked_at = self._possible(marks)
        if not looked_at:
            return []
        # Fuzzy hits of other refs could decide nothing: their probes are left alone.
        hits = self._hits(reads, looked_at)
        if not hits:
            return []
        return self._matches(article, hits)

    def _possible(self, marks: int) -> int:
        """The bits of every ref looked at (groups and none_of) by a rule that could hold if
        the targets of all fired probes were found as well as the exact hits (vetoes
        aside): a superset of the rules that will hold, so hits of refs without these bits
        cannot change a decision."""
        complete = self._index.complete(marks) if marks else 0
        if not complete:
            return 0
        return reduce(or_, map(itemgetter(2), self._index.rules_in(complete)), 0)

    def _matches(self, article: Article, hits: list[Hit]) -> list[Match]:
        """``match`` once the hits are found."""
        by_ref: dict[str, list[Hit]] = {}
        for hit in hits:
            by_ref.setdefault(hit.ref, []).append(hit)
        marks = self._index.marks
        # Rules with a group that found nothing cannot hold; the rest are decided in full.
        ready = self._index.rules_in(
            self._index.complete(reduce(or_, (marks.get(ref, 0) for ref in by_ref), 0))
        )
        matches: list[Match] = []
        weights: dict[str, float] = {}  # ref → its best hit's weight, as needed

        def best_weight(ref: str) -> float:
            weight = weights.get(ref)
            if weight is None:
                weight = weights[ref] = max(map(self._weight, by_ref[ref]))
            return weight

        for index, rules in groupby(ready, key=itemgetter(0)):
            storyline = self._index.rules[index][0]
            span = self._spans.get(storyline.id)
            if span is not None and not _published_within(article, span):
                continue
            # The best-scoring rule that holds explains the match.
            results = [
                r
                for r in (self._decide(rule, by_ref, best_weight) for _, rule, _ in rules)
                if r is not None
            ]
            if results:
                score, used = max(results, key=lambda r: r[0])
                matches.append(
                    Match(
                        article,
                        storyline.id,
                        score,
                        tuple(evidence_of(used)),
                        storyline_title=storyline.title or "",
                    )
                )
        return matches

    def _weight(self, hit: Hit) -> float:
        kind = (
            FUZZY_WEIGHT * hit.similarity / 100 if hit.kind == "fuzzy" else KIND_WEIGHTS[hit.kind]
        )
        return kind * self.field_weights.get(hit.field, 0.8) * depth_weight(hit.field, hit.start)

    def _decide(
        self,
        rule: CompiledRule,
        by_ref: dict[str, list[Hit]],
        best_weight: Callable[[str], float],
    ) -> tuple[float, list[Hit]] | None:
        """Score and evidence if the rule holds (``match`` has checked that every group found
        something); ``best_weight(ref)`` is the weight of the ref's best hit."""
        if rule.none_of and not by_ref.keys().isdisjoint(rule.none_of):
            return None
        if rule.none_of_in_lede and any(
            in_lede(hit.field, hit.start)
            for ref in rule.none_of_in_lede.intersection(by_ref)
            for hit in by_ref[ref]
        ):
            return None
        if rule.within_words is None:
            present = [[ref for ref in group if ref in by_ref] for group in rule.groups]
            if not all(present):
                return None
            best = [max(map(best_weight, refs)) for refs in present]
            candidates = {ref: by_ref[ref] for refs in present for ref in refs}
        else:
            group_hits = []
            for group in rule.groups:
                found = [h for ref in group if ref in by_ref for h in by_ref[ref]]
                if not found:
                    return None
                group_hits.append(found)
            near_hits = near(group_hits, rule.within_words)
            if near_hits is None:
                return None
            best = [max(map(self._weight, found)) for found in near_hits]
            kept: dict[str, dict[int, Hit]] = {}
            for found in near_hits:
                for hit in found:
                    kept.setdefault(hit.ref, {})[id(hit)] = hit
            candidates = {ref: list(hits.values()) for ref, hits in kept.items()}
        score = round(sum(best) / len(best), 4) if best else 0.0
        if score < rule.storyline.threshold:
            return None
        # The evidence: each ref's first few mentions (a long text may name Starlink 30 times).
        used: list[Hit] = []
        for hits in candidates.values():
            used += sorted(hits, key=POSITION)[: self.max_evidence_per_ref]
        used.sort(key=POSITION)
        return score, used


_FIRST = itemgetter(0)


def matches_to_json(article_id: str, matches: list[Match]) -> dict[str, Any]:
    """The ``storywatch match`` output line for one article.

    >>> matches_to_json("H1", [])
    {'id': 'H1', 'storylines': []}
    """
    return {
        "id": article_id,
        "storylines": [
            {
                "id": m.storyline_id,
                "score": m.score,
                "evidence": [
                    {
                        "ref": e.ref,
                        "alias": e.alias,
                        "field": e.field,
                        "start": e.start,
                        "end": e.end,
                        "text": e.text,
                        "kind": e.kind,
                        "similarity": e.similarity,
                    }
                    for e in m.evidence
                ],
            }
            for m in matches
        ],
    }


_Span = tuple[dt.datetime, dt.datetime]


def _span(storyline: Storyline) -> _Span | None:
    """The storyline's time span as [start, end) in UTC, None when it has none."""
    first, last = storyline.published_from, storyline.published_until
    if first is None and last is None:
        return None
    start = (
        dt.datetime.combine(first, dt.time(), UTC) if first else dt.datetime.min.replace(tzinfo=UTC)
    )
    end = (
        dt.datetime.combine(last, dt.time(), UTC) + dt.timedelta(days=1)
        if last and last < dt.date.max
        else dt.datetime.max.replace(tzinfo=UTC)
    )
    return start, end


def _published_within(article: Article, span: _Span) -> bool:
    """Whether the article's publication date can lie within ``span`` (undated: yes)."""
    if article.published_precision == UNKNOWN:
        return True
    start = article.published_at
    end = period_end(start, article.published_precision)
    return start < span[1] and (end > span[0] if end > start else start >= span[0])
