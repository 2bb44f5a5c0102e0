"""``storywatch eval-alerts``: score the alerts the pipeline raises on labeled items.

The labeled items are replayed as a stream ordered by ``published`` (ties by id; a coarse
date such as ``2025-02`` at the start of its period, undated items last) through
the same decisions the Beam graph makes: the matcher, ``storyline.track_in_order`` (the
function the bounded graph path calls per storyline) and ``alert.decide_alert``.

Definitions (per storyline ``s``):

- a *development* is a ``dup_group`` among the items labeled ``s``, or a single item
  labeled ``s`` with no ``dup_group``;
- an alert for ``s`` is *correct* when its lead article is labeled ``s``
  (precision = correct alerts / alerts, bursts included);
- a development is *recalled* when a ``new_development`` alert for ``s`` leads with one of
  its items (recall = recalled developments / developments);
- a development is *duplicated* when more than one ``new_development`` alert for ``s``
  leads with its items (duplicates = duplicated developments / recalled developments).
  Burst alerts are about the storyline's rate, not a development: they count for
  precision and are reported, but not as duplicates.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from pipeline.alert import decide_alerts
from pipeline.errors import UserError
from pipeline.evaluate import LabeledItem, read_labeled
from pipeline.records import Alert, Article, Match
from pipeline.storyline import BURST, NEW_DEVELOPMENT, StorylineTracker, order_time, track_in_order


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

    @property
    def precision(self) -> float:
        return self.correct / self.alerts if self.alerts else 1.0

    @property
    def recall(self) -> float:
        return self.recalled / self.developments if self.developments else 1.0

    @property
    def duplicate_rate(self) -> float:
        return self.duplicated / self.recalled if self.recalled else 0.0


def load_labeled(path: Path, *, storyline_ids: Iterable[str] | None = None) -> list[LabeledItem]:
    """Labeled items of a JSONL file (``evaluate.read_labeled``); bad lines are a user error."""
    items, problems = read_labeled(path, storyline_ids=storyline_ids)
    if problems:
        raise UserError(*problems)
    return items


def dup_group(item: LabeledItem) -> str | None:
    group = item.raw.get("dup_group")
    return group if isinstance(group, str) and group else None


def replay_order(articles: Iterable[Article]) -> list[Article]:
    """The stream order of a replay: by published time (``storyline.order_time``: the
    start of a coarse date's period, undated items last), then id."""
    return sorted(articles, key=lambda a: (order_time(a), a.article_id))


def alerts_for(articles: Iterable[Article], match: Callable[[Article], list[Match]], *,
               tracker: StorylineTracker | None = None, **policy) -> list[Alert]:
    """Match, track and decide over a bounded set of articles, exactly as the replay graph."""
    matches = [m for a in replay_order(articles) for m in match(a)]
    return decide_alerts(track_in_order(matches, tracker), **policy)


def score_alerts(items: list[LabeledItem], alerts: list[Alert]) -> AlertScores:
    labels = {i.article.article_id: i.labels for i in items}
    development_of: dict[tuple[str, str], str] = {}
    for item in items:
        for s in item.labels:
            development_of[(s, item.article.article_id)] = dup_group(item) or f"single:{item.article.article_id}"
    developments = set((s, d) for (s, _), d in development_of.items())
    per_dev: Counter = Counter()
    wrong, correct, bursts = [], 0, 0
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
    return AlertScores(len(alerts), correct, bursts, len(developments), len(per_dev), len(repeated),
                       wrong, missed, repeated)


def report(scores: AlertScores) -> str:
    lines = [
        f"alerts: {scores.alerts} ({scores.bursts} burst)",
        f"alert precision: {scores.precision:.3f} ({scores.correct}/{scores.alerts} lead articles carry the storyline)",
        f"development recall: {scores.recall:.3f} ({scores.recalled}/{scores.developments} labeled developments alerted)",
        f"duplicate alerts: {scores.duplicate_rate:.3f} ({scores.duplicated}/{scores.recalled} "
        "alerted developments alerted more than once)",
    ]
    for a in scores.wrong:
        lines.append(f"  wrong: {a.storyline_id} {a.kind} lead {a.article_ids[0]}: {a.title[:80]}")
    for s, d in scores.missed:
        lines.append(f"  missed: {s} {d}")
    for s, d, n in scores.repeated:
        lines.append(f"  repeated: {s} {d} alerted {n} times")
    return "\n".join(lines)


def evaluate_file(path: Path, *, watchlists_dir: Path) -> str:
    """The ``eval-alerts`` report for a labeled file, with the shipped matcher and tracker."""
    from pipeline.matcher import Matcher

    matcher = Matcher.from_dir(watchlists_dir)
    items = load_labeled(Path(path), storyline_ids=[s.id for s in matcher.watchlists.storylines])
    if not items:
        raise UserError(f"{path}:1: no labeled items; each line needs id, title and labels")
    alerts = alerts_for([i.article for i in items], matcher.match)
    return report(score_alerts(items, alerts))
