"""``storywatch seed``: draft a watchlist from one article.

    read_seed(FILE)                      seed_text: headline, date, sentences
      -> EntityExtractor.extract         seed_entities: people, orgs, places, products
      -> find_threads + keywords         seed_storylines: the article's threads
      -> build_draft                     entities (new only), topics, storylines
      -> render_draft                    YAML with a comment on every item saying where it came from
      -> validate_draft                  loaded together with the watchlists dir, in a temp dir

**Reused entities.** An entity the watchlists already define (linked by name, alias or
transliteration, or found in the article by the matcher) is *referenced* by its id and
not repeated: a repeated id would be a duplicate-id error once the draft joins the
watchlists. The draft lists the reused ones in its header comment. So a draft is meant
to live next to the watchlists it was drafted against: keep it by moving it from
``watchlists/drafts/`` into ``watchlists/``, where ``storywatch validate`` passes unchanged
(``drafts/`` itself is never loaded). New entities carry ``new: true``.

**Checking reach.** ``check_corpus`` runs the real ``Matcher`` over the watchlists plus
the draft and counts, per proposed storyline, the items it matches in a labeled JSONL
file or a folder of recorded feeds. With labels, ``mapped_report`` maps every draft
storyline to its nearest shipped storyline (shared entities, then shared words of title,
description and topic terms) and scores the mapped predictions with
``pipeline.match.evaluate.score``, the same scoring as ``storywatch eval``.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipeline.cli.progress import bar
from pipeline.config.watchlists import Watchlists, load_watchlists, watchlist_files
from pipeline.errors import ConfigError, UserError
from pipeline.ingest.normalize import UnusableItem, normalize_item
from pipeline.ingest.parse import parse_feed
from pipeline.ingest.recorded import recorded_feed_files
from pipeline.jsonl_io import read_articles
from pipeline.match.evaluate import score
from pipeline.match.matcher import Matcher
from pipeline.records import Article, RawFeed
from pipeline.seed.background import Background, default_background_dir, load_background
from pipeline.seed.cues import ORG_PREFIXES
from pipeline.seed.entities import EntityExtractor, SeedEntity, normalise_name, slugify
from pipeline.seed.events import (
    event_counts,
    event_label,
    event_terms,
    own_events,
    thread_counts,
    thread_events,
)
from pipeline.seed.language import detect_language
from pipeline.seed.storylines import (
    STOPWORDS,
    Thread,
    article_keywords,
    find_threads,
    thread_keywords,
    thread_slug,
)
from pipeline.seed.text import SeedArticle, read_seed

DEFAULT_THRESHOLD = 0.5
PAIR_PLACES = True
PAIR_WITHIN_WORDS = 10
WIDE_MIN_ITEMS = 5
COMMON_PLACE_DOCS = 5
WIDE_SHARE = 0.01
WIDE_EXAMPLES = 3
COMMENT_WIDTH = 150
CHECK_FEEDS_HINT = "pass a folder of recorded feeds to --check-feeds"
BACKGROUND_HINT = (
    "pass a folder of recorded feeds to --background, or leave it out for the bundled ones"
)


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
    threshold: float = DEFAULT_THRESHOLD
    events: list[str] = field(default_factory=list)


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
) -> Draft:
    """Extract entities and threads from ``article`` and turn the threads into storylines.

    Every storyline's rule requires the thread's *event*: a topic holding the event words
    the thread's sentences use (``pipeline.seed.events``: strike, recall, takeover...) and
    its distinctive phrases. ``topic_in_rule``: ``actors`` (default: any of the thread's
    actors or places, and the event) or ``anchors`` (an anchor, a partner and the event).
    A thread with no event words and no distinctive phrases gives no storyline: a rule of
    names alone would match everything those names do. ``language`` ("en", "de", "fr",
    "es"): the article's, detected when not given.
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
    article_events = thread_events(sentences, headline=article.headline)
    taken_storylines = {s.id for s in watchlists.storylines}
    storylines = []
    titles: set[str] = set()
    per_thread = own_events([thread_counts([sentences[i] for i in t.sentences]) for t in threads])
    for thread, own in zip(threads, per_thread, strict=True):
        others = set().union(*(t.sentences for t in threads if t is not thread))
        thread.keywords = thread_keywords(
            thread, sentences, keywords, others, background=background
        )
        # The thread's event is what its own sentences say happens; the article's only
        # when they name none and the thread has no phrases of its own.
        events = own
        if not events and not thread.keywords:
            events = article_events
        terms = event_terms(events) + [k for k in thread.keywords if k not in event_terms(events)]
        if not terms:
            continue
        by_id = {e.id: e for e in (*thread.anchors, *thread.partners)}
        sid = _unique(thread_slug(thread, events), taken_storylines)
        # A name that is itself an event word ("DANA", "Pilotenstreik") would satisfy the
        # event group alone: it is not one of the thread's actors.
        anchors = [e.id for e in thread.anchors if not _names_event(e)]
        partners = [e.id for e in thread.partners if not _names_event(e)]
        if not anchors and not partners:
            continue
        # An actor whose name holds one of the event's phrases ("government efficiency" in
        # the Department of Government Efficiency) would satisfy the rule alone: it stays
        # out of the actors' group.
        keys = [f" {normalise_name(t.rstrip('*'))} " for t in terms]

        anchors = [a for a in anchors if not _holds_term(by_id[a], keys)]
        partners = [p for p in partners if not _holds_term(by_id[p], keys)]
        if not anchors and not partners:
            continue
        topic_id = _unique(f"{sid}-event", taken_refs)
        if topic_in_rule == "actors":
            # A place ordinary news names often ("Ukraine") with an event word is another
            # story as often as this one: with the event it needs an actor, not itself.
            actors = [
                r
                for r in dict.fromkeys(anchors + partners)
                if by_id[r].kind != "place" or background.df(by_id[r].name) <= COMMON_PLACE_DOCS
            ]
            all_of = [actors or list(dict.fromkeys(anchors + partners)), [topic_id]]
        else:
            all_of = [group for group in (anchors, partners) if group] + [[topic_id]]
        # Two of the thread's principal actors named together (anchor and a partner that
        # is a person, organisation or product, never a place) are the story too.
        actor_partners = [
            e.id
            for e in thread.partners
            if (e.kind in ("person", "org", "product") or PAIR_PLACES) and e.id in partners
        ]
        first = [a for a in anchors if a not in actor_partners]
        # Not two names of one thing ("Boeing" and "Boeing 737 Max"): one word would do.
        second = [p for p in actor_partners if not any(_overlap(by_id[p], by_id[a]) for a in first)]
        pair = [first, second]
        alternatives = [pair] if all(pair) else []
        title = _title(thread, events, language, thread.keywords)
        if title in titles:
            title = f"{title} ({thread.partners[0].name})"
        titles.add(title)
        storylines.append(
            DraftStoryline(
                id=sid,
                title=title,
                description=_description(thread, sentences, terms),
                all_of=all_of,
                alternatives=alternatives,
                thread=thread,
                topic_id=topic_id,
                topic_terms=terms,
                events=events,
            )
        )
    return Draft(article, sentences, entities, storylines, slug, language=language)


