"""The threads of a seed article, as storyline rules over its entities and keywords.

A thread is "who does what with whom": an *anchor* (one of the article's main actors)
together with *partners* (the people, organisations and places it deals with in this
thread). Sentence by sentence:

1. Each entity takes part in a sentence with a weight: named 1.0, descriptive reference
   ("the billionaire", via an apposition) 0.8, possessive 0.7, adjective/modifier 0.3
   ("Russian officials", "X-backed"). Sources ("The Daily Courier reports") take no part.
2. Salience = participation × specificity (background inverse document frequency), so a
   name ordinary news uses everywhere ("US") weighs less than a rare surname. The top
   actors (person/org/product, at most four, at least 15% of the first) are the anchors.
3. The link between two entities adds, over the sentences naming both, the smaller weight
   times their closeness in words. Each partner joins the anchors it is linked to best
   (within 60% of its best link); two people (or two organisations) who are both anchors
   make a thread too.
4. Partners of overlapping anchors merge into one thread when one is named in a single
   sentence that also names the other within about fifteen words (two actors, or two
   places), when both are places named in the same or adjacent sentences (a country, its
   port and its sea), when one is named in the other's possessive ("Northland's navy"),
   or when two actors are named within three words of each other.
5. Threads are ranked by link strength × specificity; those with at least a quarter of the
   strongest thread's strength are kept (at most eight).

Each thread becomes a storyline: ``all_of: [[anchors], [partners, topic]]`` where the topic
holds the thread's keywords (YAKE over the article, re-weighted by background rarity,
found in the thread's sentences), so an article matches with an anchor and either a
partner or the thread's own vocabulary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import simplemma
import yake
from wordfreq import zipf_frequency

from pipeline.match.folding import skeleton
from pipeline.seed.background import Background, words
from pipeline.seed.gazetteer import place_forms
from pipeline.seed.language import stopwords
from pipeline.seed.names import normalise_name, slugify
from pipeline.seed.spans import SeedEntity

ROLE_WEIGHT = {"noun": 1.0, "descriptor": 0.8, "possessive": 0.7, "modifier": 0.3}
REPORTING_VERBS = frozenset(
    """reports reported writes wrote notes noted concludes concluded says said
report reporting according citing cited""".split()
)
STOPWORDS = frozenset(
    """a an the and or but if of in on at to for from by with about as into over after
before since during under between through against among without within than then so that this these
those there here it its he she his her they their them we our you your i my me is are was were be been
being has have had do does did will would can could may might must should shall not no nor also only
just more most some such very which who whom whose what when where why how all any both each few other
same own again further once while said says say one two first last new year years time according
including example moreover thus however already particular present result subsequently""".split()
)
# How articles talk about themselves and their sources: never a story's vocabulary.
JOURNALESE = REPORTING_VERBS | frozenset(
    """article publication newspaper outlet points notes writes
concludes investigation sources source""".split()
)
# Amounts: every business story has "billions of dollars"; they never mark one story.
AMOUNT_WORDS = frozenset(
    """million millions billion billions trillion dollar dollars euro euros pound pounds
percent us-dollar us-dollars millionen milliarde milliarden prozent franken millón millones
dólares dólar mil milliard milliards pourcent""".split()
)
PUBLICATION_WORDS = frozenset(
    """journal times post news press herald tribune guardian gazette telegraph
