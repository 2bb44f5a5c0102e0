"""How far a draft reaches: the real matcher over labeled items or recorded feeds.

``check_corpus`` runs the real ``Matcher`` over the watchlists plus the draft and counts,
per proposed storyline, the items it matches in a labeled JSONL file or a folder of
recorded feeds (the files replay reads, parsed and normalised as the pipeline does).

- With labels, ``map_to_shipped`` maps every draft storyline to its nearest shipped
  storyline (shared entities, then shared words of title, description and topic terms) and
  the mapped predictions are scored with ``pipeline.match.evaluate.score``, the same
  scoring as ``storywatch eval``.
- With feeds, ``wide_reach`` flags a storyline matching more than ``WIDE_MIN_ITEMS`` and
  more than ``WIDE_SHARE`` of the items: ordinary news holds a handful of one story's items.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.cli.progress import bar
from pipeline.config.watchlists import Watchlists
from pipeline.errors import UserError
from pipeline.ingest.normalize import UnusableItem, normalize_item
from pipeline.ingest.parse import parse_feed
from pipeline.ingest.recorded import recorded_feed_files
from pipeline.jsonl_io import read_articles
from pipeline.match.evaluate import score
from pipeline.match.matcher import Matcher
from pipeline.records import Article, RawFeed
from pipeline.seed.build import Draft
from pipeline.seed.render import clip_comment, validate_draft
from pipeline.seed.storylines import STOPWORDS

WIDE_MIN_ITEMS = 5
WIDE_SHARE = 0.01
WIDE_EXAMPLES = 3
CHECK_FEEDS_HINT = "pass a folder of recorded feeds to --check-feeds"


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
    articles: list = []
    gold: dict[str, set[str]] = {}
    problems: list[str] = []
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
        problems += bad
    predicted = predictions(articles, combined, draft_ids) if articles else {}
    if feed_items:
        # Recorded feeds are ordinary news of whatever date they were recorded: how wide a
        # rule is does not depend on the storyline's span of dates.
        predicted.update(predictions(feed_items, _without_spans(combined), draft_ids))
    counts = {d: sum(1 for hits in predicted.values() if d in hits) for d in draft_ids}
    result = CheckResult(len(articles) + len(feed_items), counts, problems)
    result.wide = wide_reach(feed_items, predicted, draft_ids)
    if gold:
        result.mapping = map_to_shipped(draft_ids, shipped_ids, combined)
        mapped = {
            item: {result.mapping[d] for d in hits if result.mapping.get(d)}
            for item, hits in predicted.items()
        }
        result.report = score(gold, mapped, shipped_ids)
    return result


def _without_spans(watchlists: Watchlists) -> Watchlists:
    unbounded = {"published_from": None, "published_until": None}
    return watchlists.model_copy(
        update={"storylines": tuple(s.model_copy(update=unbounded) for s in watchlists.storylines)}
    )


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
            out[d] = (len(hits), n, [clip_comment(a.title, 90) for a in hits[:WIDE_EXAMPLES]])
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
