"""Fit and cross-validate a join-or-new model on labeled article pairs (issue 13; report only).

    .venv/bin/python tools/fit_storyline_decision.py

Pairs: per storyline, each labeled item against every earlier item of the storyline whose
date comes within the coverage window (48 h; coarse dates as ranges, ``timing.gap``),
labeled *same* when both are one labeled development (``evaluate.developments_of``).
Items: tests/data/labeled/dev.jsonl (shipped watchlists) and stream_tune.jsonl (its
``stream_watchlists``) when present; never stream_test.jsonl (frozen).

Features, from the development signatures (``pipeline.storylines.signature``, with the
real matcher's evidence): content-word overlap (what the tracker uses today), the overlap
minus the one the tracker asks for at that separation, the share of the later item's
actors the earlier one lacks, actor Jaccard, same action, different actions, rarity-
weighted residual similarity, hours apart / 48, an answer against a non-answer.

Cross-validation leaves one storyline out at a time. Per fold it scores, on the held-out
storyline, the tracker's rule (join when the overlap reaches the needed one) and a
logistic regression (numpy, standardised features, L2) fit on the other storylines:
- *new found*: items that open their development with no predicted join to an earlier
  item (the alert a development needs);
- *false joins*: items of another development predicted to join (pairs);
- *copies kept*: items with a same-development earlier item that are predicted to join
  one (no repeated alert).
Nothing is shipped from here unless it beats the rule; see docs/storylines.md.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.match.matcher import Matcher  # noqa: E402
from pipeline.records import Match  # noqa: E402
from pipeline.storylines.evaluate import developments_of, load_labeled, replay_order  # noqa: E402
from pipeline.storylines.headlines import content_words, headline_key, responds, word_overlap  # noqa: E402
from pipeline.storylines.signature import residual_similarity, signature  # noqa: E402
from pipeline.storylines.timing import gap, published_range  # noqa: E402
from pipeline.storylines.tracker import StorylineTracker  # noqa: E402

LABELED = ROOT / "tests" / "data" / "labeled"
SOURCES = [
    (LABELED / "dev.jsonl", ROOT / "watchlists"),
    (LABELED / "stream_tune.jsonl", LABELED / "stream_watchlists"),
]
FEATURES = [
    "overlap",
    "overlap - needed",
    "new actors share",
    "actor jaccard",
    "same action",
    "different actions",
    "residual similarity",
    "hours / 48",
    "answer vs not",
]


def pairs_of(path: Path, watchlists: Path):
    """(storyline, later id, earlier id, features, same, rule joins) for one labeled file."""
    matcher = Matcher.from_dir(watchlists)
    items = load_labeled(path, storyline_ids=[s.id for s in matcher.watchlists.storylines])
    development = developments_of(items)
    tracker = StorylineTracker()
    window = tracker.coverage_window
    by_storyline: dict[str, list] = defaultdict(list)
    for item in items:
        if item.article.published_precision == "unknown":
            continue
        found = {m.storyline_id: m for m in matcher.match(item.article)}
        for s in item.labels:
            m = found.get(s) or Match(item.article, s, 1.0, ())
            by_storyline[s].append(m)
    out = []
    for s, matches in by_storyline.items():
        ordered = {m.article.article_id: m for m in matches}
        seq = [ordered[a.article_id] for a in replay_order([m.article for m in matches])]
        info = []
        for m in seq:
            a = m.article
            info.append(
                (
                    m,
                    signature(m),
                    content_words(f"{a.title} {a.summary[:300]}"),
                    published_range(a),
                    responds(headline_key(a.title)),
                )
            )
        for i, (m, sig, words, at, answer) in enumerate(info):
            for m2, sig2, words2, at2, answer2 in info[:i]:
                if gap(at, at2) > window:
                    continue
                overlap = word_overlap(words, words2)
                needed = tracker._needed_overlap(at, at2)
                if needed is None:
                    continue
                actors, actors2 = set(sig.actors), set(sig2.actors)
                feats = [
                    overlap / 100,
                    (overlap - needed) / 100,
                    len(actors - actors2) / len(actors) if actors else 0.0,
                    len(actors & actors2) / len(actors | actors2) if actors | actors2 else 0.0,
                    float(sig.action is not None and sig.action == sig2.action),
                    float(None not in (sig.action, sig2.action) and sig.action != sig2.action),
                    residual_similarity(sig.residual, sig2.residual),
                    gap(at, at2).total_seconds() / 3600 / 48,
                    float(answer != answer2),
                ]
                same = (
                    development[(s, m.article.article_id)]
                    == development[(s, m2.article.article_id)]
                )
                out.append(
                    (s, m.article.article_id, m2.article.article_id, feats, same, overlap >= needed)
                )
    return out, development


def fit(
    x: np.ndarray, y: np.ndarray, *, l2: float = 1.0, steps: int = 3000
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights, mean, scale): L2-regularised logistic regression by gradient descent."""
    mean, scale = x.mean(0), x.std(0) + 1e-9
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    pos = max(1.0, y.sum())
    weight = np.where(y == 1, len(y) / (2 * pos), len(y) / (2 * max(1.0, len(y) - pos)))
    for _ in range(steps):
        p = 1 / (1 + np.exp(-z @ w))
        grad = z.T @ ((p - y) * weight) / len(y) + l2 * np.r_[w[:-1], 0] / len(y)
        w -= 0.5 * grad
    return w, mean, scale