economist reuters magazine media broadcasting radio television tv newspaper agency""".split()
)
MAX_ANCHORS = 4
ANCHOR_SHARE = 0.15
MIN_LINK = 0.3
MAX_THREADS = 8
MIN_THREAD_SHARE = 0.25
WIDE_MIN_DOCS = 5
TOPIC_TERMS = 5
# A word this common (Zipf frequency: once in 10,000 words) is an everyday word.
EVERYDAY_ZIPF = 4.0


@dataclass
class Thread:
    """One thread of the article: anchors, partners, the sentences and keywords behind it."""

    anchors: list[SeedEntity]
    partners: list[SeedEntity]
    strength: float
    sentences: list[int] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)

    @property
    def refs(self) -> set[str]:
        return {e.id for e in (*self.anchors, *self.partners)}


def specificity(entity: SeedEntity, background: Background) -> float:
    """Background rarity of the commonest way the article names the entity (0.2..1)."""
    forms = {m.surface for m in entity.mentions if m.role != "descriptor"} or {entity.name}
    return max(0.2, min(background.idf(normalise_name(f)) for f in forms))


def is_source(entity: SeedEntity, sentences: list[str], headline: str) -> bool:
    """An outlet cited as the source ("The Daily Courier reports", "- Courier", "the Courier concludes").

    Only publications (a name with "Journal", "Times", "News"...) or the outlet after the
    headline's dash; a regulator that "said" something takes part in the story.
    """
    if entity.kind != "org":
        return False
    names = {w.lower() for form in (entity.name, *entity.aliases) for w in words(form)}
    in_tail = any(
        m.sentence == 0
        and headline
        and sentences[0][m.char_end :].strip() == ""
        and re.search(r"\s[-–—|]\s*$", sentences[0][: m.char_start])
        for m in entity.mentions
    )
    if not (names & PUBLICATION_WORDS) and not in_tail:
        return False  # an agency that "said" something is an actor, not the source
    cited = 0
    named = [m for m in entity.mentions if m.role != "descriptor"]
    for m in named:
        s = sentences[m.sentence]
        after = words(s[m.char_end : m.char_end + 30].lower())[:2]
        before = words(s[max(0, m.char_start - 20) : m.char_start].lower())[-2:]
        tail = (
            m.sentence == 0
            and headline
            and re.search(r"\s[-–—|]\s*[^-–—|]*$", s[: m.char_start] + " ")
            and s[m.char_end :].strip() == ""
        )
        if (after and after[0] in REPORTING_VERBS) or before[-2:] == ["according", "to"] or tail:
            cited += 1
    return bool(named) and cited * 2 >= len(named)


def participation(entity: SeedEntity) -> dict[int, float]:
    out: dict[int, float] = {}
    for m in entity.mentions:
        out[m.sentence] = max(out.get(m.sentence, 0.0), ROLE_WEIGHT[m.role])
    return out


def link(a: SeedEntity, b: SeedEntity) -> float:
    """Co-occurrence strength: per shared sentence, the smaller weight × closeness in words."""
    pa, pb = participation(a), participation(b)
    total = 0.0
    for s in pa.keys() & pb.keys():
        gaps = [
            max(0, max(ma.start, mb.start) - min(ma.end, mb.end))
            for ma in a.mentions
            if ma.sentence == s
            for mb in b.mentions
            if mb.sentence == s
        ]
        gap = min(gaps) if gaps else 20
        total += min(pa[s], pb[s]) / (1 + gap / 10)
    return total


def _gap(a: SeedEntity, b: SeedEntity) -> int:
    """Fewest words between two names in one sentence ("X, Y's deputy": 1)."""
    return min(
        (
            max(0, max(ma.start, mb.start) - min(ma.end, mb.end))
            for ma in a.mentions
            if ma.role in ("noun", "possessive")
            for mb in b.mentions
            if mb.role in ("noun", "possessive") and mb.sentence == ma.sentence
        ),
        default=1000,
    )


def _possessed(a: SeedEntity, b: SeedEntity) -> bool:
    """One is named in the other's possessive ("Northland's navy")."""
    for x, y in ((a, b), (b, a)):
        for mx in x.mentions:
            if mx.role == "possessive" and any(
                my.sentence == mx.sentence and 0 <= my.start - mx.end <= 1 for my in y.mentions
            ):
                return True
    return False


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)


