"""Closed-class cue words, and the kind votes they give a capitalised name in a sentence.

No gazetteers: the lists hold titles, head words, prepositions and the like, never names.
``mention_votes`` looks at the words around a name and votes for what it names:

- person: titles and roles before it ("President", "Chinese leader", "Mr."), appositions
  after it ("X, the minister's deputy", "X, a famous billionaire", "X, who"), a name
  followed by "said";
- org: a head word ("Inc", "Agency", "Ministry", "Journal", "Department"), a following
  lower-case head ("the Northland battalion"), "the X" for a single word, acronyms, a name
  followed by a role and a person ("Acme manager Jane Doe");
- place: "in/over/to X", "X's capital", geographic heads ("Sea", "Strait"), "X-based";
- product: a following product noun ("the Acme satellite service", "Acme terminals");
- event: "Cup", "Olympics", "Summit", "election" heads;
- demonym: an attribute word ("Russian officials", "the Republican wins"), not a participant;
- shape: two or three capitalised words with no head word, shaped like a person's name.

``attribute_word`` tells a demonym or party word from a name using the background news
(``pipeline.seed.background``) instead of a list of nationalities.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from pipeline.seed.background import Background

PERSON_TITLES = frozenset(
    """president vice prime minister chancellor king queen prince princess pope
senator sen rep representative congressman congresswoman governor mayor judge justice general gen colonel
dictator leader chairman chairwoman chair ceo cfo coo founder cofounder co-founder chief director secretary
ambassador spokesman spokeswoman spokesperson coach manager striker midfielder defender goalkeeper forward
winger player captain mr mrs ms dr prof professor sir dame lord lady billionaire businessman businesswoman
entrepreneur executive analyst deputy boss actor actress singer author journalist reporter writer researcher
scientist economist lawyer attorney premier president-elect candidate commander officer inspector agent
owner investor presenter host star teammate international commissioner
minister ministerin ministre ministro ministra präsident präsidentin président présidente presidente presidenta
kanzler kanzlerin bürgermeister bürgermeisterin maire alcalde alcaldesa sprecher sprecherin portavoz
porte-parole secretario secretaria secrétaire directeur directrice directora gouverneur gobernador
gobernadora chef vorstandschef konzernchef chefin pdg landrat ministerpräsident ministerpräsidentin
premier-ministre prosecutor procureur procureure fiscal fiscala staatsanwalt staatsanwältin juge
juez jueza richter richterin patron patronne jefe jefa pm""".split()
)
# German writes a role as the end of a compound ("Verteidigungsministerin", "Fraktionschef").
GERMAN_TITLE_ENDINGS = (
    "minister",
    "ministerin",
    "kanzler",
    "kanzlerin",
    "chef",
    "chefin",
    "präsident",
    "präsidentin",
    "sprecher",
    "sprecherin",
    "vorsitzende",
    "vorsitzender",
    "leiter",
    "leiterin",
    "bürgermeister",
    "bürgermeisterin",
    "direktor",
    "direktorin",
)
# Honorifics stand before a name as words of their own, never as the end of a compound.
HONORIFICS = frozenset("""mr mrs ms dr prof sir dame lord lady""".split())
ORG_HEADS = frozenset(
    """inc inc. corp corp. corporation ltd ltd. llc plc group company co co. holdings
agency ministry department journal times post news press herald tribune guardian gazette telegraph
economist bank university college school institute council commission committee party club fc cf
association federation league union authority administration office service services army navy force
forces battalion brigade regiment court parliament congress senate assembly foundation fund organization
organisation network airlines airways motors technologies technology systems labs laboratories
pharmaceuticals pharma studios records police bureau board cabinet government
exchange society trust partners capital ventures media broadcasting radio television tv magazine
reuters industries energy electric airline center centre academy akademie académie academia
gewerkschaft sindicato syndicat ministerio ministère ministerium gruppe grupo groupe konzern ag gmbh
se sa nv bv spa orchestra orchestre orquesta philharmonic philharmonie orkest symphony guard
electronics automotive aerospace air chemicals foods pharmaceuticals steel petroleum mining telecom
semiconductor logistics shipping lines rail railways railway terminals tribunal""".split()
)
# A head word that opens an organisation's name before "of"/"de": "Port of", "Ministry of",
# "Ministerio de", "Hafen von".
ORG_PREFIXES = frozenset(
    """port ports ministry ministerio ministère ministerium department university universidad
