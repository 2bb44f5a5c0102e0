"""MatchWatchlists on the FnApiRunner: matches out, a crashing article to the dead letter, counters."""

from __future__ import annotations

import datetime as dt
import shutil

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.util import assert_that, equal_to

from pipeline.alerts.decide import decide_alert
from pipeline.config.watchlists import load_watchlists
from pipeline.match.transform import NAMESPACE, MatchArticleFn, MatchWatchlists
from pipeline.records import Article, Failure
from pipeline.storylines.tracker import StorylineTracker
from tests.paths import WATCHLISTS

T0 = dt.datetime(2024, 10, 25, tzinfo=dt.UTC)


def article(article_id: str, title: str, summary: str = "") -> Article:
    return Article(article_id, "feed", "", "", title, summary, T0, T0)


class Hostile(str):
    """A title whose normalisation blows up, as a corrupt record might."""

    def isascii(self) -> bool:
        raise RuntimeError("corrupt text")


def test_matches_dead_letter_and_counters() -> None:
    articles = [
        article("a1", "Musk shut off Starlink to prevent Ukraine attack on Russian ships"),
        article("a2", "Poachers target musk deer for perfumes"),
        article(
            "a3",
            "Elon Musk has been in secret talks with Vladimir Putin, WSJ reports",
            "Putin asked Musk not to activate Starlink over Taiwan as a favour to Xi Jinping.",
        ),
        article("bad", Hostile("Musk and Putin")),
    ]
    p = beam.Pipeline(runner="FnApiRunner")
    out = p | beam.Create(articles) | MatchWatchlists(load_watchlists(WATCHLISTS))
    assert_that(
        out.main | "Pairs" >> beam.Map(lambda m: (m.article.article_id, m.storyline_id)),
        equal_to(
            [
                ("a1", "starlink-ukraine-war"),
                ("a3", "musk-kremlin-contacts"),
                ("a3", "starlink-taiwan"),
            ]
        ),
        label="CheckMatches",
    )
    assert_that(
        out.dead_letter
        | "Keys" >> beam.Map(lambda f: (type(f), f.stage, f.key, "corrupt text" in f.reason)),
        equal_to([(Failure, "match", "bad", True)]),
        label="CheckDeadLetter",
    )
    result = p.run()
    result.wait_until_finish()
    counters = {
        c.key.metric.name: c.committed
        for c in result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]
    }
    assert counters == {"articles_matched": 4, "matches": 3, "match_failures": 1}


NEW_STORYLINE = """
storylines:
  - id: spacex-launches
    title: SpaceX launches
    rule:
      all_of:
        - [spacex]
"""


def test_a_storyline_added_while_running_matches_after_one_reload_interval(tmp_path) -> None:
    """The DoFn with an injected clock: before the next check the old matcher answers,
    after it the new storyline matches; a broken edit later keeps it matching."""
    directory = tmp_path / "watchlists"
    shutil.copytree(WATCHLISTS, directory, ignore=shutil.ignore_patterns("drafts"))
    now = [0.0]
    stage = MatchWatchlists(
        load_watchlists(directory),
        watchlists_dir=directory,
        reload_interval_seconds=30,
        clock=lambda: now[0],
    )
    fn = MatchArticleFn(stage._watchlists, watcher=stage._watcher)
    fn.setup()
    launch = article("s1", "SpaceX launches another batch of satellites")

    def storylines() -> list[str]:
        return [m.storyline_id for m in fn.process(launch)]

    assert storylines() == []
    (directory / "launches.yaml").write_text(NEW_STORYLINE.lstrip(), encoding="utf-8")
    now[0] = 29.0
    assert storylines() == []
    now[0] = 30.0
    assert storylines() == ["spacex-launches"]
    # The reloaded storyline's title travels with the match, so its alert is titled
    # although DecideAlerts was built before the storyline existed.
    [match] = fn.process(launch)
    assert match.storyline_title == "SpaceX launches"
    assert decide_alert(StorylineTracker().observe(match)[0]).storyline_title == "SpaceX launches"
    (directory / "launches.yaml").write_text("storylines: [", encoding="utf-8")
    now[0] = 60.0
    assert storylines() == ["spacex-launches"]
