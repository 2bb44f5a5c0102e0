"""Scoring storyline predictions against labels: per-storyline and micro P/R/F1.

Two layers, both pure Python:

- ``score(gold, predicted, storyline_ids)`` compares two ``{item_id: {storyline_id, ...}}``
  maps and returns a ``Report``. It knows nothing about the matcher, so any component
  that predicts storylines (the matcher, ``storywatch seed --check`` after mapping its
  drafts to shipped storylines) can reuse it. This API is stable: keep the names.
- ``evaluate_matcher(matcher, labeled_path)`` runs a ``Matcher`` over a labeled JSONL file
  (lines with ``id``, ``title``, ``summary``, ... and ``labels``: a list of storyline ids)
  and returns the same ``Report`` with every false positive and miss listed with its
  evidence (for a miss: the entities and topics that *were* found, so the reason shows).

>>> r = score({"a": {"s1"}, "b": set()}, {"a": {"s1"}, "b": {"s1"}}, ["s1"])
>>> r.micro.tp, r.micro.fp, r.micro.fn, round(r.micro.precision, 2), r.micro.recall
(1, 1, 0, 0.5, 1.0)
>>> [(m.item_id, m.storyline_id, m.kind) for m in r.mistakes]
[('b', 's1', 'false_positive')]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.jsonl_io import read_articles
from pipeline.match.matcher import Matcher
from pipeline.records import Article, Evidence

MICRO = "micro"


@dataclass(frozen=True, slots=True)
class Scores:
    """Counts and precision/recall/F1 for one storyline (or ``micro`` over all)."""

    storyline_id: str
    tp: int
    fp: int
    fn: int

    @property
    def support(self) -> int:
        """Number of gold positives."""
        return self.tp + self.fn

    @property
    def scored(self) -> bool:
        """False when the input has no gold positive and no prediction for it: nothing to score.

        Its precision, recall and F1 are then None (shown as n/a), not a perfect 1.0;
        its zero counts add nothing to the micro average.
        """
        return bool(self.tp + self.fp + self.fn)

    @property
    def precision(self) -> float | None:
        if not self.scored:
            return None
        # No predictions (but gold positives) is not a wrong prediction: precision 1.0,
        # and F1 follows recall (0.0).
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float | None:
        if not self.scored:
            return None
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None:
            return None
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True, slots=True)
class Mistake:
    """One wrong decision: ``kind`` is ``false_positive`` or ``miss``.

    ``evidence`` is the match evidence for a false positive and, for a miss, the
    entity/topic mentions the matcher did find (empty when it found nothing).
    """

    item_id: str
    storyline_id: str
    kind: str
    title: str = ""
    evidence: tuple[Evidence, ...] = ()
    score: float | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """Per-storyline scores, the micro average, and the mistakes behind them."""

    storylines: tuple[Scores, ...]
    micro: Scores
    mistakes: tuple[Mistake, ...] = ()
    items: int = 0
    bad_lines: tuple[str, ...] = field(default=())

    def by_storyline(self) -> dict[str, Scores]:
        return {s.storyline_id: s for s in self.storylines}

    @property
    def false_positives(self) -> tuple[Mistake, ...]:
        return tuple(m for m in self.mistakes if m.kind == "false_positive")

    @property
    def misses(self) -> tuple[Mistake, ...]:
        return tuple(m for m in self.mistakes if m.kind == "miss")

    def format(self, *, show_mistakes: bool = True) -> str:
        """The human-readable table printed by ``storywatch eval``."""
        width = max([len(MICRO)] + [len(s.storyline_id) for s in self.storylines])
        lines = [
            f"{'storyline':<{width}}  {'P':>5}  {'R':>5}  {'F1':>5}  {'TP':>4}  {'FP':>4}  {'FN':>4}"
        ]
        for s in (*self.storylines, self.micro):
            lines.append(
                f"{s.storyline_id:<{width}}  {_ratio(s.precision)}  {_ratio(s.recall)}  {_ratio(s.f1)}  "
                f"{s.tp:4d}  {s.fp:4d}  {s.fn:4d}"
            )
        lines.append(f"{self.items} items")
        unscored = [s.storyline_id for s in self.storylines if not s.scored]
        if unscored:
            lines.append(
                f"n/a: no labeled item carries {', '.join(unscored)} and none was predicted, so "
                "there is nothing to score (not a perfect score); add labeled examples to measure "
                + ("them" if len(unscored) > 1 else "it")
            )
        if show_mistakes:
            for title, group in (
                ("false positives", self.false_positives),
                ("misses", self.misses),
            ):
                lines.append(f"\n{title}: {len(group)}")
                for m in group:
                    score = f" score={m.score:.2f}" if m.score is not None else ""
                    lines.append(f"  {m.item_id}  {m.storyline_id}{score}  {m.title[:100]!r}")
                    lines += [f"      {format_evidence(e)}" for e in m.evidence] or [
                        "      (nothing found)"
                    ]
        return "\n".join(lines)


def _ratio(value: float | None) -> str:
    """A score in the table: ``0.933``, or ``  n/a`` when there was nothing to score."""
    return f"{'n/a':>5}" if value is None else f"{value:5.3f}"


def format_evidence(e: Evidence) -> str:
    """One evidence line, e.g. ``elon-musk <- 'Musk' title[0:4] exact``."""
    similarity = f" {e.similarity:.0f}%" if e.kind == "fuzzy" else ""
    alias = f" (alias {e.alias!r})" if e.alias.casefold() != e.text.casefold() else ""
    return f"{e.ref} <- {e.text!r} {e.field}[{e.start}:{e.end}] {e.kind}{similarity}{alias}"


def score(
    gold: Mapping[str, Iterable[str]],
    predicted: Mapping[str, Iterable[str]],
    storyline_ids: Iterable[str] | None = None,
    *,
    titles: Mapping[str, str] | None = None,
    evidence: Mapping[tuple[str, str], tuple[Evidence, ...]] | None = None,
    scores: Mapping[tuple[str, str], float] | None = None,
) -> Report:
    """Compare predictions with gold labels item by item.

    ``gold`` and ``predicted`` map item ids to storyline ids; items missing from
    ``predicted`` predicted nothing, predictions for items not in ``gold`` are ignored
    (unlabeled). ``storyline_ids`` limits and orders the storylines scored (default:
    every id seen in either map). ``titles``, ``evidence`` and ``scores`` (keyed by
    (item id, storyline id)) only decorate the listed mistakes.
    """
    gold_sets = {item: set(labels) for item, labels in gold.items()}
    pred_sets = {item: set(predicted.get(item, ())) for item in gold_sets}
    if storyline_ids is None:
        ids = sorted({s for labels in (*gold_sets.values(), *pred_sets.values()) for s in labels})
    else:
        ids = list(dict.fromkeys(storyline_ids))
    titles, evidence, scores = titles or {}, evidence or {}, scores or {}
    per: list[Scores] = []
    mistakes: list[Mistake] = []
    for sid in ids:
        tp = fp = fn = 0
        for item in gold_sets:
            is_gold, is_pred = sid in gold_sets[item], sid in pred_sets[item]
            if is_gold and is_pred:
                tp += 1
            elif is_pred:
                fp += 1
            elif is_gold:
                fn += 1
            else:
                continue
            if is_gold != is_pred:
                mistakes.append(
                    Mistake(
                        item,
                        sid,
                        "false_positive" if is_pred else "miss",
                        titles.get(item, ""),
                        tuple(evidence.get((item, sid), ())),
                        scores.get((item, sid)),
                    )
                )
        per.append(Scores(sid, tp, fp, fn))
    micro = Scores(MICRO, sum(s.tp for s in per), sum(s.fp for s in per), sum(s.fn for s in per))
    return Report(tuple(per), micro, tuple(mistakes), items=len(gold_sets))


@dataclass(frozen=True, slots=True)
class LabeledItem:
    """One usable line of a labeled JSONL file: the article, its labels and the raw object."""

    lineno: int
    article: Article
    labels: frozenset[str]
    raw: dict[str, Any]


def read_labeled(
    path: Path | str, *, storyline_ids: Iterable[str] | None = None
) -> tuple[list[LabeledItem], list[str]]:
    """The usable labeled items of a JSONL file, and a ``FILE:LINE: reason`` per unusable line.

    A line is unusable when it is not an article (see ``pipeline.jsonl_io``), when ``labels``
    is not a list of strings, when a label is not one of ``storyline_ids`` (if given: a
    misspelt label would silently count as a miss), or when its id repeats an earlier line's.
    """
    known = None if storyline_ids is None else set(storyline_ids)
    path = Path(path)
    items: list[LabeledItem] = []
    bad: list[str] = []
    seen: set[str] = set()
    for lineno, obj, article in read_articles(path):
        if not isinstance(article, Article):
            bad.append(f"{path}:{lineno}: {article}; fix or remove the line")
            continue
        labels = obj.get("labels")
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            bad.append(
                f"{path}:{lineno}: field 'labels' must be a list of storyline ids; "
                'write e.g. "labels": ["musk-kremlin-contacts"], or "labels": [] for none'
            )
            continue
        if known is not None and (unknown := sorted(set(labels) - known)):
            bad.append(
                f"{path}:{lineno}: labels name unknown storyline(s) {', '.join(unknown)}; "
                f"use the watchlists' ids ({', '.join(sorted(known))}) or fix the spelling"
            )
            continue
        if article.article_id in seen:
            bad.append(f"{path}:{lineno}: duplicate id '{article.article_id}'; ids must be unique")
            continue
        seen.add(article.article_id)
        items.append(LabeledItem(lineno, article, frozenset(labels), obj))
    return items, bad


def evaluate_matcher(matcher: Matcher, labeled_path: Path | str) -> Report:
    """Run ``matcher`` over a labeled JSONL file and score it against the ``labels``.

    Unusable lines are skipped and listed in ``Report.bad_lines`` (see ``read_labeled``).
    """
    items, bad = read_labeled(
        labeled_path, storyline_ids=[s.id for s in matcher.watchlists.storylines]
    )
    gold = {item.article.article_id: set(item.labels) for item in items}
    titles = {item.article.article_id: item.article.title for item in items}
    predicted: dict[str, set[str]] = {}
    evidence: dict[tuple[str, str], tuple[Evidence, ...]] = {}
    scores: dict[tuple[str, str], float] = {}
    for item in items:
        article_id = item.article.article_id
        for match in matcher.match(item.article):
            predicted.setdefault(article_id, set()).add(match.storyline_id)
            evidence[(article_id, match.storyline_id)] = match.evidence
            scores[(article_id, match.storyline_id)] = match.score
        missed = gold[article_id] - predicted.get(article_id, set())
        if missed:  # a miss is explained by what was found
            found = tuple(matcher.find(item.article))
            for sid in missed:
                evidence[(article_id, sid)] = found
    storyline_ids = [s.id for s in matcher.watchlists.storylines]
    report = score(gold, predicted, storyline_ids, titles=titles, evidence=evidence, scores=scores)
    return Report(report.storylines, report.micro, report.mistakes, report.items, tuple(bad))
