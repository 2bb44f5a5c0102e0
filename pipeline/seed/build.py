"""Turn an article's entities and threads into a draft: storylines with rules, titles, descriptions.

``build_draft`` runs the extraction (``EntityExtractor``, ``find_threads``, keywords,
event kinds) and builds one ``DraftStoryline`` per thread that has an event:

- **Rules.** The main rule is ``all_of: [[the thread's actors and places], [its event]]``;
  the event group holds no entity (``event_required``), so no name satisfies it alone.
  One alternative keeps the article's pair: an anchor and a distinct partner named within
  ``PAIR_WITHIN_WORDS`` words of each other. docs/seed.md says why each exclusion is there.
- **Reused entities.** An entity the watchlists already define (linked by name, alias or
  transliteration, or found in the article by the matcher) is *referenced* by its id and
  not repeated: a repeated id would be a duplicate-id error once the draft joins the
  watchlists. New entities carry ``new: true``; a new id never takes one the watchlists use.
- **Titles** are desk slugs (the main actor and the event's noun in the article's
  language); **descriptions** quote the article's sentence naming the event and most of
  the thread's members.

Pure: nothing is read or written here (``pipeline.seed.draft.seed`` does that).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config.watchlists import Watchlists
from pipeline.match.matcher import Matcher
from pipeline.seed.background import Background
from pipeline.seed.cues import EVENT_HEADS, ORG_PREFIXES
from pipeline.seed.entities import EntityExtractor
from pipeline.seed.events import (
    event_counts,
    event_label,
    event_patterns,
    event_terms,
    own_events,
    sequels,
    thread_counts,
    thread_events,
)
from pipeline.seed.language import detect_language
from pipeline.seed.names import normalise_name
from pipeline.seed.spans import SeedEntity
from pipeline.seed.storylines import (
    Thread,
    article_keywords,
    find_threads,
    headline_thread,
    open_event_terms,
    thread_keywords,
    thread_slug,
)
from pipeline.seed.text import SeedArticle
from pipeline.seed.timespan import since_year, story_span

DEFAULT_THRESHOLD = 0.5
PAIR_PLACES = True
PAIR_WITHIN_WORDS = 10
COMMON_PLACE_DOCS = 5
LEDE_SENTENCES = 2


@dataclass
class DraftStoryline:
    id: str
    title: str
    description: str
    all_of: list[list[str]]
    thread: Thread
    alternatives: list[list[list[str]]] = field(default_factory=list)
    topic_id: str = ""
    topic_terms: list[str] = field(default_factory=list)
    topic_patterns: list[str] = field(default_factory=list)  # separable verbs (events.GAP)
    later_id: str = ""  # the topic of the event's later chapters, a veto in the lede
    later_terms: list[str] = field(default_factory=list)
    later_patterns: list[str] = field(default_factory=list)
    threshold: float = DEFAULT_THRESHOLD
    events: list[str] = field(default_factory=list)
    published_from: dt.date | None = None
    published_until: dt.date | None = None


@dataclass
class Draft:
    """Everything ``storywatch seed`` proposes, with the sentences it came from."""

    article: SeedArticle
    sentences: list[str]
    entities: list[SeedEntity]
    storylines: list[DraftStoryline]
    slug: str
    replacing: Path | None = None  # the watchlist file this draft overwrites, if any
    language: str = "en"

    @property
    def new_entities(self) -> list[SeedEntity]:
        return [e for e in self.entities if e.new]

    @property
    def reused_entities(self) -> list[SeedEntity]:
        return [e for e in self.entities if not e.new]

    def entity(self, entity_id: str) -> SeedEntity | None:
        return next((e for e in self.entities if e.id == entity_id), None)


def _unique(base: str, taken: set[str]) -> str:
    candidate, n = base, 2
    while candidate in taken:
        candidate = f"{base}-{n}"
        n += 1
    taken.add(candidate)
    return candidate


def _catalog_finder(watchlists: Watchlists):
    """Catalog entity hits in a sentence, from the real matcher (aliases, transliterations)."""
    matcher = Matcher(watchlists)
    entity_ids = {e.id for e in watchlists.entities}

    def find(sentence: str) -> list[tuple[str, int, int]]:
        return [
            (ev.ref, ev.start, ev.end)
            for ev in matcher.find_text(sentence, "body")
            if ev.ref in entity_ids and ev.kind != "fuzzy"
        ]

    return find


def build_draft(
    article: SeedArticle,
    watchlists: Watchlists,
    background: Background,
    *,
    slug: str,
    topic_in_rule: str = "actors",
    language: str | None = None,
    date: str = "",
) -> Draft:
    """Extract entities and threads from ``article`` and turn the threads into storylines.

    Every storyline's rule requires the thread's *event*: a topic holding the event words
    the thread's sentences use (``pipeline.seed.events``: strike, recall, takeover...) and
    its distinctive phrases. ``topic_in_rule``: ``actors`` (default: any of the thread's
    actors or places, and the event) or ``anchors`` (an anchor, a partner and the event).
    A thread with no event words and no distinctive phrases gives no storyline: a rule of
    names alone would match everything those names do. ``language`` ("en", "de", "fr",
    "es"): the article's, detected when not given. ``date`` (ISO day or month; the
    article's own date when empty) places each storyline's span of publication dates
    (``pipeline.seed.timespan``); with neither, storylines have no span.
    """
    if topic_in_rule not in ("actors", "anchors"):
        raise ValueError(f"topic_in_rule must be actors or anchors, not {topic_in_rule!r}")
    language = language or detect_language(article.text)
    sentences = article.sentences()
    extractor = EntityExtractor(
        background, watchlists.entities, _catalog_finder(watchlists), language=language
    )
    entities = extractor.extract(sentences)
    taken_refs = {e.id for e in watchlists.entities} | {t.id for t in watchlists.topics}
    for e in entities:  # a new entity must not take an id the watchlists already use
        if e.new and e.id in taken_refs:
            e.id = _unique(e.id + "-seed", taken_refs)
        taken_refs.add(e.id)
    threads = find_threads(entities, sentences, background, headline=article.headline)
    keywords = article_keywords(article.text, entities, background, language=language)
    article_events = thread_events(sentences, headline=article.headline, lang=language)
    # No event class names what the headline and lede report (an abdication, an eruption):
    # the article's own words for it are the event.
    lede_events = thread_events(sentences[: 1 + LEDE_SENTENCES], lang=language)
    open_terms = open_event_terms(
        sentences, entities, background, language=language, lede_sentences=LEDE_SENTENCES
    )

    def own_words(events: list[str]) -> list[tuple[str, str]]:
        # A class the headline and lede name is the article's event: the article's own
        # words join only a thread that names no class.
        return open_terms if not events or not lede_events else []

    per_thread = own_events(
        [thread_counts([sentences[i] for i in t.sentences], lang=language) for t in threads]
    )
    if "election" in event_counts(" ".join(sentences), lang=language):
        # A win in an article that names an election is the election's result: its class
        # says it, a contest's victory words would be every other win of the same actors.
        article_events, lede_events = (
            [k for k in ks if k != "victory"] for ks in (article_events, lede_events)
        )
        per_thread = [[k for k in ks if k != "victory"] for ks in per_thread]
    plans: list[_Plan] = []
    for thread, own in zip(threads, per_thread, strict=True):
        others = set().union(*(t.sentences for t in threads if t is not thread))
        thread.keywords = thread_keywords(
            thread, sentences, keywords, others, background=background
        )
        # The thread's event is what its own sentences say happens; the article's only
        # when they name none and the thread has no phrases of its own.
        events = own
        borrowed = False
        if not events and not thread.keywords:
            events = article_events
            owned = {
                k for t, o in zip(threads, per_thread, strict=True) if t is not thread for k in o
            }
            borrowed = bool(events) and set(events) <= owned
        plan = _plan(
            thread,
            events,
            background,
            borrowed=borrowed,
            topic_in_rule=topic_in_rule,
            open_terms=own_words(events),
        )
        if plan is not None:
            plans.append(plan)
    # The headline's actors with the headline's event (or the article's) are the story
    # itself; first, unless a thread's rule already has one of them with that event.
    head = headline_thread(
        entities,
        sentences,
        article.headline,
        background=background,
        common_place_docs=COMMON_PLACE_DOCS,
        lede_sentences=LEDE_SENTENCES,
    )
    if head is not None:
        events = thread_events([article.headline], lang=language) or article_events
        plan = _plan(
            head, events, background, topic_in_rule=topic_in_rule, open_terms=own_words(events)
        )
        covering = [p for p in plans if plan is not None and _covers(p, plan)]
        if plan is not None and not covering:
            plans.insert(0, plan)
        elif plan is not None and len(plan.groups) == 1:
            # The thread that tells the headline's story takes every name the headline
            # gives it ("Acme announces X of the Assembly": Acme as well as the Assembly).
            first = covering[0]
            first.groups = [list(dict.fromkeys(first.groups[0] + plan.groups[0]))]
    plans = _merge_same_story(plans)
    taken_storylines = {s.id for s in watchlists.storylines}
    lede = " ".join(sentences[: 1 + LEDE_SENTENCES])
    news_events = thread_events([article.headline], lang=language) or lede_events
    since = since_year(lede)
    storylines = []
    titles: set[str] = set()
    for plan in plans:
        thread, events = plan.thread, plan.events
        sid = _unique(thread_slug(thread, events or plan.shown[:1]), taken_storylines)
        topic_id = _unique(f"{sid}-event", taken_refs)
        title = _title(thread, events, language, thread.keywords or plan.shown)
        if title in titles and thread.partners:
            title = f"{title} ({thread.partners[0].name})"
        base, n = title, 2
        while title in titles:  # never two storylines of one title
            title, n = f"{base} ({n})", n + 1
        titles.add(title)
        span = story_span(date or article.date, events, since=since)
        # The later chapters of the thread's event and of the story's news (the headline's
        # event, else the lede's), so a thread of two actors and no event has them too; a
        # chapter the headline or lede reports is the story's own news, one only the body
        # names ("may appeal to the Supreme Court") is not.
        later_terms, later_patterns = sequels(
            list(dict.fromkeys([*events, *news_events])), lede=lede, lang=language
        )
        storylines.append(
            DraftStoryline(
                id=sid,
                title=title,
                description=_description(thread, sentences, plan.terms),
                all_of=[*plan.groups, [topic_id]],
                alternatives=plan.alternatives,
                thread=thread,
                topic_id=topic_id,
                topic_terms=plan.terms,
                topic_patterns=event_patterns(events),
                events=events,
                later_id=_unique(f"{sid}-later", taken_refs) if later_terms else "",
                later_terms=later_terms,
                later_patterns=later_patterns,
                published_from=span[0] if span else None,
                published_until=span[1] if span else None,
            )
        )
    return Draft(article, sentences, entities, storylines, slug, language=language)


@dataclass
class _Plan:
    """A storyline before its ids and title: the thread, its event, the actors' groups."""

    thread: Thread
    events: list[str]
    terms: list[str]
    groups: list[list[str]]  # the main rule's entity groups (the event's group follows)
    alternatives: list[list[list[str]]]
    shown: list[str] = field(default_factory=list)  # the article's own event words, as written