def predict(model, x: np.ndarray) -> np.ndarray:
    w, mean, scale = model
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    return 1 / (1 + np.exp(-z @ w)) >= 0.5


def item_scores(rows, joins):
    """(new found, new items, false joins, other-development pairs, copies kept, copies)."""
    later: dict[tuple[str, str], list[tuple[bool, bool]]] = defaultdict(list)
    for row, j in zip(rows, joins, strict=True):
        later[(row[0], row[1])].append((row[4], bool(j)))
    new_found = new = false = others = kept = copies = 0
    for pairs in later.values():
        has_same = any(same for same, _ in pairs)
        joined = any(j for _, j in pairs)
        if has_same:
            copies += 1
            kept += any(j for same, j in pairs if same)
        else:
            new += 1
            new_found += not joined
        false += sum(j for same, j in pairs if not same)
        others += sum(not same for same, _ in pairs)
    return np.array([new_found, new, false, others, kept, copies])


def main() -> int:
    rows = []
    for path, watchlists in SOURCES:
        if path.exists():
            found, _ = pairs_of(path, watchlists)
            print(f"{path.name}: {len(found)} pairs, {sum(r[4] for r in found)} same-development")
            rows += found
    storylines = sorted({r[0] for r in rows})
    totals = {"rule": np.zeros(6), "model": np.zeros(6)}
    print("\nleave one storyline out: new found, false joins (pairs), copies kept")
    for held in storylines:
        train = [r for r in rows if r[0] != held]
        test = [r for r in rows if r[0] == held]
        if not test:
            continue
        model = fit(np.array([r[3] for r in train]), np.array([float(r[4]) for r in train]))
        x = np.array([r[3] for r in test])
        for name, joins in (("rule", [r[5] for r in test]), ("model", predict(model, x))):
            s = item_scores(test, joins)
            totals[name] += s
            print(
                f"  {held:28} {name:5}: new {s[0]:.0f}/{s[1]:.0f}, false joins "
                f"{s[2]:.0f}/{s[3]:.0f}, copies kept {s[4]:.0f}/{s[5]:.0f}"
            )
    print("\ntotal (held-out storylines)")
    for name, s in totals.items():
        print(
            f"  {name:5}: new found {s[0] / max(1, s[1]):.3f} ({s[0]:.0f}/{s[1]:.0f}), "
            f"false joins {s[2] / max(1, s[3]):.3f} ({s[2]:.0f}/{s[3]:.0f}), "
            f"copies kept {s[4] / max(1, s[5]):.3f} ({s[4]:.0f}/{s[5]:.0f})"
        )
    model = fit(np.array([r[3] for r in rows]), np.array([float(r[4]) for r in rows]))
    print("\nweights on all pairs (standardised features):")
    for name, w in zip([*FEATURES, "intercept"], model[0], strict=True):
        print(f"  {name:20} {w:+.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
