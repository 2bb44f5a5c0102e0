"""What happens in a thread: its event (a strike, a recall, a takeover...), in four languages.

A closed class, like the cue words: kinds of news event, each with the word forms that
name it in English, German, French and Spanish (``event_lexicon.EVENTS``; no names,
nothing from one article; an event no kind names is taken from the article itself,
``storylines.open_event_terms``).
``thread_events(sentences)`` counts the kinds a thread's sentences name (the headline
counts twice) and returns the ones named at least half as often as the most named;
``event_terms(kinds)`` gives the topic terms the matcher looks for (every language's
forms, so a Spanish headline about a German strike still counts). A storyline's rule
requires one of them next to its actors (``pipeline.seed.draft``).

``event_label(kind, lang)`` is the noun a desk slug uses ("strike", "Streik", "grève").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from functools import lru_cache

from pipeline.match.folding import skeleton
from pipeline.seed.event_lexicon import EVENTS
from pipeline.seed.language import stopwords
from pipeline.seed.sequel_lexicon import SEQUELS

# A thread's event kind is kept when named at least this share as often as the most named.
EVENT_SHARE = 0.5


# A German separable verb and its particle, written "tritt…zurück": the particle closes
# the clause, a few words after the verb ("Der Papst tritt überraschend zurück").
GAP = "…"
GAP_WORDS = 6


def _pattern(form: str) -> re.Pattern[str]:
    form = _bare(form)
    if GAP in form:
        verb, particle = (_word(w.strip().lower(), re.escape) for w in form.split(GAP))
        return re.compile(rf"(?<!\w){verb}[^.!?;:]{{0,80}}?(?<!\w){particle}")
    if form.endswith("*"):
        return re.compile(r"(?<!\w)" + re.escape(form[:-1].lower()) + r"\w*")
    return re.compile(r"(?<!\w)" + re.escape(form.lower()) + r"s?(?!\w)")


def _word(word: str, escape: Callable[[str], str], *, closed: bool = True) -> str:
    """A regex for one word of a gapped form: ``escape(word)``, any ending if it ends in *;
    ``closed``: the word ends there (not needed before a space)."""
    if word.endswith("*"):
        return escape(word[:-1]) + r"\w*"
    return escape(word) + (r"(?!\w)" if closed else "")


def _bare(form: str) -> str:
    """The form without its language tag ("de:brand" -> "brand")."""
    return form[3:] if form[2:3] == ":" else form


def _counts_in(form: str, lang: str | None) -> bool:
    """Does ``form`` name its event in an article of ``lang``? A tagged form only in its
    language (German "Brand" is a fire, English "brand" is not); an untagged form not
    where it is a function word (German "war" is "was")."""
    if form[2:3] == ":":
        return lang is None or form[:2] == lang
    return lang is None or form.rstrip("*") not in stopwords(lang)


@lru_cache(maxsize=8)
def _patterns(lang: str | None) -> dict[str, list[re.Pattern[str]]]:
    return {
        kind: [_pattern(f) for f in forms if _counts_in(f, lang)]
        for kind, (_, forms) in EVENTS.items()
    }


def event_counts(text: str, *, lang: str | None = None) -> Counter:
    """How often ``text`` names each event kind; ``lang`` the text's language (None: any)."""
    low = text.lower()
    return Counter(
        {
            kind: n
            for kind, pats in _patterns(lang).items()
            if (n := sum(len(p.findall(low)) for p in pats))
        }
    )


def thread_counts(sentences: list[str], *, headline: str = "", lang: str | None = None) -> Counter:
    counts = event_counts(" ".join(sentences), lang=lang)
    for kind, n in event_counts(headline, lang=lang).items():
        counts[kind] += 2 * n
    return counts


def thread_events(
    sentences: list[str], *, headline: str = "", lang: str | None = None
) -> list[str]:
    """Event kinds a thread's sentences name, most named first ([] when none)."""
    return top_events(thread_counts(sentences, headline=headline, lang=lang))


def top_events(counts: Counter) -> list[str]:
    if not counts:
        return []
    top = counts.most_common(1)[0][1]
    return [k for k, n in counts.most_common() if n >= EVENT_SHARE * top]


def own_events(per_thread: list[Counter]) -> list[list[str]]:
    """Each thread's events, without those another thread names far more often: in an
    article of several threads (contacts with one leader, a war, a government role) an
    event mentioned in passing is not this thread's ("war" in the government thread)."""
    best: Counter = Counter()
    for counts in per_thread:
        for kind, n in counts.items():
            best[kind] = max(best[kind], n)
    return [
        top_events(Counter({k: n for k, n in counts.items() if n >= EVENT_SHARE * best[k]}))
        for counts in per_thread
    ]


# Classes one story is told in: a company's or a bank's collapse is its insolvency.
KINDRED: dict[str, tuple[str, ...]] = {"bankruptcy": ("collapse",), "collapse": ("bankruptcy",)}


def _forms(kinds: list[str]) -> list[str]:
    kinds = list(dict.fromkeys(k2 for k in kinds for k2 in (k, *KINDRED.get(k, ()))))
    return list(dict.fromkeys(_bare(form) for k in kinds for form in EVENTS[k][1]))


def event_terms(kinds: list[str]) -> list[str]:
    """The topic terms of ``kinds`` and of their kindred classes, every language's forms."""
    return [f for f in _forms(kinds) if GAP not in f]


def event_patterns(kinds: list[str]) -> list[str]:
    r"""The topic patterns of ``kinds``' separable verbs: the verb, then its particle at most
    ``GAP_WORDS`` words on, in the matcher's folded text (``folding.skeleton``).

    >>> print(event_patterns(["resignation"])[0])
    (?<!\w)tritt(?: \S+){0,6} zuruck(?!\w)
    """
    return _gap_patterns(_forms(kinds))


def _gap_patterns(forms: list[str]) -> list[str]:
    out = []
    for form in forms:
        if GAP in form:
            first, last = form.split(GAP)
            verb = _word(first, lambda x: re.escape(skeleton(x)), closed=False)
            particle = _word(last, lambda x: re.escape(skeleton(x)))
            out.append(rf"(?<!\w){verb}(?: \S+){{0,{GAP_WORDS}}} {particle}")
    return out


def sequels(kinds: list[str], *, lede: str, lang: str | None = None) -> tuple[list, list]:
    r"""The topic terms and patterns of ``kinds``' later chapters (``sequel_lexicon``): an
    appeal after a verdict, a regulator's block after a takeover; none that ``lede`` (the
    seed's headline and lede) names, as its story then *is* that chapter.

    >>> terms, patterns = sequels(["verdict"], lede="Sarkozy condamné à trois ans de prison")
    >>> print(terms[:3], patterns[0])
    ['on appeal', 'upheld', 'upholds'] (?<!\w)enters(?: \S+){0,6} prison(?!\w)
    >>> "en appel" in sequels(["verdict"], lede="Sarkozy condamné en appel")[0]
    False
    >>> sequels(["strike"], lede="Dockers strike in Rotterdam")
    ([], [])
    """
    low = lede.lower()
    own = set(_forms(kinds))
    forms = [
        _bare(f)
        for f in dict.fromkeys(f for k in kinds for f in SEQUELS.get(k, ()))
        if _counts_in(f, lang) and _bare(f) not in own and not _pattern(f).search(low)
    ]
    return [f for f in forms if GAP not in f], _gap_patterns(forms)


def event_label(kind: str, lang: str) -> str:
    labels = EVENTS[kind][0]
    return labels.get(lang, labels["en"])