def _plan(
    thread: Thread,
    events: list[str],
    background: Background,
    *,
    borrowed: bool = False,
    topic_in_rule: str = "actors",
    open_terms: list[tuple[str, str]] | None = None,
) -> _Plan | None:
    """The rule of one thread with its event; None when it has no event or no actor left.
    ``open_terms``: the article's own event words (``open_event_terms``), joined to the
    event when no class, or none the headline and lede name, says what happens."""
    terms = event_terms(events) + [k for k in thread.keywords if k not in event_terms(events)]
    terms += [t for t, _ in open_terms or () if t not in terms]
    shown = [w for _, w in open_terms or ()]
    if not terms:
        return None
    by_id = {e.id: e for e in (*thread.anchors, *thread.partners)}
    # A name that is itself an event word ("DANA", "Pilotenstreik") would satisfy the
    # event group alone: it is not one of the thread's actors. Nor is an actor whose name
    # holds one of the event's phrases ("government efficiency" in the Department of
    # Government Efficiency).
    keys = [f" {normalise_name(t.rstrip('*'))} " for t in terms]

    # A contest that recurs ("Song Contest", "World Cup", "Grand Prix") with a victory word
    # is every year's winner: not an actor of the victory.
    def actor(e: SeedEntity) -> bool:
        return not (_names_event(e) or _holds_term(e, keys) or _recurring_contest(e, events))

    anchors = [e.id for e in thread.anchors if actor(e)]
    partners = [e.id for e in thread.partners if actor(e)]
    if not anchors and not partners:
        return None
    # A named event of the thread's kind ("Hurricane Acme", "Typhoon Acme") is this story's
    # event; its class ("hurricane") is every other one of that season there.
    named = [form for e in (*thread.anchors, *thread.partners) for form in _named_event(e, events)]
    if named:
        terms = list(dict.fromkeys(named))
    if topic_in_rule == "anchors" or (borrowed and anchors and partners):
        # The article's event that another thread owns ("talks" of the contacts thread) is
        # that thread's story with any of their shared actors ("Acme" and "talks"):
        # borrowed, it needs one of this thread's partners as well as an anchor.
        groups = [group for group in (anchors, partners) if group]
    else:
        # A place ordinary news names often ("Ukraine") with an event word is another
        # story as often as this one: with the event it needs an actor, not itself.
        actors = [
            r
            for r in dict.fromkeys(anchors + partners)
            if by_id[r].kind != "place" or background.df(by_id[r].name) <= COMMON_PLACE_DOCS
        ]
        if not actors:
            # Only places ordinary news names often ("France", "Paris"): with an event class
            # (a protest, a fire) they are every such event there, not this story.
            return None
        groups = [actors]
    # Two of the thread's principal actors named together (anchor and a partner that is a
    # person, organisation or product, never a place) are the story too.
    actor_partners = [
        e.id
        for e in thread.partners
        if (e.kind in ("person", "org", "product") or PAIR_PLACES) and e.id in partners
    ]
    # Two places are never a pair: "all its places and nothing else" must not match.
    first = [a for a in anchors if a not in actor_partners and by_id[a].kind != "place"]
    # Not two names of one thing ("Boeing" and "Boeing 737 Max"): one word would do.
    second = [p for p in actor_partners if not any(_overlap(by_id[p], by_id[a]) for a in first)]
    pair = [first, second]
    return _Plan(thread, events, terms, groups, [pair] if all(pair) else [], shown)