def _holds_term(e: SeedEntity, keys: list[str]) -> bool:
    return any(k in f" {normalise_name(f)} " for f in (e.name, *e.aliases) for k in keys)


def _overlap(a: SeedEntity, b: SeedEntity) -> bool:
    """Does a name of one contain a name of the other (as words)?"""
    fa = {f" {normalise_name(f)} " for f in (a.name, *a.aliases)}
    fb = {f" {normalise_name(f)} " for f in (b.name, *b.aliases)}
    return any(x in y or y in x for x in fa for y in fb)


def _names_event(e: SeedEntity) -> bool:
    return any(event_counts(form) for form in (e.name, *e.aliases))


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


# --- YAML ----------------------------------------------------------------------------


def _clip(text: str, width: int = COMMENT_WIDTH) -> str:
    """One printable line for a YAML comment (YAML refuses control characters anywhere)."""
    text = re.sub(r"\s+", " ", text).strip()
    text = "".join(ch for ch in text if ch.isprintable())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _dump(data: dict, indent: str) -> list[str]:
    text = yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100
    )
    lines = text.rstrip("\n").split("\n")
    return [f"{indent}- {lines[0]}"] + [f"{indent}  {line}" for line in lines[1:]]


def _entity_origin(e: SeedEntity, sentences: list[str]) -> str:
    first = min(
        (m for m in e.mentions if m.role != "descriptor"),
        key=lambda m: (m.sentence, m.start),
        default=None,
    )
    if first is None:
        return "no direct mention"
    return f'sentence {first.sentence + 1}: "{_clip(sentences[first.sentence], 110)}"'


