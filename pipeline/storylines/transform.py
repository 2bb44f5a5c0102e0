"""TrackStorylines: the Beam step that turns matches into storyline events.

A thin adapter over the pure ``pipeline.storylines.tracker.StorylineTracker``. Matches
are keyed by storyline id, in the global window, and tracked one of two ways:

- ``bounded=True`` (replay): GroupByKey per storyline, then the matches are handled in
  ``event_time_order`` by a fresh tracker, so the same input always gives the same
  events whatever the bundle order (``track_in_order`` makes the same decisions).
- ``bounded=False`` (live): a stateful DoFn keeping one ``StorylineState`` per key.
  With ``ledger_url`` the ledger is opened in ``setup()`` (closed in ``teardown()``) and
  a key's first state is seeded from the developments it says were already alerted, so
  a restart does not alert them again.

Key: storyline id. Bound: the tracker's (``max_developments`` x
``max_articles_per_development`` headlines + ``max_rate_samples`` times per key; one key
per storyline). Expiry: lazy, on the next element of the key, by element time
(``published_at``), never by timer (timers fire at once on the local runner). Elements
are handled in arrival order: a late article still joins its development while within
the horizon and is ``stale`` beyond it. Timeline for key ``starlink-ukraine-war``::

    poll 1  A (09:00) read: none      -> new_development D(A); write {D(A)}
    poll 2  B (08:55) read: {D(A)}    -> coverage of D(A) (late but within 48 h)
    poll 9  C (+31 d) read: {D(A)}    -> expire D(A); new_development D(C); write {D(C)}

A match that makes the tracker crash is that match's problem: it goes to ``dead_letter``
as a ``Failure("storylines", article_id, ...)``, is counted, and the rest goes on.

    tracked = matches | TrackStorylines(bounded=True, **tunables)
    tracked.main         # PCollection[StorylineEvent]
    tracked.dead_letter  # PCollection[Failure]
"""

from __future__ import annotations

import typing
from collections.abc import Iterable, Iterator

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput
from apache_beam.transforms import window
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec

from pipeline.ledger import open_ledger
from pipeline.ledger.protocol import Ledger
from pipeline.records import Failure, Match, StorylineEvent
from pipeline.stage import DEAD_LETTER, MAIN, StageOutputs, split_dead_letters
from pipeline.storylines.tracker import StorylineState, StorylineTracker, event_time_order

NAMESPACE = "storywatch.storylines"
STAGE = "storylines"


def alerted_developments(ledger: Ledger) -> list[dict[str, typing.Any]]:
    """Alert JSON of every alert the ledger recorded (DecideAlerts saves each payload)."""
    return [p for p in (ledger.load_payload(i) for i in ledger.alert_ids()) if p]


def _failure(match: Match, exc: Exception) -> TaggedOutput:
    return TaggedOutput(
        DEAD_LETTER,
        Failure(
            STAGE,
            match.article.article_id,
            f"storyline {match.storyline_id}: tracker failed: {type(exc).__name__}: {exc}",
        ),
    )


class _TrackStorylineFn(beam.DoFn):
    """Live tracking: (storyline id, Match) → events, one ``StorylineState`` per key."""

    STATE = ReadModifyWriteStateSpec("storyline", PickleCoder())

    def __init__(self, tunables: dict[str, typing.Any], ledger_url: str | None = None) -> None:
        self._tunables = tunables
        self._ledger_url = ledger_url
        self._tracker: StorylineTracker | None = None
        self._ledger: Ledger | None = None
        self._alerted: list[dict[str, typing.Any]] = []
        self.failures = Metrics.counter(NAMESPACE, "storyline_failures")

    def setup(self) -> None:
        self._tracker = StorylineTracker(**self._tunables)
        if self._ledger_url:
            self._ledger = open_ledger(self._ledger_url)
            self._alerted = alerted_developments(self._ledger)

    def teardown(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    def process(self, element, state=beam.DoFn.StateParam(STATE)):
        storyline_id, match = element
        try:
            current = state.read()
            if current is None:  # first article of this storyline since start: resume
                current = StorylineState(storyline_id)
                self._tracker.restore(current, self._alerted)
            events = self._tracker.observe_in(current, match)
        except Exception as exc:  # any crash on one match is that match's problem
            self.failures.inc()
            yield _failure(match, exc)
            return
        state.write(current)
        yield from events


class _TrackSortedFn(beam.DoFn):
    """Replay tracking: all matches of one storyline, in ``event_time_order``."""

    def __init__(self, tunables: dict[str, typing.Any]) -> None:
        self._tunables = tunables
        self.failures = Metrics.counter(NAMESPACE, "storyline_failures")

    def process(
        self, element: tuple[str, Iterable[Match]]
    ) -> Iterator[StorylineEvent | TaggedOutput]:
        _, matches = element
        tracker = StorylineTracker(**self._tunables)
        for match in event_time_order(matches):
            try:
                events = tracker.observe(match)
            except Exception as exc:  # any crash on one match is that match's problem
                self.failures.inc()
                yield _failure(match, exc)
                continue
            yield from events


class TrackStorylines(beam.PTransform):
    """PCollection[Match] → StageOutputs(main=StorylineEvent, dead_letter=Failure).

    ``TrackStorylines(bounded=..., ledger_url=None, **tunables)``: keyword tunables go to
    ``StorylineTracker``; ``ledger_url`` is used by the live path only.
    """

    def __init__(
        self, *, bounded: bool, ledger_url: str | None = None, **tunables: typing.Any
    ) -> None:
        super().__init__()
        self._bounded = bounded
        self._ledger_url = ledger_url
        self._tunables = tunables

    def expand(self, matches: beam.PCollection) -> StageOutputs:
        keyed = (
            matches
            | "KeyByStoryline"
            >> beam.Map(lambda m: (m.storyline_id, m)).with_output_types(
                beam.typehints.Tuple[str, typing.Any]
            )
            | "GlobalWindow" >> beam.WindowInto(window.GlobalWindows())
        )
        if self._bounded:
            tracked = (
                keyed
                | "GroupByStoryline" >> beam.GroupByKey()
                | "TrackInEventTimeOrder"
                >> (beam.ParDo(_TrackSortedFn(self._tunables)).with_outputs(DEAD_LETTER, main=MAIN))
            )
        else:
            tracked = keyed | "TrackStoryline" >> beam.ParDo(
                _TrackStorylineFn(self._tunables, self._ledger_url)
            ).with_outputs(DEAD_LETTER, main=MAIN)
        return split_dead_letters(tracked)
