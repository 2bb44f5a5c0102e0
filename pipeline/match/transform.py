"""MatchWatchlists: the Beam step that turns articles into storyline matches.

A thin adapter over the pure ``pipeline.match.matcher.Matcher``: the DoFn builds the matcher
once per worker in ``setup()`` from the (picklable) ``Watchlists`` and emits one
``Match`` per storyline an article satisfies. An article that makes the matcher crash
is a permanent failure (retrying the same text fails the same way): it goes to the
``dead_letter`` output as a ``Failure`` and is counted, and the rest of the bundle goes on.

Metrics (namespace ``storywatch.match``): ``articles_matched`` (articles looked at),
``matches`` (Match records emitted), ``match_failures`` (dead letters).

    matched = articles | MatchWatchlists(watchlists)
    matched.main         # PCollection[Match]
    matched.dead_letter  # PCollection[Failure]
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput

from pipeline.config.watchlists import Watchlists
from pipeline.match.matcher import Matcher
from pipeline.records import Article, Failure
from pipeline.stage import DEAD_LETTER, MAIN, StageOutputs, split_dead_letters

NAMESPACE = "storywatch.match"
STAGE = "match"


class MatchArticleFn(beam.DoFn):
    """Article → Match per satisfied storyline; a crashing article → Failure on ``dead_letter``."""

    def __init__(self, watchlists: Watchlists, **matcher_tunables) -> None:
        self._watchlists = watchlists
        self._tunables = matcher_tunables
        self._matcher: Matcher | None = None
        self.articles = Metrics.counter(NAMESPACE, "articles_matched")
        self.matches = Metrics.counter(NAMESPACE, "matches")
        self.failures = Metrics.counter(NAMESPACE, "match_failures")

    def setup(self) -> None:
        self._matcher = Matcher(self._watchlists, **self._tunables)

    def process(self, article: Article):
        self.articles.inc()
        try:
            found = self._matcher.match(article)
        except Exception as exc:  # any crash on one article is that article's problem
            self.failures.inc()
            yield TaggedOutput(
                DEAD_LETTER,
                Failure(
                    STAGE,
                    getattr(article, "article_id", repr(article)[:100]),
                    f"matcher failed: {type(exc).__name__}: {exc}",
                ),
            )
            return
        self.matches.inc(len(found))
        yield from found


class MatchWatchlists(beam.PTransform):
    """PCollection[Article] → StageOutputs(main=Match, dead_letter=Failure)."""

    def __init__(self, watchlists: Watchlists, **matcher_tunables: object) -> None:
        super().__init__()
        self._watchlists = watchlists
        self._tunables = matcher_tunables

    def expand(self, articles: beam.PCollection) -> StageOutputs:
        return split_dead_letters(
            articles
            | MatchArticleFn.__name__
            >> beam.ParDo(MatchArticleFn(self._watchlists, **self._tunables)).with_outputs(
                DEAD_LETTER, main=MAIN
            )
        )
