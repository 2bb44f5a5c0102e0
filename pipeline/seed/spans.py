"""Spans of an article's names: the mention record and the helpers that find or reshape one.

``Mention`` is one occurrence of a name (sentence, token span, characters, role, cue votes);
``SeedEntity`` is what ``pipeline.seed.entities`` groups mentions into (new, or linked to the
watchlists' catalog by ``pipeline.seed.catalog_link``). The helpers are pure:

- ``quoted_names``: a movement named in quotes and then in lower case is a name;
- ``title_case_spans``: a Title-Case headline's span that runs a body name into its verbs
  is that body name (mentions move to it); one of words the body writes in lower case is none;
- ``without_city``: a landmark's own name before "de/of <place>", as an alias;
- ``acronym``: the capitals of a name's words ("WSJ"), for merging an acronym with it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import simplemma

from pipeline.seed.cues import CONNECTORS, HEAD_INITIAL_ORGS, ORG_PREFIXES, PLACE_OF, Token
from pipeline.seed.gazetteer import is_place


@dataclass
class Mention:
    """One occurrence of a name in a sentence (token span), with the cues seen around it."""

    sentence: int
    start: int  # token index
    end: int  # token index, exclusive
    surface: str
    char_start: int
    char_end: int
    role: str = "noun"  # noun, possessive, modifier (demonym or "X-backed"), descriptor
    votes: Counter = field(default_factory=Counter)
    entity: SeedEntity | None = None


@dataclass
class SeedEntity:
    """An entity found in the seed article (new, or linked to the watchlists' catalog)."""

    id: str
    kind: str
    name: str
    aliases: list[str] = field(default_factory=list)
    transliterations: list[str] = field(default_factory=list)
    negative_contexts: list[str] = field(default_factory=list)
    new: bool = True
    mentions: list[Mention] = field(default_factory=list)
    votes: Counter = field(default_factory=Counter)
    first_sentence: int = 0
    catalog_source: str = ""

    def sentences(self, *, include_descriptors: bool = True) -> set[int]:
        return {m.sentence for m in self.mentions if include_descriptors or m.role != "descriptor"}

    def weight_in(self, sentence: int) -> float:
        """How much this entity takes part in a sentence (names > possessives > modifiers)."""
        weights = {"noun": 1.0, "possessive": 0.7, "descriptor": 0.8, "modifier": 0.3}
        return max((weights[m.role] for m in self.mentions if m.sentence == sentence), default=0.0)


def without_city(name: str) -> str | None:
    """A landmark's or body's own name before "de/of <place>", when it is a name by itself
    ("Acme-Dame de Lyon" -> "Acme-Dame", as other outlets write it), not a head word that
    needs its place ("Banco de X", "Port of X", "Servicio Nacional de X")."""
    words = name.split()
    if len(words) < 3 or words[-2].lower() not in CONNECTORS or not is_place(words[-1]):
        return None
    own = words[:-2]
    if not all(w[:1].isupper() for w in own) or (len(own) == 1 and "-" not in own[0]):
        return None
    if {w.lower() for w in own} & (ORG_PREFIXES | HEAD_INITIAL_ORGS | PLACE_OF):
        return None
    return " ".join(own)


_OPEN_QUOTES = {'"': '"', "“": "”", "«": "»", "‘": "’"}
QUOTED_NAME_MENTIONS = 3


def quoted_names(token_lists: list[list[Token]], mentions: list[Mention]) -> list[Mention]:
    """A movement or campaign the article names in quotes and then in lower case
    ('"Acme vests"', 'the acme vests'): a quoted phrase of two to four words, the first
    capitalised, that the article uses at least ``QUOTED_NAME_MENTIONS`` times is a name."""
    phrases: dict[tuple[str, ...], str] = {}
    for tokens in token_lists:
        for i, tok in enumerate(tokens):
            close = _OPEN_QUOTES.get(tok.text)
            if close is None:
                continue
            j = i + 1
            while j < len(tokens) and j - i <= 5 and tokens[j].is_word:
                j += 1
            inner = tokens[i + 1 : j]
            if (
                j < len(tokens)
                and tokens[j].text == close
                and 2 <= len(inner) <= 4
                and inner[0].is_cap
                and not all(t.is_cap for t in inner)  # a Title Case name is found already
            ):
                phrases.setdefault(tuple(t.lower for t in inner), " ".join(t.text for t in inner))
    taken = {(m.sentence, k) for m in mentions for k in range(m.start, m.end)}
    out: list[Mention] = []
    for key, surface in phrases.items():
        found = [
            (si, k)
            for si, tokens in enumerate(token_lists)
            for k in range(len(tokens) - len(key) + 1)
            if tuple(t.lower for t in tokens[k : k + len(key)]) == key
            and not any((si, x) in taken for x in range(k, k + len(key)))
        ]
        if len(found) < QUOTED_NAME_MENTIONS:
            continue
        for si, k in found:
            tokens = token_lists[si]
            m = Mention(si, k, k + len(key), surface, tokens[k].start, tokens[k + len(key) - 1].end)
            m.votes["org"] += 1  # a movement, a campaign: a body of people
            out.append(m)
    return out


def title_case_spans(
    entities: list[SeedEntity], token_lists: list[list[Token]], *, language: str = "en"
) -> list[SeedEntity]:
    """A headline in Title Case runs a name into the words after it ("Storm Acme Knocks
    Out Power"): a name met only in such sentences that is a name of the body and more
    words is that name."""
    titled = {
        si
        for si, tokens in enumerate(token_lists)
        if len(words := [t for t in tokens if t.is_word]) >= 4
        and sum(t.is_cap for t in words) >= 0.6 * len(words)
    }
    if not titled:
        return entities
    body = [e for e in entities if any(m.sentence not in titled for m in e.mentions)]
    # Words the body writes in lower case: a Title-Case span made only of them ("Ship Runs
    # Aground" when the body says "ran aground") is no name.
    lower = {
        simplemma.lemmatize(t.text, lang=language)
        for si, tokens in enumerate(token_lists)
        if si not in titled
        for t in tokens
        if t.is_word and t.text.islower()
    }
    out = []
    for e in entities:
        if e in body:
            # Named after its Title-Case span ("Blocks Acme Canal"), it is the body's name,
            # when the span's other words are ones the body writes in lower case.
            plain = [
                m.surface for m in e.mentions if m.sentence not in titled and m.surface != e.name
            ]
            if all(m.sentence in titled for m in e.mentions if m.surface == e.name) and plain:
                inner = max(
                    (
                        f
                        for f in plain
                        if f" {f} " in f" {e.name} "
                        and _lower_words(f" {e.name} ".replace(f" {f} ", " ", 1), lower, language)
                    ),
                    key=len,
                    default=None,
                )
                if inner is not None:
                    e.name = inner
                    e.aliases = [a for a in e.aliases if a != inner]
            out.append(e)
            continue
        # The body's name inside the span, at its start or after its verb ("Blocks Acme Canal").
        short = max(
            (b for b in body if f" {b.name} " in f" {e.name} " and b.name != e.name),
            key=lambda b: len(b.name),
            default=None,
        )
        if short is None:
            if not _lower_words(e.name, lower, language):
                out.append(e)
        else:
            for m in e.mentions:
                m.entity = short
            short.mentions += e.mentions
    return out


def _lower_words(text: str, lower: set[str], language: str) -> bool:
    """Are all of ``text``'s words ones the body writes in lower case (by lemma)?"""
    return all(simplemma.lemmatize(w.lower(), lang=language) in lower for w in text.split())


def acronym(words: list[str]) -> str:
    return "".join(w[0] for w in words if w[:1].isupper())
