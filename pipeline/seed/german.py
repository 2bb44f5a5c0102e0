"""What German's capitals say: every noun is capitalised, so a capital is a weak name cue.

- ``inflected_noun``: a capitalised word that is an inflected common noun.
- ``name_compound``: the name in "Acme-Maschine".
- ``genitive_place``: "Kölns" names Köln.
- ``adjective`` and ``adjective_name``: adjectives are lower case except in names, so
  capitalised adjectives before known nouns mid-sentence are one name ("die Kölner
  Verkehrsbetriebe"); ``name_key`` and ``adjective_forms`` make its inflected forms one
  entity ("im Grünen Gewölbe", "das Grüne Gewölbe") and let it match the others.
- ``names``: which one-word candidates of a German article stay names.

The lexicon is simplemma's German dictionary; word frequencies are wordfreq's.
"""

from __future__ import annotations

import re
from collections import Counter

import simplemma
from wordfreq import zipf_frequency

from pipeline.seed.cues import OPENERS, Token, is_title
from pipeline.seed.events import event_counts
from pipeline.seed.gazetteer import exonyms, given_names, is_place
from pipeline.seed.language import german_common_noun
from pipeline.seed.names import normalise_name
from pipeline.seed.spans import Mention

# A German noun this common (wordfreq's Zipf scale) is an everyday word, not a name.
EVERYDAY_ZIPF = 4.4
# A town's adjective German text writes at least this often (Zipf: "Ehinger" 2.4).
TOWN_ZIPF = 2.0
_NAME_COMPOUND = re.compile(r"([A-ZÄÖÜ][^\W\d_]+)-([A-ZÄÖÜ][^\W\d_]+)")


def _known(word: str) -> bool:
    return simplemma.is_known(word, lang="de")


def inflected_noun(word: str) -> bool:
    """An inflected common noun ("Flüge"), not a place's genitive ("Kölns")."""
    return (
        german_common_noun(word)
        and simplemma.lemmatize(word, lang="de") != word
        and not genitive_place(word)
    )


def name_compound(word: str) -> str | None:
    """The name in a hyphenated compound of a name and a common noun ("Acme-Maschine" ->
    "Acme"), when the lexicon knows the noun and not the name."""
    m = _NAME_COMPOUND.fullmatch(word)
    if m is None or not _known(m.group(2)):
        return None
    head = m.group(1)
    return None if _known(head) or is_title(m.group(2)) else head


def genitive_place(word: str) -> str | None:
    """The place a genitive names.

    >>> genitive_place("Kölns"), genitive_place("Europas"), genitive_place("Lars")
    ('Köln', 'Europa', None)
    """
    if (
        len(word) > 4
        and word.endswith("s")
        and not word.isupper()
        and is_place(word[:-1])
        and normalise_name(word) not in given_names()  # "Lars" is no genitive of Lar
    ):
        return word[:-1]
    return None


def adjective(word: str) -> bool:
    """An inflected adjective or a town's.

    >>> adjective("Historischen"), adjective("Roten"), adjective("Kölner"), adjective("Beton")
    (True, True, True, False)
    """
    low = word.lower()
    lemma = simplemma.lemmatize(low, lang="de")
    if lemma.islower() and lemma != low and low.startswith(lemma) and len(lemma) >= 3:
        return low[len(lemma) :] in ("e", "en", "er", "es", "em")
    return low.endswith("er") and is_place(word[:-2])


def adjective_name(tokens: list[Token], start: int, end: int) -> bool:
    """Mid-sentence, capitalised adjectives before nouns the lexicon knows are one name
    ("des Historischen Stadtarchivs", "der Roten Armee Fraktion"), not common nouns to cut
    away. A word the lexicon lacks ends no such name ("Frankfurter Betreibers Fraport" is
    the category, then the name); at a sentence's start a capital proves nothing."""
    if start == 0 or tokens[start - 1].text in OPENERS:
        return False
    k = start
    while k < end - 1 and adjective(tokens[k].text):
        k += 1
    return k > start and all(_known(t.text) and not adjective(t.text) for t in tokens[k:end])


