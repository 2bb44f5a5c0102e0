"""The seed article's language, and what the extractor needs to know of it.

- ``detect_language(text)``: py3langid (its model ships inside the package, no download),
  restricted to the languages the seed handles (English, German, French, Spanish); a text
  too short to tell is English.
- ``stopwords(lang)``: the function words of that language, from the lists YAKE ships
  (the same lists its keyword extractor uses), so "En Valencia" or "Die Gewerkschaft" at the
  start of a sentence is not read as a name.
- ``german_common_noun(word)``: German writes every noun capitalised. A capitalised word is
  a common noun, not a name, when simplemma lemmatises it to another form (an inflected
  noun: "Flüge" -> "Flug") or it has a noun-forming suffix ("-ung", "-schaft"...).
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

import py3langid
import simplemma

LANGUAGES = ("en", "de", "fr", "es")
_GERMAN_NOUN_SUFFIXES = re.compile(
    r"(?:ung|ungen|heit|heiten|keit|keiten|schaft|schaften|tion|tionen|tät|täten|ismus|nis|nisse|tum)$"
)


@lru_cache(maxsize=4)
def _identifier(languages: tuple[str, ...]) -> py3langid.langid.LanguageIdentifier:
    model = py3langid.langid.MODEL_DIR / py3langid.langid.MODEL_FILE
    ident = py3langid.langid.LanguageIdentifier.from_modelpath(model, norm_probs=True)
    ident.set_languages(list(languages))
    return ident


def detect_language(text: str, *, languages: tuple[str, ...] = LANGUAGES) -> str:
    """One of ``languages`` (by default "en", "de", "fr" or "es"); English when the text
    has fewer than three words.

    >>> detect_language("Mehr als hundert Schulgebäude in England mussten schließen")
    'de'
    >>> detect_language("EU's von der Leyen compares Orban defeat to Hungary's uprising")
    'en'
    >>> detect_language("Un tribunal ordena la detención", languages=("en", "es", "pt"))
    'es'
    """
    if len(re.findall(r"[^\W\d_]{2,}", text)) < 3:
        return "en"
    lang, _ = _identifier(languages).classify(text)
    return lang if lang in languages else "en"


@lru_cache(maxsize=8)
def stopwords(lang: str) -> frozenset[str]:
    """Lower-case function words of ``lang`` (YAKE's bundled list; empty if it has none)."""
    try:
        text = (
            resources.files("yake.core.StopwordsList")
            .joinpath(f"stopwords_{lang}.txt")
            .read_text(encoding="utf-8", errors="replace")
        )
    except (FileNotFoundError, ModuleNotFoundError):
        return frozenset()
    return frozenset(w.strip().lower() for w in text.splitlines() if w.strip())


def german_common_noun(word: str) -> bool:
    """Is a capitalised German word a common noun ("Flüge", "Gewerkschaft") rather than a name?"""
    if not word[:1].isupper() or word.isupper() or "-" in word:
        return False
    if _GERMAN_NOUN_SUFFIXES.search(word.lower()):
        return True
    lemma = simplemma.lemmatize(word, lang="de")
    # The lexicon spells a name's "ß" as "ss" ("Hoeneß" -> "Hoeness"): no inflection.
    return lemma != word and _sharp_s(lemma) != _sharp_s(word)


def _sharp_s(word: str) -> str:
    return word.lower().replace("ß", "ss")
