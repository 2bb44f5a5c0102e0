"""The join model's features and probabilities, as the tracker computes them at once."""

from __future__ import annotations

import math
import random

from pipeline.storylines.decision import pair_feature_rows, shipped_model


def _one_at_a_time(c: dict, window_hours: float) -> list[float]:
    """The feature vector as the tracker computed it per candidate (before the rows)."""
    return [
        c["overlap"] / 100,
        c["residual_overlap"] / 100,
        c["mean_overlap"] / 100,
        min(1.0, c["separation_hours"] / window_hours),
        min(3, c["shared_actors"]) / 3,
        float(c["new_actor_other_action"]),
        float(c["same_action"]),
        float(c["not_an_event"]),
        float(c["other_language"]),
        math.log(max(1, c["development_articles"])) / math.log(50),
        float(c["latest"]),
        float(c["same_outlet"]),
        float(c["coarse_date"]),
    ]


def test_feature_rows_and_probabilities_are_those_of_one_candidate_at_a_time():
    """All candidates' rows at once give the very floats of the per-candidate vector (the
    fit's recorded features and the decisions stay the same), and the probabilities of a
    mixed-language batch (some rows for the cross-language model) are those of the list
    of vectors."""
    rng = random.Random(13)
    model = shipped_model()
    for explains, coarse in ((False, False), (True, False), (False, True)):
        cands = [
            {
                "overlap": rng.choice([0.0, 100.0, 100.0 * rng.randint(1, 9) / rng.randint(9, 40)]),
                "residual_overlap": 100.0 * rng.random(),
                "mean_overlap": 100.0 * rng.random() / 3,
                "separation_hours": rng.choice([0.0, 47.9, 48.0, 60.0, rng.random() * 48]),
                "shared_actors": rng.randint(0, 6),
                "new_actor_other_action": rng.random() < 0.2,
                "same_action": rng.random() < 0.3,
                "not_an_event": explains,
                "other_language": rng.random() < 0.25,
                "development_articles": rng.choice(
                    [0, 1, 2, 3, 7, 49, 50, 51, 400, 4095, 4096, 70_001]
                ),
                "latest": rng.random() < 0.1,
                "same_outlet": rng.random() < 0.3,
                "coarse_date": coarse,
            }
            for _ in range(300)
        ]
        one_value = ("not_an_event", "coarse_date")
        columns = {k: [c[k] for c in cands] for k in cands[0] if k not in one_value}
        rows = pair_feature_rows(
            window_hours=48.0, not_an_event=explains, coarse_date=coarse, **columns
        )
        expected = [_one_at_a_time(c, 48.0) for c in cands]
        assert rows.tolist() == expected
        # As the tracker asked before, a list of per-candidate vectors in one batch, and
        # each row through the sub-model its flags pick (coarse date first, then language).
        batch = model.probabilities(rows)
        assert batch == model.probabilities(expected)
        assert all(
            math.isclose(p, model.probability(r), rel_tol=1e-9, abs_tol=1e-12)
            for p, r in zip(batch, expected, strict=True)
        )
        assert 0 < sum(c["other_language"] for c in cands) < len(cands)


def test_a_column_given_as_one_value_is_every_candidates():
    """The tracker passes 0 / False for a column no candidate can have set: the rows are
    those of the full list, in that column only (a value broadcast into the wrong column,
    or not at all, fails)."""
    rng = random.Random(16)
    n = 40
    columns = {
        "overlap": [100.0 * rng.random() for _ in range(n)],
        "residual_overlap": [100.0 * rng.random() for _ in range(n)],
        "mean_overlap": [30.0 * rng.random() for _ in range(n)],
        "separation_hours": [48.0 * rng.random() for _ in range(n)],
        "shared_actors": [rng.randint(0, 5) for _ in range(n)],
        "new_actor_other_action": [rng.random() < 0.5 for _ in range(n)],
        "same_action": [rng.random() < 0.5 for _ in range(n)],
        "other_language": [rng.random() < 0.5 for _ in range(n)],
        "development_articles": [rng.randint(1, 60) for _ in range(n)],
        "latest": [i == 3 for i in range(n)],
        "same_outlet": [rng.random() < 0.5 for _ in range(n)],
    }
    for name, value in (
        ("shared_actors", 0),
        ("shared_actors", 4),
        ("new_actor_other_action", False),
        ("new_actor_other_action", True),
        ("same_action", False),
        ("same_action", True),
        ("same_outlet", False),
        ("same_outlet", True),
    ):
        full = pair_feature_rows(
            window_hours=48.0, not_an_event=False, **{**columns, name: [value] * n}
        )
        one = pair_feature_rows(window_hours=48.0, not_an_event=False, **{**columns, name: value})
        assert one.tolist() == full.tolist()
