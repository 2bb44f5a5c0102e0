"""The matcher: which watched entities and topics an article mentions, and which storylines it belongs to.

Pure Python (no Beam); ``MatchWatchlists`` in ``pipeline/match/transform.py`` wraps it for the pipeline.

How an article is read, field by field (title, summary, body):

1. **Normalise once.** Each character is folded to a skeleton (ASCII through one
   ``bytes.translate``, common punctuation blanked as UTF-8 bytes, the rest through a
   cached per-character table): NFKC, diacritics stripped, ``anyascii`` transliteration,
   lower case for Latin letters and UPPER case for letters of other scripts, so the
   skeleton still says which script a word was in (Путин → PUTIN, Кирієнко → KIRIIENKO);
   Han, kana and hangul characters stay themselves, one word each (马斯克 → 马 斯 克: their
   romanisation is too lossy). Anything that is not a letter or digit becomes a space and
   runs of spaces collapse: ``Elon Musk’s`` becomes `` elon musk s ``, ``Pentagon-Musk``
   `` pentagon musk ``. The way back to the original offsets is built only when evidence
   needs it.
2. **One pass.** All aliases, transliterations, topic terms, negative contexts and the
   fuzzy probes are in one Aho-Corasick automaton (ahocorasick-rs), keyed by their
   skeleton with a leading space (a hit always starts on a word boundary). Its raw hits
   are only or-ed into one integer of rule marks (which rules could hold) until a rule
   could; then only the hits of refs such a rule looks at are read. A hit must also end on a
   boundary; Latin-script aliases may take a plural/possessive ``s`` (``musks``,
   ``spacexs`` from URL slugs), non-Latin ones up to three letters of case ending
   (Путина, Кремля), also in place of one or two final vowels (Україна → Україні,
   Зеленський → Зеленського). A term written ``negotiat*`` matches any word that starts so.
3. **Script guard.** A Latin alias is also keyed in upper case, so ``Putin`` meets
   Путин (a *transliterated* hit); an alias written in another script has only its upper-case
   key, so Маск (MASK) never matches the English word "mask"; and a person's name written
   in a script with case must start with a capital, so the Russian word маски (masks) is
   not Маски (Musk's).
4. **Fuzzy rescue, never alone.** Misspellings (``Vladmir Putin``, ``Stellar Link``) of
   name-like aliases (one word, or every word capitalised: not "Department of Defense")
   are found through probes (their first and last four letters; five or six where four
   are a common word beginning or ending, as measured in pipeline/match/common_affixes.py) and
   verified with rapidfuzz. A fuzzy hit never overlaps an exact
   hit of another entity; it keeps the first letter and the last two of the name; and for
   people it is at most one edit away (two from names of ten letters or more), so
   Navalnaya is not Navalny and Kirichenko is not Kiriyenko. ``match`` follows up only
   the probes whose targets a rule could use: one that could hold if every fired probe's
   targets were found (``find`` follows up every probe).
5. **Negative contexts veto.** A negative context of an entity (``musk deer``, ``Errol
   Musk``) vetoes every hit of that entity it overlaps, and vetoes one-word hits (``Musk``)
   within ``negative_window_words`` words in the same field. Multi-word hits (``Elon Musk``)
   are only vetoed by overlap. A mask (``Kyiv Independent``, an outlet's name in a
   headline) hides only the hits it overlaps.
6. **Rules.** A storyline matches when its rule, or one of its alternatives, holds (see
   ``pipeline.config.watchlists``) and its score reaches the threshold; the best-scoring
   rule that holds gives the score and the evidence (each ref's first few mentions). The
   score is the mean, over the rule's groups (each ``all_of`` group and the ``any_of``
   list), of the best hit in the group, where a
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
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import reduce
from itertools import accumulate, groupby
from operator import attrgetter, itemgetter, or_
from pathlib import Path

import ahocorasick_rs
from anyascii import anyascii
from rapidfuzz.distance import Levenshtein
from rapidfuzz.fuzz import ratio

from pipeline.match.common_affixes import COMMON_PREFIXES, COMMON_SUFFIXES
from pipeline.config.watchlists import Entity, Storyline, Watchlists, load_watchlists
from pipeline.records import Article, Evidence, Match
from pipeline.text import INVISIBLE

FIELDS = ("title", "summary", "body")
DEFAULT_FIELD_WEIGHTS = {"title": 1.0, "summary": 0.9, "body": 0.8}
KIND_WEIGHTS = {"exact": 1.0, "transliterated": 0.95}
FUZZY_WEIGHT = 0.9
PROBE_LENGTHS = (4, 5, 6)  # the shortest that is not a common affix is the probe
FUZZY_CACHE_SIZE = 100_000

# Curly quotes and dashes decoded with the wrong code page (UTF-8 read as cp1252 or TIS-620)
# glue words together ("Muskâ€™s", "Trumpโs"); they are blanked, keeping the length.
_MOJIBAKE = re.compile(r"â€.?|(?<=[A-Za-z])[\u0e00-\u0e7f\u0080-\u009f]+(?=[A-Za-z]|\s|$)")


# Letters of scripts other than Latin (Greek, Cyrillic, ..., CJK; fullwidth forms count as other).
_NON_LATIN = re.compile("[\u0370-\u1dff\u1f00-\u1fff\u2c00-\U0010ffff]")


def _is_wide(ch: str) -> bool:
    """Han, kana, hangul and friends: each character is a word of its own."""
    return ord(ch) >= 0x2E80 and unicodedata.category(ch).startswith("L")


class _FoldTable(dict):
    """Code point → skeleton piece for ``str.translate``, computed on first use and cached.

    Pieces are letters, digits and spaces: lower-case ASCII for Latin letters, upper-case
    ASCII for other alphabets, the character itself (space-padded) for Han, kana and
    hangul. ``str.translate`` and ``_fold_run`` look characters up here; ``__missing__``
    runs once per character ever seen.
    """

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        if code in _INVISIBLE:
            self[code] = ""
            _ODD.add(ch)
            return ""
        folded = unicodedata.normalize("NFKC", ch)
        folded = "".join(
            c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c)
        )
        if not folded:  # a lone combining mark: part of the previous letter
            piece = ""
        else:
            latin = anyascii(folded).lower()
            if _is_wide(folded[0]):
                # Han, kana, hangul stay themselves, one word each: their romanisation is too
                # lossy (星链 Starlink and 性恋 are both "xing lian").
                piece = f" {folded} "
            elif unicodedata.category(ch).startswith(("L", "N")):
                # Letters keep only their letters: the soft sign (ь → ') must not split a word.
                piece = "".join(c for c in latin if c.isascii() and c.isalnum())
                if _NON_LATIN.match(folded[0]):
                    piece = piece.upper()  # the script survives folding, as case
            else:
                piece = "".join(c if c.isascii() and c.isalnum() else " " for c in latin) or " "
        self[code] = piece
        if len(piece) != 1:
            _ODD.add(ch)
        return piece


# Soft hyphens and zero-width characters sit inside words ("Ukra\u00adine", "Mus\u200bk"):
# they are dropped, not made spaces (feed text has lost them already, JSONL input not).
_INVISIBLE = frozenset(INVISIBLE)
# Characters seen so far whose piece is not one character long (they shift offsets).
_ODD: set[str] = set()
_FOLD = _FoldTable()
for _code in range(128):
    _FOLD[_code] = chr(_code).lower() if chr(_code).isalnum() else " "


# ASCII bytes fold in one bytes.translate; bytes of other characters (>= 0x80) pass through.
_ASCII_BYTES = bytes(ord(_FOLD[i]) for i in range(128)) + bytes(range(128, 256))
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")


def _demojibake(text: str) -> str:
    if "â€" in text or "\u0e42" in text:
        return _MOJIBAKE.sub(lambda m: " " * len(m.group()), text)
    return text


def _fold_run(m: re.Match) -> str:
    return "".join(map(_FOLD.__getitem__, map(ord, m.group())))


def _blank_bytes_pattern(code_points: Iterable[int]) -> re.Pattern[bytes]:
    """A bytes pattern for the UTF-8 of those code points whose piece is one space; they
    must share their first byte, so that the pattern starts with a literal the regex
    engine skips ahead to (a pattern starting with a choice is tried at every byte)."""
    lasts: dict[bytes, list[int]] = {}
    for code in code_points:
        if _FOLD[code] == " ":
            raw = chr(code).encode("utf-8")
            lasts.setdefault(raw[:-1], []).append(raw[-1])
    first = {lead[:1] for lead in lasts}
    assert len(first) == 1, "code points with different first bytes"
    return re.compile(
        re.escape(first.pop())
        + b"(?:"
        + b"|".join(
            re.escape(lead[1:])
            + b"["
            + b"".join(re.escape(bytes([t])) for t in sorted(tails))
            + b"]"
            for lead, tails in sorted(lasts.items())
        )
        + b")"
    )


# UTF-8 of the punctuation most common in Latin-script news (U+2000-U+206F: ’ “ ” – —,
# zero-width spaces and friends) whose piece is one space: blanked as bytes, keeping the
# length, in one pass without a callback; the same for the no-break space. (… « » fold
# to several spaces, ‰ ‱ ⁋ to "0", "00" and "p": they take the slow way.)
_SPACE_BYTES = _blank_bytes_pattern(range(0x2000, 0x2070))
# The zero-width characters, frequent in some feeds, are dropped as bytes in the same way
# (soft hyphen and BOM, rare, take the slow way); they count among the odd characters from
# the start.
_ZERO_WIDTH_BYTES = re.compile(b"\xe2(?:\x80[\x8b-\x8d]|\x81\xa0)")  # U+200B-U+200D, U+2060
for _code in _INVISIBLE:
    _FOLD[_code]
_NO_BREAK_SPACE = "\xa0".encode()


def fold(text: str) -> str:
    """Every character of ``text`` replaced by its skeleton piece (no collapsing).

    Equal to ``text.translate(_FOLD)``, but ASCII goes through ``bytes.translate``, common
    punctuation is blanked as bytes, and only runs of other characters pay for a table
    lookup each.
    """
    return _fold(text)[0]


def _fold(text: str) -> tuple[str, bool]:
    """``fold(text)``, and whether every character's piece was one character long (only
    characters that take the slow way can have longer or empty pieces)."""
    raw = text.encode("utf-8", "surrogatepass")
    dropped = 0
    if not raw.isascii():
        if b"\xe2" in raw:
            raw, dropped = _ZERO_WIDTH_BYTES.subn(b"", raw)
            raw = _SPACE_BYTES.sub(b" ", raw)
        if _NO_BREAK_SPACE in raw:
            raw = raw.replace(_NO_BREAK_SPACE, b" ")
    folded = raw.translate(_ASCII_BYTES).decode("utf-8", "surrogatepass")
    if folded.isascii():
        return folded, not dropped
    return _NON_ASCII_RUN.sub(_fold_run, folded), False


_odd_pattern: tuple[int, re.Pattern[str] | None] = (0, None)


def _odd_characters() -> re.Pattern[str] | None:
    """A pattern for the characters in _ODD (recompiled when _ODD has grown), None if none."""
    global _odd_pattern
    if _odd_pattern[0] != len(_ODD):
        _odd_pattern = (len(_ODD), re.compile("[" + "".join(map(re.escape, sorted(_ODD))) + "]"))
    return _odd_pattern[1]


class NormalizedText:
    """A field's skeleton ``s`` (words separated by single spaces, one space each end).

    ``original(a, b)`` maps a span of ``s`` that starts and ends on word edges back to the
    span of the original text; the folded text it goes through is built on first use only,
    since most text has nothing worth pointing at.
    """

    __slots__ = (
        "text",
        "s",
        "_folded",
        "_one_to_one",
        "_shift_at",
        "_shift",
        "_odd",
        "_shift_total",
        "_anchor",
    )

    def __init__(
        self, text: str, s: str, folded: str | None = None, one_to_one: bool = False
    ) -> None:
        self.text = text
        self.s = s
        self._folded = folded  # fold(_demojibake(text)), if at hand
        self._one_to_one = one_to_one  # known: every piece of it is one character
        self._shift_at: list[int] | None = None

    def _build(self) -> None:
        source = _demojibake(self.text)
        # s and the folded text have the same words, only the spacing differs; padded like s.
        self._folded = " " + (self._folded if self._folded is not None else fold(source)) + " "
        # Characters whose piece is not one character long (…, €, 马) shift later positions;
        # they are few, so only their places are recorded: after folded position
        # _shift_at[k], folded positions run _shift[k] ahead of the original ones.
        self._shift_at: list[int] = []
        self._shift: list[int] = []
        self._shift_total = 0
        self._anchor = (0, 0)  # a word's space in s and in the folded text
        # Read only as far as a position asked for (see _extend): evidence is mostly near
        # the start of a long text, and Russian has a multi-letter piece every few letters.
        self._odd = None
        if not source.isascii() and not self._one_to_one:
            odd = _odd_characters()  # fold(source) has put all its characters in _FOLD
            if odd is not None:
                self._odd = odd.finditer(source)

    def _extend(self, f: int) -> None:
        """Record the odd characters up to the first one past folded position f."""
        shift_at, shifts, shift = self._shift_at, self._shift, self._shift_total
        while not shift_at or shift_at[-1] <= f:
            m = next(self._odd, None)
            if m is None:
                self._odd = None
                break
            piece = len(_FOLD[ord(m.group())])
            # The piece covers folded [start+shift, start+shift+piece): map it all to the char.
            shift_at.append(m.start() + shift)
            shifts.append(shift)
            shift += piece - 1
            shift_at.append(m.start() + shift + 1)
            shifts.append(shift)
        self._shift_total = shift

    def _unfold(self, p: int) -> int:
        """Position in s (inside a word) → position in the folded, uncollapsed text.

        The word is found by what it is rather than by counting all words before it: if it
        is the j-th occurrence of that word in s after the last word looked up (or the
        start), it is the j-th in the folded text after that word too. Evidence comes in
        text order, so a long text is read about once, not once per mention.
        """
        s, folded = self.s, self._folded
        start = s.rfind(" ", 0, p + 1)  # the space before the word
        key = s[start : s.index(" ", p) + 1]  # " word "
        pos, f = self._anchor if self._anchor[0] <= start else (0, 0)
        pos = s.find(key, pos)
        f = folded.find(key, f)
        while pos < start:  # earlier occurrences (they may share spaces)
            pos = s.find(key, pos + 1)
            f = folded.find(key, f + 1)
        self._anchor = (start, f)
        return f + (p - start) - 1  # -1: the folded text's padding

    def _original(self, f: int) -> int:
        """Position in the folded text → position in the original text."""
        if self._odd is not None:
            self._extend(f)
        k = bisect_right(self._shift_at, f) - 1
        if k < 0:
            return f
        if k % 2 == 0:  # inside a multi-character piece
            return self._shift_at[k] - self._shift[k]
        return f - self._shift[k]

    def original(self, a: int, b: int) -> tuple[int, int]:
        if self._shift_at is None:
            self._build()
        fa = self._unfold(a)
        # Within one word the folded text is the word itself: no second lookup.
        fb = fa + (b - 1 - a) if self.s.find(" ", a, b) < 0 else self._unfold(b - 1)
        if self._odd is None and not self._shift_at:
            return fa, fb + 1
        return self._original(fa), self._original(fb) + 1

    def word_index(self, p: int) -> int:
        """Index of the word at position ``p`` of s."""
        return self.s.count(" ", 0, p + 1) - 1


def normalize(text: str) -> NormalizedText:
    """Fold ``text`` to its padded Latin skeleton, keeping the way back to the offsets.

    >>> n = normalize("Elon Musk’s «Старлинк»")
    >>> n.s
    ' elon musk s STARLINK '
    >>> a = n.s.index("STARLINK"); n.original(a, a + 8)
    (13, 21)
    """
    folded, one_to_one = _fold(_demojibake(text))
    return NormalizedText(text, " " + " ".join(folded.split()) + " ", folded, one_to_one)


def skeleton(text: str) -> str:
    """The normalised form of an alias or term, without padding (``"Elon Musk's"`` → ``"elon musk s"``)."""
    return normalize(text).s.strip()


# --- the automaton's payloads ---------------------------------------------------------

ENTITY, TOPIC, NEGATIVE, MASK = range(4)  # NEGATIVE and up: what hides hits
# What may follow a key inside its word: a plural/possessive "s", any ending (terms written
# "word*"), or up to three upper-case letters of case ending (keys in other scripts).
_PLURAL, _ANY_ENDING, _CASE_ENDING = range(3)


@dataclass(frozen=True, slots=True)
class _Entry:
    """One thing the automaton finds at a key."""

    role: int  # ENTITY, TOPIC, NEGATIVE or MASK
    ref: str  # entity/topic id (for NEGATIVE, MASK: the entity it hides)
    alias: str = ""  # as written in the watchlist
    kind: str = "exact"  # what a hit at this key is: exact or transliterated
    prefix: bool = False  # term written "word*": any word ending
    multiword: bool = False
    inflected: bool = False  # other script: up to three letters of case ending may follow
    capital: bool = False  # a person's name in a script with case: a lower-case word is no name


@dataclass(frozen=True, slots=True)
class _FuzzyTarget:
    ref: str
    alias: str
    compact: str  # skeleton without spaces
    person: bool
    multiword: bool


class _Probe:
    """A fuzzy probe at an automaton key: what its candidates must look like (lengths, first
    letters, last two letters: see ``_similar``) and what its targets could make of a match
    (the marks of their refs, see ``Matcher._marks``)."""

    __slots__ = ("key", "suffix", "lo", "hi", "firsts", "ends", "refs", "mark")

    def __init__(self, key: str, targets: list[_FuzzyTarget]) -> None:
        self.key = key  # "vlad" (prefix) or "\0imir" (suffix)
        self.suffix = key.startswith("\0")
        self.lo = min(len(t.compact) - max(3, len(t.compact) // 3) for t in targets)
        self.hi = max(len(t.compact) + max(3, len(t.compact) // 3) for t in targets)
        self.firsts = frozenset(t.compact[0] for t in targets)
        self.ends = frozenset(t.compact[-2:] for t in targets)
        self.refs = frozenset(t.ref for t in targets)
        self.mark = 0


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
        pattern_hits: list[_Hit],
    ) -> None:
        self.field = field
        self.norm = norm
        self.raw = raw  # (pattern, start, end) from the automaton
        self.pattern_hits = pattern_hits  # of topic patterns (regular expressions)
        # looked_at → (exact hits, negative contexts, fired probes), see Matcher._expand
        self.expanded: dict[
            int,
            tuple[list[_Hit], list[tuple[str, int, int, int, int, bool]], list[tuple[_Probe, int]]],
        ] = {}


@dataclass(slots=True)
class _Hit:
    ref: str
    alias: str
    field: str
    a: int  # span in the skeleton s
    b: int
    kind: str
    similarity: float
    multiword: bool
    norm: NormalizedText
    wa: int = -1  # word positions of the first and last word, counted through
    wb: int = -1  # title, summary and body (within the field until _hits shifts them)
    found: Evidence | None = None  # once worked out (a hit may explain several storylines)

    def evidence(self) -> Evidence:
        if self.found is None:
            start, end = self.norm.original(self.a, self.b)
            self.found = Evidence(
                self.ref,
                self.alias,
                self.field,
                start,
                end,
                self.norm.text[start:end],
                self.kind,
                round(self.similarity, 1),
            )
        return self.found


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
        self._build()

    @classmethod
    def from_dir(cls, path: Path | str, **tunables) -> Matcher:
        """A matcher for the watchlists in ``path`` (raises ConfigError if they are invalid)."""
        return cls(load_watchlists(path), **tunables)

    # Beam pickles DoFns holding a matcher: ship the watchlists, rebuild the automaton.
    def __getstate__(self) -> dict:
        return {"watchlists": self.watchlists, "tunables": self._tunables()}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["watchlists"], **state["tunables"])

    def _tunables(self) -> dict:
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

    # --- building ---------------------------------------------------------------------

    def _build(self) -> None:
        self._compile_rules()
        self._build_automaton()

    def _build_automaton(self) -> None:
        """One automaton for every alias, term, negative context and fuzzy probe."""
        keys: dict[str, list[_Entry]] = {}

        def add(key: str, entry: _Entry) -> None:
            if not key.strip():
                return
            entries = keys.setdefault(" " + key, [])
            if entry not in entries:
                entries.append(entry)

        self._targets: dict[str, list[_FuzzyTarget]] = {}
        # (probe, words) → verdicts; words repeat across articles, rapidfuzz runs once per pair.
        self._fuzzy_cache: dict[tuple[str, str], tuple[tuple[_FuzzyTarget, float], ...]] = {}

        def add_forms(
            key: str,
            role: int,
            ref: str,
            alias: str,
            *,
            listed_kind: str = "exact",
            prefix: bool = False,
            person: bool = False,
        ) -> None:
            """A Latin key also meets other scripts (upper-case skeleton), as a transliteration."""
            multiword = " " in key
            other_script = key != key.lower()
            add(
                key,
                _Entry(
                    role,
                    ref,
                    alias,
                    "transliterated" if other_script else listed_kind,
                    prefix,
                    multiword,
                    inflected=other_script and key[-1].isupper(),
                    capital=person and other_script,
                ),
            )
            if not other_script and key.upper() != key:
                add(
                    key.upper(),
                    _Entry(
                        role,
                        ref,
                        alias,
                        "transliterated" if role == ENTITY else "exact",
                        prefix,
                        multiword,
                        inflected=True,
                        capital=person,
                    ),
                )
            elif other_script:
                # Slavic declension replaces one or two final vowels: Україна → Україні,
                # Россия → России, Зеленський → Зеленського.
                word = alias.rstrip()
                for _ in range(2):
                    if word[-1:].lower() not in _CYRILLIC_VOWELS:
                        break
                    word = word[:-1]
                    stem = skeleton(word)
                    if len(stem.rsplit(" ", 1)[-1]) >= 4:
                        add(
                            stem,
                            _Entry(
                                role,
                                ref,
                                alias,
                                "transliterated" if role == ENTITY else "exact",
                                prefix,
                                multiword,
                                inflected=True,
                                capital=person,
                            ),
                        )

        for entity in self.watchlists.entities:
            for alias, translit in self._names(entity):
                key = skeleton(alias)
                add_forms(
                    key,
                    ENTITY,
                    entity.id,
                    alias,
                    listed_kind="transliterated" if translit else "exact",
                    person=entity.kind == "person",
                )
                compact = key.replace(" ", "")
                if (
                    self.fuzzy
                    and entity.fuzzy
                    and compact.islower()
                    and compact.isascii()
                    and len(compact) >= self.fuzzy_min_length
                    and _name_like(alias)
                ):
                    target = _FuzzyTarget(
                        entity.id, alias, compact, entity.kind == "person", " " in key
                    )
                    # "star" starts too many words to probe for Starlink; "starl" does not.
                    prefix = next(
                        (
                            compact[:n]
                            for n in PROBE_LENGTHS
                            if n < len(compact) and compact[:n] not in COMMON_PREFIXES
                        ),
                        None,
                    )
                    suffix = next(
                        (
                            compact[-n:]
                            for n in PROBE_LENGTHS
                            if n < len(compact) and compact[-n:] not in COMMON_SUFFIXES
                        ),
                        None,
                    )
                    if prefix:
                        self._targets.setdefault(prefix, []).append(target)
                    if suffix:
                        self._targets.setdefault("\0" + suffix, []).append(target)
            for phrase in entity.negative_contexts:
                add_forms(skeleton(phrase), NEGATIVE, entity.id, phrase)
            for phrase in entity.masks:
                add_forms(skeleton(phrase), MASK, entity.id, phrase)
        for topic in self.watchlists.topics:
            for term in topic.terms:
                add_forms(
                    skeleton(term.rstrip("*")), TOPIC, topic.id, term, prefix=term.endswith("*")
                )
        self._patterns = [
            (topic.id, pattern, re.compile(pattern, re.IGNORECASE))
            for topic in self.watchlists.topics
            for pattern in topic.patterns
        ]

        # A prefix probe sits at a word start (" vlad"), a suffix probe at a word end ("imir ").
        probes = {
            (probe_key[1:] + " " if probe_key.startswith("\0") else " " + probe_key): _Probe(
                probe_key, targets
            )
            for probe_key, targets in self._targets.items()
        }
        self._probes = list(probes.values())
        marks = self._marks
        for probe in self._probes:
            for ref in probe.refs:
                probe.mark |= marks.get(ref, 0)
        # Pattern i of the automaton (key _keys[i]) has payload _payloads[i]: spaces inside the
        # key, what a hit means (as tuples, unpacked in _expand) and the probe sitting at this
        # key if any; _key_marks[i]: the marks of the refs a hit here may be (or rescue, for a
        # probe); _relevance[i]: those and the marks of the entities it may veto or mask.
        self._keys = [*keys, *(k for k in probes if k not in keys)]
        self._payloads: list[tuple[int, tuple, _Probe | None]] = []
        self._key_marks: list[int] = []
        self._relevance: list[int] = []
        for key in self._keys:
            entries = tuple(
                (
                    e.role,
                    e.ref,
                    e.alias,
                    e.kind,
                    e.multiword,
                    _ANY_ENDING if e.prefix else _CASE_ENDING if e.inflected else _PLURAL,
                    e.capital,
                )
                for e in keys.get(key, ())
            )
            probe = probes.get(key)
            self._payloads.append((key.count(" ") - 1, entries, probe))
            self._key_marks.append(
                reduce(
                    or_,
                    (marks.get(e.ref, 0) for e in keys.get(key, ()) if e.role < NEGATIVE),
                    probe.mark if probe else 0,
                )
            )
            # A negative context concerns its entity's rules too.
            self._relevance.append(
                reduce(
                    or_,
                    (marks.get(e.ref, 0) for e in keys.get(key, ())),
                    probe.mark if probe else 0,
                )
            )
        # ahocorasick_rs (Rust's aho-corasick) scans about twice as fast as pyahocorasick and
        # hands back all hits at once, as (pattern, start, end) in characters and end order.
        # A DFA scans another ~25% faster but takes ~1.4 KB per key (16 MB for the 1,000-entity
        # benchmark list, 11,500 keys): beyond dfa_max_keys the library's compact NFA is used.
        implementation = (
            ahocorasick_rs.Implementation.DFA if len(self._keys) <= self.dfa_max_keys else None
        )
        self._automaton = (
            ahocorasick_rs.AhoCorasick(self._keys, implementation=implementation)
            if self._keys
            else None
        )
        self._exact_keys = frozenset(k.strip() for k in keys if k.islower())
        self._entity_ids = frozenset(e.id for e in self.watchlists.entities)

    def _compile_rules(self) -> None:
        """Storylines in id order, each with its rules; and which found refs wake which rules."""
        self._rules: list[tuple[Storyline, list[_CompiledRule]]] = []
        for storyline in sorted(self.watchlists.storylines, key=lambda s: s.id):
            compiled = []
            for _, rule in storyline.rules():
                groups = [frozenset(g) for g in rule.all_of]
                if rule.any_of:
                    groups.append(frozenset(rule.any_of))
                compiled.append(
                    _CompiledRule(
                        storyline, tuple(groups), frozenset(rule.none_of), rule.within_words
                    )
                )
            self._rules.append((storyline, compiled))
        # Every rule in one list, in storyline order. Rule i owns the bits i*K ... i*K+K-1
        # (K: the most groups in a rule, plus one): bit i*K+j for its group j, the last one
        # for its none_of. A found ref sets the bits of the groups it is in (its mark): a rule
        # can hold only when all its group bits are set, which is checked for every rule at
        # once with K-1 shifts and "and"s of one integer (see _complete).
        self._flat: list[tuple[int, _CompiledRule, int]] = []
        stride = 1 + max(
            (len(rule.groups) for _, compiled in self._rules for rule in compiled), default=0
        )
        marks: dict[str, int] = {}
        firsts = filler = 0
        for index, (_, compiled) in enumerate(self._rules):
            for rule in compiled:
                base = len(self._flat) * stride
                for j, group in enumerate(rule.groups):
                    for ref in group:
                        marks[ref] = marks.get(ref, 0) | 1 << base + j
                for ref in rule.none_of:
                    marks[ref] = marks.get(ref, 0) | 1 << base + stride - 1
                firsts |= 1 << base
                filler |= sum(
                    1 << base + j for j in range(len(rule.groups), stride - 1)
                )  # groups it lacks
                # (storyline index, rule, the bits of every ref it looks at)
                self._flat.append((index, rule, ((1 << stride) - 1) << base))
        self._marks = marks
        self._stride, self._firsts, self._filler = stride, firsts, filler

    def _complete(self, marks: int) -> int:
        """The rules (bit i*K for rule i) whose every group has a ref with its bit in ``marks``."""
        marks |= self._filler
        complete = self._firsts & marks
        for j in range(1, self._stride - 1):
            if not complete:
                break
            complete &= marks >> j
        return complete

    def _rules_in(self, complete: int) -> list[tuple[int, _CompiledRule, int]]:
        """The rules of ``_complete``, in order."""
        flat, stride, out = self._flat, self._stride, []
        while complete:
            low = complete & -complete
            out.append(flat[(low.bit_length() - 1) // stride])
            complete ^= low
        return out

    @staticmethod
    def _names(entity: Entity) -> list[tuple[str, bool]]:
        names = [(entity.name, False)] + [(a, False) for a in entity.aliases]
        return names + [(t, True) for t in entity.transliterations]

    # --- finding ----------------------------------------------------------------------

    def _read(self, article: Article) -> tuple[list[tuple], int]:
        """``_read_texts`` of the article's fields."""
        return self._read_texts([(field, getattr(article, field, "")) for field in self.fields])

    def _read_texts(self, texts: Iterable[tuple[str, str]]) -> tuple[list[tuple], int]:
        """Normalise every (field, text) and run the automaton over each once, keeping the
        raw hits (as the arguments of a ``_Field``); and the marks of all of them. What the
        hits mean is worked out by ``_expand``, only where a rule could hold."""
        reads = []
        keys: set[int] = set()
        find = self._automaton.find_matches_as_indexes if self._automaton else None
        patterns = self._patterns
        for field, text in texts:
            if text:
                norm = normalize(text)
                raw = find(norm.s, True) if find else []  # True: overlapping hits too
                keys.update(map(_FIRST, raw))
                reads.append(
                    (field, norm, raw, self._pattern_hits(norm, field) if patterns else [])
                )
        # The marks of every key hit, or-ed in C: most articles stop at this.
        marks = reduce(or_, map(self._key_marks.__getitem__, keys), 0)
        if patterns:
            marks = reduce(
                or_, (self._marks.get(h.ref, 0) for read in reads for h in read[3]), marks
            )
        return reads, marks

    def _pattern_hits(self, norm: NormalizedText, field: str) -> list[_Hit]:
        """Hits of the topics' regular expressions in one field."""
        s = norm.s
        hits = []
        for ref, pattern, compiled in self._patterns:
            for m in compiled.finditer(s):
                a, b = m.span()
                while a < b and s[a] == " ":
                    a += 1
                while b > a and s[b - 1] == " ":
                    b -= 1
                if a < b:
                    hits.append(
                        _Hit(
                            ref,
                            pattern,
                            field,
                            a,
                            b,
                            "exact",
                            100.0,
                            True,
                            norm,
                            norm.word_index(a),
                            norm.word_index(b - 1),
                        )
                    )
        return hits

    def _expand(
        self, read: _Field, looked_at: int = -1
    ) -> tuple[list[_Hit], list[tuple[str, int, int, int, int, bool]], list[tuple[_Probe, int]]]:
        """A field's raw hits as exact hits (with word positions), negative contexts and
        fired probes, keeping only those that may concern a ref with one of the
        ``looked_at`` bits (all by default); computed once per ``looked_at``."""
        done = read.expanded.get(looked_at)
        if done is not None:
            return done
        s, norm, field, payloads = read.norm.s, read.norm, read.field, self._payloads
        raw = read.raw
        if looked_at != -1:
            relevant = self._relevance
            raw = [r for r in raw if relevant[r[0]] & looked_at]
        hits: list[_Hit] = []
        negatives: list[tuple[str, int, int, int, int, bool]] = []
        fired: list[tuple[_Probe, int]] = []
        spaces = counted = 0  # spaces in s[:counted], for word indices
        for index, start, end in raw:  # s[start] is the key's leading space; s[end] follows the key
            inner_spaces, entries, probe = payloads[index]
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
                elif ending == _PLURAL:  # musks, spacexs
                    if after != "s" or s[end + 1] != " ":
                        continue
                    stop = end + 1
                elif ending == _ANY_ENDING:  # a term written "negotiat*"
                    stop = s.index(" ", end)
                else:  # _CASE_ENDING: Путина, Кремля
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
                    hits.append(
                        _Hit(
                            ref,
                            alias,
                            field,
                            start,
                            stop,
                            kind,
                            100.0,
                            multiword,
                            norm,
                            spaces - 1 - inner_spaces,
                            spaces - 1,
                        )
                    )
        done = read.expanded[looked_at] = (hits + read.pattern_hits, negatives, fired)
        return done

    def _settle(self, read: _Field, looked_at: int = -1) -> list[_Hit]:
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
            hits = _drop_contained(hits)
        return hits

    def _rescue(self, read: _Field, fired: list[tuple[_Probe, int]]) -> list[_Hit]:
        """Fuzzy hits for misspelt aliases at the words where probes fired.

        A probe's candidates are its word alone and with the neighbour on its open side
        ("Stellar Link", "Vladmir Putin"). Before any string is cut, a candidate must have
        a length, a first letter and last two letters that one of the probe's targets
        accepts (see ``_similar``); verdicts are cached per (probe, candidate).
        """
        norm, field = read.norm, read.field
        s = norm.s
        found: dict[tuple[str, int, int], _Hit] = {}
        cache = self._fuzzy_cache
        exact: list[_Hit] | None = None  # every exact hit, of any ref: fetched when first needed
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
                        h.a < b
                        and a < h.b
                        and (
                            h.ref != target.ref
                            and h.ref in self._entity_ids
                            or h.ref == target.ref
                            and (not target.multiword or h.a <= a and b <= h.b)
                        )
                        for h in exact
                    ):
                        continue
                    found[(target.ref, a, b)] = _Hit(
                        target.ref,
                        target.alias,
                        field,
                        a,
                        b,
                        "fuzzy",
                        similarity,
                        True,
                        norm,
                        norm.word_index(a),
                        norm.word_index(b - 1),
                    )
        return list(found.values())

    def _verify(self, probe_key: str, candidate: str) -> tuple[tuple[_FuzzyTarget, float], ...]:
        """The fuzzy targets behind a probe that ``candidate`` (a word or two) may misspell."""
        if " " in candidate and min(map(len, candidate.split())) < 3:
            return ()  # "s starlink": a possessive's leftover is not part of a misspelling
        compact = candidate.replace(" ", "")
        if compact in self._exact_keys or candidate in self._exact_keys:
            return ()
        out = []
        for target in self._targets[probe_key]:
            similarity = self._similar(compact, target)
            if similarity is not None:
                out.append((target, similarity))
        return tuple(out)

    def _similar(self, compact: str, target: _FuzzyTarget) -> float | None:
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

    def _veto(
        self, hits: list[_Hit], negatives: list[tuple[str, int, int, int, int, bool]]
    ) -> list[_Hit]:
        """Drop hits vetoed by a negative context of their entity or hidden by one of its
        masks (see the module docstring)."""
        by_ref: dict[str, list[tuple[int, int, int, int, int]]] = {}
        window = self.negative_window_words
        for ref, a, b, wa, wb, negative in negatives:
            by_ref.setdefault(ref, []).append((a, b, wa, wb, window if negative else -1))
        kept = []
        for hit in hits:
            near = by_ref.get(hit.ref)
            if near is None or not any(
                hit.a < b
                and a < hit.b  # overlaps: "musk deer", "Kyiv Independent"
                or not hit.multiword
                and (wa - hit.wb if wa > hit.wb else hit.wa - wb) <= reach
                for a, b, wa, wb, reach in near
            ):
                kept.append(hit)
        return kept

    def _hits(
        self, article: Article | None, reads: list[tuple] | None = None, looked_at: int = -1
    ) -> list[_Hit]:
        """Hits of every field; word positions count through the fields in order.

        Only probes that may name a ref with one of the ``looked_at`` bits are followed up
        (all by default; see ``match``).
        """
        if reads is None:
            reads = self._read(article)[0]
        hits: list[_Hit] = []
        offset = 0
        for read in reads:
            read = _Field(*read)
            found = self._settle(read, looked_at)
            if found:
                if offset:
                    for hit in found:
                        hit.wa += offset
                        hit.wb += offset
                hits += found
            offset += read.norm.s.count(" ")  # its words, and one for the field break
        return hits

    def find(self, article: Article) -> list[Evidence]:
        """Every entity and topic mention in the article, in field and text order."""
        return _evidence(self._hits(article))

    def find_text(self, text: str, field: str = "title") -> list[Evidence]:
        """``find`` for a bare string (as if it were the given field)."""
        return _evidence(self._hits(None, self._read_texts([(field, text)])[0]))

    # --- deciding ---------------------------------------------------------------------

    def match(self, article: Article) -> list[Match]:
        """One Match per storyline whose rule holds and whose score reaches its threshold."""
        reads, marks = self._read(article)
        looked_at = self._possible(marks)
        if not looked_at:
            return []
        # Fuzzy hits of other refs could decide nothing: their probes are left alone.
        hits = self._hits(article, reads, looked_at)
        if not hits:
            return []
        return self._matches(article, hits)

    def _possible(self, marks: int) -> int:
        """The bits of every ref looked at (groups and none_of) by a rule that could hold if
        the targets of all fired probes were found as well as the exact hits (vetoes
        aside): a superset of the rules that will hold, so hits of refs without these bits
        cannot change a decision."""
        complete = self._complete(marks) if marks else 0
        if not complete:
            return 0
        return reduce(or_, map(itemgetter(2), self._rules_in(complete)), 0)

    def _matches(self, article: Article, hits: list[_Hit]) -> list[Match]:
        """``match`` once the hits are found."""
        by_ref: dict[str, list[_Hit]] = {}
        for hit in hits:
            by_ref.setdefault(hit.ref, []).append(hit)
        marks = self._marks
        # Rules with a group that found nothing cannot hold; the rest are decided in full.
        ready = self._rules_in(
            self._complete(reduce(or_, (marks.get(ref, 0) for ref in by_ref), 0))
        )
        matches = []
        weights: dict[str, float] = {}  # ref → its best hit's weight, as needed

        def best_weight(ref: str) -> float:
            weight = weights.get(ref)
            if weight is None:
                weight = weights[ref] = max(map(self._weight, by_ref[ref]))
            return weight

        for index, rules in groupby(ready, key=itemgetter(0)):
            # The best-scoring rule that holds explains the match.
            results = [
                r
                for r in (self._decide(rule, by_ref, best_weight) for _, rule, _ in rules)
                if r is not None
            ]
            if results:
                score, used = max(results, key=lambda r: r[0])
                matches.append(Match(article, self._rules[index][0].id, score, _evidence(used)))
        return matches

    def _weight(self, hit: _Hit) -> float:
        kind = (
            FUZZY_WEIGHT * hit.similarity / 100 if hit.kind == "fuzzy" else KIND_WEIGHTS[hit.kind]
        )
        return kind * self.field_weights.get(hit.field, 0.8)

    def _decide(
        self, rule: _CompiledRule, by_ref: dict[str, list[_Hit]], best_weight
    ) -> tuple[float, list[_Hit]] | None:
        """Score and evidence if the rule holds (``match`` has checked that every group found
        something); ``best_weight(ref)`` is the weight of the ref's best hit."""
        if rule.none_of and not by_ref.keys().isdisjoint(rule.none_of):
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
            group_hits = self._near(group_hits, rule.within_words)
            if group_hits is None:
                return None
            best = [max(map(self._weight, found)) for found in group_hits]
            near: dict[str, dict[int, _Hit]] = {}
            for found in group_hits:
                for hit in found:
                    near.setdefault(hit.ref, {})[id(hit)] = hit
            candidates = {ref: list(hits.values()) for ref, hits in near.items()}
        score = round(sum(best) / len(best), 4) if best else 0.0
        if score < rule.storyline.threshold:
            return None
        # The evidence: each ref's first few mentions (a long text may name Starlink 30 times).
        used: list[_Hit] = []
        for hits in candidates.values():
            used += sorted(hits, key=_POSITION)[: self.max_evidence_per_ref]
        used.sort(key=_POSITION)
        return score, used

    @staticmethod
    def _near(group_hits: list[list[_Hit]], within: int) -> list[list[_Hit]] | None:
        """Keep the hits that lie, one per group, within ``within`` words (through the fields).

        A window is ``[x, x + within]`` words from the start ``x`` of any hit; it is complete
        when every group has a hit inside it. A hit is kept when some complete window holds
        it. O(n log n) in the number of hits: a hostile 1 MB title naming Musk and Putin
        50,000 times takes a moment, not hours.
        """
        tables = []
        for found in group_hits:
            ordered = sorted(found, key=_START)
            # From the i-th hit in start order on, the earliest end: a window starting at x
            # holds a hit of this group iff that minimum, from the first start >= x, fits.
            ends = list(accumulate(reversed([h.wb for h in ordered]), min))
            ends.reverse()
            tables.append(([h.wa for h in ordered], ends))
        complete = []
        for x in sorted({h.wa for found in group_hits for h in found}):
            for starts, ends in tables:
                i = bisect_left(starts, x)
                if i == len(starts) or ends[i] > x + within:
                    break
            else:
                complete.append(x)
        if not complete:
            return None
        # Kept: the latest complete window starting at or before the hit reaches its end.
        return [
            [
                h
                for h in found
                if (j := bisect_right(complete, h.wa)) and complete[j - 1] >= h.wb - within
            ]
            for found in group_hits
        ]