université universität bank banco banque council consejo conseil conselho bureau office oficina
commission comisión comité committee federation federación fédération union unión sindicato
syndicat institute instituto institut agency agencia agence authority autoridad autorité
church iglesia église museum museo musée court tribunal hafen port-authority orchestra
comunidad ayuntamiento diputación junta generalitat mairie préfecture""".split()
)
ORG_FOLLOWERS = frozenset(
    """battalion brigade regiment agency ministry party company group army forces
militia government officials spokesman spokeswoman spokesperson ceo chief executives shareholders shares
stock board headquarters employees staff workers subsidiary division unit club""".split()
)
ORG_APPOSITION = frozenset(
    """company firm manufacturer maker retailer carmaker automaker startup
newspaper publication broadcaster agency ministry club team group bank lender insurer regulator
watchdog party organisation organization charity network outlet brand supplier operator""".split()
)
# Head words that open a body's name in languages that put the head first ("Grupo Acme",
# "Sindicato Ferroviario", "Groupe Acme", "Gewerkschaft Acme").
HEAD_INITIAL_ORGS = frozenset(
    """grupo groupe gruppe sindicato syndicat gewerkschaft confederación confédération
federación fédération asociación compañía compagnie société sociedad empresa banco banque
ministerio ministère ministerium servicio comité comisión consejo instituto agencia centro
secretaría partido movimiento tribunal audiencia fiscalía fiscalia abogacía juzgado corte
cour""".split()
)
# Named storms put their class first ("Hurricane X", "Typhoon X", "Sturmtief X"), and so
# do cups, battles and finals ("Copa del X", "Battle of X").
HEAD_INITIAL_EVENTS = frozenset(
    """hurricane typhoon cyclone storm huracán ouragan tempête tormenta tifón hurrikan taifun
orkan sturmtief copa coupe battle bataille batalla schlacht final finale""".split()
)
# German heads that open the name of a territory ("Landkreis X", "Freistaat X").
# Landforms and works put their class first too ("Fort X", "Dune du X", "Lake X", "Isla X").
HEAD_INITIAL_PLACES = frozenset(
    """landkreis freistaat bundesland bezirk kanton fort dune mount mont monte lake lac lago
isla île cabo sierra playa plage islas îles rue avenue boulevard calle avenida plaza paseo
quai región région provincia comarca distrito departamento""".split()
)
# A class noun just before a name, or before "such as" and a list of names, gives them
# its kind: "the logistics company Acme", "la empresa Acme", "les marques A, B et C",
# "compañías como A, B y C", "der Konzern Acme".
CLASS_NOUNS = {
    "org": frozenset(
        """company companies firm firms carmaker automaker retailer manufacturer operator
operators airline airlines carrier carriers union unions lender insurer broadcaster conglomerate
empresa empresas compañía compañías operadora operadoras sindicato sindicatos aerolínea
aerolíneas société sociétés entreprise entreprises groupe compagnie syndicat syndicats
constructeur unternehmen konzern konzerns firma firmen gewerkschaft gewerkschaften
fluggesellschaft giant giants maker makers publisher publishers developer developers""".split()
    ),
    "product": frozenset(
        """brand brands marque marques marca marcas marke marken ship vessel freighter
tanker""".split()
    ),
    "place": frozenset(
        """city town village ville commune ciudad municipio localidad stadt gemeinde
