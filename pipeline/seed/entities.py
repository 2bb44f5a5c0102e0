"""Finding the people, organisations, places and products an article names, without a model.

Capitalised phrases are the candidates (sentence-initial words only when the background
corpus or the article itself writes them capitalised mid-sentence). Each mention gets
kind votes from closed-class cues around it:

- person: titles and roles before it ("President", "Chinese leader", "Mr."), appositions
  after it ("X, Putin's first deputy", "X, a famous billionaire", "X, who"), and a
  surname used alone later;
- org: a head word ("Inc", "Agency", "Ministry", "Journal", "Department"), a following
  lower-case head ("the Azov battalion"), "the X" for a single word, acronyms;
- place: "in/over/to X", "X's capital", geographic heads ("Sea", "Strait"), and a
  demonym in the article that shares its stem ("Russian" for Russia);
- product: a following product noun ("the Starlink satellite service", "Starlink terminals");
- event: "Cup", "Olympics", "Summit", "election" heads.

Mentions of the same thing are merged: a surname (or family name) alone joins the full
name it belongs to, an acronym joins the phrase it abbreviates ("WSJ" → "The Wall Street
Journal"). Descriptive references ("the billionaire", "the businessman") are *not*
aliases; an apposition ("Elon Musk, a famous billionaire") lets them count as mentions of
that entity for finding the article's threads, and nothing else.

Entities the existing watchlists define are linked by name/alias/transliteration and keep
their id, kind and aliases; the others are ``new``.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from anyascii import anyascii

from pipeline.seed.background import Background

# --- closed-class cue words (not gazetteers: no names in here) -------------------------
PERSON_TITLES = frozenset(
    """president vice prime minister chancellor king queen prince princess pope
senator sen rep representative congressman congresswoman governor mayor judge justice general gen colonel
dictator leader chairman chairwoman chair ceo cfo coo founder cofounder co-founder chief director secretary
ambassador spokesman spokeswoman spokesperson coach manager striker midfielder defender goalkeeper forward
winger player captain mr mrs ms dr prof professor sir dame lord lady billionaire businessman businesswoman
entrepreneur executive analyst deputy boss actor actress singer author journalist reporter writer researcher
scientist economist lawyer attorney premier president-elect candidate commander officer inspector agent
owner investor presenter host star teammate international commissioner""".split()
)
APPOSITION_PERSON = PERSON_TITLES | frozenset(
    """son daughter wife husband brother sister father mother
former aide adviser advisor who whom whose""".split()
)
ORG_HEADS = frozenset(
    """inc inc. corp corp. corporation ltd ltd. llc plc group company co co. holdings
agency ministry department journal times post news press herald tribune guardian gazette telegraph
economist bank university college school institute council commission committee party club fc cf
association federation league union authority administration office service services army navy force
forces battalion brigade regiment court parliament congress senate assembly foundation fund organization
organisation network airlines airways motors technologies technology systems labs laboratories
pharmaceuticals pharma studios records police bureau board cabinet government
exchange society trust partners capital ventures media broadcasting radio television tv magazine
reuters industries energy electric airline""".split()
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
PLACE_HEADS = frozenset(
    """sea ocean river lake mountains mountain mount island islands strait gulf bay
peninsula valley desert county province region state states republic kingdom coast oblast krai
territory territories emirates""".split()
)
PLACE_PREPOSITIONS = frozenset(
    """in over to from near across into throughout outside inside toward
