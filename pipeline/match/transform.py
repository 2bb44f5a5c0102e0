"""MatchWatchlists: the Beam step that turns articles into storyline matches.

A thin adapter over the pure ``pipeline.match.matcher.Matcher``: the DoFn builds the matcher
once per worker in ``setup()`` from the (picklable) ``Watchlists`` and emits one
``Match`` per storyline an article satisfies. Given ``watchlists_dir`` and a reload
interval (live), the DoFn re-checks the directory at most that often
(``pipeline.config.reload``) and rebuilds the matcher when it changed, so a new storyline
matches from the first article after the next check; a bad edit keeps the last good
watchlists. An article that makes the matcher crash
is a permanent failure (retrying the same text fails the same way): it goes to the
``dead_letter`` output as a ``Failure`` and is counted, and the rest of the bundle goes on.

Metrics (namespace ``storywatch.match``): ``articles_matched`` (articles looked at),
``matches`` (Match records emitted), ``match_failures`` (dead letters).

    matched = articles | MatchWatchlists(watchlists)
    matched.main         # PCollection[Match]
    matched.dead_letter  # PCollection[Failure]
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput

from pipeline.config.reload import ConfigWatcher
from pipeline.config.watchlists import Watchlists, load_watchlists
from pipeline.match.matcher import Matcher
from pipeline.records import Article, Failure
from pipeline.stage import DEAD_LETTER, MAIN, StageOutputs, split_dead_letters

NAMESPACE = "storywatch.match"
STAGE = "match"


class MatchArticleFn(beam.DoFn):
    """Article → Match per satisfied storyline; a crashing article → Failure on ``dead_letter``."""

    def __init__(
        self,
        watchlists: Watchlists,
        *,
        watcher: ConfigWatcher[Watchlists] | None = None,
        **matcher_tunables,
    ) -> None:
        self._watchlists = watchlists
        self._watcher = watcher
        self._tunables = matcher_tunables
        self._matcher: Matcher | None = None
        self.articles = Metrics.counter(NAMESPACE, "articles_matched")
        self.matches = Metrics.counter(NAMESPACE, "matches")
        self.failures = Metrics.counter(NAMESPACE, "match_failures")
        self.reloads = Metrics.counter(NAMESPACE, "watchlist_reloads")

    def setup(self) -> None:
        self._matcher = Matcher(self._watchlists, **self._tunables)

    def _current_matcher(self) -> Matcher:
        if self._watcher is not None:
            watchlists = self._watcher.current()
            if watchlists is not self._watchlists:
                self._matcher = Matcher(watchlists, **self._tunables)
                self._watchlists = watchlists
                self.reloads.inc()
        assert self._matcher is not None, "setup() builds the matcher"
        return self._matcher

    def process(self, article: Article):
        self.articles.inc()
        matcher = self._current_matcher()
        try:
            found = matcher.match(article)
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
    """PCollection[Article] → StageOutputs(main=Match, dead_letter=Failure).

    ``watchlists_dir`` (where ``watchlists`` came from) with ``reload_interval_seconds`` > 0
    re-reads the directory while running; ``clock`` is for tests.
    """

    def __init__(
        self,
        watchlists: Watchlists,
        *,
        watchlists_dir: Path | str | None = None,
        reload_interval_seconds: float = 0.0,
        clock: Callable[[], float] | None = None,
        config_uri: str | None = None,
        **matcher_tunables: object,
    ) -> None:
        super().__init__()
        self._watchlists = watchlists
        self._tunables = matcher_tunables
        self._watcher: ConfigWatcher[Watchlists] | None = None
        if watchlists_dir is not None and reload_interval_seconds > 0:
            self._watcher = ConfigWatcher(
                [watchlists_dir],
                partial(load_watchlists, watchlists_dir),
                initial=watchlists,
                interval_seconds=reload_interval_seconds,
                config_uri=config_uri,
                **({"clock": clock} if clock is not None else {}),
            )

    def expand(self, articles: beam.PCollection) -> StageOutputs:
        fn = MatchArticleFn(self._watchlists, watcher=self._watcher, **self._tunables)
        return split_dead_letters(
            articles
            | MatchArticleFn.__name__ >> beam.ParDo(fn).with_outputs(DEAD_LETTER, main=MAIN)
        )