cathedral cathédrale catedral kathedrale basilica basilique basílica island isla île insel
mar mer quartier barrio neighbourhood neighborhood""".split()
    ),
}
# German writes the class noun as the last part of a compound ("Chemiekonzern Acme",
# "Saatgutriesen Acme", "Autobauer Acme").
GERMAN_CLASS_ENDINGS = {
    "org": (
        "konzern",
        "konzerns",
        "unternehmen",
        "hersteller",
        "herstellers",
        "gewerkschaft",
        "riese",
        "riesen",
        "bauer",
        "bauers",
        "gesellschaft",
        "firma",
        "gruppe",
        "betreiber",
        "betreibers",
        "kette",
        "zulieferer",
        "versorger",
        "versorgers",
    ),
    "product": ("marke", "marken"),
    # Squares, streets, stations, quays: "Breitscheidplatz", "Budapester Straße".
    "place": ("platz", "straße", "strasse", "allee", "gasse", "bahnhof", "ufer", "damm"),
}
# Where something is, before "of/de" and a name: "the city of X", "l'usine de X",
# "l'aéroport international d'X", "el municipio de X".
PLACE_OF = CLASS_NOUNS["place"] | frozenset(
    """aéroport airport aeropuerto flughafen usine factory fábrica site región region
région province provincia département comarca puerto port rue calle avenida plaza
quartier barrio""".split()
)
_OF_WORDS = frozenset({"of", "de", "d'", "d’", "del", "du", "des", "von"})
NAMED_WORDS = frozenset(
    """called named dubbed llamada llamado denominada denominado appelée appelé baptisée
baptisé nommée namens""".split()
)
SUCH_AS = frozenset("""como comme wie like including notamment incluidas incluidos""".split())
PLACE_HEADS = frozenset(
    """sea ocean river lake mountains mountain mount island islands strait gulf bay
peninsula valley desert county province region state states republic kingdom coast oblast krai
territory territories emirates bridge beltway highway freeway expressway motorway tunnel canal
square avenue boulevard station straße strasse platz allee street road lane tower towers
palace castle""".split()
)
PLACE_PREPOSITIONS = frozenset(
    """in over to from near across into throughout outside inside toward
towards via around within en à au aux dans vers desde hacia hasta nach aus""".split()
)
PLACE_FOLLOWERS = frozenset(
    """region province city town village coast border capital oblast
peninsula island islands county district airport port""".split()
)
PRODUCT_FOLLOWERS = frozenset(
    """service satellite satellites app apps device devices phone phones
smartphone smartphones model models terminal terminals dish dishes internet software platform car cars
vehicle vehicles console drug vaccine chip chips laptop laptops tablet tablets camera cameras
communications product products kits kit subscription subscriptions handset handsets cooker cookers
heater heaters charger chargers batteries battery toy toys seat seats stroller strollers treadmill
treadmills machine machines bike bikes appliance appliances""".split()
)
EVENT_HEADS = frozenset(
    """war cup olympics games summit conference championship championships
election elections festival expo awards open prix tournament series final finals contest
contests""".split()
)
MONTHS = frozenset(
    """january february march april may june july august september october november december
jan feb mar apr jun jul aug sep sept oct nov dec januar februar märz mai juni juli oktober dezember
janvier février mars avril juin juillet août septembre octobre novembre décembre enero febrero marzo
abril mayo junio julio agosto septiembre octubre noviembre diciembre""".split()
)
WEEKDAYS = frozenset(
    """monday tuesday wednesday thursday friday saturday sunday montag dienstag mittwoch
donnerstag freitag samstag sonntag lundi mardi mercredi jeudi vendredi samedi dimanche lunes martes
miércoles jueves viernes sábado domingo""".split()
)
CONNECTORS = frozenset(
    {"of", "de", "da", "van", "von", "al", "bin", "le", "la", "du", "del", "der", "den", "&", "and"}
)
# The words that join the members of a list, in the four languages.
LIST_WORDS = frozenset(
    {",", "and", "or", "nor", "y", "e", "o", "u", "ni", "et", "ou", "und", "oder", "sowie"}
)
NOT_NAMES = frozenset(
    """i i'm i've i'd i'll we you he she they it his her their our my its this that
these those there here the a an if but and or so as at in on by for to of with from after before
when while since though although thus moreover however meanwhile according last next first one two
mr mrs ms dr sir""".split()
)
COUNTRY_ABBREVIATIONS = {
    "us": "United States",
    "u.s": "United States",
    "u.s.": "United States",
    "usa": "United States",
    "u.s.a.": "United States",
    "uk": "United Kingdom",
    "u.k.": "United Kingdom",
    "uae": "United Arab Emirates",
}
VERBISH = frozenset(
    """said says say wrote writes told tells added adds asked asks argued tweeted posted
