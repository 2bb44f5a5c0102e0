"""The join-or-new decision: is an article another report of a known development?

Pure. ``pair_features`` describes an article against one candidate development (both
seen through the storyline tracker); ``JoinModel`` is a logistic regression over those
features, fit offline on labeled pairs (``bench/storyline_thresholds.py``) and shipped as
``join_model.json`` beside this module. The tracker joins the candidate with the highest
probability when it reaches the model's threshold, and otherwise opens a new development.

Features (``FEATURES``, each about 0..1):

- ``overlap``: the best Jaccard overlap of content words with a kept article of the
  development (the measure the tracker used alone before);
- ``residual overlap``: the same without the storyline's own vocabulary (its entities
  and topics where most of its articles name them), which tells no development apart;
- ``mean overlap``: the mean overlap over its kept articles (a large development has
  many articles to overlap with by chance; copies overlap with all of them);
- ``hours apart``: the expected separation from the development, over the window;
- ``shared actors``: actors (``signature``) both name that are not the storyline's own;
- ``new actor, other action``: a headline actor new to the storyline doing another kind
  of thing than the development's lead (the case word overlap cannot see);
- ``same action``: the development's lead names the same action class;
- ``not an event``: the headline explains, reviews or shows (``headlines.not_an_event``);
- ``other language``: none of the development's kept articles is in the article's
  language, so its words cannot compare;
- ``development size``: how many articles the development has (log scale);
- ``latest``: the development is the one most recently reported in the window;
- ``same outlet``: an article of the development is from the article's outlet (an outlet
  rarely reports one development twice in other words: a wire's second story on a busy
  day is its next development, another outlet's is coverage);
- ``coarse date``: the article is dated to the day, month or year, not the minute, so its
  "hours apart" is an expectation and "latest" an order by id: such pairs have weights
  of their own (``JoinModel.coarse_date``), as pairs across languages do.

The weights are what the fit found; docs/storylines.md explains them and the figures.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FEATURES = (
    "overlap",
    "residual overlap",
    "mean overlap",
    "hours apart",
    "shared actors",
    "new actor, other action",
    "same action",
    "not an event",
    "other language",
    "development size",
    "latest",
    "same outlet",
    "coarse date",
)
MODEL_PATH = Path(__file__).with_name("join_model.json")
OVERLAP = FEATURES.index("overlap")
OTHER_LANGUAGE = FEATURES.index("other language")
COARSE_DATE = FEATURES.index("coarse date")


@dataclass(frozen=True, slots=True)
class JoinModel:
    """Logistic regression over standardised ``FEATURES``; ``threshold`` on its probability.

    >>> m = JoinModel(weights=(2.0,) + (0.0,) * 10, bias=-1.0, mean=(0.0,) * 11,
    ...               scale=(1.0,) * 11, threshold=0.5)
    >>> round(m.probability([1.0] + [0.0] * 10), 3), m.joins([0.1] + [0.0] * 10)
    (0.731, False)
    >>> [round(p, 3) for p in m.probabilities([[1.0] + [0.0] * 10, [0.0] * 11])]
    [0.731, 0.269]
    """

    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float
    # An explainer, profile or review joins the likeliest development in the window even
    # below the threshold (off only for the fit's teacher forcing).
    explainers_join: bool = True
    # Pairs in different languages share no words to weigh: their own weights, if fit.
    other_language: JoinModel | None = None
    # Pairs whose article is dated to the day or coarser: time tells less (first choice).
    coarse_date: JoinModel | None = None

    def probability(self, features: Sequence[float]) -> float:
        if self.coarse_date is not None and features[COARSE_DATE]:
            return self.coarse_date.probability(features)
        if self.other_language is not None and features[OTHER_LANGUAGE]:
            return self.other_language.probability(features)
        z = self.bias + sum(
            w * (x - m) / s
            for w, x, m, s in zip(self.weights, features, self.mean, self.scale, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def probabilities(self, rows: Sequence[Sequence[float]] | np.ndarray) -> list[float]:
        """``probability`` of each row, in one matrix product (the tracker's hot path)."""
        if len(rows) == 0:
            return []
        x = np.asarray(rows, dtype=np.float64)
        for flag, sub in ((COARSE_DATE, self.coarse_date), (OTHER_LANGUAGE, self.other_language)):
            if sub is None:
                continue
            picked = np.flatnonzero(x[:, flag])
            if len(picked):
                # The other rows through the rest of the routing (this flag's model left out).
                rest = dataclasses.replace(
                    self,
                    coarse_date=None,
                    other_language=None if flag == OTHER_LANGUAGE else self.other_language,
                )
                out = rest.probabilities(x)
                for i, p in zip(picked, sub.probabilities(x[picked]), strict=True):
                    out[i] = p
                return out
        w = np.asarray(self.weights) / np.asarray(self.scale)
        z = x @ w + (self.bias - float(w @ np.asarray(self.mean)))
        # np.clip's values as minimum(maximum()), without its Python-level wrapper.
        clipped = np.minimum(np.maximum(z, -60.0), 60.0)
        probabilities: list[float] = (1.0 / (1.0 + np.exp(-clipped))).tolist()
        return probabilities

    def joins(self, features: Sequence[float]) -> bool:
        return self.probability(features) >= self.threshold

    def to_json(self) -> dict[str, object]:
        return {
            "features": list(FEATURES),
            "weights": list(self.weights),
            "bias": self.bias,
            "mean": list(self.mean),
            "scale": list(self.scale),
            "threshold": self.threshold,
            **({"other_language": self.other_language.to_json()} if self.other_language else {}),
            **({"coarse_date": self.coarse_date.to_json()} if self.coarse_date else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> JoinModel:
        if data.get("features") != list(FEATURES):
            raise ValueError(f"join model features {data.get('features')} are not {list(FEATURES)}")

        def floats(key: str) -> tuple[float, ...]:
            values = data[key]
            assert isinstance(values, list)
            return tuple(float(v) for v in values)

        bias, threshold = data["bias"], data["threshold"]
        assert isinstance(bias, int | float) and isinstance(threshold, int | float)
        other, coarse = data.get("other_language"), data.get("coarse_date")
        return cls(
            floats("weights"),
            float(bias),
            floats("mean"),
            floats("scale"),
            float(threshold),
            other_language=cls.from_json(other) if isinstance(other, dict) else None,
            coarse_date=cls.from_json(coarse) if isinstance(coarse, dict) else None,
        )


@functools.cache
def shipped_model() -> JoinModel:
    """The model in ``join_model.json`` (read once per process)."""
    return JoinModel.from_json(json.loads(MODEL_PATH.read_text(encoding="utf-8")))


def pair_features(
    *,
    overlap: float,
    residual_overlap: float,
    mean_overlap: float,
    separation_hours: float,
    window_hours: float,
    shared_actors: int,
    new_actor_other_action: bool,
    same_action: bool,
    not_an_event: bool,
    other_language: bool,
    development_articles: int,
    latest: bool,
    same_outlet: bool = False,
    coarse_date: bool = False,
) -> list[float]:
    """The ``FEATURES`` vector (overlaps in 0..100, as ``headlines.word_overlap`` gives).

    >>> pair_features(overlap=50, residual_overlap=25, mean_overlap=0, separation_hours=12,
    ...               window_hours=48,
    ...               shared_actors=5, new_actor_other_action=False, same_action=True,
    ...               not_an_event=False, other_language=False, development_articles=1,
    ...               latest=True, same_outlet=True)
    [0.5, 0.25, 0.0, 0.25, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0]
    """
    row: list[float] = pair_feature_rows(
        overlap=[overlap],
        residual_overlap=[residual_overlap],
        mean_overlap=[mean_overlap],
        separation_hours=[separation_hours],
        window_hours=window_hours,
        shared_actors=[shared_actors],
        new_actor_other_action=[new_actor_other_action],
        same_action=[same_action],
        not_an_event=not_an_event,
        other_language=[other_language],
        development_articles=[development_articles],
        latest=[latest],
        same_outlet=[same_outlet],
        coarse_date=coarse_date,
    )[0].tolist()
    return row


def pair_feature_rows(
    *,
    overlap: Sequence[float] | np.ndarray,
    residual_overlap: Sequence[float] | np.ndarray,
    mean_overlap: Sequence[float] | np.ndarray,
    separation_hours: Sequence[float] | np.ndarray,
    window_hours: float,
    shared_actors: Sequence[int] | np.ndarray | int,
    new_actor_other_action: Sequence[bool] | np.ndarray | bool,
    same_action: Sequence[bool] | np.ndarray | bool,
    not_an_event: bool,
    other_language: Sequence[bool] | np.ndarray,
    development_articles: Sequence[int] | np.ndarray,
    latest: Sequence[bool] | np.ndarray,
    same_outlet: Sequence[bool] | np.ndarray | bool = False,
    coarse_date: bool = False,
) -> np.ndarray:
    """``pair_features`` of all candidates of one article at once, a row each, for
    ``JoinModel.probabilities`` (the tracker's cost with 200 live developments). A
    column given as one value (``shared_actors`` and the action flags) is every
    candidate's: the tracker's common "no actor left, no action" case builds no list."""
    columns = np.empty((10, len(overlap)), np.float64)
    for i, column in enumerate(  # a row each: the bools and counts are exact as floats
        (
            overlap,
            residual_overlap,
            mean_overlap,
            separation_hours,
            shared_actors,
            new_actor_other_action,
            same_action,
            other_language,
            latest,
            same_outlet,
        )
    ):
        columns[i] = column
    rows = np.empty((len(overlap), len(FEATURES)), np.float64)
    rows[:, :3] = columns[:3].T / 100
    rows[:, 3] = np.minimum(1.0, columns[3] / window_hours)
    rows[:, 4] = np.minimum(3.0, columns[4]) / 3
    rows[:, 5:7] = columns[5:7].T
    rows[:, 7] = float(not_an_event)
    rows[:, 8] = columns[7]
    rows[:, 10] = columns[8]
    rows[:, 11] = columns[9]
    rows[:, 12] = float(coarse_date)
    # math.log's values, not numpy's (whose last bit may differ): the fit's features stay.
    counts = np.asarray(development_articles, np.int64)
    rows[:, 9] = _LOG_SIZES[np.minimum(np.maximum(counts, 0), len(_LOG_SIZES) - 1)]
    for big in np.flatnonzero(counts >= len(_LOG_SIZES)):
        rows[big, 9] = math.log(int(counts[big])) / math.log(50)
    return rows


# log(development size) / log(50) for sizes under 4,096, as pair_features takes it.
_LOG_SIZES = np.array([math.log(max(1, n)) / math.log(50) for n in range(4096)])