def _merge_same_story(plans: list[_Plan]) -> list[_Plan]:
    """One storyline per main actor and event: threads of one anchor with the same event
    ("Acme strike" with the cities, with the cancelled flights) are one story told with
    other partners, so their actors' groups, phrases and pairs are joined in the first."""
    out: list[_Plan] = []
    by_key: dict[tuple[str, tuple[str, ...]], _Plan] = {}
    for plan in plans:
        key = (plan.thread.anchors[0].id if plan.thread.anchors else "", tuple(plan.events))
        first = by_key.get(key)
        if first is None or not plan.events or len(plan.groups) != 1 or len(first.groups) != 1:
            out.append(plan)
            if plan.events and len(plan.groups) == 1:
                by_key.setdefault(key, plan)
            continue
        first.groups = [list(dict.fromkeys(first.groups[0] + plan.groups[0]))]
        first.terms = list(dict.fromkeys(first.terms + plan.terms))
        first.alternatives += [a for a in plan.alternatives if a not in first.alternatives]
    return out


def _covers(plan: _Plan, head: _Plan) -> bool:
    """Does a thread's rule already match what the headline's would: one actor group holding
    a headline actor, with one of the headline's events?"""
    return (
        len(plan.groups) == 1
        and bool(set(plan.groups[0]) & {e.id for e in head.thread.anchors})
        and bool(set(plan.events) & set(head.events))
    )


