"""Fit, cross-validate and report the storyline tracker's join-or-new model (issue 13).

    .venv/bin/python bench/storyline_thresholds.py           # fit, cross-validate, report
    .venv/bin/python bench/storyline_thresholds.py --write   # also ship join_model.json
    .venv/bin/python bench/storyline_thresholds.py --test    # the frozen test part, once

Pairs: the real matcher's matches of each labeled file, in replay order, through the real
tracker; each article is scored against every development in its window exactly as the
tracker scores it (``record_features``), while the labels decide (teacher forcing: an
article joins its labeled development when that one is a candidate, else opens one). A
pair is positive when the development is the article's labeled one
(``evaluate.developments_of``). Articles the matcher gives a storyline they are not
labeled with give no pairs.

Model: L2 logistic regression (numpy, standardised features, balanced classes, each file
weighing the same) over ``pipeline.storylines.decision.FEATURES``, one for pairs in one
language and one for pairs across languages. Threshold: of ``THRESHOLDS`` that keep
dev.jsonl's figures cross-validated, the one with the smallest shortfall from the bars.

Cross-validation leaves one (file, storyline) out: fit on the others' pairs, run the real
tracker with that model over the file, and count the held-out storyline's alerts (precision,
recall, repeats), beside the tracker shipped at HEAD~ (the overlap rule; printed from
docs/storylines.md, not rerun). Files, real published items only: dev.jsonl (shipped
watchlists), stream_tune.jsonl, stream_valid.jsonl and the spent stream_test.jsonl (their own
watchlists); the frozen stream_test7.jsonl only with --test, with the shipped model and the
earlier ones (``EARLIER_MODELS``), Wilson 95% intervals (every item of it is dated to the day;
a part with undated items also reports its dated ones alone; tests/data/labeled/STREAM.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pipeline.storylines.tracker as _tracker  # noqa: E402
from bench.history import file_at  # noqa: E402
from pipeline.alerts.decide import decide_alerts  # noqa: E402
from pipeline.match.matcher import Matcher  # noqa: E402
from pipeline.storylines.decision import FEATURES, MODEL_PATH, JoinModel, shipped_model  # noqa: E402
from pipeline.storylines.evaluate import (  # noqa: E402
    developments_of,
    load_labeled,
    replay_order,
    score_alerts,
)
from pipeline.storylines.tracker import StorylineTracker, event_time_order, track_in_order  # noqa: E402

LABELED = ROOT / "tests" / "data" / "labeled"
SHARED_DEV = ROOT.parent / "shared" / "data" / "labeled" / "dev.jsonl"
FILES = [
    (
        "dev",
        LABELED / "dev.jsonl" if (LABELED / "dev.jsonl").exists() else SHARED_DEV,
        ROOT / "watchlists",
    ),
    ("stream_tune", LABELED / "stream_tune.jsonl", LABELED / "stream_watchlists"),
    ("stream_valid", LABELED / "stream_valid.jsonl", LABELED / "stream_valid_watchlists"),
    # Scored once with the first join model (bench/README.md), spent since: tuning data now.
    ("stream_test", LABELED / "stream_test.jsonl", LABELED / "stream_watchlists"),
    # The spent stream_test2..stream_test6 stay out of the fit: with them dev.jsonl's
    # figures are not kept (bench/README.md, "Storyline join model"). Real items only.
]
TEST = ("stream_test7", LABELED / "stream_test7.jsonl", LABELED / "stream_test7_watchlists")
THRESHOLDS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9)
# --test scores these earlier models beside the shipped one, a feature they lack at weight 0
# (which is what they did): the one scored on stream_test6; one model for all dates, fit on
# real items only; and the last fit with the hand-written holdout_alerts.jsonl.
EARLIER_MODELS = {
    "coarse-date model, scored on stream_test6 (ecbd055)": "ecbd055",
    "one model for all dates (0b433ee)": "0b433ee",
    "fit with hand-written items (ae8d0f4)": "ae8d0f4",
}
ROUNDS = 2  # of the model's own pairs added to the teacher-forced ones
ROLLOUT_THRESHOLD = 0.5


# A signature is a pure function of its match, and the fit tracks the same matches many
# times over: compute each once.
_tracker.signature = functools.cache(_tracker.signature)


class LabeledFile:
    """A labeled file's items, gold developments and the real matcher's matches."""

    def __init__(self, name: str, path: Path, watchlists: Path) -> None:
        matcher = Matcher.from_dir(watchlists)
        self.name = name
        self.items = load_labeled(path, storyline_ids=[s.id for s in matcher.watchlists.storylines])
        self.gold = developments_of(self.items)
        self.matches = [
            m for a in replay_order([i.article for i in self.items]) for m in matcher.match(a)
        ]
        self.storylines = sorted({s for s, _ in self.gold})


_CURRENT: dict[str, object] = {}  # the article being tracked: its label, the last candidate


class _Oracle(JoinModel):
    """A "model" that joins exactly the article's labeled development (teacher forcing):
    its probability is whether the candidate just recorded is the labeled one."""

    def probabilities(self, rows) -> list[float]:  # type: ignore[no-untyped-def]
        flags = _CURRENT.pop("flags", [])
        assert isinstance(flags, list) and len(flags) == len(rows)
        return [float(f) for f in flags]


def pairs_of(f: LabeledFile, model: JoinModel | None = None) -> list[tuple[str, list[float], int]]:
    """(storyline, features, same development) for every candidate the tracker scores.

    Without a model the labels decide every join (teacher forcing); with one, the model
    does (its own mistakes, such as one development swallowing the next, make pairs too),
    and a candidate is the same development when its lead has the article's label."""
    out: list[tuple[str, list[float], int]] = []
    current = _CURRENT
    current.clear()

    def record(lead_id: str, features: list[float]) -> None:
        label = current["label"]
        same = int(label is not None and f.gold.get((str(current["storyline"]), lead_id)) == label)
        flags = current.setdefault("flags", [])
        assert isinstance(flags, list)
        flags.append(same)
        if label is not None:
            out.append((str(current["storyline"]), features, same))

    if model is None:
        model = _Oracle(
            (0.0,) * len(FEATURES),
            0.0,
            (0.0,) * len(FEATURES),
            (1.0,) * len(FEATURES),
            0.5,
            explainers_join=False,
        )
    tracker = StorylineTracker(join_model=model, record_features=record)
    for match in event_time_order(f.matches):
        current.update(
            label=f.gold.get((match.storyline_id, match.article.article_id)),
            storyline=match.storyline_id,
        )
        tracker.observe(match)
    return out