def render_draft(draft: Draft, *, watchlists_dir: Path | str = "watchlists") -> str:
    """The draft as YAML text, with comments saying where each item came from."""
    a = draft.article
    out = [
        f"# Draft watchlist written by `storywatch seed {a.path}`",
        f"# on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, against the watchlists in {watchlists_dir}/.",
        f"# Seed: {_clip(a.headline or '(no headline)', 120)}" + (f" ({a.date})" if a.date else ""),
        "# Review it; to keep it, move it into the watchlists folder, then run `storywatch validate`.",
        "# Entities the watchlists already define are referenced by id and not repeated here:",
    ]
    for e in draft.reused_entities:
        out.append(
            f'#   {e.id} ({e.kind}) "{e.catalog_source or e.name}", {_entity_origin(e, draft.sentences)}'
        )
    if not draft.reused_entities:
        out.append("#   (none)")
    out.append("")
    out.append("entities:" if draft.new_entities else "entities: []")
    for e in draft.new_entities:
        out.append(f'  # new {e.kind} "{e.name}", {_entity_origin(e, draft.sentences)}')
        kinds = ", ".join(
            f"{k} {v:g}" for k, v in e.votes.most_common() if k not in ("demonym", "shape")
        )
        if kinds:
            out.append(f"  # kind cues: {kinds}")
        data = {"id": e.id, "kind": e.kind, "name": e.name}
        if e.aliases:
            data["aliases"] = list(dict.fromkeys(e.aliases))
        data["new"] = True
        out += _dump(data, "  ")
    topics = [s for s in draft.storylines if s.topic_id]
    out.append("")
    out.append("topics:" if topics else "topics: []")
    for s in topics:
        out.append(
            f"  # event of thread '{s.id}': {', '.join(s.events) or 'none named'}; its words"
            " and the thread's distinctive phrases (YAKE, rare in the background news),"
        )
        out.append(f"  # found in sentences {', '.join(str(i + 1) for i in s.thread.sentences)}")
        out += _dump(
            {
                "id": s.topic_id,
                "description": f"What happens in '{s.title}' ({', '.join(s.events) or 'phrases of the seed article'}).",
                "terms": s.topic_terms,
            },
            "  ",
        )
    out.append("")
    out.append("storylines:" if draft.storylines else "storylines: []")
    for s in draft.storylines:
        t = s.thread
        out.append(
            f"  # thread: {', '.join(e.id for e in t.anchors)} with {', '.join(e.id for e in t.partners)}"
            f" (strength {t.strength:.2f}), from these sentences:"
        )
        for i in t.sentences[:6]:
            out.append(f'  #   {i + 1}: "{_clip(draft.sentences[i], 130)}"')
        if len(t.sentences) > 6:
            out.append(f"  #   ... and {len(t.sentences) - 6} more")
        data = {
            "id": s.id,
            "title": s.title,
            "description": s.description,
            "rule": {"all_of": s.all_of},
            **(
                {
                    "alternatives": [
                        {"all_of": a, "within_words": PAIR_WITHIN_WORDS} for a in s.alternatives
                    ]
                }
                if s.alternatives
                else {}
            ),
            "threshold": s.threshold,
        }
        out += _dump(data, "  ")
    return "\n".join(out) + "\n"