has have had is are was were will would can could may might must should did does do announced reported
officials spokesman spokeswoman""".split()
)
DEMONYM_NOUNS = frozenset(
    """navy fleet troops soldiers people officials authorities forces military
economy market markets media territory territories targets aggression invasion citizens""".split()
)
DEMONYM_ENDINGS = ("ian", "ean", "an", "ese", "ish", "i", "ic", "ch")
# Political-camp words: capitalised like names, but adjectives ("a Republican senator") or
# members of a group ("the Republican wins"), never a product or a thing to watch by itself.
PARTY_WORDS = frozenset(
    """republican republicans democrat democrats democratic conservative conservatives
labour liberal liberals socialist socialists communist communists tory tories libertarian libertarians
nationalist nationalists progressive progressives""".split()
)


_TOKEN = re.compile(r"(?:[A-Za-z]\.){2,}|[^\W\d_](?:[\w]|['’\-](?=\w))*|\d[\d,.]*|[^\w\s]")


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    start: int
    end: int

    @property
    def lower(self) -> str:
        return self.text.lower()

    @property
    def is_cap(self) -> bool:
        return self.text[:1].isupper()

    @property
    def is_word(self) -> bool:
        return self.text[:1].isalpha()


_POSSESSIVE_END = re.compile(r"['’]s$")
_ELISION = re.compile(r"[dDlLjJnNsScCmMtT]['’](?=[A-ZÀ-Þ])")


def tokenize(sentence: str) -> list[Token]:
    """Word and punctuation tokens; "Russia's" is split into "Russia" and "'s"."""
    out = []
    for m in _TOKEN.finditer(sentence):
        text, start = m.group(0), m.start()
        # Most tokens have no apostrophe (the storyline tracker tokenizes every article).
        quoted = "'" in text or "’" in text
        poss = _POSSESSIVE_END.search(text) if quoted else None
        elision = _ELISION.match(text) if quoted else None
        if elision:  # French "d'Haneda", "l'Alliance": the name starts after the apostrophe
            out.append(Token(text[:2], start, start + 2))
            out.append(Token(text[2:], start + 2, m.end()))
        elif poss and len(text) > 2 and text[0].isalpha():
            out.append(Token(text[: poss.start()], start, start + poss.start()))
            out.append(Token(text[poss.start() :], start + poss.start(), m.end()))
        else:
            out.append(Token(text, start, m.end()))
    return out


# Tokens after which a capital opens a sentence or a quote, and so proves nothing.
OPENERS = frozenset({"‘", "“", '"', "'", "(", ":", "-", "—", "–"})


def is_title(word: str) -> bool:
    """A title or role written capitalised before a name ("Minister", "VC-Präsident")."""
    low = word.lower()
    # An honorific never ends a compound title: "Notre-Dame" is a name, "VC-Präsident" a title.
    return (
        low in PERSON_TITLES
        or low.rsplit("-", 1)[-1] in PERSON_TITLES - HONORIFICS
        or any(low.endswith(end) and len(low) > len(end) + 2 for end in GERMAN_TITLE_ENDINGS)
    )


def common_noun(word: str, background: Background) -> bool:
    """A word the news mostly writes in lower case ("Internet", "Government")."""
    w = word.lower()
    seen = background.capitalised.get(w, 0) + background.lowercase.get(w, 0)
    return seen >= 10 and background.capital_share(w) < 0.4 and not word.isupper()


def apposition_descriptor(tokens: list[Token], end: int) -> str | None:
    """``X, a famous billionaire`` -> "billionaire" (the noun that may refer back to X)."""
    if end + 2 >= len(tokens) or tokens[end].text != ",":
        return None
    k = end + 1
    if tokens[k].lower not in ("a", "an", "the"):
        return None
    k += 1
    while k < len(tokens) and tokens[k].is_word and not tokens[k].is_cap:
        if tokens[k].lower in PERSON_TITLES:
            return tokens[k].lower
        k += 1
    return None


def class_noun_kind(tokens: list[Token], start: int) -> str | None:
    """The kind a class noun gives the name at ``start``: right before it ("la empresa
    Acme", "logistics company Acme"), or before "such as"/"como" ("companies such as Acme",
    "compañías logísticas como Acme"), at most five words back in the same clause."""
    prev = [t.lower for t in tokens[max(0, start - 7) : start]]
    if not prev:
        return None
    if prev[-1] in _OF_WORDS:
        for word in reversed(prev[:-1][-3:]):
            word = re.sub(r"^[ld]['’]", "", word)
            if word in PLACE_OF:
                return "place"
            if not word.isalpha() or word[:1] != word[:1].lower():
                break
    if prev[-1] in SUCH_AS or prev[-2:] == ["such", "as"] or prev[-2:] == ["tales", "como"]:
        back = prev[: -2 if prev[-1] == "as" else -1]
        if back and back[-1] == ",":
            back = back[:-1]  # "airlines, including Acme"
        for word in reversed(back[-5:]):
            if not word[:1].isalpha():
                return None
            kind = next((k for k, nouns in CLASS_NOUNS.items() if word in nouns), None)
            if kind:
                return kind
        return None
    named = False
    if len(prev) > 2 and prev[-1] == "the" and prev[-2] in NAMED_WORDS:
        prev, named = prev[:-1], True  # "a ship named the Acme"
    if len(prev) > 1 and prev[-1] in NAMED_WORDS:
        prev, named = prev[:-1], True  # "a company called Acme", "une société baptisée Acme"
    kind = next((k for k, nouns in CLASS_NOUNS.items() if prev[-1] in nouns), None)
    # French and Spanish put adjectives after the noun: "le constructeur automobile
    # italo-américain Acme", "la aerolínea estatal Acme" (one or two of them).
    for back in (2, 3):
        if kind or named or len(prev) < back:
            break
        if not all(_adjective_like(t.text) for t in tokens[start - back + 1 : start]):
            break
        kind = next((k for k, nouns in CLASS_NOUNS.items() if prev[-back] in nouns), None)
    return kind or german_class(tokens[start - 1].text)


def _adjective_like(word: str) -> bool:
    """A lower-case word that may qualify a noun: no function word, verb or number."""
    return bool(
        re.fullmatch(r"[a-zà-ÿ]+(?:-[a-zà-ÿ]+)*", word)
        and word not in VERBISH
        and word not in _OF_WORDS
        and word not in CONNECTORS
        and len(word) > 3
    )


def german_class(word: str) -> str | None:
    """The kind a capitalised German compound ending in a class noun names ("Chemiekonzern")."""
    low = word.lower()
    if not word[:1].isupper() or "-" in word:
        return None
    return next(
        (
            k
            for k, ends in GERMAN_CLASS_ENDINGS.items()
            for end in ends
            if low.endswith(end) and len(low) > len(end) + 2
        ),
        None,
    )


def mention_votes(
    tokens: list[Token], start: int, end: int, *, role: str, background: Background
) -> Counter:
    """Kind votes for the name at ``tokens[start:end]`` from the cues around it (see the
    module docstring); ``role`` is "possessive" when the name is followed by 's."""
    words = [t.text for t in tokens[start:end]]
    lower = [w.lower() for w in words]
    prev = [t.lower for t in tokens[max(0, start - 3) : start]]
    after = [t.lower for t in tokens[end : end + 6]]
    if after[:1] in (["'s"], ["’s"]):
        after = after[1:]
    v: Counter = Counter()
    head = lower[-1]
    # Followed by a lower-case noun it qualifies (not a verb, not a function word).
    qualifies = bool(
        after
        and end < len(tokens)
        and tokens[end].is_word
        and tokens[end].text.islower()
        and after[0] not in VERBISH
        and after[0] not in NOT_NAMES
        and after[0] not in ORG_FOLLOWERS
        and after[0] not in PLACE_FOLLOWERS
        and after[0] not in PERSON_TITLES
        # "the Lakers honoring his achievement": a participle is what the name does
        and not (after[0].endswith("ing") and len(after[0]) > 6)
    )
    if head in ORG_HEADS or (len(lower) > 2 and set(lower) & ORG_HEADS):
        v["org"] += 3
    if len(lower) > 2 and lower[0] in ORG_PREFIXES and lower[1] in CONNECTORS:
        v["org"] += 4  # "Port of Rotterdam": a place after "of" names the body, not the place
    if len(lower) > 1 and lower[0] in HEAD_INITIAL_ORGS:
        v["org"] += 3  # "Grupo Acme", "Sindicato Ferroviario"
    kind = class_noun_kind(tokens, start)
    if kind:
        v[kind] += 3
    if len(words) > 1 and re.fullmatch(r"[A-Z]{2,5}", words[0]) and words[1][:1].isupper():
        v["org"] += 2  # "FNV Havens": an acronym leading a name is an organisation
    if head in PLACE_HEADS or (len(lower) > 1 and lower[0] in HEAD_INITIAL_PLACES):
        v["place"] += 3
    if len(words) == 1 and german_class(words[0]) == "place":
        v["place"] += 3  # "Breitscheidplatz", "Hauptbahnhof"
    if (head in EVENT_HEADS or lower[0] in HEAD_INITIAL_EVENTS) and len(lower) > 1:
        v["event"] += 3
    if len(words) == 1 and re.fullmatch(r"(?:[A-Z]\.){2,}", words[0]):
        v["place" if words[0].lower() in COUNTRY_ABBREVIATIONS else "org"] += 2
    elif len(words) == 1 and re.fullmatch(r"[A-Z]{2,6}", words[0]):
        v["place" if words[0].lower() in COUNTRY_ABBREVIATIONS else "org"] += 2
    elif len(words) > 1 and re.fullmatch(r"[A-Z]{2,6}", words[0]) and head in ORG_HEADS:
        v["org"] += 1
    if (
        len(prev) > 1 and prev[-1] == "," and tokens[start - 2].text.islower()
    ):  # "its shopping service, Acme Shopping," (not "Acme Terminal, Uniport")
        if prev[-2] in PRODUCT_FOLLOWERS:
            v["product"] += 2
        elif prev[-2] in ORG_APPOSITION:
            v["org"] += 2
    if prev:
        if prev[-1] in PERSON_TITLES or (len(prev) > 1 and prev[-1].rstrip(".") in PERSON_TITLES):
            v["person"] += 3
        if prev[-1] in PLACE_PREPOSITIONS and role != "possessive":
            v["place"] += 1  # not "in X's government": there the noun is the place
        if prev[-1] == "the" and len(words) == 1 and not qualifies:
            v["org"] += 1  # "the Kremlin", "the Pentagon"
        if prev[-1] in ("its", "their") or (len(prev) > 1 and prev[-2] in ("its", "their")):
            v["product"] += 1
    if len(prev) > 1 and prev[-1] == "the" and (prev[-2] in PLACE_PREPOSITIONS or prev[-2] == "at"):
        v["place"] += 2
    if len(prev) > 1 and prev[-1] == "der" and prev[-2] in ("in", "aus"):
        # "in der Eifel", "aus der Schweiz" (not "aus dem Ministerium"); an acronym's org
        # vote outweighs it ("in der SPD")
        v["place"] += 1
    if len(words) > 1 and any(w[:1].isdigit() or re.fullmatch(r"[A-Z]\d+\w*", w) for w in words):
        v["product"] += 3  # a model number: "Acme Phone 7", "Acme 737 Max", "Acme G650"
    if any(re.search(r"[a-z]{3}[A-Z]", w) for w in words):  # AcmeSoft, iPhone-like: not a person
        v["org"] += 0.5
        v["product"] += 0.5
    if (
        after
        and after[0] in PERSON_TITLES
        and end + 1 < len(tokens)
        and tokens[end + 1].is_cap
        and role == "noun"
    ):
        v["org"] += 2  # "Acme manager Jane Doe", "Acme chief executive Jane Doe"
    elif (
        len(after) > 1
        and after[0] in PERSON_TITLES
        and after[1] in PERSON_TITLES
        and end + 2 < len(tokens)
        and tokens[end + 2].is_cap
    ):
        v["org"] += 2
    if (
        len(after) > 2
        and after[0] == ","
        and after[1] in PERSON_TITLES
        and (after[2] in CONNECTORS or after[2] in PERSON_TITLES)
        and len(words) > 1
    ):
        v["person"] += 2  # "Jane Doe, patron du parti", "Jane Doe, chief executive of Acme"
    if prev and prev[-1] == "the" and qualifies:
        v["product"] += 1  # "the Acme Pro kettle": a name used to qualify a thing
    if after:
        if after[0] in PRODUCT_FOLLOWERS:
            v["product"] += 2
        if after[0] in ORG_FOLLOWERS and role != "possessive":
            v["org"] += 2
        if after[0] in PLACE_FOLLOWERS:
            v["place"] += 2
        if after[0] == "-" and len(after) > 1 and after[1] == "based":
            v["place"] += 2
        if after[0] == ",":
            rest = after[1:]
            if rest[:1] in (["who"], ["whom"], ["whose"]):
                v["person"] += 3
            elif rest[:1] == ["which"]:
                v["org"] += 1
            elif (
                rest[:1] in (["a"], ["an"], ["the"], ["its"], ["their"])
                or len(rest) > 1
                and rest[1] in ("'s", "’s")
            ):  # "AcmeAds, its advertising service"
                nouns = [w for w in rest[1:] if w.isalpha()][:4]
                if any(w in PERSON_TITLES for w in nouns):
                    v["person"] += 2
                elif any(w in ORG_APPOSITION for w in nouns):
                    v["org"] += 2
                elif any(w in PRODUCT_FOLLOWERS for w in nouns):
                    v["product"] += 2
        if (
            after[0] in ("said", "says", "wrote", "told", "added", "asked", "argued", "tweeted")
            and len(words) > 1
        ):
            v["person"] += 0.5
    # Demonym-shaped single words ("Russian officials") are attributes, not participants.
    if (
        len(words) == 1
        and role == "noun"
        and end < len(tokens)
        and tokens[end].is_word
        and not tokens[end].is_cap
        and lower[0].endswith(DEMONYM_ENDINGS)
        and (
            after[0] in PERSON_TITLES
            or after[0] in ORG_FOLLOWERS
            or after[0] in DEMONYM_NOUNS
            or not (prev and (prev[-1] in PLACE_PREPOSITIONS or prev[-1] in ("the", "a", "an")))
        )
        and after[0] not in ("said", "says", "wrote", "has", "have", "is", "was", "will", "to")
    ):
        v["demonym"] += 1
    # "the Republican wins", "respond to the Chinese": a demonym or party word used as a
    # noun names people of a country or camp, not a thing to watch; the context cues
    # above ("the X <word>" product, "to the X" place) are wrong for it.
    if len(words) == 1 and not v.get("demonym") and attribute_word(words[0], background):
        v["demonym"] += 1
    if (
        len(words) in (2, 3)
        and all(w[:1].isupper() and w.isalpha() for w in words)
        and not (set(lower) & (ORG_HEADS | PLACE_HEADS | EVENT_HEADS))
    ):
        v["shape"] = 1  # a given name and a family name: counted once per entity
    return v