def fit_rounds(
    pairs_by_file: dict[str, list],
    files: list[LabeledFile],
    skip: tuple[str, str] | None = None,
    *,
    rounds: int = ROUNDS,
) -> JoinModel:
    """Teacher-forced pairs, then ``rounds`` of the model's own pairs added (DAgger)."""

    def train(pairs: list) -> JoinModel:
        kept = [(name, x, y) for name, ps in pairs for s, x, y in ps if (name, s) != skip]
        xs = np.array([x for _, x, _ in kept])
        ys = np.array([y for _, _, y in kept], dtype=float)
        # Each file weighs the same, however many pairs it gives.
        per_file: dict[str, int] = defaultdict(int)
        for name, _, _ in kept:
            per_file[name] += 1
        ws = np.array([len(kept) / (len(per_file) * per_file[name]) for name, _, _ in kept])
        # An article dated to the day or coarser, then pairs across languages (they share
        # no words to weigh): models of their own.
        coarse = xs[:, FEATURES.index("coarse date")] > 0.5
        other = ~coarse & (xs[:, FEATURES.index("other language")] > 0.5)
        plain = ~coarse & ~other
        same = fit(xs[plain], ys[plain], sample_weight=ws[plain])
        foreign = fit(xs[other], ys[other], sample_weight=ws[other])
        dated = fit(xs[coarse], ys[coarse], sample_weight=ws[coarse]) if coarse.any() else None
        return JoinModel(
            same.weights,
            same.bias,
            same.mean,
            same.scale,
            0.5,
            other_language=foreign,
            coarse_date=dated,
        )

    pairs = list(pairs_by_file.items())
    model = train(pairs)
    for _ in range(rounds):
        pairs += [(f.name, pairs_of(f, with_threshold(model, ROLLOUT_THRESHOLD))) for f in files]
        model = train(pairs)
    return model