_POSITION = attrgetter("wa", "a")
_FIRST = itemgetter(0)
_START = attrgetter("wa")
_CYRILLIC_VOWELS = frozenset("аеёиоуыэюяіїєй")
_ROLE_WORDS = frozenset(
    """president leader chief head minister ministry department agency administrator
    administration spokesman spokesperson secretary director governor commission committee office""".split()
)


def _name_like(alias: str) -> bool:
    """A name ("Vladimir Putin", "SpaceX"), not a description ("Department of Defense",
    "Russian leader"): only names are worth rescuing from misspellings.

    >>> [_name_like(a) for a in ("Vladimir Putin", "starlink", "Department of Defense", "Russian President")]
    [True, True, False, False]
    """
    words = alias.split()
    if len(words) == 1:
        return True
    return all(w[:1].isupper() or not w[:1].isalpha() for w in words) and not any(
        w.lower() in _ROLE_WORDS for w in words
    )


def _drop_contained(hits: list[_Hit]) -> list[_Hit]:
    """Drop a hit inside a longer exact hit of the same ref ("Musk" inside "Elon Musk")."""
    outer: dict[str, list[_Hit]] = {}
    for hit in hits:
        if hit.multiword and hit.kind != "fuzzy":
            outer.setdefault(hit.ref, []).append(hit)
    if not outer:
        return hits
    return [
        h
        for h in hits
        if h.ref not in outer
        or not any(
            g is not h and g.a <= h.a and h.b <= g.b and (g.b - g.a) > (h.b - h.a)
            for g in outer[h.ref]
        )
    ]


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