def attribute_word(word: str, background: Background) -> bool:
    """Is ``word`` a demonym or party word ("Russian", "Taiwanese", "Republican")?

    No list of nationalities: a party word (closed class), an ``-ese``/``-ish`` word,
    or a demonym-shaped word whose plural the news writes capitalised ("Ukrainians":
    people; names have no plural, "Taiwans") or whose stem with a place ending is a
    name the news writes ("Syrian" -> Syria, "Iraqi" -> Iraq, "German" -> Germany).
    """
    low = word.lower()
    if low in PARTY_WORDS:
        return True
    endings = [e for e in DEMONYM_ENDINGS if low.endswith(e)]
    if not (word[:1].isupper() and low.isalpha() and len(low) >= 5 and endings):
        return False
    bg = background
    if low.endswith(("ese", "ish")) and bg.capital_share(low) >= 0.5:
        return True
    if bg.df(low + "s") >= 2 and bg.capital_share(low + "s") >= 0.6:
        return True
    for ending in endings:
        stem = low[: -len(ending)]
        if len(stem) < 3:
            continue
        for tail in ("", "a", "ia", "e", "y", "o", "any"):
            place = stem + tail
            if (
                place != low
                and len(place) >= 4
                and place not in MONTHS
                and bg.df(place) >= 3
                and bg.capital_share(place) >= 0.8
            ):
                return True
    return False