def fit(
    x: np.ndarray,
    y: np.ndarray,
    *,
    sample_weight: np.ndarray | None = None,
    l2: float = 1.0,
    steps: int = 4000,
) -> JoinModel:
    """L2-regularised, class-balanced logistic regression by gradient descent."""
    mean, scale = x.mean(0), x.std(0) + 1e-9
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    pos = max(1.0, float(y.sum()))
    weight = np.where(y == 1, len(y) / (2 * pos), len(y) / (2 * max(1.0, len(y) - pos)))
    if sample_weight is not None:
        weight = weight * sample_weight
    for _ in range(steps):
        p = 1 / (1 + np.exp(-z @ w))
        grad = z.T @ ((p - y) * weight) / len(y) + l2 * np.r_[w[:-1], 0] / len(y)
        w -= 0.5 * grad
    return JoinModel(tuple(w[:-1]), float(w[-1]), tuple(mean), tuple(scale), 0.5)


def with_threshold(model: JoinModel, threshold: float) -> JoinModel:
    return dataclasses.replace(
        model,
        threshold=threshold,
        other_language=model.other_language and with_threshold(model.other_language, threshold),
        coarse_date=model.coarse_date and with_threshold(model.coarse_date, threshold),
    )


def storyline_counts(f: LabeledFile, model: JoinModel) -> dict[str, np.ndarray]:
    """storyline -> (alerts, correct, developments, recalled, repeated) with this model."""
    events = track_in_order(f.matches, StorylineTracker(join_model=model))
    alerts = decide_alerts(events)
    scores = score_alerts(f.items, alerts, events=events)
    out = {}
    for s in f.storylines:
        devs, missed, wrong, repeated = scores.per_storyline.get(s, (0, 0, 0, 0))
        n = sum(1 for a in alerts if a.storyline_id == s)
        out[s] = np.array([n, n - wrong, devs, devs - missed, repeated], dtype=float)
    return out


def figures(c: np.ndarray) -> str:
    alerts, correct, devs, recalled, repeated = c
    p = correct / alerts if alerts else 1.0
    r = recalled / devs if devs else 1.0
    d = repeated / recalled if recalled else 0.0
    return (
        f"P {p:.3f} ({correct:.0f}/{alerts:.0f})  R {r:.3f} ({recalled:.0f}/{devs:.0f})  "
        f"dup {d:.3f} ({repeated:.0f}/{recalled:.0f})"
    )


def shortfall(c: np.ndarray) -> float:
    """How far figures fall short of issue 13's bars (precision 0.95, recall 0.90, repeats
    0.05), summed: what the threshold is chosen to make smallest."""
    alerts, correct, devs, recalled, repeated = c
    precision = correct / alerts if alerts else 1.0
    repeats = repeated / recalled if recalled else 0.0
    return max(0.0, 0.95 - precision) + max(0.0, 0.90 - recalled / devs) + max(0.0, repeats - 0.05)


def keeps_dev(c: np.ndarray) -> bool:
    """dev.jsonl's figures before the model (0.952 / 1.000 / 0.000), cross-validated: the
    issue's bar on it."""
    alerts, correct, devs, recalled, repeated = c
    return recalled == devs and repeated == 0 and correct >= 0.952 * alerts


