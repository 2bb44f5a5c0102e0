"""How the storyline tracker's thresholds were chosen: a grid over the labeled set.

Runs ``pipeline.storylines.evaluate.alerts_for`` over tests/data/labeled/dev.jsonl (real items) and
tests/data/labeled/holdout_alerts.jsonl (hand-written streams, see HOLDOUT.md) with the
labels as a perfect matcher (so only the grouping is measured) and, when it is available,
with the real matcher; prints precision, recall and duplicate rate for each setting, then
the same at the default thresholds for ``min_comparable_words`` 0-3 (0: no article is
placed by time alone).

Then, at the default thresholds, how the grouping holds up when ``published`` values are
coarser than in the file: each timestamp is cut to its day, its month or dropped with the
given probabilities (30 seeds each), as in collections where month-only, date-only and
missing dates are common. Labels as the matcher, so only the grouping is measured.

    .venv/bin/python bench/storyline_thresholds.py
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.jsonl_io import article_from_json  # noqa: E402
from pipeline.match.matcher import Matcher  # noqa: E402
from pipeline.records import Match  # noqa: E402
from pipeline.storylines.evaluate import alerts_for, load_labeled, score_alerts  # noqa: E402
from pipeline.storylines.tracker import StorylineTracker  # noqa: E402

LABELED_DIR = Path(__file__).resolve().parent.parent / "tests" / "data" / "labeled"
LABELED = LABELED_DIR / "dev.jsonl"
HOLDOUT = LABELED_DIR / "holdout_alerts.jsonl"


def matchers_for(items):
    """(name, match) pairs: the labels as a perfect matcher, and the real matcher if it loads."""
    gold = {i.article.article_id: i.labels for i in items}

    def perfect(article):
        return [Match(article, s, 1.0, ()) for s in sorted(gold[article.article_id])]

    found = [("labels", perfect)]
    try:
        real = Matcher.from_dir(Path(__file__).resolve().parent.parent / "watchlists")
        cache: dict = {}
        found.append(("matcher", lambda a: cache.setdefault(a.article_id, real.match(a))))
    except Exception as exc:  # the watchlists may not load; the grid still runs without them
        print(f"(real matcher unavailable: {exc})")
    return found


def _row(items, match, **tunables) -> str:
    s = score_alerts(
        items, alerts_for([i.article for i in items], match, tracker=StorylineTracker(**tunables))
    )
    return (
        f"{s.precision:5.3f} {s.recall:6.3f} {s.duplicate_rate:5.3f} "
        f"({s.recalled}/{s.developments}, {s.duplicated} dup)"
    )


def main() -> None:
    sets = [(name, load_labeled(path)) for name, path in (("dev", LABELED), ("holdout", HOLDOUT))]
    runs = [
        (f"{name}/{mname}", items, match)
        for name, items in sets
        for mname, match in matchers_for(items)
    ]
    print(
        f"{'set/matcher':16} {'dup':>4} {'cov':>4} {'end':>4} {'win_h':>5}  {'prec':>5} {'recall':>6} {'dups':>5}"
    )
    for (name, items, match), dup, cov, cov_end, win in itertools.product(
        runs, (85,), (5, 6, 8, 10, 12, 15), (10, 15, 20, 25), (24, 48, 72)
    ):
        row = _row(
            items,
            match,
            duplicate_similarity=dup,
            coverage_similarity=cov,
            coverage_similarity_at_window_end=cov_end,
            coverage_window_hours=win,
        )
        print(f"{name:16} {dup:>4} {cov:>4} {cov_end:>4} {win:>5}  {row}")
    print("\ndefault thresholds, min_comparable_words 0-3")
    for (name, items, match), least in itertools.product(runs, (0, 1, 2, 3)):
        print(
            f"{name:16} min_comparable_words={least}  {_row(items, match, min_comparable_words=least)}"
        )


def coarsened(items, rnd: random.Random, *, day: float, month: float, missing: float):
    """The items with some timestamps cut to the day or month, or dropped (labels unchanged)."""
    out = []
    for item in items:
        raw = dict(item.raw)
        value = raw.get("published")
        if isinstance(value, str) and len(value) > 10:
            x = rnd.random()
            raw["published"] = (
                value[:10]
                if x < day
                else value[:7]
                if x < day + month
                else None
                if x < day + month + missing
                else value
            )
        out.append(dataclasses.replace(item, article=article_from_json(raw)))
    return out


def robustness() -> None:
    items = load_labeled(LABELED)
    gold = {i.article.article_id: i.labels for i in items}

    def perfect(article):
        return [Match(article, s, 1.0, ()) for s in sorted(gold[article.article_id])]

    print("\ndefault thresholds, timestamps coarsened at random (labels as matcher, 30 seeds)")
    print(f"{'day':>4} {'month':>5} {'none':>4}  {'prec':>5} {'recall':>6} {'dups':>5}")
    for day, month, missing in (
        (0, 0, 0),
        (0.3, 0.05, 0),
        (0.5, 0.1, 0),
        (0.3, 0.15, 0),
        (0, 0.3, 0),
        (0.3, 0.05, 0.02),
        (0.3, 0.15, 0.05),
    ):
        totals = [0] * 5
        for seed in range(30 if day + month + missing else 1):
            some = coarsened(items, random.Random(seed), day=day, month=month, missing=missing)
            s = score_alerts(some, alerts_for([i.article for i in some], perfect))
            for k, v in enumerate((s.correct, s.alerts, s.recalled, s.developments, s.duplicated)):
                totals[k] += v
        correct, alerts, recalled, developments, duplicated = totals
        print(
            f"{day:>4} {month:>5} {missing:>4}  {correct / alerts:5.3f} {recalled / developments:6.3f} "
            f"{duplicated / max(recalled, 1):5.3f}  ({recalled}/{developments}, {duplicated} dup)"
        )


if __name__ == "__main__":
    main()
    robustness()
