"""The matcher: which watched entities and topics an article mentions, and which storylines it belongs to.

Pure Python (no Beam); ``MatchWatchlists`` in ``pipeline/match.py`` wraps it for the pipeline.

How an article is read, field by field (title, summary, body):

1. **Normalise once.** Each character is folded to a Latin skeleton: NFKC, diacritics
   stripped, ``anyascii`` transliteration (Путин → putin, Кирієнко → kiriienko, 马斯克 →
   ma si ke: each Han/kana/hangul character becomes a word of its own), lower case, and
   anything that is not a letter or digit becomes a space; runs of spaces collapse.
   ``Elon Musk’s`` becomes `` elon musk s `` and ``Pentagon-Musk`` becomes ``pentagon musk``.
   Offsets are kept, so every hit maps back to the characters of the text as given.
2. **One pass.** All aliases, transliterations, topic terms, negative contexts and the
   fuzzy probes are in one pyahocorasick automaton, keyed by their skeleton with a
   leading space (a hit always starts on a word boundary). A hit must also end on a
   boundary; Latin-script aliases may take a plural/possessive ``s`` (``musks``,
   ``spacexs`` from URL slugs), non-Latin ones up to three letters of case ending
   (Путина, Кремля). A term written ``negotiat*`` matches any word that starts so.
3. **Script guard.** An alias written in another script only matches text in a
   non-Latin script: Маск's skeleton is ``mask``, which must not match the English word.
4. **Fuzzy rescue, never alone.** Misspellings (``Vladmir Putin``, ``Stellar Link``) are
   found through probes (first/last four letters of an alias) and verified with
   rapidfuzz. A fuzzy hit never overlaps an exact hit of another entity, and for people
   it must keep the first letter and the last two (so Navalnaya is not Navalny, Kirichenko
   is not Kiriyenko) and be at most one edit away (two from names of ten letters or more).
5. **Negative contexts veto.** A negative context of an entity (``musk deer``, ``Errol
   Musk``) vetoes every hit of that entity it overlaps, and vetoes one-word hits (``Musk``)
   within ``negative_window_words`` words in the same field. Multi-word hits (``Elon Musk``)
   are only vetoed by overlap.
6. **Rules.** A storyline matches when its rule, or one of its alternatives, holds (see
   ``pipeline.config.watchlists``) and its score reaches the threshold; the best-scoring
   rule that holds gives the score and the evidence. The score is the mean, over the rule's groups
   (each ``all_of`` group and the ``any_of`` list), of the best hit in the group, where a
   hit weighs ``kind weight × field weight``: exact 1.0, transliterated 0.95, fuzzy
   0.9 × similarity/100; title 1.0, summary 0.9, body 0.8. So an article naming everything
   exactly in its title scores 1.0, and one that only has a typo in the body scores ~0.6.

>>> from pipeline.config.watchlists import Entity, Rule, Storyline, Watchlists
>>> wl = Watchlists(entities=(Entity(id="putin", kind="person", name="Vladimir Putin",
...                                  aliases=["Putin"], transliterations=["Путин"]),),
...                 storylines=(Storyline(id="s", title="S", rule=Rule(all_of=[["putin"]])),))
>>> m = Matcher(wl)
>>> [(e.ref, e.text, e.kind) for e in m.find_text("Путина и Vladmir Putin's")]
[('putin', 'Путина', 'transliterated'), ('putin', 'Vladmir Putin', 'fuzzy'), ('putin', 'Putin', 'exact')]
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Iterable

import ahocorasick
from anyascii import anyascii
from rapidfuzz.distance import Levenshtein
from rapidfuzz.fuzz import ratio

from pipeline.config.watchlists import Entity, Storyline, Watchlists, load_watchlists
from pipeline.records import Article, Evidence, Match

FIELDS = ("title", "summary", "body")
DEFAULT_FIELD_WEIGHTS = {"title": 1.0, "summary": 0.9, "body": 0.8}
KIND_WEIGHTS = {"exact": 1.0, "transliterated": 0.95}
FUZZY_WEIGHT = 0.9
PROBE_LENGTH = 4

_ASCII_FOLD = {i: (chr(i).lower() if chr(i).isalnum() else " ") for i in range(128)}
_SPACES = re.compile(r" {2,}")
# Curly quotes and dashes decoded with the wrong code page (UTF-8 read as cp1252 or TIS-620)
# glue words together ("Muskâ€™s", "Trumpโs"); they are blanked, keeping the length.
_MOJIBAKE = re.compile(r"â€.?|(?<=[A-Za-z])[\u0e00-\u0e7f\u0080-\u009f]+(?=[A-Za-z]|\s|$)")


# --- normalisation ------------------------------------------------------------------

def _is_wide(ch: str) -> bool:
    """Han, kana, hangul and friends: each character is a word of its own."""
    return ord(ch) >= 0x2E80 and unicodedata.category(ch).startswith("L")


class _PieceTable(dict):
    """Character → skeleton piece, computed on first use (a per-process cache)."""

    def __missing__(self, ch: str) -> str:
        folded = unicodedata.normalize("NFKC", ch)
        folded = "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))
        if not folded:  # a lone combining mark: part of the previous letter
            piece = ""
        else:
            latin = anyascii(folded).lower()
            if unicodedata.category(ch).startswith(("L", "N")):
                # Letters keep only their letters: the soft sign (ь → ') must not split a word.
                piece = "".join(c for c in latin if c.isalnum())
                if piece and _is_wide(folded[0]):
                    piece = f" {piece} "
            else:
                piece = "".join(c if c.isalnum() else " " for c in latin) or " "
        self[ch] = piece
        return piece


_PIECES = _PieceTable()


@dataclass(slots=True)
class NormalizedText:
    """A field's skeleton ``s`` (padded with one space each side) and the way back.

    ``original(a, b)`` maps a span of ``s`` to the span of the original text.
    """

    text: str
    s: str
    _pad: int                    # 1 if a space was put in front of the folded text
    _runs: list[int] | None      # positions in s after which collapsed spaces were removed
    _shifts: list[int] | None    # cumulative count of removed spaces at each run
    _ends: list[int] | None      # for non-ASCII text: end of each character's piece in the folded text

    def _unfold(self, p: int) -> int:
        """Position in s → position in the folded (uncollapsed) text."""
        p -= self._pad
        if self._runs:
            k = bisect_right(self._runs, p)
            if k:
                p += self._shifts[k - 1]
        return p

    def original(self, a: int, b: int) -> tuple[int, int]:
        fa, fb = self._unfold(a), self._unfold(b - 1) + 1
        if self._ends is None:
            return fa, fb
        return bisect_right(self._ends, fa), bisect_right(self._ends, fb - 1) + 1

    def word_index(self, p: int) -> int:
        """Index of the word at position ``p`` of s."""
        return self.s.count(" ", 0, p + 1) - 1


def normalize(text: str) -> NormalizedText:
    """Fold ``text`` to its padded Latin skeleton, keeping the offsets.

    >>> n = normalize("Elon Musk’s «Старлинк»")
    >>> n.s
    ' elon musk s starlink '
    >>> a = n.s.index("starlink"); n.original(a, a + 8)
    (13, 21)
    """
    if text.isascii():
        folded, ends = text.translate(_ASCII_FOLD), None
    else:
        text_for_folding = _MOJIBAKE.sub(lambda m: " " * len(m.group()), text)
        pieces = [_PIECES[c] for c in text_for_folding]
        folded = "".join(pieces)
        ends = list(accumulate(map(len, pieces)))
    runs = shifts = None
    if "  " in folded:
        # Collapse runs of spaces; remember where each run was so offsets can be restored.
        runs, shifts, parts, removed, last = [], [], [], 0, 0
        for m in _SPACES.finditer(folded):
            parts.append(folded[last:m.start() + 1])
            runs.append(m.start() + 1 - removed)
            removed += m.end() - m.start() - 1
            shifts.append(removed)
            last = m.end()
        parts.append(folded[last:])
        folded = "".join(parts)
    pad = 0 if folded.startswith(" ") else 1
    s = " " * pad + folded + ("" if folded.endswith(" ") else " ")
    return NormalizedText(text, s, pad, runs, shifts, ends)


def skeleton(text: str) -> str:
    """The normalised form of an alias or term, without padding (``"Elon Musk's"`` → ``"elon musk s"``)."""
    return normalize(text).s.strip()


def _is_latin(text: str) -> bool:
    return all(ord(c) < 0x250 or not c.isalpha() for c in text)


# --- the automaton's payloads ---------------------------------------------------------

ENTITY, TOPIC, NEGATIVE, PROBE = range(4)


@dataclass(frozen=True, slots=True)
class _Entry:
    """One thing the automaton finds at a key."""

    role: int                 # ENTITY, TOPIC, NEGATIVE or PROBE
    ref: str                  # entity/topic id (for NEGATIVE: the entity it vetoes)
    alias: str = ""           # as written in the watchlist
    latin: bool = True        # the alias is written in Latin script
    transliteration: bool = False
    prefix: bool = False      # term written "word*": any word ending
    multiword: bool = False


@dataclass(frozen=True, slots=True)
class _FuzzyTarget:
    ref: str
    alias: str
    compact: str              # skeleton without spaces
    person: bool


@dataclass(slots=True)
class _Hit:
    ref: str
    alias: str
    field: str
    a: int                    # span in the skeleton s
    b: int
    kind: str
    similarity: float
    multiword: bool
    norm: NormalizedText

    def overlaps(self, a: int, b: int) -> bool:
        return self.a < b and a < self.b

    def evidence(self) -> Evidence:
        start, end = self.norm.original(self.a, self.b)
        return Evidence(self.ref, self.alias, self.field, start, end, self.norm.text[start:end],
                        self.kind, round(self.similarity, 1))


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    storyline: Storyline
    groups: tuple[frozenset[str], ...]
    none_of: frozenset[str]
    within_words: int | None


class Matcher:
    """Finds watched entities/topics in articles and decides storyline matches, with evidence.

    Build it once (it compiles one automaton) and call ``match`` per article; it is
    picklable (rebuilt from the watchlists) so Beam can ship it to workers.
    """

    def __init__(self, watchlists: Watchlists, *, fuzzy: bool = True,
                 fuzzy_min_similarity: float = 85.0, fuzzy_min_length: int = 6,
                 negative_window_words: int = 10,
                 field_weights: dict[str, float] | None = None,
                 fields: Iterable[str] = FIELDS) -> None:
        self.watchlists = watchlists
        self.fuzzy = fuzzy
        self.fuzzy_min_similarity = fuzzy_min_similarity
        self.fuzzy_min_length = fuzzy_min_length
        self.negative_window_words = negative_window_words
        self.field_weights = dict(field_weights or DEFAULT_FIELD_WEIGHTS)
        self.fields = tuple(fields)
        self._build()

    @classmethod
    def from_dir(cls, path: Path | str, **tunables) -> "Matcher":
        """A matcher for the watchlists in ``path`` (raises ConfigError if they are invalid)."""
        return cls(load_watchlists(path), **tunables)

    # Beam pickles DoFns holding a matcher: ship the watchlists, rebuild the automaton.
    def __getstate__(self) -> dict:
        return {"watchlists": self.watchlists, "tunables": self._tunables()}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["watchlists"], **state["tunables"])

    def _tunables(self) -> dict:
        return {"fuzzy": self.fuzzy, "fuzzy_min_similarity": self.fuzzy_min_similarity,
                "fuzzy_min_length": self.fuzzy_min_length,
                "negative_window_words": self.negative_window_words,
                "field_weights": self.field_weights, "fields": self.fields}

    # --- building ---------------------------------------------------------------------

    def _build(self) -> None:
        keys: dict[str, list[_Entry]] = {}

        def add(key: str, entry: _Entry) -> None:
            if not key.strip():
                return
            entries = keys.setdefault(" " + key, [])
            if entry not in entries:
                entries.append(entry)

        self._targets: dict[str, list[_FuzzyTarget]] = {}
        self._negated: set[str] = set()
        for entity in self.watchlists.entities:
            for alias, translit in self._names(entity):
                key = skeleton(alias)
                add(key, _Entry(ENTITY, entity.id, alias, _is_latin(alias), translit,
                                multiword=" " in key))
                compact = key.replace(" ", "")
                if (self.fuzzy and entity.fuzzy and _is_latin(alias) and compact.isascii()
                        and len(compact) >= self.fuzzy_min_length):
                    target = _FuzzyTarget(entity.id, alias, compact, entity.kind == "person")
                    for probe in ({"prefix": compact[:PROBE_LENGTH]}, {"suffix": compact[-PROBE_LENGTH:]}):
                        (side, text), = probe.items()
                        probe_key = text if side == "prefix" else "\0" + text
                        self._targets.setdefault(probe_key, []).append(target)
            for phrase in entity.negative_contexts:
                add(skeleton(phrase), _Entry(NEGATIVE, entity.id, phrase))
                self._negated.add(entity.id)
        for topic in self.watchlists.topics:
            for term in topic.terms:
                prefix = term.endswith("*")
                add(skeleton(term.rstrip("*")), _Entry(TOPIC, topic.id, term, _is_latin(term), prefix=prefix,
                                                       multiword=" " in term.strip()))
        self._patterns = [(topic.id, pattern, re.compile(pattern, re.IGNORECASE))
                          for topic in self.watchlists.topics for pattern in topic.patterns]

        automaton = ahocorasick.Automaton()
        for key, entries in keys.items():
            automaton.add_word(key, (len(key), tuple(entries)))
        # Probes: a prefix probe sits at a word start (" vlad"), a suffix probe at a word end ("imir ").
        for probe_key in self._targets:
            if probe_key.startswith("\0"):
                key, entry = probe_key[1:] + " ", _Entry(PROBE, probe_key)
            else:
                key, entry = " " + probe_key, _Entry(PROBE, probe_key)
            _, existing = automaton.get(key, (len(key), ()))
            automaton.add_word(key, (len(key), existing + (entry,)))
        if not len(automaton):
            automaton.add_word("\0", (1, ()))  # an empty automaton cannot be searched
        automaton.make_automaton()
        self._automaton = automaton
        self._exact_keys = frozenset(k.strip() for k in keys)
        self._entity_ids = frozenset(e.id for e in self.watchlists.entities)

        self._rules: list[tuple[Storyline, list[_CompiledRule]]] = []
        for storyline in sorted(self.watchlists.storylines, key=lambda s: s.id):
            compiled = []
            for _, rule in storyline.rules():
                groups = [frozenset(g) for g in rule.all_of]
                if rule.any_of:
                    groups.append(frozenset(rule.any_of))
                compiled.append(_CompiledRule(storyline, tuple(groups), frozenset(rule.none_of),
                                              rule.within_words))
            self._rules.append((storyline, compiled))

    @staticmethod
    def _names(entity: Entity) -> list[tuple[str, bool]]:
        names = [(entity.name, False)] + [(a, False) for a in entity.aliases]
        return names + [(t, True) for t in entity.transliterations]

    # --- finding ----------------------------------------------------------------------

    def _scan(self, text: str, field: str) -> list[_Hit]:
        """Every non-vetoed entity/topic hit in one field's text."""
        if not text:
            return []
        norm = normalize(text)
        s = norm.s
        hits: list[_Hit] = []
        negatives: list[tuple[str, int, int]] = []
        probes: list[tuple[str, int, int]] = []
        for end, (key_len, entries) in self._automaton.iter(s):
            start = end - key_len + 2      # the key's leading space is not part of the hit
            for entry in entries:
                if entry.role == PROBE:
                    probes.append((entry.ref, end))
                    continue
                stop = self._word_end(s, end + 1, entry)
                if stop is None:
                    continue
                if entry.role == NEGATIVE:
                    negatives.append((entry.ref, start, stop))
                    continue
                span = None if text.isascii() else text[slice(*norm.original(start, stop))]
                if not entry.latin and (span is None or _is_latin(span)):
                    continue  # "mask" is not Маск
                if entry.role == ENTITY and (entry.transliteration or (span is not None and not _is_latin(span))):
                    kind = "transliterated"
                else:
                    kind = "exact"
                hits.append(_Hit(entry.ref, entry.alias, field, start, stop, kind, 100.0,
                                 entry.multiword, norm))
        if self._patterns:
            for ref, pattern, compiled in self._patterns:
                for m in compiled.finditer(s):
                    a, b = m.span()
                    while a < b and s[a] == " ":
                        a += 1
                    while b > a and s[b - 1] == " ":
                        b -= 1
                    if a < b:
                        hits.append(_Hit(ref, pattern, field, a, b, "exact", 100.0, True, norm))
        if probes:
            hits += self._rescue(s, probes, hits, field, norm)
        if negatives:
            hits = self._veto(hits, negatives, s)
        if len(hits) > 1:
            # "Elon Musk" also contains the alias "Musk": keep the longer exact hit only.
            hits = [h for h in hits if not any(
                g is not h and g.ref == h.ref and g.kind != "fuzzy" and g.a <= h.a and h.b <= g.b
                and (g.b - g.a) > (h.b - h.a) for g in hits)]
        return hits

    @staticmethod
    def _word_end(s: str, p: int, entry: _Entry) -> int | None:
        """Where the word ends if the key ending before ``p`` is a whole word, else None."""
        if s[p] == " ":
            return p
        if entry.prefix:
            return s.index(" ", p)
        if entry.latin:
            return p + 1 if s[p] == "s" and s[p + 1] == " " else None
        stop = s.index(" ", p)
        return stop if stop - p <= 3 else None  # Russian/Ukrainian case endings: Путина, Кремля

    def _rescue(self, s: str, probes: list, hits: list[_Hit], field: str,
                norm: NormalizedText) -> list[_Hit]:
        """Fuzzy hits for misspelt aliases near the probes that fired."""
        found: dict[tuple[str, int, int], _Hit] = {}
        for probe_key, end in probes:
            if probe_key.startswith("\0"):      # suffix probe: the word ends at end+1 (a space)
                word_end = end
                word_start = s.rindex(" ", 0, word_end) + 1
                prev_start = s.rindex(" ", 0, word_start - 1) + 1 if word_start > 1 else None
                spans = [(word_start, word_end)] + ([(prev_start, word_end)] if prev_start is not None else [])
            else:                               # prefix probe: the word starts after the key's space
                word_start = end - PROBE_LENGTH + 1
                word_end = s.index(" ", word_start)
                spans = [(word_start, word_end)]
                if word_end + 1 < len(s) - 1:
                    spans.append((word_start, s.index(" ", word_end + 1)))
            for a, b in spans:
                candidate = s[a:b]
                if " " in candidate and min(map(len, candidate.split())) < 3:
                    continue  # "s starlink": a possessive's leftover is not part of a misspelling
                compact = candidate.replace(" ", "")
                if compact in self._exact_keys or candidate in self._exact_keys:
                    continue
                for target in self._targets[probe_key]:
                    if (target.ref, a, b) in found:
                        continue
                    similarity = self._similar(compact, target)
                    if similarity is None:
                        continue
                    # Never claim a span another entity matched exactly, nor one fully
                    # covered by exact hits of the same entity.
                    if any(h.overlaps(a, b) and h.ref != target.ref and h.ref in self._entity_ids
                           for h in hits):
                        continue
                    if any(h.ref == target.ref and h.a <= a and b <= h.b for h in hits):
                        continue
                    found[(target.ref, a, b)] = _Hit(target.ref, target.alias, field, a, b, "fuzzy",
                                                     similarity, True, norm)
        return list(found.values())

    def _similar(self, compact: str, target: _FuzzyTarget) -> float | None:
        t = target.compact
        if abs(len(compact) - len(t)) > max(3, len(t) // 3) or compact[-2:] != t[-2:]:
            return None
        similarity = ratio(compact, t)
        if target.person:
            limit = 2 if len(t) >= 10 else 1
            if compact[0] != t[0] or Levenshtein.distance(compact, t, score_cutoff=limit) > limit:
                return None
            return similarity
        if compact[0] != t[0] or similarity < self.fuzzy_min_similarity - 5:
            return None
        return similarity if similarity >= self.fuzzy_min_similarity or len(compact) >= 10 else None

    def _veto(self, hits: list[_Hit], negatives: list[tuple[str, int, int]], s: str) -> list[_Hit]:
        kept = []
        for hit in hits:
            vetoed = False
            for ref, a, b in negatives:
                if ref != hit.ref:
                    continue
                if hit.overlaps(a, b):
                    vetoed = True
                elif not hit.multiword:
                    gap = s.count(" ", min(hit.b, b), max(hit.a, a))
                    vetoed = gap <= self.negative_window_words
                if vetoed:
                    break
            if not vetoed:
                kept.append(hit)
        return kept

    def _hits(self, article: Article) -> list[_Hit]:
        hits: list[_Hit] = []
        for field in self.fields:
            hits += self._scan(getattr(article, field, "") or "", field)
        return hits

    def find(self, article: Article) -> list[Evidence]:
        """Every entity and topic mention in the article, in field and text order."""
        return _evidence(self._hits(article))

    def find_text(self, text: str, field: str = "title") -> list[Evidence]:
        """``find`` for a bare string (as if it were the given field)."""
        return _evidence(self._scan(text, field))

    # --- deciding ---------------------------------------------------------------------

    def match(self, article: Article) -> list[Match]:
        """One Match per storyline whose rule holds and whose score reaches its threshold."""
        hits = self._hits(article)
        if not hits:
            return []
        by_ref: dict[str, list[_Hit]] = {}
        for hit in hits:
            by_ref.setdefault(hit.ref, []).append(hit)
        matches = []
        for storyline, rules in self._rules:
            # The best-scoring rule that holds explains the match.
            results = [r for r in (self._decide(rule, by_ref) for rule in rules) if r is not None]
            if results:
                score, used = max(results, key=lambda r: r[0])
                matches.append(Match(article, storyline.id, score, _evidence(used)))
        return matches

    def _weight(self, hit: _Hit) -> float:
        kind = FUZZY_WEIGHT * hit.similarity / 100 if hit.kind == "fuzzy" else KIND_WEIGHTS[hit.kind]
        return kind * self.field_weights.get(hit.field, 0.8)

    def _decide(self, rule: _CompiledRule, by_ref: dict[str, list[_Hit]]) -> tuple[float, list[_Hit]] | None:
        if rule.none_of and any(ref in by_ref for ref in rule.none_of):
            return None
        group_hits = []
        for group in rule.groups:
            found = [h for ref in group if ref in by_ref for h in by_ref[ref]]
            if not found:
                return None
            group_hits.append(found)
        if rule.within_words is not None:
            group_hits = self._near(group_hits, rule.within_words)
            if group_hits is None:
                return None
        best = [max(self._weight(h) for h in found) for found in group_hits]
        score = round(sum(best) / len(best), 4) if best else 0.0
        if score < rule.storyline.threshold:
            return None
        used = {id(h): h for found in group_hits for h in found}
        return score, list(used.values())

    @staticmethod
    def _near(group_hits: list[list[_Hit]], within: int) -> list[list[_Hit]] | None:
        """Keep the hits that lie, one per group, within ``within`` words in one field."""
        kept: list[list[_Hit]] | None = None
        for anchor in (h for found in group_hits for h in found):
            lo = anchor.norm.word_index(anchor.a)
            window = []
            for found in group_hits:
                inside = [h for h in found if h.norm is anchor.norm
                          and lo <= h.norm.word_index(h.a) and h.norm.word_index(h.b - 1) <= lo + within]
                if not inside:
                    break
                window.append(inside)
            else:
                if kept is None:
                    kept = window
                else:
                    kept = [k + [h for h in w if h not in k] for k, w in zip(kept, window)]
        return kept


def _evidence(hits: list[_Hit]) -> list[Evidence]:
    order = {f: i for i, f in enumerate(FIELDS)}
    seen, out = set(), []
    for hit in sorted(hits, key=lambda h: (order.get(h.field, 9), h.a, -h.b, h.ref)):
        key = (hit.ref, hit.field, hit.a, hit.b)
        if key not in seen:
            seen.add(key)
            out.append(hit.evidence())
    return out


def matches_to_json(article_id: str, matches: list[Match]) -> dict:
    """The ``storywatch match`` output line for one article.

    >>> matches_to_json("H1", [])
    {'id': 'H1', 'storylines': []}
    """
    return {"id": article_id, "storylines": [
        {"id": m.storyline_id, "score": m.score,
         "evidence": [{"ref": e.ref, "alias": e.alias, "field": e.field, "start": e.start, "end": e.end,
                       "text": e.text, "kind": e.kind, "similarity": e.similarity} for e in m.evidence]}
        for m in matches]}