def validate_draft(
    text: str | None, watchlists_dir: Path | str, *, replacing: Path | None = None
) -> Watchlists:
    """Load the draft together with the watchlists (in a temp dir); ConfigError if it does not.

    ``replacing``: a watchlist file the draft will overwrite (re-seeding straight into the
    watchlists folder), left out so that its old ids do not clash. With ``text`` None this
    loads the watchlists alone (minus ``replacing``).
    """
    watchlists_dir = Path(watchlists_dir)
    skip = replacing.resolve() if replacing is not None else None
    with tempfile.TemporaryDirectory(prefix="storywatch-seed-") as tmp:
        for path in watchlist_files(watchlists_dir):
            if path.resolve() != skip:
                shutil.copy(path, Path(tmp) / path.name)
        if text is not None:
            (Path(tmp) / "zz-seed-draft.yaml").write_text(text, encoding="utf-8")
        elif not any(Path(tmp).iterdir()):
            return Watchlists()
        return load_watchlists(tmp)


def draft_slug(path: Path | str, article: SeedArticle) -> str:
    stem = slugify(Path(path).stem)
    if stem and stem != "entity":
        return stem
    words = [
        w for w in re.findall(r"[A-Za-z0-9]+", article.headline.lower()) if w not in STOPWORDS
    ][:6]
    return slugify("-".join(words)) or "seed"


def default_out(
    path: Path | str, article: SeedArticle, watchlists_dir: Path | str = "watchlists"
) -> Path:
    """``<watchlists>/drafts/<slug>.yaml``: next to the watchlists, in the folder they never load."""
    return Path(watchlists_dir) / "drafts" / f"{draft_slug(path, article)}.yaml"


# --- checking reach ------------------------------------------------------------------


def labeled_items(path: Path) -> tuple[list, dict[str, set[str]], list[str]]:
    """Articles and gold labels of a labeled JSONL file (labels may be absent: then unscored)."""
    articles, gold, bad = [], {}, []
    for lineno, obj, article in read_articles(path):
        if not isinstance(article, Article):
            bad.append(f"{path}:{lineno}: {article}")
            continue
        articles.append(article)
        labels = obj.get("labels")
        if isinstance(labels, list) and all(isinstance(x, str) for x in labels):
            gold[article.article_id] = set(labels)
    return articles, gold, bad


def feed_articles(directory: Path) -> tuple[list, list[str]]:
    """Articles of every recorded feed file in ``directory`` (parsed like the pipeline does).

    The files are the ones replay reads (``recorded_feed_files``); UserError if there are none.
    """
    now = dt.datetime.now(dt.UTC)
    articles, problems = [], []
    paths = recorded_feed_files(directory, hint=CHECK_FEEDS_HINT)
    for path in bar(paths, desc="checking feeds"):
        try:
            body = path.read_bytes()
        except OSError as exc:
            problems.append(f"{path}: cannot read ({exc.strerror}); skipped")
            continue
        raw = RawFeed(
            feed_id=path.name,
            url=path.resolve().as_uri(),
            fetched_at=now,
            status=200,
            headers=(),
            body=body,
        )
        parsed = parse_feed(raw)
        problems += [f"{path}: {f.reason}" for f in parsed.failures]
        for item in parsed.items:
            try:
                articles.append(normalize_item(item))
            except UnusableItem:
                continue
    return articles, problems


def predictions(
    articles: list, watchlists: Watchlists, storyline_ids: list[str]
) -> dict[str, set[str]]:
    """Which of ``storyline_ids`` the matcher gives each article (by article id)."""
    matcher = Matcher(watchlists)
    wanted = set(storyline_ids)
    out: dict[str, set[str]] = {}
    for article in articles:
        hits = {m.storyline_id for m in matcher.match(article)} & wanted
        if hits:
            out[article.article_id] = hits
    return out


def _word_set(*texts: str) -> set[str]:
    return {
        w for text in texts for w in re.findall(r"[a-z]{3,}", text.lower()) if w not in STOPWORDS
    }