def _holds_term(e: SeedEntity, keys: list[str]) -> bool:
    return any(k in f" {normalise_name(f)} " for f in (e.name, *e.aliases) for k in keys)


def _overlap(a: SeedEntity, b: SeedEntity) -> bool:
    """Does a name of one contain a name of the other (as words)?"""
    fa = {f" {normalise_name(f)} " for f in (a.name, *a.aliases)}
    fb = {f" {normalise_name(f)} " for f in (b.name, *b.aliases)}
    return any(x in y or y in x for x in fa for y in fb)


def _names_event(e: SeedEntity) -> bool:
    return any(event_counts(form) for form in (e.name, *e.aliases))


def _recurring_contest(e: SeedEntity, events: list[str]) -> bool:
    """Is ``e`` a contest held again and again ("Song Contest", "Cup"), in a victory?"""
    return (
        "victory" in events
        and e.kind == "event"
        and bool(set(normalise_name(e.name).split()) & EVENT_HEADS)
    )


def _named_event(e: SeedEntity, events: list[str]) -> list[str]:
    """The forms of a named event of one of ``events`` (its name, and the name without
    the class word: "Hurricane Acme", "Acme"); [] when ``e`` is none or is only the class
    word ("DANA")."""
    if e.kind != "event" or not set(event_counts(e.name)) & set(events):
        return []
    own = [w for w in e.name.split() if not event_counts(w)]
    if not own or not all(w[:1].isupper() for w in own):
        return []
    return [e.name, " ".join(own)]


