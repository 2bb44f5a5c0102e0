"""NormalizeArticles: the normalise stage as a Beam transform, over ``ingest.normalize``.

    NormalizeArticles()   PCollection[FeedItem] -> StageOutputs(main=Article, dead_letter=Failure)

Each article is timestamped with its ``first_seen_at`` (the fetch or snapshot time), so
replays carry event time. An item with nothing to watch is a dead letter. Counters
(namespace ``ingest``): ``articles_normalized``, ``dates_estimated``,
``normalize_failures``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import apache_beam as beam

from pipeline.ingest.normalize import UnusableItem, normalize_item
from pipeline.records import Failure, FeedItem
from pipeline.stage import DEAD_LETTER, MAIN, StageOutputs, split_dead_letters


class _NormalizeFn(beam.DoFn):
    def __init__(self) -> None:
        self.articles = beam.metrics.Metrics.counter("ingest", "articles_normalized")
        self.estimated = beam.metrics.Metrics.counter("ingest", "dates_estimated")
        self.failures = beam.metrics.Metrics.counter("ingest", "normalize_failures")

    def process(self, item: FeedItem) -> Iterable[Any]:
        try:
            article = normalize_item(item)
        except UnusableItem as exc:
            self.failures.inc()
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTER, Failure("normalize", item.feed_url, str(exc), at=item.first_seen_at)
            )
            return
        self.articles.inc()
        if article.published_is_estimated:
            self.estimated.inc()
        yield beam.window.TimestampedValue(article, article.first_seen_at.timestamp())


class NormalizeArticles(beam.PTransform):
    """FeedItem -> StageOutputs(main=Article, dead_letter=Failure per item with nothing to watch).

    ``NormalizeArticles()``. Each article is timestamped with its ``first_seen_at`` (the
    fetch or snapshot time), so replays carry event time. Counters (namespace
    ``ingest``): ``articles_normalized``, ``dates_estimated``, ``normalize_failures``.
    """

    def __init__(self, *, label: str | None = None) -> None:
        super().__init__(label)

    def expand(self, items: beam.PCollection) -> StageOutputs:
        return split_dead_letters(
            items | "Normalize" >> beam.ParDo(_NormalizeFn()).with_outputs(DEAD_LETTER, main=MAIN)
        )