def storyline_similarity(draft_sl, shipped_sl, watchlists: Watchlists) -> float:
    """Shared entities (Jaccard over the rules' entity refs) plus half the shared words."""
    entity_ids = {e.id for e in watchlists.entities}
    topics = {t.id: t for t in watchlists.topics}

    def profile(storyline) -> tuple[set[str], set[str]]:
        refs = {
            ref
            for _, rule in storyline.rules()
            for _, ref in rule.refs()
            if not _.startswith("none_of")
        }
        ents = refs & entity_ids
        terms = [term for ref in refs - entity_ids if ref in topics for term in topics[ref].terms]
        return ents, _word_set(storyline.title, storyline.description, *terms)

    e1, w1 = profile(draft_sl)
    e2, w2 = profile(shipped_sl)
    ents = len(e1 & e2) / len(e1 | e2) if e1 | e2 else 0.0
    words = len(w1 & w2) / len(w1 | w2) if w1 | w2 else 0.0
    return ents + 0.5 * words


def map_to_shipped(
    draft_ids: list[str], shipped_ids: list[str], combined: Watchlists
) -> dict[str, str | None]:
    """Each draft storyline's nearest shipped storyline (None when nothing is shared)."""
    out: dict[str, str | None] = {}
    for d in draft_ids:
        ds = combined.storyline(d)
        scored = [
            (storyline_similarity(ds, combined.storyline(s), combined), s) for s in shipped_ids
        ]
        best = max(scored, default=(0.0, None))
        out[d] = best[1] if best[0] > 0 else None
    return out


@dataclass
class CheckResult:
    items: int
    counts: dict[str, int]
    problems: list[str]
    mapping: dict[str, str | None] = field(default_factory=dict)
    report: object | None = None  # pipeline.match.evaluate.Report when labels were given
    # Storylines whose reach in the recorded feeds is implausibly wide: id -> (matched
    # items, feed items, example titles).
    wide: dict[str, tuple[int, int, list[str]]] = field(default_factory=dict)


def check_corpus(
    draft_text: str,
    draft: Draft,
    watchlists_dir: Path,
    *,
    labeled: Path | None = None,
    feeds: Path | None = None,
) -> CheckResult:
    """Match the corpus with the watchlists + draft; count per draft storyline; score after mapping."""
    combined = validate_draft(draft_text, watchlists_dir, replacing=draft.replacing)
    shipped = validate_draft(None, watchlists_dir, replacing=draft.replacing)
    shipped_ids = [s.id for s in shipped.storylines]
    draft_ids = [s.id for s in draft.storylines]
    articles, gold, problems = [], {}, []
    if labeled is not None:
        if labeled.is_dir():
            raise UserError(f"{labeled}: is a folder; pass a labeled JSONL file to --check")
        if not labeled.exists():
            raise UserError(f"{labeled}: file not found; pass a labeled JSONL file to --check")
        a, gold, bad = labeled_items(labeled)
        articles += a
        problems += bad
    feed_items: list = []
    if feeds is not None:
        feed_items, bad = feed_articles(feeds)
        articles += feed_items
        problems += bad
    predicted = predictions(articles, combined, draft_ids)
    counts = {d: sum(1 for hits in predicted.values() if d in hits) for d in draft_ids}
    result = CheckResult(len(articles), counts, problems)
    result.wide = wide_reach(feed_items, predicted, draft_ids)
    if gold:
        result.mapping = map_to_shipped(draft_ids, shipped_ids, combined)
        mapped = {
            item: {result.mapping[d] for d in hits if result.mapping.get(d)}
            for item, hits in predicted.items()
        }
        result.report = score(gold, mapped, shipped_ids)
    return result


def wide_reach(
    feed_items: list, predicted: dict[str, set[str]], draft_ids: list[str]
) -> dict[str, tuple[int, int, list[str]]]:
    """Draft storylines matching more of the recorded feeds than one story plausibly can.

    Recorded feeds are ordinary news: one story is a handful of their items. A storyline
    matching more than ``WIDE_MIN_ITEMS`` and more than ``WIDE_SHARE`` of them matches
    what its names or words mean in other stories; the warning lists a few examples.
    """
    out: dict[str, tuple[int, int, list[str]]] = {}
    n = len(feed_items)
    for d in draft_ids:
        hits = [a for a in feed_items if d in predicted.get(a.article_id, set())]
        if len(hits) > WIDE_MIN_ITEMS and len(hits) > WIDE_SHARE * n:
            out[d] = (len(hits), n, [_clip(a.title, 90) for a in hits[:WIDE_EXAMPLES]])
    return out


