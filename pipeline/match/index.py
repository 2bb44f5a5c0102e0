"""The matcher's index: one Aho-Corasick automaton over every key, and the rules as bit masks.

Built once per watchlist by ``MatchIndex(watchlists, ...)``; read-only afterwards.

- **Keys.** Every alias, transliteration, topic term, negative context, mask and fuzzy
  probe, by its skeleton (``pipeline.match.folding``) with a leading space, so a hit
  always starts on a word boundary. Pattern ``i`` (key ``keys[i]``) has ``payloads[i]``:
  the spaces inside the key, what a hit there means (``EntryTuple``s) and the probe at the
  key, if any.
- **Script guard.** A Latin key is also keyed in upper case, so ``Putin`` meets Путин (a
  *transliterated* hit); a key written in another script has only its upper-case form,
  so Маск (MASK) never matches the English word "mask". Keys in other scripts may take up
  to three letters of case ending, also in place of one or two final Cyrillic vowels
  (Україна → Україні); a person's name in a script with case must be capitalised.
- **Probes.** A name-like alias (one word, or every word capitalised and no role word)
  of at least ``fuzzy_min_length`` letters gets a prefix and a suffix probe: its first
  and last four letters, or five or six where four are a common word beginning or ending
  (``pipeline.match.common_affixes``).
- **Rule masks.** Rule ``i`` (in storyline id order) owns bits ``i*K ... i*K+K-1``
  (``K = stride``: the most groups in a rule, plus one): bit ``i*K+j`` for its group
  ``j``, the last for its ``none_of`` and ``none_of_in_lede``. ``marks[ref]`` has the
  bits of every group the ref is in; ``complete(marks)`` gives, in one integer, every
  rule whose groups all have a marked ref. ``key_marks[i]`` are the marks a hit at key
  ``i`` may set (or rescue, for a probe); ``relevance[i]`` adds those of the entities it
  may veto or mask.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import reduce
from operator import or_

import ahocorasick_rs

from pipeline.config.watchlists import Entity, Storyline, Watchlists
from pipeline.match.common_affixes import COMMON_PREFIXES, COMMON_SUFFIXES
from pipeline.match.folding import skeleton

PROBE_LENGTHS = (4, 5, 6)  # the shortest that is not a common affix is the probe

ENTITY, TOPIC, NEGATIVE, MASK = range(4)  # NEGATIVE and up: what hides hits
# What may follow a key inside its word: a plural/possessive "s", any ending (terms written
# "word*"), or up to three upper-case letters of case ending (keys in other scripts).
PLURAL, ANY_ENDING, CASE_ENDING = range(3)

_CYRILLIC_VOWELS = frozenset("аеёиоуыэюяіїєй")
_ROLE_WORDS = frozenset(
    """president leader chief head minister ministry department agency administrator
    administration spokesman spokesperson secretary director governor commission committee office""".split()
)

# (role, ref, alias, kind, multiword, ending, capital): an Entry as the hot loop unpacks it.
EntryTuple = tuple[int, str, str, str, bool, int, bool]


@dataclass(frozen=True, slots=True)
class Entry:
    """One thing the automaton finds at a key."""

    role: int  # ENTITY, TOPIC, NEGATIVE or MASK
    ref: str  # entity/topic id (for NEGATIVE, MASK: the entity it hides)
    alias: str = ""  # as written in the watchlist
    kind: str = "exact"  # what a hit at this key is: exact or transliterated
    prefix: bool = False  # term written "word*": any word ending
    multiword: bool = False
    inflected: bool = False  # other script: up to three letters of case ending may follow
    capital: bool = False  # a person's name in a script with case: a lower-case word is no name

    def as_tuple(self) -> EntryTuple:
        ending = ANY_ENDING if self.prefix else CASE_ENDING if self.inflected else PLURAL
        return (
            self.role,
            self.ref,
            self.alias,
            self.kind,
            self.multiword,
            ending,
            self.capital,
        )


@dataclass(frozen=True, slots=True)
class FuzzyTarget:
    """A name a probe may rescue from a misspelling."""

    ref: str
    alias: str
    compact: str  # skeleton without spaces
    person: bool
    multiword: bool


class Probe:
    """A fuzzy probe at an automaton key: what its candidates must look like (lengths, first
    letters, last two letters: see ``Matcher._similar``) and what its targets could make of
    a match (the marks of their refs)."""

    __slots__ = ("key", "suffix", "lo", "hi", "firsts", "ends", "refs", "mark")

    def __init__(self, key: str, targets: list[FuzzyTarget]) -> None:
        self.key = key  # "vlad" (prefix) or "\0imir" (suffix)
        self.suffix = key.startswith("\0")
        self.lo = min(len(t.compact) - max(3, len(t.compact) // 3) for t in targets)
        self.hi = max(len(t.compact) + max(3, len(t.compact) // 3) for t in targets)
        self.firsts = frozenset(t.compact[0] for t in targets)
        self.ends = frozenset(t.compact[-2:] for t in targets)
        self.refs = frozenset(t.ref for t in targets)
        self.mark = 0


@dataclass(frozen=True, slots=True)
class CompiledRule:
    storyline: Storyline
    groups: tuple[frozenset[str], ...]
    none_of: frozenset[str]
    within_words: int | None
    none_of_in_lede: frozenset[str] = frozenset()


# (storyline index, rule, the bits of every ref it looks at)
FlatRule = tuple[int, CompiledRule, int]
# (spaces inside the key, what a hit means, the probe at the key)
Payload = tuple[int, tuple[EntryTuple, ...], Probe | None]


class MatchIndex:
    """The compiled rules and the automaton for one set of watchlists."""

    def __init__(
        self,
        watchlists: Watchlists,
        *,
        fuzzy: bool,
        fuzzy_min_length: int,
        dfa_max_keys: int,
    ) -> None:
        self.watchlists = watchlists
        self._compile_rules()
        self._build_automaton(
            fuzzy=fuzzy, fuzzy_min_length=fuzzy_min_length, dfa_max_keys=dfa_max_keys
        )

    # --- rules ------------------------------------------------------------------------

    def _compile_rules(self) -> None:
        """Storylines in id order, each with its rules; and which found refs wake which rules."""
        self.rules: list[tuple[Storyline, list[CompiledRule]]] = []
        for storyline in sorted(self.watchlists.storylines, key=lambda s: s.id):
            compiled = []
            for _, rule in storyline.rules():
                groups = [frozenset(g) for g in rule.all_of]
                if rule.any_of:
                    groups.append(frozenset(rule.any_of))
                compiled.append(
                    CompiledRule(
                        storyline,
                        tuple(groups),
                        frozenset(rule.none_of),
                        rule.within_words,
                        frozenset(rule.none_of_in_lede),
                    )
                )
            self.rules.append((storyline, compiled))
        # Every rule in one list, in storyline order, owning its bits (see the docstring);
        # a rule can hold only when all its group bits are set, which is checked for every
        # rule at once with K-1 shifts and "and"s of one integer (see complete).
        self.flat: list[FlatRule] = []
        stride = 1 + max(
            (len(rule.groups) for _, compiled in self.rules for rule in compiled), default=0
        )
        marks: dict[str, int] = {}
        firsts = filler = 0
        for index, (_, compiled) in enumerate(self.rules):
            for compiled_rule in compiled:
                base = len(self.flat) * stride
                for j, group in enumerate(compiled_rule.groups):
                    for ref in group:
                        marks[ref] = marks.get(ref, 0) | 1 << base + j
                for ref in compiled_rule.none_of | compiled_rule.none_of_in_lede:
                    marks[ref] = marks.get(ref, 0) | 1 << base + stride - 1
                firsts |= 1 << base
                filler |= sum(
                    1 << base + j for j in range(len(compiled_rule.groups), stride - 1)
                )  # groups it lacks
                self.flat.append((index, compiled_rule, ((1 << stride) - 1) << base))
        self.marks = marks
        self.stride, self.firsts, self.filler = stride, firsts, filler

    def complete(self, marks: int) -> int:
        """The rules (bit i*K for rule i) whose every group has a ref with its bit in ``marks``."""
        marks |= self.filler
        complete = self.firsts & marks
        for j in range(1, self.stride - 1):
            if not complete:
                break
            complete &= marks >> j
        return complete

    def rules_in(self, complete: int) -> list[FlatRule]:
        """The rules of ``complete``, in order."""
        flat, stride, out = self.flat, self.stride, []
        while complete:
            low = complete & -complete
            out.append(flat[(low.bit_length() - 1) // stride])
            complete ^= low
        return out

    # --- the automaton ----------------------------------------------------------------

    def _build_automaton(self, *, fuzzy: bool, fuzzy_min_length: int, dfa_max_keys: int) -> None:
        """One automaton for every alias, term, negative context and fuzzy probe."""
        keys: dict[str, list[Entry]] = {}
        self.targets: dict[str, list[FuzzyTarget]] = {}
        for entity in self.watchlists.entities:
            for alias, translit in _names(entity):
                key = skeleton(alias)
                _add_forms(
                    keys,
                    key,
                    ENTITY,
                    entity.id,
                    alias,
                    listed_kind="transliterated" if translit else "exact",
                    person=entity.kind == "person",
                )
                compact = key.replace(" ", "")
                if (
                    fuzzy
                    and entity.fuzzy
                    and compact.islower()
                    and compact.isascii()
                    and len(compact) >= fuzzy_min_length
                    and _name_like(alias)
                ):
                    self._add_probes(
                        compact,
                        FuzzyTarget(entity.id, alias, compact, entity.kind == "person", " " in key),
                    )
            for phrase in entity.negative_contexts:
                _add_forms(keys, skeleton(phrase), NEGATIVE, entity.id, phrase)
            for phrase in entity.masks:
                _add_forms(keys, skeleton(phrase), MASK, entity.id, phrase)
        for topic in self.watchlists.topics:
            for term in topic.terms:
                _add_forms(
                    keys,
                    skeleton(term.rstrip("*")),
                    TOPIC,
                    topic.id,
                    term,
                    prefix=term.endswith("*"),
                )
        self.patterns = [
            (topic.id, pattern, re.compile(pattern, re.IGNORECASE))
            for topic in self.watchlists.topics
            for pattern in topic.patterns
        ]

        # A prefix probe sits at a word start (" vlad"), a suffix probe at a word end ("imir ").
        probes = {
            (probe_key[1:] + " " if probe_key.startswith("\0") else " " + probe_key): Probe(
                probe_key, targets
            )
            for probe_key, targets in self.targets.items()
        }
        self.probes = list(probes.values())
        marks = self.marks
        for probe in self.probes:
            for ref in probe.refs:
                probe.mark |= marks.get(ref, 0)
        self.keys = [*keys, *(k for k in probes if k not in keys)]
        self.payloads: list[Payload] = []
        self.key_marks: list[int] = []
        self.relevance: list[int] = []
        for key in self.keys:
            entries = keys.get(key, [])
            key_probe = probes.get(key)
            probe_mark = key_probe.mark if key_probe else 0
            payload = (key.count(" ") - 1, tuple(e.as_tuple() for e in entries), key_probe)
            self.payloads.append(payload)
            self.key_marks.append(
                reduce(or_, (marks.get(e.ref, 0) for e in entries if e.role < NEGATIVE), probe_mark)
            )
            # A negative context concerns its entity's rules too.
            self.relevance.append(reduce(or_, (marks.get(e.ref, 0) for e in entries), probe_mark))
        # ahocorasick_rs hands back all hits at once, as (pattern, start, end) in characters
        # and end order. A DFA scans faster but takes ~1.4 KB per key: beyond dfa_max_keys
        # the library's compact NFA is used.
        implementation = (
            ahocorasick_rs.Implementation.DFA if len(self.keys) <= dfa_max_keys else None
        )
        self.automaton = (
            ahocorasick_rs.AhoCorasick(self.keys, implementation=implementation)
            if self.keys
            else None
        )
        self.exact_keys = frozenset(k.strip() for k in keys if k.islower())
        self.entity_ids = frozenset(e.id for e in self.watchlists.entities)

    def _add_probes(self, compact: str, target: FuzzyTarget) -> None:
        """The target's prefix and suffix probes: "star" starts too many words to probe for
        Starlink; "starl" does not."""
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
            self.targets.setdefault(prefix, []).append(target)
        if suffix:
            self.targets.setdefault("\0" + suffix, []).append(target)


def _add(keys: dict[str, list[Entry]], key: str, entry: Entry) -> None:
    if not key.strip():
        return
    entries = keys.setdefault(" " + key, [])
    if entry not in entries:
        entries.append(entry)


def _add_forms(
    keys: dict[str, list[Entry]],
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
    _add(
        keys,
        key,
        Entry(
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
    inflected = Entry(
        role,
        ref,
        alias,
        "transliterated" if role == ENTITY else "exact",
        prefix,
        multiword,
        inflected=True,
        capital=person,
    )
    if not other_script and key.upper() != key:
        _add(keys, key.upper(), inflected)
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
                _add(keys, stem, inflected)


def _names(entity: Entity) -> list[tuple[str, bool]]:
    """The entity's name, aliases and transliterations, each with whether it is one."""
    names = [(entity.name, False)] + [(a, False) for a in entity.aliases]
    return names + [(t, True) for t in entity.transliterations]


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