def find_threads(
    entities: list[SeedEntity],
    sentences: list[str],
    background: Background,
    *,
    headline: str = "",
    max_threads: int = MAX_THREADS,
) -> list[Thread]:
    """The article's threads, strongest first (see the module docstring)."""
    players = [e for e in entities if not is_source(e, sentences, headline)]
    spec = {e.id: specificity(e, background) for e in players}
    part = {e.id: participation(e) for e in players}
    salience = {
        e.id: (sum(part[e.id].values()) + (1.0 if 0 in part[e.id] and headline else 0.0))
        * spec[e.id]
        for e in players
    }
    actors = sorted(
        (e for e in players if e.kind in ("person", "org", "product")),
        key=lambda e: -salience[e.id],
    )
    top = salience[actors[0].id] if actors else 0.0
    anchors = [e for e in actors[:MAX_ANCHORS] if salience[e.id] >= ANCHOR_SHARE * top]
    anchor_ids = {e.id for e in anchors}

    # Partners: entities that take part (not mostly adjectives) and are not everyday names.
    partners = []
    for e in players:
        if e.id in anchor_ids:
            continue
        named = [m for m in e.mentions if m.role in ("noun", "possessive", "descriptor")]
        if len(named) * 2 < len(e.mentions) or spec[e.id] < 0.3:
            continue
        partners.append(e)

    links: dict[str, dict[str, float]] = {}
    for p in partners:
        scores = {a.id: link(a, p) for a in anchors}
        best = max(scores.values(), default=0.0)
        if best >= MIN_LINK:
            links[p.id] = {a: s for a, s in scores.items() if s >= 0.6 * best}
    by_id = {e.id: e for e in players}

    # Two people (or two organisations) who are both anchors are a thread
    # of their own; a person and their company or product are not.
    pair_threads = []
    for i, a in enumerate(anchors):
        for b in anchors[i + 1 :]:
            if a.kind == b.kind and a.kind in ("person", "org") and not _possessed(a, b):
                strength = link(a, b)
                if strength >= MIN_LINK:
                    pair_threads.append(Thread([a], [b], strength * spec[b.id]))

    uf = _UnionFind()
    ids = list(links)
    for p in ids:
        uf.find(p)
    for i, p in enumerate(ids):
        for q in ids[i + 1 :]:
            if not links[p].keys() & links[q].keys():
                continue
            ep, eq = by_id[p], by_id[q]
            sp, sq = set(part[p]), set(part[q])
            places = ep.kind == eq.kind == "place"
            near = any(abs(x - y) <= 1 for x in sp for y in sq)
            close = link(ep, eq)
            # A partner named in one sentence only, together with another partner: one thread.
            inside = (len(sp) == 1 and sp <= sq) or (len(sq) == 1 and sq <= sp)
            same_class = (ep.kind == "place") == (eq.kind == "place")
            if (
                (inside and (same_class or sp == sq) and close >= 0.4)
                or (places and near)
                or _possessed(ep, eq)
                or (ep.kind != "place" and eq.kind != "place" and _gap(ep, eq) <= 3)
            ):
                uf.union(p, q)
    groups: dict[str, list[str]] = {}
    for p in ids:
        groups.setdefault(uf.find(p), []).append(p)

    threads = list(pair_threads)
    for members in groups.values():
        anchor_set: dict[str, float] = {}
        for p in members:
            for a, s in links[p].items():
                anchor_set[a] = anchor_set.get(a, 0.0) + s
        strength = sum(max(links[p].values()) * spec[p] for p in members)
        threads.append(
            Thread(
                anchors=[by_id[a] for a in sorted(anchor_set, key=lambda a: -anchor_set[a])],
                partners=sorted((by_id[p] for p in members), key=lambda e: -salience[e.id]),
                strength=strength,
            )
        )
    threads.sort(key=lambda t: -t.strength)
    if threads:
        threads = [t for t in threads if t.strength >= MIN_THREAD_SHARE * threads[0].strength][
            :max_threads
        ]
    for t in threads:
        t.sentences = sorted(
            {s for a in t.anchors for s in part[a.id]} & {s for p in t.partners for s in part[p.id]}
        )
    return threads


# A body place named this often joins a places-only headline's storyline.
HEADLINE_PLACE_MENTIONS = 2


def headline_thread(
    entities: list[SeedEntity],
    sentences: list[str],
    headline: str,
    *,
    background: Background | None = None,
    common_place_docs: int = 5,
    lede_sentences: int = 2,
) -> Thread | None:
    """The article's own story as its headline tells it: the actors the headline names
    (its places when it names no actor), with the headline's other names as partners.

    Threads are pairs of names the body links; a story whose headline actor the body
    names mostly in passing ("Acmeport strike": the port, then the terminals, the
    unions and a shipper) has no thread of its own. None when the headline names no one.
    """
    if not headline:
        return None
    named = [
        e
        for e in entities
        if not is_source(e, sentences, headline)
        and any(m.sentence == 0 and m.role in ("noun", "possessive") for m in e.mentions)
    ]
    actors = [e for e in named if e.kind in ("person", "org", "product")]
    if not named:
        # A headline that names no one ("How the drug lord escaped"): the actor the lede
        # names and the article names again is the story's.
        lede = [
            e
            for e in entities
            if e.kind in ("person", "org", "product")
            and not is_source(e, sentences, headline)
            and any(1 <= m.sentence <= lede_sentences for m in e.mentions)
            and sum(m.role in ("noun", "possessive") for m in e.mentions) >= 2
        ]
        named = actors = sorted(lede, key=lambda e: min((m.sentence, m.start) for m in e.mentions))[
            :1
        ]
    anchors = actors or named
    if not anchors:
        return None
    partners = [e for e in named if e not in anchors]
    if not actors:
        # A headline of places only ("Fires in Acmeshire") tells where the story happens;
        # the places the body names at least twice are where it happens too, if ordinary
        # news names them rarely in every language ("México" is Mexico).
        partners += [
            e
            for e in entities
            if e.kind == "place"
            and e not in named
            and sum(m.role in ("noun", "possessive") for m in e.mentions) >= HEADLINE_PLACE_MENTIONS
            and (
                background is None
                or max(background.df(f) for f in place_forms(e.name)) <= common_place_docs
            )
        ]
    thread = Thread(anchors, partners, strength=0.0)
    thread.sentences = sorted({m.sentence for e in named for m in e.mentions})
    return thread