def format_check(
    result: CheckResult, draft: Draft, *, labeled: Path | None, feeds: Path | None
) -> str:
    corpus = " + ".join(str(p) for p in (labeled, feeds) if p is not None)
    width = max([len(s.id) for s in draft.storylines] + [9])
    lines = [f"reach over {corpus}: {result.items} items"]
    for s in draft.storylines:
        mapped = ""
        if result.mapping:
            mapped = f"  -> {result.mapping.get(s.id) or '(no shipped storyline in common)'}"
        lines.append(f"  {s.id:<{width}}  {result.counts.get(s.id, 0):5d} items{mapped}")
    for sid, (hits, n, examples) in result.wide.items():
        lines.append(
            f"  warning: {sid} matches {hits} of the {n} items of ordinary news in the recorded"
            " feeds; a storyline that wide will flood the desk. Examples:"
        )
        lines += [f"    - {title}" for title in examples]
    for problem in result.problems[:10]:
        lines.append(f"  skipped: {problem}")
    if len(result.problems) > 10:
        lines.append(f"  skipped: ... and {len(result.problems) - 10} more")
    if result.report is not None:
        lines.append("")
        lines.append("eval after mapping each draft storyline to its nearest shipped storyline:")
        lines.append(result.report.format(show_mistakes=False))
        f1 = result.report.micro.f1
        lines.append(
            f"mapped micro-F1: {'n/a (no labeled positives and no predictions)' if f1 is None else f'{f1:.3f}'}"
        )
    return "\n".join(lines)


def seed(
    path: Path | str,
    *,
    watchlists_dir: Path | str = "watchlists",
    out: Path | None = None,
    background_dir: Path | None = None,
    topic_in_rule: str = "actors",
    language: str | None = None,
) -> tuple[Draft, str, Path]:
    """Read, extract, render and validate; returns (draft, yaml text, output path). Writes nothing."""
    article = read_seed(path)
    out = Path(out) if out else default_out(path, article, watchlists_dir)
    # Re-seeding over a draft already kept in the watchlists folder replaces it: leave it out.
    replacing = (
        out if out.is_file() and out.resolve().parent == Path(watchlists_dir).resolve() else None
    )
    try:
        if not Path(watchlists_dir).is_dir():
            load_watchlists(watchlists_dir)  # the usual "directory not found" error
        watchlists = validate_draft(None, watchlists_dir, replacing=replacing)
    except ConfigError as exc:
        raise UserError(
            *exc.problems,
            f"{watchlists_dir}: fix the watchlists first; the draft is checked against them",
        ) from None
    if background_dir is not None:
        recorded_feed_files(background_dir, hint=BACKGROUND_HINT)  # a user error if none
    background = load_background(background_dir or default_background_dir())
    draft = build_draft(
        article,
        watchlists,
        background,
        slug=draft_slug(path, article),
        topic_in_rule=topic_in_rule,
        language=language,
    )
    draft.replacing = replacing
    if not draft.entities:
        raise UserError(
            f"{path}: found no names (capitalised people, organisations, places or products) "
            "in the article; is it the full article text?"
        )
    text = render_draft(draft, watchlists_dir=watchlists_dir)
    try:
        validate_draft(text, watchlists_dir, replacing=replacing)
    except ConfigError as exc:  # a bug here, not the user's: say so and write nothing
        raise UserError(
            "storywatch seed produced a draft that does not validate (please report this):",
            *exc.problems,
        ) from None
    return draft, text, out


def write_draft(out: Path | str, text: str) -> None:
    """Write the draft atomically (a temp file renamed over the target)."""
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)
    except OSError as exc:
        raise UserError(
            f"{out}: cannot write the draft: {exc.strerror}; choose another --out"
        ) from None