def wilson(k: float, n: float, z: float = 1.96) -> tuple[float, float]:
    if not n:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write", action="store_true", help=f"write the fitted model to {MODEL_PATH}"
    )
    parser.add_argument("--test", action="store_true", help="score the frozen test part once")
    args = parser.parse_args()
    if args.test:
        return report_test()
    files = [LabeledFile(*spec) for spec in FILES if spec[1].exists()]
    pairs = {f.name: pairs_of(f) for f in files}
    for f in files:
        print(
            f"{f.name}: {len(f.items)} items, {len(pairs[f.name])} pairs, "
            f"{sum(p[2] for p in pairs[f.name])} same-development"
        )
    folds = [(f, s) for f in files for s in f.storylines]
    totals = {t: np.zeros(5) for t in THRESHOLDS}
    per_fold: dict[float, dict[tuple[str, str], np.ndarray]] = defaultdict(dict)
    for f, held in folds:
        model = fit_rounds(pairs, files, skip=(f.name, held))
        for t in THRESHOLDS:
            c = storyline_counts(f, with_threshold(model, t))[held]
            totals[t] += c
            per_fold[t][(f.name, held)] = c
    dev_counts = {
        t: sum((c for (n, _), c in per_fold[t].items() if n == "dev"), np.zeros(5))
        for t in THRESHOLDS
    }
    allowed = [t for t in THRESHOLDS if keeps_dev(dev_counts[t])] or list(THRESHOLDS)
    best = min(allowed, key=lambda t: shortfall(totals[t]))
    print("\nleave one (file, storyline) out, the real tracker with the fold's model:")
    for t in THRESHOLDS:
        mark = " (chosen)" if t == best else "" if t in allowed else " (dev repeats)"
        print(f"  threshold {t:.2f}{mark:15} {figures(totals[t])}")
    print(f"\nper held-out storyline at threshold {best:.2f}:")
    by_file: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(5))
    for (name, s), c in per_fold[best].items():
        by_file[name] += c
        print(f"  {name:15} {s:30} {figures(c)}")
    print("\nper file (cross-validated):")
    for name, c in by_file.items():
        print(f"  {name:15} {figures(c)}")
    model = with_threshold(fit_rounds(pairs, files), best)
    print("\nfit on all pairs (standardised weights; positive joins):")
    for name, w in sorted(zip(FEATURES, model.weights, strict=True), key=lambda nw: -abs(nw[1])):
        print(f"  {name:26} {w:+.2f}")
    print(f"  {'bias':26} {model.bias:+.2f}   threshold {model.threshold:.2f}")
    print("\nin-sample with that model:")
    for f in files:
        c = sum(storyline_counts(f, model).values(), np.zeros(5))
        print(f"  {f.name:15} {figures(c)}")
    if args.write:
        MODEL_PATH.write_text(json.dumps(model.to_json(), indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {MODEL_PATH.relative_to(ROOT)}")
    return 0


def model_at(commit: str) -> JoinModel | None:
    """``join_model.json`` at ``commit``, the features it lacks at weight 0 (None without git)."""
    text = file_at(commit, "pipeline/storylines/join_model.json")
    if text is None:
        return None

    def padded(data: dict) -> dict:
        out = {**data, "features": list(FEATURES)}
        for key, fill in (("weights", 0.0), ("mean", 0.0), ("scale", 1.0)):
            values = dict(zip(data["features"], data[key], strict=True))
            out[key] = [values.get(f, fill) for f in FEATURES]
        for sub in ("other_language", "coarse_date"):
            if data.get(sub):
                out[sub] = padded(data[sub])
        return out

    return JoinModel.from_json(padded(json.loads(text)))


def report_test() -> int:
    """The frozen part, with the shipped model and the earlier ones: all its items, then,
    if some are undated, its dated items alone (STREAM.md)."""
    name, path, watchlists = TEST
    expected = (LABELED / f"{name}.sha256").read_text().split()[0]
    if hashlib.sha256(path.read_bytes()).hexdigest() != expected:
        print(f"{name}.jsonl has changed; refusing to report the frozen figures", file=sys.stderr)
        return 2
    f = LabeledFile(name, path, watchlists)
    models = {"shipped": shipped_model()}
    for label, commit in EARLIER_MODELS.items():
        earlier = model_at(commit)
        if earlier is not None:
            models[label] = earlier
    dated = {i.article.article_id for i in f.items if i.article.published_precision != "unknown"}
    subsets: list[tuple[str, set[str] | None]] = [("all items", None)]
    if len(dated) < len(f.items):
        subsets.append(("dated items", dated))
    for subset, keep in subsets:
        items = f.items if keep is None else [i for i in f.items if i.article.article_id in keep]
        matches = (
            f.matches if keep is None else [m for m in f.matches if m.article.article_id in keep]
        )
        for label, model in models.items():
            events = track_in_order(matches, StorylineTracker(join_model=model))
            scores = score_alerts(items, decide_alerts(events), events=events)
            print(f"{name}, {subset} ({len(items)}), {label} model:")
            for figure, k, n in (
                ("alert precision", scores.correct, scores.alerts),
                ("development recall", scores.recalled, scores.developments),
                ("duplicate rate", scores.duplicated, scores.recalled),
            ):
                lo, hi = wilson(k, n)
                print(
                    f"  {figure:20} {k / n if n else 0:.3f}  ({k}/{n}, 95% Wilson {lo:.3f}-{hi:.3f})"
                )
            print(
                f"  BCubed precision / recall {scores.bcubed_precision:.3f} / "
                f"{scores.bcubed_recall:.3f}"
            )
            for s, (devs, missed, wrong, repeated) in sorted(scores.per_storyline.items()):
                print(
                    f"    {s:30} {devs} developments, {missed} missed, {wrong} false alarms, "
                    f"{repeated} repeated"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