# --- keywords ------------------------------------------------------------------------


def article_keywords(
    text: str,
    entities: list[SeedEntity],
    background: Background,
    *,
    top: int = 400,
    language: str = "en",
) -> dict[str, float]:
    """Keyphrases of the article that are not names, scored higher = more characteristic.

    YAKE ranks candidate phrases by their statistics inside the article; phrases that
    contain a name, a stopword at either end, or no letters are dropped, and each score is
    multiplied by the phrase's background rarity, so everyday news words sink.
    """
    name_words = _name_words(entities)
    extractor = yake.KeywordExtractor(lan=language, n=2, top=top, dedupLim=0.8)
    stop = STOPWORDS | stopwords(language)
    out: dict[str, float] = {}
    lowered = text.lower()
    for phrase, score in extractor.extract_keywords(text):
        tokens = [t.lower() for t in words(phrase)]
        if not tokens or any(part in name_words for t in tokens for part in re.split(r"[-'’]", t)):
            continue
        if tokens[0] in stop or tokens[-1] in stop or any(len(t) < 3 for t in tokens):
            continue
        term = " ".join(tokens)
        if term not in lowered:  # YAKE may join words across punctuation
            continue
        # The bundled background news is English (its German, French and Spanish words
        # are in under 1% of the items), so it cannot tell an everyday phrase of another
        # language ("alta velocidad"): there, two common words make one (wordfreq's list).
        if language != "en" and all(
            zipf_frequency(t, language, wordlist="small") >= EVERYDAY_ZIPF for t in tokens
        ):
            continue
        out[term] = (1.0 / (1.0 + 10 * score)) * background.idf(term)
    return out


def _name_words(entities: list[SeedEntity]) -> set[str]:
    """Words of the names as the article writes them (capitalised, lower case); a catalog
    alias found in lower case ("commission on government efficiency") leaves its words to
    the keywords."""
    out: set[str] = set()
    for e in entities:
        for m in e.mentions:
            if m.role == "descriptor" or m.surface[:1].isupper():  # "the billionaire" names X too
                out |= {w.lower() for w in re.findall(r"[^\W\d_]+", m.surface)}
    return out


# The article's own event words (when no event class names its event): at most this many,
# each no commoner than this (Zipf in the article's language: "rey", "annonce" are every
# day's; "abdicar", "erupción", "Einbruch" are not), named at least twice in the article,
# and each form's stem starting words of at most this share of the background news.
OPEN_EVENT_TERMS = 3
OPEN_EVENT_MAX_ZIPF = 4.5
OPEN_EVENT_MIN_USES = 2
OPEN_EVENT_MAX_SHARE = 0.01
OPEN_STEM_CHARS = 5
# Inflection endings cut from a lemma to make its prefix form ("abdicación", "abdicar" ->
# "abdic*"), longest first; never below OPEN_STEM_CHARS letters.
_ENDINGS = tuple(
    sorted(
        """aciones acion iones ion ations ation ements ement ungen ung ieren ados adas ado ada
idos idas ido ida ar er ir es en e s o a""".split(),
        key=len,
        reverse=True,
    )
)


def _open_stem(lemma: str) -> str:
    """The folded prefix an event word's inflections share ("erupción" -> "erupc")."""
    base = skeleton(lemma)
    for ending in _ENDINGS:
        if base.endswith(ending) and len(base) - len(ending) >= OPEN_STEM_CHARS:
            return base[: -len(ending)]
    return base