def names(mentions: list[Mention]) -> list[Mention]:
    """The one-word candidates ("Hälfte", "Lizenz") that stay: named twice, given a kind by
    a cue, known to the gazetteer, or known to the lexicon neither whole nor in parts
    ("Fraport", "Eurowings"). Twice is not enough for an everyday noun
    (Zipf >= ``EVERYDAY_ZIPF``: "Tod", "Bord", "Unternehmen") that is no part of a longer
    name of the article (the surname "Braun" of "Jane Braun"), and nothing is enough for a
    word of the event lexicon ("Einsturz"). A family name after the full name stays
    ("Anton Acme", then "Acme"). Longer names all stay."""
    counts = Counter(m.surface for m in mentions)
    parts = {w for m in mentions if " " in m.surface for w in m.surface.split()}
    # A person's family name after the article gave it in full ("Anton Acme", then "Acme").
    surnames = {
        m.surface.split()[-1]
        for m in mentions
        if len(m.surface.split()) == 2 and normalise_name(m.surface.split()[0]) in given_names()
    }
    kept = []
    for m in mentions:
        word = m.surface
        if " " not in word and not word.isupper() and event_counts(word, lang="de"):
            continue  # the story's event, written as a noun
        cued = max((v for k, v in m.votes.items() if k not in ("demonym", "shape")), default=0)
        everyday = (
            word not in parts and zipf_frequency(word, "de", wordlist="small") >= EVERYDAY_ZIPF
        )
        if (
            " " in word
            or (counts[word] >= 2 and not everyday)
            or cued >= 2
            or word.isupper()
            or is_place(word)
            or genitive_place(word)
            or not _known(word)
            or word in surnames
        ):
            kept.append(m)
    return kept


_ENDINGS = ("e", "en", "er", "es", "em")


def _adjective_stem(word: str) -> str | None:
    """ "Grünen" -> "Grün"; None for a town's adjective ("Kölner") or no adjective."""
    low = word.lower()
    lemma = simplemma.lemmatize(low, lang="de")
    if adjective(word) and low.startswith(lemma) and low[len(lemma) :] in _ENDINGS:
        return word[: len(lemma)]
    return None


def name_key(name: str) -> str:
    """One key for a name's inflected forms: its leading adjectives' stems.

    >>> name_key("Grünem Gewölbe"), name_key("Dresdner Grünen Gewölbe"), name_key("Kölner Dom")
    ('Grün Gewölbe', 'Dresdner Grün Gewölbe', 'Kölner Dom')
    """
    return " ".join(_stems(name.split()))


def _stems(words: list[str]) -> list[str]:
    """The words with their leading adjectives' stems ("Dresdner" stays as it is)."""
    out = list(words)
    for k, word in enumerate(words[:-1]):
        stem = _adjective_stem(word)
        if stem is None and not adjective(word):
            break
        out[k] = stem or word
    return out


def adjective_forms(name: str) -> list[str]:
    """The other inflections of a name that opens with adjectives, one ending for all.

    >>> adjective_forms("Roten Armee Fraktion")
    ['Rote Armee Fraktion', 'Roter Armee Fraktion', 'Rotes Armee Fraktion', 'Rotem Armee Fraktion']
    """
    words = name.split()
    stems = _stems(words)
    inflected = [k for k, (w, s) in enumerate(zip(words, stems, strict=True)) if w != s]
    if not inflected:
        return []
    forms = []
    for ending in _ENDINGS:
        form = [s + ending if k in inflected else s for k, s in enumerate(stems)]
        forms.append(" ".join(form))
    return [f for f in forms if f != name]


def town_adjectives(name: str) -> list[str]:
    """The adjectives a town's name makes ("Köln" -> "Kölner", "Dresden" -> "Dresdner"),
    as far as German text writes them (wordfreq): "das Kölner Archiv" names Köln. None for
    a country or region, or a name of two words.

    >>> town_adjectives("Köln"), town_adjectives("Dresden"), town_adjectives("Bayern")
    (['Kölner'], ['Dresdner'], [])
    """
    if " " in name or "-" in name or normalise_name(name) in exonyms() or not name[:1].isupper():
        return []
    forms = dict.fromkeys((name + "er", name[:-2] + "ner", name[:-1] + "r"))
    return [f for f in forms if f.endswith("er") and zipf_frequency(f, "de") >= TOWN_ZIPF]
