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
from functools import lru_cache

from pipeline.seed.language import stopwords

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
            "takeover bid*",
            "tender offer*",
            "hostile bid*",
            "es:opa",
            "es:opas",
            "oferta pública de adquisición",
            "offre publique d'achat",
            "offre publique d'échange",
            "übernahmeangebot*",
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
            "dimit*",
            "zurücktreten",
            "zurücktritt",
            "en:quits",
            "leaves office",
            "left office",
            "deja el cargo",
            "abandona el cargo",
            "deja el gobierno",
            "sale del gobierno",
            "amt niedergelegt",
            "legt sein amt nieder",
            "legt ihr amt nieder",
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
            "krieg",
            "kriege",
            "krieges",
            "kriegs*",
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
    "fire": (
        {"en": "fire", "de": "Brand", "fr": "incendie", "es": "incendio"},
        (
            "fire",
            "fires",
            "blaze*",
            "ablaze",
            "flames",
            "wildfire*",
            "de:brand",
            "brände",
            "großbrand*",
            "brandkatastrophe*",
            "feuer",
            "flammen",
            "abgebrannt",
            "niedergebrannt",
            "waldbrand*",
            "incendie*",
            "incendio*",
            "fr:feu",
            "fr:feux",
            "es:fuego",
            "llamas",
        ),
    ),
    "earthquake": (
        {"en": "earthquake", "de": "Erdbeben", "fr": "séisme", "es": "terremoto"},
        (
            "earthquake*",
            "quake*",
            "tremor*",
            "seism*",
            "aftershock*",
            "erdbeben*",
            "nachbeben*",
            "séisme*",
            "tremblement de terre",
            "tremblements de terre",
            "sism*",
            "terremoto*",
            "temblor*",
            "réplica*",
        ),
    ),
    "storm": (
        {"en": "storm", "de": "Sturm", "fr": "tempête", "es": "tormenta"},
        (
            "hurricane*",
            "typhoon*",
            "cyclone*",
            "tropical storm*",
            "storm",
            "storms",
            "landfall",
            "hurrikan*",
            "wirbelsturm*",
            "taifun*",
            "orkan*",
            "unwetter*",
            "ouragan*",
            "tempête*",
            "typhon*",
            "huracán",
            "huracanes",
            "tormenta*",
            "tifón",
            "ciclón",
        ),
    ),
    "election": (
        {"en": "election", "de": "Wahl", "fr": "élection", "es": "elecciones"},
        (
            "election*",
            "elected",
            "re-elected",
            "runoff*",
            "run-off*",
            "ballot",
            "ballots",
            "electoral",
            "de:wahl",
            "wahlen",
            "stichwahl*",
            "präsidentschaftswahl*",
            "bundestagswahl*",
            "landtagswahl*",
            "wahlsieg*",
            "gewählt",
            "élection*",
            "électoral*",
            "fr:élu",
            "fr:élue",
            "second tour",
            "scrutin*",
            "présidentielle*",
            "elección",
            "elecciones",
            "electoral*",
            "es:electo",
            "elegido*",
            "eligió",
            "eligieron",
            "balotaje*",
            "segunda vuelta",
            "comicios",
        ),
    ),
    "protest": (
        {"en": "protest", "de": "Protest", "fr": "manifestation", "es": "protesta"},
        (
            "protest*",
            "demonstration*",
            "demonstrators",
            "blockade*",
            "demonstrant*",
            "kundgebung*",
            "manifestation*",
            "manifestant*",
            "mobilisation*",
            "rassemblement*",
            "blocage*",
            "manifestación*",
            "manifestaciones",
            "manifestantes",
            "movilización*",
            "bloqueo*",
        ),
    ),
    "verdict": (
        {"en": "verdict", "de": "Urteil", "fr": "condamnation", "es": "condena"},
        (
            "verdict*",
            "convicted",
            "conviction*",
            "guilty",
            "acquitt*",
            "urteil*",
            "verurteil*",
            "schuldig*",
            "freispruch*",
            "freigesprochen",
            "condamn*",
            "coupable*",
            "acquitté*",
            "condena*",
            "culpable*",
            "veredicto*",
            "absuelto*",
            "sentenced",
            "sentencing",
            "prison sentence*",
            "haftstrafe*",
            "gefängnisstrafe*",
            "peine de prison",
            "peines de prison",
            "es:sentencia*",
            "años de prisión",
            "años de cárcel",
        ),
    ),
    "breach": (
        {"en": "breach", "de": "Datenleck", "fr": "piratage", "es": "hackeo"},
        (
            "breach*",
            "hack*",
            "cyberattack*",
            "cyber attack*",
            "cyber-attack*",
            "data leak*",
            "ransomware",
            "datenleck*",
            "cyberangriff*",
            "datendiebstahl*",
            "gehackt",
            "piratage*",
            "piraté*",
            "cyberattaque*",
            "fuite de données",
            "fuites de données",
            "ciberataque*",
            "filtración de datos",
            "brecha de seguridad",
            "violación de datos",
        ),
    ),
    "raid": (
        {"en": "raid", "de": "Razzia", "fr": "perquisition", "es": "redada"},
        (
            "raid",
            "raids",
            "raided",
            "razzia*",
            "durchsuchung*",
            "durchsucht",
            "perquisition*",
            "coup de filet",
            "redada*",
            "allanamiento*",
        ),
    ),
    "doping": (
        {"en": "doping", "de": "Doping", "fr": "dopage", "es": "dopaje"},
        ("doping*", "doped", "blutdoping*", "eigenblut*", "dopage*", "dopé*", "dopaje*"),
    ),
    "accident": (
        {"en": "accident", "de": "Unglück", "fr": "accident", "es": "accidente"},
        (
            "accident*",
            "collision*",
            "collided",
            "derail*",
            "head-on",
            "unfall",
            "unfälle",
            "zugunglück*",
            "unglück",
            "unglücks",
            "zusammenstoß*",
            "zusammengeprallt",
            "zusammengestoßen",
            "kollision*",
            "entgleis*",
            "déraill*",
            "colisión*",
            "colisionar*",
            "chocaron",
            "descarril*",
            "incidente ferroviario",
        ),
    ),
    "explosion": (
        {"en": "explosion", "de": "Explosion", "fr": "explosion", "es": "explosión"},
        ("explosion*", "exploded", "explodiert", "déflagration*", "explosión"),
    ),
    "attack": (
        {"en": "attack", "de": "Anschlag", "fr": "attentat", "es": "atentado"},
        (
            "shooting",
            "shootings",
            "gunman",
            "gunmen",
            "terror attack*",
            "terrorist attack*",
            "stabbing*",
            "bombing*",
            "anschlag",
            "anschläge",
            "attentat*",
            "amoklauf*",
            "messerangriff*",
            "fusillade*",
            "attaque terroriste",
            "atentado*",
            "tiroteo*",
            "balacera*",
        ),
    ),
    "bankruptcy": (
        {"en": "bankruptcy", "de": "Insolvenz", "fr": "faillite", "es": "quiebra"},
        (
            "bankrupt*",
            "insolvency",
            "insolvent",
            "chapter 11",
            "insolvenz*",
            "pleite*",
            "konkurs*",
            "faillite*",
            "redressement judiciaire",
            "liquidation judiciaire",
            "quiebra*",
            "concurso de acreedores",
            "preconcurso*",
            "insolvencia*",
            "receivership",
            "bancarrota*",
        ),
    ),
    # A structure or an institution giving way: a bridge, a building, a bank.
    "collapse": (
        {"en": "collapse", "de": "Einsturz", "fr": "effondrement", "es": "colapso"},
        (
            "collaps*",
            "einsturz*",
            "eingestürzt*",
            "zusammenbruch*",
            "zusammengebrochen",
            "kollaps*",
            "effondr*",
            "s'est effondré*",
            "derrumb*",
            "colaps*",
            "desplom*",
        ),
    ),
    # A body's disciplinary measure against a person: a federation suspends its president.
    "suspension": (
        {"en": "suspension", "de": "Suspendierung", "fr": "suspension", "es": "suspensión"},
        (
            "suspend*",
            "suspension*",
            "suspensión",
        ),
    ),
    "layoffs": (
        {"en": "layoffs", "de": "Stellenabbau", "fr": "licenciements", "es": "despidos"},
        (
            "layoff*",
            "laid off",
            "job cuts",
            "redundancies",
            "stellenabbau*",
            "entlassung*",
            "licenciement*",
            "suppressions de postes",
            "suppression de postes",
            "plan social",
            "despido*",
            "recorte de plantilla",
            "recortes de plantilla",
        ),
    ),
    "outbreak": (
        {"en": "outbreak", "de": "Ausbruch", "fr": "épidémie", "es": "brote"},
        (
            "outbreak*",
            "epidemic*",
            "pandemic*",
            "epidemie*",
            "pandemie*",
            "épidémie*",
            "pandémie*",
            "es:brote",
            "es:brotes",
            "epidemia*",
            "pandemia*",
        ),
    ),
}

# A thread's event kind is kept when named at least this share as often as the most named.
EVENT_SHARE = 0.5


def _pattern(form: str) -> re.Pattern[str]:
    form = _bare(form)
    if form.endswith("*"):
        return re.compile(r"(?<!\w)" + re.escape(form[:-1].lower()) + r"\w*")
    return re.compile(r"(?<!\w)" + re.escape(form.lower()) + r"s?(?!\w)")


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


def event_terms(kinds: list[str]) -> list[str]:
    """The topic terms of ``kinds`` and of their kindred classes, every language's forms."""
    kinds = list(dict.fromkeys(k2 for k in kinds for k2 in (k, *KINDRED.get(k, ()))))
    return list(dict.fromkeys(_bare(form) for k in kinds for form in EVENTS[k][1]))


def event_label(kind: str, lang: str) -> str:
    labels = EVENTS[kind][0]
    return labels.get(lang, labels["en"])