towards via around within""".split()
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
heater heaters charger chargers batteries battery toy toys seat seats stroller strollers""".split()
)
EVENT_HEADS = frozenset(
    """war cup olympics games summit conference championship championships
election elections festival expo awards open prix tournament series final finals""".split()
)
MONTHS = frozenset(
    """january february march april may june july august september october november december
jan feb mar apr jun jul aug sep sept oct nov dec""".split()
)
WEEKDAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())
CONNECTORS = frozenset(
    {"of", "de", "da", "van", "von", "al", "bin", "le", "la", "du", "del", "der", "den", "&", "and"}
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
_POSSESSIVE = re.compile(r"['’]s?$")


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


def tokenize(sentence: str) -> list[Token]:
    """Word and punctuation tokens; "Russia's" is split into "Russia" and "'s"."""
    out = []
    for m in _TOKEN.finditer(sentence):
        text, start = m.group(0), m.start()
        poss = re.search(r"['’]s$", text)
        if poss and len(text) > 2 and text[0].isalpha():
            out.append(Token(text[: poss.start()], start, start + poss.start()))
            out.append(Token(text[poss.start() :], start + poss.start(), m.end()))
        else:
            out.append(Token(text, start, m.end()))
    return out


@dataclass
class Mention:
    """One occurrence of a name in a sentence (token span), with the cues seen around it."""

    sentence: int
    start: int  # token index
    end: int  # token index, exclusive
    surface: str
    char_start: int
    char_end: int
    role: str = "noun"  # noun, possessive, modifier (demonym or "Trump-backed"), descriptor
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


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", anyascii(text).lower()).strip("-")
    return slug or "entity"


def normalise_name(text: str) -> str:
    """Comparable form of a name: ASCII, case-folded, no leading "the", no possessive."""
    text = anyascii(text).casefold().strip()
    text = _POSSESSIVE.sub("", text)
    text = re.sub(r"^the\s+", "", text)
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


def _acronym(words: list[str]) -> str:
    return "".join(w[0] for w in words if w[:1].isupper())


class EntityExtractor:
    """Extracts entities from an article's sentences; see the module docstring."""

    def __init__(
        self,
        background: Background,
        catalog: Iterable = (),
        finder: Callable[[str], list[tuple[str, int, int]]] | None = None,
    ) -> None:
        """``catalog``: the existing watchlists' entities; ``finder(sentence)`` returns
        (entity id, start, end) of catalog entities the matcher finds in a sentence."""
        self.background = background
        self.catalog = list(catalog)
        self.finder = finder
        self._pairs: Counter = Counter()
        self._lower_words: set[str] = set()
        self._single_surfaces: set[str] = set()
        self._by_id = {e.id: e for e in self.catalog}
        self._catalog_index: dict[str, object] = {}
        for entity in self.catalog:
            for form in (entity.name, *entity.aliases, *entity.transliterations):
                self._catalog_index.setdefault(normalise_name(form), entity)

    # --- candidates -----------------------------------------------------------------
    def _name_like(self, tokens: list[Token], i: int, mid_caps: set[str]) -> bool:
        tok = tokens[i]
        if not (tok.is_word and tok.is_cap) or tok.lower in MONTHS or tok.lower in WEEKDAYS:
            return False
        initial = i == 0 or tokens[i - 1].text in {"‘", "“", '"', "'", "(", ":", "-", "—", "–"}
        if tok.lower in NOT_NAMES:
            return False
        if not initial:
            return True
        # A capital at the start of a sentence proves nothing: the word must be written
        # capitalised elsewhere (this article mid-sentence, or usually in the news).
        if tok.lower in mid_caps:
            return True
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if nxt is not None and nxt.is_word and nxt.is_cap and nxt.lower not in NOT_NAMES:
            # "Real Madrid" opens every sentence it is in: a pair that recurs, whose first
            # word the article never writes in lower case, is a name.
            recurring = (
                self._pairs.get((tok.text, nxt.text), 0) >= 2 and tok.lower not in self._lower_words
            )
            return (
                recurring
                or self.background.capital_share(tok.lower) >= 0.3
                or self.background.df(tok.lower) == 0
            )
        return self.background.capital_share(tok.lower) >= 0.6

    def _phrases(self, tokens: list[Token], mid_caps: set[str]) -> list[tuple[int, int]]:
        spans, i, n = [], 0, len(tokens)
        while i < n:
            if not self._name_like(tokens, i, mid_caps) and not (
                tokens[i].text == "The"
                and i + 1 < n
                and self._name_like(tokens, i + 1, mid_caps)
                and i > 0
                and tokens[i - 1].text not in {"‘", "“", '"'}
            ):
                i += 1
                continue
            j = i + 1
            while j < n:
                if self._name_like(tokens, j, mid_caps) and tokens[j].lower not in NOT_NAMES:
                    j += 1
                elif (
                    tokens[j].lower in CONNECTORS
                    and tokens[j].lower != "and"
                    and j + 1 < n
                    and tokens[j + 1].is_cap
                    and tokens[j + 1].is_word
                    and tokens[j + 1].lower not in NOT_NAMES
                ):
                    j += 2
                elif tokens[j].text == "&" and j + 1 < n and tokens[j + 1].is_cap:
                    j += 2
                else:
                    break
            spans.append((i, j))
            i = j
        return spans

    # --- extraction -----------------------------------------------------------------
    def extract(self, sentences: list[str]) -> list[SeedEntity]:
        token_lists = [tokenize(s) for s in sentences]
        self._pairs = Counter(
            (a.text, b.text)
            for toks in token_lists
            for a, b in zip(toks, toks[1:])
            if a.is_cap and b.is_cap
        )
        self._lower_words = {
            t.text for toks in token_lists for t in toks if t.is_word and t.text.islower()
        }
        mid_caps = {
            t.lower
            for toks in token_lists
            for k, t in enumerate(toks)
            if k > 0
            and t.is_cap
            and t.is_word
            and toks[k - 1].text not in {"‘", "“", '"', "(", "."}
        }
        mentions: list[Mention] = []
        descriptors: dict[str, str] = {}  # "billionaire" -> surface of the apposed name
        for si, (sentence, tokens) in enumerate(zip(sentences, token_lists)):
            for start, end in self._phrases(tokens, mid_caps):
                words = [t.text for t in tokens[start:end]]
                if len(words) == 1 and self._common_noun(words[0]):
                    continue
                # "Trump-backed": the name is the capitalised part before the hyphen.
                if end - start == 1 and re.match(r"^[A-Z][\w]*-[a-z]", words[0]):
                    head = words[0].split("-")[0]
                    m = Mention(
                        si,
                        start,
                        end,
                        head,
                        tokens[start].start,
                        tokens[start].start + len(head),
                        role="modifier",
                    )
                    mentions.append(m)
                    continue
                if words[0] == "The" and len(words) > 1:
                    surface_words = words
                else:
                    surface_words = words
                surface = " ".join(surface_words).replace(" & ", " & ")
                role = (
                    "possessive"
                    if end < len(tokens) and tokens[end].text in ("'s", "’s", "'", "’")
                    else "noun"
                )
                m = Mention(si, start, end, surface, tokens[start].start, tokens[end - 1].end, role)
                self._vote(m, tokens, sentence)
                mentions.append(m)
                app = self._apposition_descriptor(tokens, end)
                if app:
                    descriptors.setdefault(app, surface)
        entities = self._merge(mentions, token_lists)
        self._descriptor_mentions(entities, token_lists, descriptors)
        found = self._find_catalog(sentences, token_lists, entities)
        self._link_catalog(entities, found)
        for e in entities:
            e.mentions.sort(key=lambda m: (m.sentence, m.start))
            e.first_sentence = min(m.sentence for m in e.mentions)
        return entities

    def _common_noun(self, word: str) -> bool:
        """A word the news mostly writes in lower case ("Internet", "Government")."""
        w = word.lower()
        seen = self.background.capitalised.get(w, 0) + self.background.lowercase.get(w, 0)
        return seen >= 10 and self.background.capital_share(w) < 0.4 and not word.isupper()

    def _apposition_descriptor(self, tokens: list[Token], end: int) -> str | None:
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

    def _vote(self, m: Mention, tokens: list[Token], sentence: str) -> None:
        words = [t.text for t in tokens[m.start : m.end]]
        lower = [w.lower() for w in words]
        prev = [t.lower for t in tokens[max(0, m.start - 3) : m.start]]
        after = [t.lower for t in tokens[m.end : m.end + 6]]
        if after[:1] in (["'s"], ["’s"]):
            after = after[1:]
        v = m.votes
        head = lower[-1]
        # Followed by a lower-case noun it qualifies (not a verb, not a function word).
        qualifies = bool(
            after
            and m.end < len(tokens)
            and tokens[m.end].is_word
            and tokens[m.end].text.islower()
            and after[0] not in VERBISH
            and after[0] not in NOT_NAMES
            and after[0] not in ORG_FOLLOWERS
            and after[0] not in PLACE_FOLLOWERS
            and after[0] not in PERSON_TITLES
        )
        if head in ORG_HEADS or (len(lower) > 2 and set(lower) & ORG_HEADS):
            v["org"] += 3
        if head in PLACE_HEADS:
            v["place"] += 3
        if head in EVENT_HEADS and len(lower) > 1:
            v["event"] += 3
        if len(words) == 1 and re.fullmatch(r"(?:[A-Z]\.){2,}", words[0]):
            v["place" if words[0].lower() in COUNTRY_ABBREVIATIONS else "org"] += 2
        elif len(words) == 1 and re.fullmatch(r"[A-Z]{2,6}", words[0]):
            v["place" if words[0].lower() in COUNTRY_ABBREVIATIONS else "org"] += 2
        elif len(words) > 1 and re.fullmatch(r"[A-Z]{2,6}", words[0]) and head in ORG_HEADS:
            v["org"] += 1
        if len(prev) > 1 and prev[-1] == ",":  # "its shopping service, Google Shopping,"
            if prev[-2] in PRODUCT_FOLLOWERS:
                v["product"] += 2
            elif prev[-2] in ORG_APPOSITION:
                v["org"] += 2
        if prev:
            if prev[-1] in PERSON_TITLES or (
                len(prev) > 1 and prev[-1].rstrip(".") in PERSON_TITLES
            ):
                v["person"] += 3
            if prev[-1] in PLACE_PREPOSITIONS and m.role != "possessive":
                v["place"] += 1  # not "in Trump's government": there the noun is the place
            if prev[-1] == "the" and len(words) == 1 and not qualifies:
                v["org"] += 1  # "the Kremlin", "the Pentagon"
            if prev[-1] in ("its", "their") or (len(prev) > 1 and prev[-2] in ("its", "their")):
                v["product"] += 1
        if (
            len(prev) > 1
            and prev[-1] == "the"
            and (prev[-2] in PLACE_PREPOSITIONS or prev[-2] == "at")
        ):
            v["place"] += 2
        if any(re.search(r"[a-z]{3}[A-Z]", w) for w in words):  # SpaceX, SoftTop: not a person
            v["org"] += 0.5
            v["product"] += 0.5
        if (
            after
            and after[0] in PERSON_TITLES
            and m.end + 1 < len(tokens)
            and tokens[m.end + 1].is_cap
            and m.role == "noun"
        ):
            v["org"] += 2  # "Liverpool manager Arne Slot", "Breville chief executive Jim Clayton"
        elif (
            len(after) > 1
            and after[0] in PERSON_TITLES
            and after[1] in PERSON_TITLES
            and m.end + 2 < len(tokens)
            and tokens[m.end + 2].is_cap
        ):
            v["org"] += 2
        if prev and prev[-1] == "the" and qualifies:
            v["product"] += 1  # "the Breville SoftTop kettle": a name used to qualify a thing
        if after:
            if after[0] in PRODUCT_FOLLOWERS:
                v["product"] += 2
            if after[0] in ORG_FOLLOWERS and m.role != "possessive":
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
                ):  # "AdSense, its advertising service"
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
            and m.role == "noun"
            and m.end < len(tokens)
            and tokens[m.end].is_word
            and not tokens[m.end].is_cap
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
        if len(words) == 1 and not v.get("demonym") and self.attribute_word(words[0]):
            v["demonym"] += 1
        if (
            len(words) in (2, 3)
            and all(w[:1].isupper() and w.isalpha() for w in words)
            and not (set(lower) & (ORG_HEADS | PLACE_HEADS | EVENT_HEADS))
        ):
            v["shape"] = 1  # "Given Family": counted once per entity

    def attribute_word(self, word: str) -> bool:
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
        bg = self.background
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

    def _merge(self, mentions: list[Mention], token_lists: list[list[Token]]) -> list[SeedEntity]:
        """Group mentions into entities: full names, then short forms, acronyms, demonyms."""
        groups: dict[str, SeedEntity] = {}

        def group(name: str) -> SeedEntity:
            return groups.setdefault(normalise_name(name), SeedEntity(id="", kind="", name=name))

        for m in mentions:  # "US", "U.S." name the United States even when it is not spelt out
            full = COUNTRY_ABBREVIATIONS.get(m.surface.lower())
            if full:
                m.votes["place"] += 2
                group(full)
        for surface in sorted(
            {m.surface for m in mentions if len(m.surface.split()) > 1},
            key=lambda s: -len(s.split()),
        ):
            group(surface)
        nouns = {
            m.surface
            for m in mentions
            if len(m.surface.split()) == 1 and not m.votes.get("demonym")
        }
        self._single_surfaces = {m.surface for m in mentions if len(m.surface.split()) == 1}
        self._long_votes: dict[str, Counter] = defaultdict(Counter)
        for m in mentions:
            if len(m.surface.split()) > 1:
                self._long_votes[normalise_name(m.surface)].update(m.votes)
        # "U.S. Consumer Product Safety Commission" and "Consumer Product Safety Commission"
        # are one body: a multi-word name that ends another name is its short form.
        longs = sorted(
            {normalise_name(m.surface) for m in mentions if len(m.surface.split()) > 1}, key=len
        )
        for i, short in enumerate(longs):
            longer = [l for l in longs[i + 1 :] if l.endswith(" " + short)]
            if len(longer) == 1 and short in groups and longer[0] in groups:
                groups[short] = groups[longer[0]]
        for m in mentions:
            k = normalise_name(COUNTRY_ABBREVIATIONS.get(m.surface.lower(), m.surface))
            target = groups.get(k)
            if target is None and len(m.surface.split()) == 1:
                place = self._demonym_target(m.surface, nouns)
                if place is not None:
                    m.role = "modifier"
                    target = group(place)
                    target.votes["place"] += 2
                else:
                    target = self._short_form_target(m, groups)
            if target is None:
                target = group(m.surface)
            elif m.surface != target.name and m.surface not in target.aliases:
                target.aliases.append(m.surface)
            target.mentions.append(m)
        entities = []
        for e in {id(g): g for g in groups.values()}.values():
            # A word only ever used as an adjective ("Chinese leader") names no entity here.
            if not e.mentions or all(m.votes.get("demonym") for m in e.mentions):
                continue
            for m in e.mentions:
                e.votes.update(m.votes)
                m.entity = e
            e.kind = self._kind(e)
            if e.name.startswith("The ") and e.kind != "org":
                e.name = e.name[4:]
            if e.name.startswith("The ") and e.name[4:] not in e.aliases:
                e.aliases.insert(0, e.name[4:])
            entities.append(e)
        self._coordinated_places(entities, token_lists)
        self._surname_aliases(entities)
        return entities

    @staticmethod
    def _surname_aliases(entities: list[SeedEntity]) -> None:
        """A person named in full is later called by the surname alone: make it an alias.

        The short form the article itself uses wins ("Xi" of Xi Jinping); otherwise the last
        word. Not when two people of the article share it (Elon and Errol Musk).
        """
        people = [e for e in entities if e.kind == "person" and len(e.name.split()) > 1]
        last_words = Counter(e.name.split()[-1] for e in people)
        for e in people:
            parts = e.name.split()
            if any(a in (parts[0], parts[-1]) for a in e.aliases) or e.votes.get("person", 0) < 1:
                continue  # already has its short form, or only looks like a name
            surname = parts[-1]
            if (
                last_words[surname] == 1
                and len(surname) >= 3
                and surname.lower() not in NOT_NAMES
                and surname[:1].isupper()
                and not surname.endswith(".")
            ):
                e.aliases.append(surname)

    @staticmethod
    def _coordinated_places(entities: list[SeedEntity], token_lists: list[list[Token]]) -> None:
        """A name without clear cues listed with places is a place ("the United States and
        Canada", "Sydney, Australia")."""
        at: dict[tuple[int, int], SeedEntity] = {}
        for e in entities:
            for m in e.mentions:
                at[(m.sentence, m.start)] = e
                at[(m.sentence, -m.end)] = e
        for e in entities:
            strong = max(
                (v for k, v in e.votes.items() if k not in ("demonym", "shape")), default=0
            )
            if e.kind == "place" or strong > 1:
                continue
            for m in e.mentions:
                tokens = token_lists[m.sentence]
                before = (
                    at.get((m.sentence, -(m.start - 1)))
                    if m.start >= 1 and tokens[m.start - 1].text in (",", "and", "or")
                    else None
                )
                after = (
                    at.get((m.sentence, m.end + 1))
                    if m.end < len(tokens) and tokens[m.end].text in (",", "and", "or")
                    else None
                )
                if any(x is not None and x is not e and x.kind == "place" for x in (before, after)):
                    e.kind = "place"
                    break

    def _short_form_target(self, m: Mention, groups: dict[str, SeedEntity]) -> SeedEntity | None:
        words = m.surface.split()
        if len(words) != 1:
            return None
        word = words[0]
        hits = []
        for e in groups.values():
            parts = e.name.split()
            if len(parts) < 2:
                continue
            is_person_shaped = not (
                set(p.lower() for p in parts) & (ORG_HEADS | PLACE_HEADS | EVENT_HEADS)
            )
            # The family name is the last word ("Musk"), or the first for someone named with a
            # title whose last name is never used alone ("Chinese leader Xi Jinping" ... "Xi");
            # "Breville" alone is not "Breville SoftTop", "Google" not "Google Shopping".
            titled = self._long_votes.get(normalise_name(e.name), Counter()).get("person", 0) >= 2
            if (
                is_person_shaped
                and word.lower() not in NOT_NAMES
                and not m.votes.get("place")
                and (
                    word == parts[-1]
                    or (word == parts[0] and titled and parts[-1] not in self._single_surfaces)
                )
            ):
                hits.append(e)
            elif (
                re.fullmatch(r"[A-Z]{2,6}", word)
                and _acronym([p for p in parts if p != "The"]) == word
            ):
                hits.append(e)
            elif re.fullmatch(r"[A-Z]{2,6}", word) and _acronym(parts) == word:
                hits.append(e)
        return hits[0] if len(hits) == 1 else None

    @staticmethod
    def _demonym_target(word: str, singles: set[str]) -> str | None:
        low = word.lower()
        if not low.endswith(DEMONYM_ENDINGS):
            return None
        for name in singles:
            n = name.lower()
            if n == low or len(n) < 4 or not name[:1].isupper():
                continue
            common = 0
            while common < min(len(n), len(low)) and n[common] == low[common]:
                common += 1
            if common >= 4 and common >= len(n) - 2:
                return name
        return None

    def _kind(self, e: SeedEntity) -> str:
        votes = Counter(
            {
                k: v
                for k, v in e.votes.items()
                if k in ("person", "org", "place", "product", "event")
            }
        )
        if any(m.votes.get("shape") for m in e.mentions):
            votes["person"] += 1
        if any(
            m.surface != e.name
            and len(e.name.split()) > 1
            and m.surface in (e.name.split()[-1], e.name.split()[0])
            and not m.votes.get("product")
            for m in e.mentions
        ):
            votes["person"] += 2  # a surname used alone (not "the SoftTop kettles")
        if not votes:
            return "org" if len(e.name.split()) == 1 else "person"
        best = max(votes.values())
        for kind in ("person", "place", "org", "product", "event"):
            if votes[kind] == best:
                return kind
        return "org"

    def _descriptor_mentions(
        self,
        entities: list[SeedEntity],
        token_lists: list[list[Token]],
        descriptors: dict[str, str],
    ) -> None:
        by_surface = {}
        for e in entities:
            for m in e.mentions:
                by_surface.setdefault(m.surface, e)
        for noun, surface in descriptors.items():
            target = by_surface.get(surface)
            if target is None:
                continue
            for si, tokens in enumerate(token_lists):
                for k, tok in enumerate(tokens):
                    if (
                        tok.lower == noun
                        and k > 0
                        and (
                            tokens[k - 1].lower in ("the", "this")
                            or re.match(r"^[A-Z]\w*-\w+$", tokens[k - 1].text)
                        )
                    ):
                        if si not in target.sentences(include_descriptors=False):
                            target.mentions.append(
                                Mention(
                                    si, k, k + 1, tok.text, tok.start, tok.end, role="descriptor"
                                )
                            )

    def _find_catalog(
        self, sentences: list[str], token_lists: list[list[Token]], entities: list[SeedEntity]
    ) -> dict[int, Counter]:
        """Ask the matcher which catalog entities each sentence names.

        A hit on a name we already have links that entity (votes by id); a hit elsewhere
        ("Russia's space agency", "Chinese leader") adds a mention of the catalog entity.
        """
        votes: dict[int, Counter] = defaultdict(Counter)
        if self.finder is None:
            return votes
        for si, (sentence, tokens) in enumerate(zip(sentences, token_lists)):
            for ref, start, end in self.finder(sentence):
                if ref not in self._by_id:
                    continue
                overlapping = [
                    m
                    for e in entities
                    for m in e.mentions
                    if m.sentence == si
                    and m.role != "descriptor"
                    and m.char_start < end
                    and start < m.char_end
                ]
                wider = overlapping and all(
                    start <= m.char_start
                    and m.char_end <= end
                    and (start, end) != (m.char_start, m.char_end)
                    for m in overlapping
                )
                if overlapping and not wider:
                    for m in overlapping:
                        votes[id(m.entity)][ref] += 1
                    continue
                for m in overlapping:  # "Russia" inside "Russia's space agency" only qualifies it
                    m.role = "modifier"
                k0 = next((k for k, t in enumerate(tokens) if t.end > start), 0)
                k1 = next((k for k, t in enumerate(tokens) if t.start >= end), len(tokens))
                role = (
                    "possessive" if k1 < len(tokens) and tokens[k1].text in ("'s", "’s") else "noun"
                )
                target = next((e for e in entities if e.id == ref), None)
                if target is None:
                    cat = self._by_id[ref]
                    target = SeedEntity(id=ref, kind=cat.kind, name=cat.name)
                    entities.append(target)
                    votes[id(target)][ref] += 1
                m = Mention(si, k0, k1, sentence[start:end], start, end, role)
                m.entity = target
                target.mentions.append(m)
        return votes

    def _link_catalog(self, entities: list[SeedEntity], found: dict[int, Counter]) -> None:
        for e in entities:
            linked = None
            for form in (e.name, *e.aliases):  # the full name decides first
                linked = self._catalog_index.get(normalise_name(form))
                if linked is not None:
                    break
            if linked is None and found.get(id(e)):
                ref, count = found[id(e)].most_common(1)[0]
                if (
                    count * 2 > len([m for m in e.mentions if m.role != "descriptor"])
                    or len(found[id(e)]) == 1
                ):
                    linked = self._by_id[ref]
            if linked is None:
                e.id = slugify(e.name[4:] if e.name.startswith("The ") else e.name)
                continue
            e.catalog_source = e.name
            e.id, e.kind, e.new = linked.id, linked.kind, False
            e.name = linked.name
            e.aliases = list(linked.aliases)
            e.transliterations = list(linked.transliterations)
            e.negative_contexts = list(linked.negative_contexts)
        # Two article entities may link to one catalog entity (e.g. "Putin" seen before the
        # full name): fold them together.
        merged: dict[str, SeedEntity] = {}
        for e in entities:
            if e.id in merged:
                keep = merged[e.id]
                keep.mentions += e.mentions
                keep.votes.update(e.votes)
                if e.new:
                    keep.aliases += [
                        a for a in [e.name, *e.aliases] if a not in keep.aliases and a != keep.name
                    ]
                for m in e.mentions:
                    m.entity = keep
            else:
                merged[e.id] = e
        entities[:] = list(merged.values())
