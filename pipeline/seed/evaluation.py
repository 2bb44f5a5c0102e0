"""Scoring ``storywatch seed`` on articles it has never seen (tests/data/seed_eval).

For each article of a split: draft it against the watchlists, then

- **entity kinds**: each gold name (``entities/<id>.json``) is looked up among the draft's
  entities (name, alias or a mention's surface, case- and accent-folded); a found name
  counts as right when its kind is one of the gold kinds (``"org|product"``);
- **storylines**: the real matcher runs over the article's labeled items with the
  watchlists plus the draft; every draft storyline maps to the article's story (its id is
  the label), so an item is predicted positive when any draft storyline matches it;
- **entities alone**: an article naming one entity of a storyline's rules (all its
  aliases), or all of their places, and no other word, must not match it (no actor or
  place satisfies a rule by itself).

``frozen_digest`` is the test part's sha256 (tests/data/seed_eval/README.md says how).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config.watchlists import Watchlists
from pipeline.match.matcher import Matcher
from pipeline.records import Article
from pipeline.seed.background import Background
from pipeline.seed.build import Draft, build_draft
from pipeline.seed.names import normalise_name
from pipeline.seed.reach import labeled_items
from pipeline.seed.render import render_draft, validate_draft
from pipeline.seed.text import read_seed

_EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


def wilson(successes: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a proportion (95% by default); (0, 1) when total is 0."""
    if total == 0:
        return 0.0, 1.0
    p = successes / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def manifest(root: Path) -> dict[str, dict]:
    return json.loads((root / "manifest.json").read_text(encoding="utf-8"))


def frozen_digest(root: Path, split: str = "test") -> str:
    m = manifest(root)
    h = hashlib.sha256()
    for k in sorted(x for x in m if m[x]["split"] == split):
        for p in (f"articles/{k}.txt", f"items/{k}.jsonl", f"entities/{k}.json"):
            h.update(p.encode() + b"\0" + hashlib.sha256((root / p).read_bytes()).digest())
    return h.hexdigest()


@dataclass
class ArticleScore:
    article_id: str
    language: str
    gold_entities: int = 0
    found_entities: int = 0
    right_kinds: int = 0
    wrong_kinds: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    tp: int = 0
    fp: int = 0
    fn: int = 0
    storylines: int = 0
    alone: list[str] = field(default_factory=list)  # storylines satisfied by entities alone
    titles: list[str] = field(default_factory=list)


def _forms(draft: Draft) -> dict[str, object]:
    out: dict[str, object] = {}
    for e in draft.entities:
        for form in (e.name, *e.aliases, e.catalog_source, *(m.surface for m in e.mentions)):
            if form:
                out.setdefault(normalise_name(form), e)
    return out


def probe_article(article_id: str, text: str) -> Article:
    """An article whose title and summary are ``text`` (a probe for the matcher)."""
    return Article(
        article_id=article_id,
        feed_id="seed-eval",
        url="https://example.invalid/alone",
        canonical_url="https://example.invalid/alone",
        title=text,
        summary=text,
        published_at=_EPOCH,
        first_seen_at=_EPOCH,
        published_precision="unknown",  # a probe has no date: a storyline's span keeps out of it
    )


def entities_alone(draft: Draft, combined: Watchlists) -> list[str]:
    """Draft storylines that an article naming one of their entities (every alias of it),
    or all of their places together, and nothing else, would match."""
    matcher = Matcher(combined)
    out = []
    for s in draft.storylines:
        rules = [s.all_of, *s.alternatives]
        refs = list(dict.fromkeys(r for rule in rules for group in rule for r in group))
        entities = [e for r in refs if (e := combined.entity(r)) is not None]
        probes = [[e] for e in entities] + [[e for e in entities if e.kind == "place"]]
        for group in probes:
            names = [form for e in group for form in (e.name, *e.aliases)]
            if not names:
                continue
            text = ", ".join(names)
            if any(
                m.storyline_id == s.id for m in matcher.match(probe_article(f"alone-{s.id}", text))
            ):
                out.append(s.id)
                break
    return out


def score_article(
    root: Path,
    article_id: str,
    watchlists: Watchlists,
    watchlists_dir: Path,
    background: Background,
) -> ArticleScore:
    meta = manifest(root)[article_id]
    article = read_seed(root / "articles" / f"{article_id}.txt")
    # The manifest's date stands in for the day a user drafts from the article (``seed``
    # takes today when the article shows no date); some pages give only the month.
    draft = build_draft(
        article, watchlists, background, slug=article_id, date=article.date or meta["date"]
    )
    result = ArticleScore(article_id, meta["language"], storylines=len(draft.storylines))
    result.titles = [s.title for s in draft.storylines]
    gold = json.loads((root / "entities" / f"{article_id}.json").read_text(encoding="utf-8"))
    forms = _forms(draft)
    for name, kinds in gold.items():
        result.gold_entities += 1
        e = forms.get(normalise_name(name))
        if e is None:
            result.missing.append(name)
            continue
        result.found_entities += 1
        if e.kind in kinds.split("|"):
            result.right_kinds += 1
        else:
            result.wrong_kinds.append(f"{name}: {e.kind} (gold {kinds})")
    combined = validate_draft(render_draft(draft, watchlists_dir=watchlists_dir), watchlists_dir)
    result.alone = entities_alone(draft, combined)
    articles, labels, _ = labeled_items(root / "items" / f"{article_id}.jsonl")
    matcher = Matcher(combined)
    draft_ids = {s.id for s in draft.storylines}
    for a in articles:
        predicted = any(m.storyline_id in draft_ids for m in matcher.match(a))
        actual = article_id in labels.get(a.article_id, set())
        result.tp += predicted and actual
        result.fp += predicted and not actual
        result.fn += actual and not predicted
    return result


def format_scores(scores: list[ArticleScore]) -> str:
    lines = [
        f"{'article':34} {'lang':4} {'kinds':>7} {'found':>7} {'P':>5} {'R':>5} {'tp/fp/fn':>9} sl alone"
    ]
    for s in scores:
        p = s.tp / (s.tp + s.fp) if s.tp + s.fp else float("nan")
        r = s.tp / (s.tp + s.fn) if s.tp + s.fn else float("nan")
        lines.append(
            f"{s.article_id:34} {s.language:4} {s.right_kinds:>3}/{s.found_entities:<3} "
            f"{s.found_entities:>3}/{s.gold_entities:<3} {p:5.2f} {r:5.2f} "
            f"{s.tp:>3}/{s.fp}/{s.fn:<3} {s.storylines:>2} {len(s.alone)}"
        )
    right = sum(s.right_kinds for s in scores)
    found = sum(s.found_entities for s in scores)
    gold = sum(s.gold_entities for s in scores)
    tp, fp, fn = (sum(getattr(s, k) for s in scores) for k in ("tp", "fp", "fn"))
    alone = sum(len(s.alone) for s in scores)
    total_sl = sum(s.storylines for s in scores)

    def fmt(k: int, n: int) -> str:
        lo, hi = wilson(k, n)
        return f"{k}/{n} = {k / n if n else float('nan'):.3f} (Wilson 95% {lo:.3f}-{hi:.3f})"

    lines += [
        "",
        f"entity-kind accuracy (found gold entities): {fmt(right, found)}",
        f"gold entities found:                        {fmt(found, gold)}",
        f"mapped storyline precision (items):         {fmt(tp, tp + fp)}",
        f"mapped storyline recall (items):            {fmt(tp, tp + fn)}",
        f"storylines satisfied by entities alone:     {alone}/{total_sl}",
    ]
    return "\n".join(lines)
