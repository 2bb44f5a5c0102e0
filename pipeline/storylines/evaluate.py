"""``storywatch eval-alerts``: score the alerts the pipeline raises on labeled items.

The labeled items are replayed as a stream ordered by ``published`` (ties by id; a coarse
date such as ``2025-02`` at the start of its period, undated items last) through
the same decisions the Beam graph makes: the matcher, ``tracker.track_in_order`` (the
decisions the bounded graph path makes per storyline) and ``alerts.decide.decide_alerts``.

Definitions (per storyline ``s``):

- a *development* is a set of items labeled ``s`` that share a ``dup_group`` (copies
  of one wire story, rewrites) or a ``development`` ``{chain, order}`` (other outlets'
  coverage of the same event), joined transitively; an item with neither is a
  development of its own. Where each ``dup_group`` has its own ``development`` (as in
  dev.jsonl) this is simply one development per ``dup_group``;
- an alert for ``s`` is *correct* when its lead article is labeled ``s``
  (precision = correct alerts / alerts, bursts included);
- a development is *recalled* when a ``new_development`` alert for ``s`` leads with one of
  its items (recall = recalled developments / developments);
- a development is *duplicated* when more than one ``new_development`` alert for ``s``
  leads with its items (duplicates = duplicated developments / recalled developments).
  Burst alerts are about the storyline's rate, not a development: they count for
  precision and are reported, but not as duplicates.

Alert counts alone cannot see a wrong grouping (two developments, two alerts, but the
coverage of each attached to the other), so the grouping itself is scored with BCubed
(Bagga & Baldwin 1998) over the items labeled ``s`` that the tracker placed in ``s``:
per item, precision = the share of its tracked development that shares its labeled
development, recall = the share of its labeled development found in its tracked
development; averaged over items. An item the tracker never saw in ``s`` (unmatched,
stale) is a development of its own, so missing it costs recall. Per storyline, the
report lists developments, misses and false alarms (alerts whose lead is not labeled s).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.alerts.decide import decide_alerts
from pipeline.errors import UserError
from pipeline.jsonl_io import json_kind
from pipeline.match.evaluate import LabeledItem, read_labeled
from pipeline.match.matcher import Matcher
from pipeline.records import Alert, Article, Match, StorylineEvent
from pipeline.storylines.timing import order_time
from pipeline.storylines.tracker import BURST, NEW_DEVELOPMENT, StorylineTracker, track_in_order

# A union-find node: ("item" | "group" | "chain", storyline id, article id or label).
_Node = tuple[str, str, str]


@dataclass
class AlertScores:
    alerts: int
    correct: int
    bursts: int
    developments: int
    recalled: int
    duplicated: int
    wrong: list[Alert] = field(default_factory=list)
    missed: list[tuple[str, str]] = field(default_factory=list)
    repeated: list[tuple[str, str, int]] = field(default_factory=list)
    # BCubed of the grouping (None when scored from alerts only, without the events).
    bcubed_precision: float | None = None
    bcubed_recall: float | None = None
    # storyline -> (labeled developments, missed, false alarms, repeated)
    per_storyline: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)

    @property
    def precision(self) -> float:
        return self.correct / self.alerts if self.alerts else 1.0

    @property
    def recall(self) -> float:
        return self.recalled / self.developments if self.developments else 1.0

    @property
    def duplicate_rate(self) -> float:
        return self.duplicated / self.recalled if self.recalled else 0.0


def label_field_problems(raw: dict[str, Any]) -> list[str]:
    """What is wrong with the optional label fields ``dup_group``, ``development``, ``borderline``.

    A ``dup_group`` of the wrong type would silently make its items single developments
    (and change recall and duplicates), so it is refused like a bad ``labels`` field.

    >>> label_field_problems({"dup_group": "D1", "development": {"chain": "C1", "order": 2}})
    []
    >>> for problem in label_field_problems({"dup_group": ["D1"], "development": "C1"}):
    ...     print(problem.split("; ")[0])
    field 'dup_group' must be text (the id items of one event share) or null, found a list
    field 'development' must be an object {chain, order} or null, found text
    """
    problems = []
    group = raw.get("dup_group")
    if group is not None and not (isinstance(group, str) and group.strip()):
        found = "empty text" if isinstance(group, str) else json_kind(group)
        problems.append(
            f"field 'dup_group' must be text (the id items of one event share) or null, found {found}; "
            'write e.g. "dup_group": "D1"'
        )
    development = raw.get("development")
    shape = 'write e.g. "development": {"chain": "C1", "order": 2}, or null'
    if development is not None:
        if not isinstance(development, dict):
            problems.append(
                f"field 'development' must be an object {{chain, order}} or null, found "
                f"{json_kind(development)}; {shape}"
            )
        else:
            unknown = sorted(set(development) - {"chain", "order"})
            chain, order = development.get("chain"), development.get("order")
            if unknown:
                problems.append(
                    f"field 'development' has unknown key(s) {', '.join(unknown)}; "
                    f"it takes only chain and order: {shape}"
                )
            elif not (isinstance(chain, str) and chain.strip()):
                problems.append(
                    f"development.chain must be text (the story's chain id), found "
                    f"{'nothing' if chain is None else json_kind(chain)}; {shape}"
                )
            elif isinstance(order, bool) or not isinstance(order, int):
                problems.append(
                    f"development.order must be a whole number (1 for the first development), "
                    f"found {'nothing' if order is None else json_kind(order)}; {shape}"
                )
    borderline = raw.get("borderline")
    if borderline is not None and not isinstance(borderline, bool):
        problems.append(
            f"field 'borderline' must be true, false or null, found {json_kind(borderline)}"
        )
    return problems


def load_labeled(path: Path, *, storyline_ids: Iterable[str] | None = None) -> list[LabeledItem]:
    """Labeled items of a JSONL file (``evaluate.read_labeled``) with well-typed label fields;
    bad lines are a user error (every one listed, by line)."""
    items, problems = read_labeled(path, storyline_ids=storyline_ids)
    for item in items:
        problems += [
            f"{path}:{item.lineno}: {problem}" for problem in label_field_problems(item.raw)
        ]
    if problems:
        raise UserError(*sorted(problems, key=_line_number))
    return items


def _line_number(problem: str) -> int:
    """The LINE of a ``FILE:LINE: ...`` problem (FILE may contain colons)."""
    for part in problem.split(": ", 1)[0].rsplit(":", 1)[1:]:
        if part.isdigit():
            return int(part)
    return 0


def dup_group(item: LabeledItem) -> str | None:
    group = item.raw.get("dup_group")
    return group if isinstance(group, str) and group else None


def replay_order(articles: Iterable[Article]) -> list[Article]:
    """The stream order of a replay: by published time (``timing.order_time``: the
    start of a coarse date's period, undated items last), then id."""
    return sorted(articles, key=lambda a: (order_time(a), a.article_id))


def events_for(
    articles: Iterable[Article],
    match: Callable[[Article], list[Match]],
    *,
    tracker: StorylineTracker | None = None,
) -> list[StorylineEvent]:
    """Match and track a bounded set of articles, exactly as the replay graph."""
    matches = [m for a in replay_order(articles) for m in match(a)]
    return track_in_order(matches, tracker)


def alerts_for(
    articles: Iterable[Article],
    match: Callable[[Article], list[Match]],
    *,
    tracker: StorylineTracker | None = None,
    **policy: Any,
) -> list[Alert]:
    """Match, track and decide over a bounded set of articles, exactly as the replay graph."""
    return decide_alerts(events_for(articles, match, tracker=tracker), **policy)


def development_label(item: LabeledItem) -> str | None:
    """``chain#order`` of the item's ``development`` label, or None."""
    development = item.raw.get("development")
    if isinstance(development, dict) and development.get("chain") is not None:
        return f"{development['chain']}#{development.get('order')}"
    return None


def developments_of(items: list[LabeledItem]) -> dict[tuple[str, str], str]:
    """(storyline, article id) -> the name of its labeled development.

    Items of one storyline sharing a ``dup_group`` or a ``development`` label are one
    development (union-find, so a copy group and the other outlets' coverage of the
    same event join). The name is the development's first ``dup_group`` in sorted order,
    else its ``chain#order``, else ``single:<id>``.

    >>> from pipeline.match.evaluate import LabeledItem
    >>> from pipeline.jsonl_io import article_from_json
    >>> def item(i, group, chain):
    ...     raw = {"id": i, "title": "t", "labels": ["s"], "dup_group": group,
    ...            "development": chain and {"chain": chain, "order": 1}}
    ...     return LabeledItem(0, article_from_json(raw), frozenset(["s"]), raw)
    >>> sorted(developments_of([item("1", "W1", "C"), item("2", None, "C"), item("3", None, None)]).items())
    [(('s', '1'), 'W1'), (('s', '2'), 'W1'), (('s', '3'), 'single:3')]
    """
    parent: dict[_Node, _Node] = {}

    def find(x: _Node) -> _Node:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    members: list[tuple[str, str, list[_Node]]] = []
    for item in items:
        aid = item.article.article_id
        for s in item.labels:
            node = ("item", s, aid)
            find(node)
            names = [("group", s, g) for g in [dup_group(item)] if g]
            names += [("chain", s, c) for c in [development_label(item)] if c]
            for label in names:
                parent[find(node)] = find(label)
            members.append((s, aid, names))
    best: dict[_Node, tuple[int, str]] = {}
    for s, aid, names in members:
        root = find(("item", s, aid))
        for kind, _, name in names:
            rank = (0 if kind == "group" else 1, name)
            if root not in best or rank < best[root]:
                best[root] = rank
    return {
        (s, aid): (
            best[find(("item", s, aid))][1] if find(("item", s, aid)) in best else f"single:{aid}"
        )
        for s, aid, _ in members
    }


def bcubed(
    gold: dict[tuple[str, str], str], tracked: dict[tuple[str, str], str]
) -> tuple[float, float]:
    """BCubed (precision, recall) of a grouping over the labeled (storyline, article) items.

    ``gold`` and ``tracked`` map each item to its development name; an item missing from
    ``tracked`` is a development of its own.

    >>> gold = {("s", "1"): "A", ("s", "2"): "A", ("s", "3"): "B", ("s", "4"): "B"}
    >>> bcubed(gold, {("s", "1"): "x", ("s", "2"): "x", ("s", "3"): "y", ("s", "4"): "y"})
    (1.0, 1.0)
    >>> bcubed(gold, {("s", "1"): "x", ("s", "2"): "y", ("s", "3"): "y", ("s", "4"): "x"})
    (0.5, 0.5)
    """
    if not gold:
        return 1.0, 1.0
    mine = {key: tracked.get(key, f"untracked:{key[1]}") for key in gold}
    by_gold: dict[tuple[str, str], set[tuple[str, str]]] = {}
    by_mine: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for key in gold:
        by_gold.setdefault((key[0], gold[key]), set()).add(key)
        by_mine.setdefault((key[0], mine[key]), set()).add(key)
    precision = recall = 0.0
    for key in gold:
        g, m = by_gold[(key[0], gold[key])], by_mine[(key[0], mine[key])]
        both = len(g & m)
        precision += both / len(m)
        recall += both / len(g)
    return precision / len(gold), recall / len(gold)


def tracked_developments(events: Iterable[StorylineEvent]) -> dict[tuple[str, str], str]:
    """(storyline, article id) -> the development the tracker put it in (bursts, stale: none)."""
    placed: dict[tuple[str, str], str] = {}
    for e in events:
        if e.development_id and e.article is not None and e.kind != BURST:
            placed[(e.storyline_id, e.article.article.article_id)] = e.development_id
    return placed


def score_alerts(
    items: list[LabeledItem],
    alerts: list[Alert],
    *,
    events: Iterable[StorylineEvent] | None = None,
) -> AlertScores:
    """Alert figures; with the tracker's ``events`` also the BCubed figures of its grouping."""
    labels = {i.article.article_id: i.labels for i in items}
    development_of = developments_of(items)
    developments = set((s, d) for (s, _), d in development_of.items())
    per_dev: Counter[tuple[str, str]] = Counter()
    wrong: list[Alert] = []
    correct, bursts = 0, 0
    for alert in alerts:
        lead = alert.article_ids[0]
        ok = alert.storyline_id in labels.get(lead, ())
        correct += ok
        if not ok:
            wrong.append(alert)
        if alert.kind == BURST:
            bursts += 1
        elif alert.kind == NEW_DEVELOPMENT and ok:
            per_dev[(alert.storyline_id, development_of[(alert.storyline_id, lead)])] += 1
    missed = sorted(developments - set(per_dev))
    repeated = sorted((s, d, n) for (s, d), n in per_dev.items() if n > 1)
    storylines = sorted({s for s, _ in developments} | {a.storyline_id for a in alerts})
    per_storyline = {
        sl: (
            sum(1 for s, _ in developments if s == sl),
            sum(1 for s, _ in missed if s == sl),
            sum(1 for a in wrong if a.storyline_id == sl),
            sum(1 for s, _, _ in repeated if s == sl),
        )
        for sl in storylines
    }
    b_precision = b_recall = None
    if events is not None:
        b_precision, b_recall = bcubed(development_of, tracked_developments(events))
    return AlertScores(
        len(alerts),
        correct,
        bursts,
        len(developments),
        len(per_dev),
        len(repeated),
        wrong,
        missed,
        repeated,
        b_precision,
        b_recall,
        per_storyline,
    )


def report(scores: AlertScores) -> str:
    # A ratio over nothing (no alerts, no labeled developments) is n/a, not a perfect 1.000.
    def ratio(value: float, denominator: int, why: str) -> str:
        return f"{value:.3f}" if denominator else f"n/a ({why})"

    lines = [
        f"alerts: {scores.alerts} ({scores.bursts} burst)",
        f"alert precision: {ratio(scores.precision, scores.alerts, 'no alerts')} "
        f"({scores.correct}/{scores.alerts} lead articles carry the storyline)",
        f"development recall: {ratio(scores.recall, scores.developments, 'no labeled developments')} "
        f"({scores.recalled}/{scores.developments} labeled developments alerted)",
        f"duplicate alerts: {ratio(scores.duplicate_rate, scores.recalled, 'nothing alerted')} "
        f"({scores.duplicated}/{scores.recalled} alerted developments alerted more than once)",
    ]
    if scores.bcubed_precision is not None and not scores.developments:
        lines.append("grouping (BCubed): n/a (no labeled developments)")
    elif scores.bcubed_precision is not None and scores.bcubed_recall is not None:
        lines.append(
            f"grouping (BCubed): precision {scores.bcubed_precision:.3f}, "
            f"recall {scores.bcubed_recall:.3f} (do the tracked developments hold the "
            "labeled ones, item by item)"
        )
    if scores.per_storyline:
        lines.append("per storyline: developments, missed, false alarms, repeated")
        for sl, (n, miss, false, rep) in scores.per_storyline.items():
            lines.append(
                f"  {sl}: {n} developments, {miss} missed, {false} false alarms, {rep} repeated"
            )
    for a in scores.wrong:
        lines.append(f"  wrong: {a.storyline_id} {a.kind} lead {a.article_ids[0]}: {a.title[:80]}")
    for s, d in scores.missed:
        lines.append(f"  missed: {s} {d}")
    for s, d, n in scores.repeated:
        lines.append(f"  repeated: {s} {d} alerted {n} times")
    return "\n".join(lines)


def evaluate_file(path: Path, *, watchlists_dir: Path) -> str:
    """The ``eval-alerts`` report for a labeled file, with the shipped matcher and tracker."""
    matcher = Matcher.from_dir(watchlists_dir)
    items = load_labeled(Path(path), storyline_ids=[s.id for s in matcher.watchlists.storylines])
    if not items:
        raise UserError(f"{path}:1: no labeled items; each line needs id, title and labels")
    events = events_for([i.article for i in items], matcher.match)
    return report(score_alerts(items, decide_alerts(events), events=events))