def open_event_terms(
    sentences: list[str],
    entities: list[SeedEntity],
    background: Background,
    *,
    language: str = "en",
    lede_sentences: int = 2,
) -> list[tuple[str, str]]:
    """The article's own words for its event, for an event no class names: (topic term,
    the word as the article writes it), best first.

    Words of the headline and lede (``sentences[0]`` is the headline) that the article
    uses at least ``OPEN_EVENT_MIN_USES`` times counting every inflection (a lemma's
    prefix, "abdic*" for "abdicar" and "abdicación"); never a word of a name, a function
    word, a word the language's dictionary (simplemma) does not know (an unfound name),
    a word commoner than ``OPEN_EVENT_MAX_ZIPF``, or a stem that starts the words of more
    than ``OPEN_EVENT_MAX_SHARE`` of the background news (reach). A stem shorter than
    ``OPEN_STEM_CHARS`` is the word itself, not a prefix.
    """
    names = _name_words(entities)
    name_skeletons = {skeleton(w) for w in names}
    stop = STOPWORDS | stopwords(language) | JOURNALESE | AMOUNT_WORDS
    article_words = [skeleton(w) for s in sentences for w in words(s)]
    max_docs = max(WIDE_MIN_DOCS, OPEN_EVENT_MAX_SHARE * background.docs)
    found: dict[str, tuple[int, int, str]] = {}
    for index, sentence in enumerate(sentences[: 1 + lede_sentences]):
        for word in words(sentence):
            low = word.lower()
            if len(low) < 4 or low in stop or low in names or "-" in low or "'" in low:
                continue
            if (
                language != "de"
                and word[:1].isupper()
                and not simplemma.is_known(low, lang=language)
            ):
                continue
            form = word if language == "de" else low
            if not simplemma.is_known(form, lang=language):
                continue
            lemma = simplemma.lemmatize(form, lang=language).lower()
            if max(zipf_frequency(w, language, wordlist="small") for w in {low, lemma}) >= (
                OPEN_EVENT_MAX_ZIPF
            ):
                continue
            stem = _open_stem(lemma)
            if stem in found or any(n.startswith(stem) for n in name_skeletons):
                continue
            prefix = len(stem) >= OPEN_STEM_CHARS
            uses = sum(1 for w in article_words if (w.startswith(stem) if prefix else w == stem))
            if uses < OPEN_EVENT_MIN_USES:
                continue
            reach = (
                sum(
                    n for w, n in background.doc_freq.items() if w.startswith(stem) and " " not in w
                )
                if prefix
                else background.df(stem)
            )
            if reach > max_docs:
                continue
            found[stem] = (int(index == 0), uses, word if language == "de" else low)
    ranked = sorted(found.items(), key=lambda kv: (-kv[1][0], -kv[1][1]))
    return [
        (f"{stem}*" if len(stem) >= OPEN_STEM_CHARS else stem, shown)
        for stem, (_, _, shown) in ranked[:OPEN_EVENT_TERMS]
    ]


def thread_keywords(
    thread: Thread,
    sentences: list[str],
    keywords: dict[str, float],
    other_sentences: set[int],
    *,
    limit: int = TOPIC_TERMS,
    background: Background | None = None,
) -> list[str]:
    """The article keywords used in this thread's sentences, the ones it shares least first.

    With ``background``, only *distinctive* phrases are kept: two words or more, never
    seen together in the background news, and in no sentence of another thread. Single words
    ("contacts", "request") and everyday phrases would match far too much on their own.
    """
    scored = []
    for term, weight in keywords.items():
        pattern = re.compile(r"\b" + re.escape(term) + r"\b")
        inside = sum(1 for s in thread.sentences if pattern.search(sentences[s].lower()))
        if not inside:
            continue
        outside = sum(1 for s in other_sentences if pattern.search(sentences[s].lower()))
        if background is not None and (
            " " not in term
            or background.df(term) > 0
            or outside
            or set(term.split()) & (JOURNALESE | AMOUNT_WORDS)
        ):
            continue
        scored.append((weight * inside / (1 + outside), term))
    scored.sort(key=lambda x: -x[0])
    chosen: list[str] = []
    for _, term in scored:
        if any(term in c or c in term for c in chosen):
            continue
        chosen.append(term)
        if len(chosen) == limit:
            break
    return chosen


def thread_slug(thread: Thread, events: list[str] | None = None) -> str:
    """``<anchor>-<event>`` ("port-of-rotterdam-strike"), or ``<anchor>-<partner>``."""

    def short(e: SeedEntity) -> str:
        return slugify(e.name.split()[-1] if e.kind == "person" else e.name.removeprefix("The "))

    if events:
        return f"{short(thread.anchors[0])}-{slugify(events[0])}"
    if thread.partners:
        return f"{short(thread.anchors[0])}-{short(thread.partners[0])}"
    return short(thread.anchors[0])
