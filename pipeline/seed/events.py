"""What happens in a thread: its event (a strike, a recall, a takeover...), in four languages.

A closed class, like the cue words: kinds of news event, each with the word forms that
name it in English, German, French and Spanish (no names, nothing from one article).
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

# kind -> (label per language, word forms). A form ending in "*" matches any word that
# starts so (the matcher's wildcard); the others match as words (a plural "s" included).
EVENTS: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "strike": (
        {"en": "strike", "de": "Streik", "fr": "grève", "es": "huelga"},
        (
            "strike",
            "strikes",
            "striking",
            "walkout",
            "walkouts",
            "walked out",
            "industrial action",
            "picket line",
            "streik*",
            "bestreik*",
            "warnstreik*",
            "pilotenstreik*",
            "arbeitskampf",
            "ausstand",
            "grève",
            "grèves",
            "gréviste*",
            "huelga",
            "huelgas",
            "paros",
        ),
    ),
    "recall": (
        {"en": "recall", "de": "Rückruf", "fr": "rappel", "es": "retirada"},
        (
            "recall",
            "recalls",
            "recalled",
            "recalling",
            "rückruf*",
            "zurückgerufen",
            "rappel",
            "rappels",
            "rappelé*",
            "retrait",
            "retraits",
            "retiré*",
            "retirada*",
            "retira",
            "retirado*",
        ),
    ),
    "takeover": (
        {"en": "takeover", "de": "Übernahme", "fr": "rachat", "es": "compra"},
        (
            "takeover",
            "takeovers",
            "acquisition",
            "acquisitions",
            "acquire",
            "acquires",
            "acquired",
            "merger",
            "mergers",
            "buyout",
            "übernahme*",
            "zukauf*",
            "fusion",
            "fusionen",
            "rachat",
            "rachète",
            "racheté",
            "adquisición",
            "adquisiciones",
            "fusión",
            "fusiones",
        ),
    ),
    "arrest": (
        {"en": "arrest", "de": "Festnahme", "fr": "arrestation", "es": "detención"},
        (
            "arrest",
            "arrested",
            "arrests",
            "detained",
            "detention",
            "custody",
            "festnahme*",
            "festgenommen",
            "verhaftet",
            "verhaftung*",
            "untersuchungshaft",
            "arrestation*",
            "arrêté",
            "interpellé*",
            "garde à vue",
            "incarcéré*",
            "détention",
            "detenido*",
            "detención",
            "arrestado*",
        ),
    ),
    "grounding": (
        {
            "en": "grounding",
            "de": "Flugverbot",
            "fr": "interdiction de vol",
            "es": "prohibición de vuelo",
        },
        (
            "grounded",
            "grounding",
            "groundings",
            "flugverbot*",
            "startverbot*",
            "cloué au sol",
            "cloués au sol",
            "interdiction de vol",
            "interdiction de vols",
            "prohibición de vuelo*",
        ),
    ),
    "blackout": (
        {"en": "blackout", "de": "Stromausfall", "fr": "panne", "es": "apagón"},
        (
            "blackout",
            "blackouts",
            "power outage",
            "power cut",
            "stromausfall*",
            "panne de courant",
            "panne d'électricité",
            "coupure de courant",
            "apagón",
            "apagones",
            "corte de luz",
            "sin luz",
        ),
    ),
    "flood": (
        {"en": "floods", "de": "Hochwasser", "fr": "inondations", "es": "inundaciones"},
        (
            "flood",
            "floods",
            "flooding",
            "flash flood*",
            "hochwasser*",
            "überschwemmung*",
            "flutkatastrophe*",
            "inondation*",
            "crue",
            "crues",
            "inundación*",
            "inundaciones",
            "riada*",
            "dana",
        ),
    ),
    "resignation": (
        {"en": "resignation", "de": "Rücktritt", "fr": "démission", "es": "dimisión"},
        (
            "resign",
            "resigns",
            "resigned",
            "resigning",
            "resignation",
            "steps down",
            "stepped down",
            "rücktritt*",
            "zurückgetreten",
            "démission*",
            "démissionn*",
            "dimisión",
            "dimite",
            "dimitido",
        ),
    ),
    "fraud": (
        {"en": "scandal", "de": "Skandal", "fr": "scandale", "es": "escándalo"},
        (
            "scandal",
            "scandals",
            "cheating",
            "defeat device*",
            "fraud",
            "fraude",
            "skandal*",
            "abgasskandal*",
            "betrug*",
            "manipulation*",
            "scandale*",
            "fraude fiscale",
            "malversation*",
            "escándalo*",
        ),
    ),
    "sanctions": (
        {"en": "sanctions", "de": "Sanktionen", "fr": "sanctions", "es": "sanciones"},
        ("sanction", "sanctions", "sanctioned", "embargo", "sanktion*", "sanción", "sanciones"),
    ),
    "talks": (
        {"en": "talks", "de": "Gespräche", "fr": "négociations", "es": "negociaciones"},
        (
            "talks",
            "negotiat*",
            "contact",
            "contacts",
            "conversations",
            "spoke",
            "phone call*",
            "meeting",
            "meetings",
            "met with",
            "verhandlung*",
            "gespräche",
            "négociation*",
            "pourparlers",
            "negociación*",
            "negociaciones",
            "conversaciones",
        ),
    ),
    "war": (
        {"en": "war", "de": "Krieg", "fr": "guerre", "es": "guerra"},
        (
            "war",
            "wars",
            "invasion",
            "invaded",
            "offensive",
            "frontline",
            "front line",
            "drone attack*",
            "krieg*",
            "invasion",
            "guerre",
            "guerra",
            "invasión",
        ),
    ),
    "appointment": (
        {"en": "appointment", "de": "Ernennung", "fr": "nomination", "es": "nombramiento"},
        (
            "appoint*",
            "nominat*",
            "government role",
            "cabinet",
            "advisory role",
            "ernennung*",
            "ernannt",
            "nommé*",
            "nomination*",
            "nombrad*",
            "nombramiento*",
        ),
    ),
    "crash": (
        {"en": "crash", "de": "Absturz", "fr": "crash", "es": "accidente"},
        ("crash", "crashes", "crashed", "absturz*", "abgestürzt", "écrasé*", "siniestro*"),
    ),
    "fine": (
        {"en": "fine", "de": "Strafe", "fr": "amende", "es": "multa"},
        (
            "fined",
            "fine of",
            "antitrust",
            "bußgeld*",
            "geldbuße*",
            "amende*",
            "multa",
            "multas",
            "multado*",
        ),
    ),
}

# A thread's event kind is kept when named at least this share as often as the most named.
EVENT_SHARE = 0.5


def _pattern(form: str) -> re.Pattern[str]:
    if form.endswith("*"):
        return re.compile(r"(?<!\w)" + re.escape(form[:-1].lower()) + r"\w*")
    return re.compile(r"(?<!\w)" + re.escape(form.lower()) + r"s?(?!\w)")


_PATTERNS = {kind: [_pattern(f) for f in forms] for kind, (_, forms) in EVENTS.items()}


def event_counts(text: str) -> Counter:
    low = text.lower()
    return Counter(
        {
            kind: n
            for kind, pats in _PATTERNS.items()
            if (n := sum(len(p.findall(low)) for p in pats))
        }
    )


def thread_counts(sentences: list[str], *, headline: str = "") -> Counter:
    counts = event_counts(" ".join(sentences))
    for kind, n in event_counts(headline).items():
        counts[kind] += 2 * n
    return counts


def thread_events(sentences: list[str], *, headline: str = "") -> list[str]:
    """Event kinds a thread's sentences name, most named first ([] when none)."""
    return top_events(thread_counts(sentences, headline=headline))


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


def event_terms(kinds: list[str]) -> list[str]:
    return list(dict.fromkeys(form for k in kinds for form in EVENTS[k][1]))


def event_label(kind: str, lang: str) -> str:
    labels = EVENTS[kind][0]
    return labels.get(lang, labels["en"])
