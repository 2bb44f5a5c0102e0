"""The one stage contract: what every stage's composite transform returns.

A stage's ``expand()`` returns a ``StageOutputs`` (or, for fetching, a ``FetchOutputs``):
the stage's main output and its ``dead_letter`` output of ``Failure`` records. A stage
never sets attributes on itself during ``expand()``; the graph reads the outputs it is
given::

    parsed = raw | "ParseFeeds" >> ParseFeeds()
    parsed.main, parsed.dead_letter

``split_dead_letters`` is the usual last step of a stage: a ParDo whose failures are
``TaggedOutput(DEAD_LETTER, Failure)``.
"""

from __future__ import annotations

from typing import NamedTuple

import apache_beam as beam

DEAD_LETTER = "dead_letter"
MAIN = "main"


class StageOutputs(NamedTuple):
    """A stage's main output and its dead letters (``Failure`` records)."""

    main: beam.PCollection
    dead_letter: beam.PCollection


def split_dead_letters(results: beam.pvalue.DoOutputsTuple) -> StageOutputs:
    """The ``StageOutputs`` of a ``ParDo(...).with_outputs(DEAD_LETTER, main=MAIN)``."""
    return StageOutputs(results[MAIN], results[DEAD_LETTER])