def event_required(all_of: list[list[str]], entity_ids: set[str]) -> bool:
    """Does the rule have a group with no entity in it (so names alone never satisfy it)?"""
    return any(group and not set(group) & entity_ids for group in all_of)


def _short_name(e: SeedEntity) -> str:
    name = e.name.removeprefix("The ")
    if e.kind == "person":
        return name.split()[-1]
    # "Port of Rotterdam" -> "Rotterdam port": how a desk slug names a body of a place.
    m = re.fullmatch(r"(\w+) (?:of|de|du|des|von) (.+)", name)
    if m and m.group(1).lower() in ORG_PREFIXES:
        return f"{m.group(2)} {m.group(1).lower()}"
    return name


def _title(thread: Thread, events: list[str], language: str, keywords: list[str]) -> str:
    """A desk slug: the main actor and what happens ("Rotterdam port strike")."""
    who = _short_name(thread.anchors[0])
    if not events:
        return f"{who}: {keywords[0]}" if keywords else who
    label = event_label(events[0], language)
    if language in ("fr", "es"):
        return f"{label[:1].upper()}{label[1:]} – {who}"
    if language == "de":
        return f"{who}: {label}"
    return f"{who} {label}"


def _best_sentence(thread: Thread, sentences: list[str], terms: list[str] | None = None) -> int:
    members = [*thread.anchors, *thread.partners]
    candidates = sorted({s for e in members for s in e.sentences()}) or [0]
    words = [t.rstrip("*").lower() for t in terms or []]

    def coverage(i: int) -> tuple[int, int, int]:
        named = sum(1 for e in members if i in e.sentences())
        low = sentences[i].lower() if i < len(sentences) else ""
        return (int(any(w in low for w in words)), named, -i)

    return max(candidates, key=coverage)


def _description(thread: Thread, sentences: list[str], terms: list[str] | None = None) -> str:
    best = sentences[_best_sentence(thread, sentences, terms)]
    return f'From the seed article: "{best.strip()}"'
