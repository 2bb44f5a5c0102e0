"""What an undated path could reach at best on the spent stream parts (bench/README.md).

Replays a labeled part through the shipped matcher, tracker and alert decision, as
``storywatch eval-alerts`` does, four ways: shipped; without expiry (every development
still kept when the undated items, replayed last, arrive); and without expiry with an
undated item scored against every kept development, its unknown separation taken as
0 h, at the join threshold given (explainers not joined). The last two are patched in
here, not in the tracker: they are what was measured and not shipped.

    .venv/bin/python bench/undated_ceiling.py [--parts stream_test2 stream_test3]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pipeline.storylines.state as state_module
from pipeline.alerts.decide import decide_alerts
from pipeline.match.matcher import Matcher
from pipeline.storylines.evaluate import events_for, load_labeled, score_alerts
from pipeline.storylines.timing import EARLIEST, LATEST
from pipeline.storylines.tracker import StorylineTracker

LABELED = Path(__file__).resolve().parent.parent / "tests" / "data" / "labeled"
UNDATED = (EARLIEST, LATEST)
NO_EXPIRY_HOURS = 100_000.0


@contextlib.contextmanager
def undated_joins(threshold: float) -> Iterator[None]:
    """Undated articles become candidates of every development (0 h apart), joining at
    ``threshold`` with explainers not joined."""
    separation = state_module.separation_hours
    classify = StorylineTracker._classify

    def patched_separation(a, b, *, window, span=False):  # type: ignore[no-untyped-def]
        return 0.0 if UNDATED in (a, b) else separation(a, b, window=window, span=span)

    def patched_classify(self, state, article_id, key, words, at, *rest):  # type: ignore[no-untyped-def]
        if at != UNDATED:
            return classify(self, state, article_id, key, words, at, *rest)
        shipped = self.join_model
        self.join_model = dataclasses.replace(shipped, threshold=threshold, explainers_join=False)
        try:
            return classify(self, state, article_id, key, words, at, *rest)
        finally:
            self.join_model = shipped

    with (
        mock.patch.object(state_module, "separation_hours", patched_separation),
        mock.patch.object(StorylineTracker, "_classify", patched_classify),
    ):
        yield


def score(part: str, *, horizon_hours: float) -> str:
    matcher = Matcher.from_dir(LABELED / f"{part}_watchlists")
    items = load_labeled(
        LABELED / f"{part}.jsonl", storyline_ids=[s.id for s in matcher.watchlists.storylines]
    )
    tracker = StorylineTracker(duplicate_horizon_hours=horizon_hours)
    events = events_for([i.article for i in items], matcher.match, tracker=tracker)
    s = score_alerts(items, decide_alerts(events), events=events)
    return (
        f"{s.precision:.3f} | {s.recall:.3f} | {s.duplicate_rate:.3f} ({s.duplicated}/{s.recalled})"
        f" | {s.bcubed_precision:.3f} / {s.bcubed_recall:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["stream_test3", "stream_test2"])
    parser.add_argument("--thresholds", nargs="+", type=float, default=[0.70, 0.97])
    args = parser.parse_args()
    print("| part | change | precision | recall | repeats | BCubed P / R |")
    print("|---|---|---|---|---|---|")
    for part in args.parts:
        print(f"| {part} | shipped | {score(part, horizon_hours=720.0)} |")
        print(f"| {part} | no expiry | {score(part, horizon_hours=NO_EXPIRY_HOURS)} |")
        for threshold in args.thresholds:
            with undated_joins(threshold):
                figures = score(part, horizon_hours=NO_EXPIRY_HOURS)
            print(f"| {part} | no expiry, undated joins at {threshold:.2f} | {figures} |")


if __name__ == "__main__":
    main()
