"""The whole graph on FnApiRunner over recorded articles: same decisions as the pure path.

One Beam run (they cost seconds): the labeled items plus one broken line are replayed
through ``build_pipeline``; the alerts PCollection it returns must hold exactly the
alerts that ``alert_eval.alerts_for`` (matcher → track_in_order → decide_alert, no Beam)
gives, the JSONL sink must hold them too, and the broken line must reach the dead-letter
file instead of vanishing.
"""

from __future__ import annotations

import json

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from pipeline.alert_eval import alerts_for
from pipeline.config.watchlists import load_watchlists
from pipeline.graph import build_pipeline
from pipeline.matcher import Matcher
from pipeline.options import StorywatchOptions, pipeline_options
from tests.paths import LABELED, WATCHLISTS


def test_replay_graph_makes_the_same_decisions_as_the_pure_path_and_dead_letters_bad_lines(tmp_path):
    articles = tmp_path / "articles.jsonl"
    lines = LABELED.read_text().splitlines()
    articles.write_text("\n".join(lines[:40] + ['{"id": "broken", "title": 42}'] + lines[40:]) + "\n")
    watchlists = load_watchlists(WATCHLISTS)
    from pipeline.jsonl import read_articles
    expected = alerts_for([a for _, _, a in read_articles(articles) if not isinstance(a, Exception)],
                          Matcher(watchlists).match)
    assert len(expected) >= 15

    options = pipeline_options([f"--replay_articles={articles}", f"--ledger={tmp_path / 'ledger.sqlite'}",
                                f"--alerts_out={tmp_path / 'alerts.jsonl'}",
                                f"--dead_letter_out={tmp_path / 'dead.jsonl'}", "--console_alerts=false"])
    with beam.Pipeline(options=options) as p:
        alerts = build_pipeline(p, options.view_as(StorywatchOptions), watchlists)
        assert_that(alerts | beam.Map(lambda a: (a.alert_id, a.kind, a.article_ids[0])),
                    equal_to([(a.alert_id, a.kind, a.article_ids[0]) for a in expected]))

    written = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert sorted(a["alert_id"] for a in written) == sorted(a.alert_id for a in expected)
    dead = [json.loads(line) for line in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert len(dead) == 1 and "title" in dead[0]["reason"] and dead[0]["key"].endswith(":41")


def test_coverage_alerts_are_on_when_a_subscriber_asks_for_them(tmp_path):
    from pipeline.graph import _coverage_wanted

    subscribers = tmp_path / "subscribers.yaml"
    entry = ("  - name: {name}\n    storylines: ['*']\n    kinds: [{kinds}]\n    channels:\n"
             "      email: {{to: [desk@example.org], from: sw@example.org, smtp: {{host: localhost}}}}\n")
    subscribers.write_text("subscribers:\n" + entry.format(name="desk", kinds="new_development"))
    options = pipeline_options([f"--subscribers={subscribers}"]).view_as(StorywatchOptions)
    assert _coverage_wanted(options) is False
    subscribers.write_text("subscribers:\n" + entry.format(name="desk", kinds="new_development")
                           + entry.format(name="analyst", kinds="new_development, coverage"))
    assert _coverage_wanted(options) is True
    assert _coverage_wanted(pipeline_options(["--coverage_alerts=true"]).view_as(StorywatchOptions)) is True


def _applied(p: beam.Pipeline, kind: type) -> list:
    found = []

    class Visitor(beam.pipeline.PipelineVisitor):
        def enter_composite_transform(self, node):
            if isinstance(node.transform, kind):
                found.append(node.transform)

    p.visit(Visitor())
    return found


def test_a_replay_dedupes_on_one_shard_per_stage_and_the_live_run_spreads_its_state(tmp_path):
    """Beam's state cache costs ~2 ms per state key and access in a bundle, so a local
    replay keeps one key per dedupe stage; the live graph keeps 256 for Dataflow workers."""
    from pipeline.dedupe import BOUNDED_SHARDS, DEFAULT_SHARDS, DedupeArticles
    from pipeline.records import FeedSource

    watchlists = load_watchlists(WATCHLISTS)
    shards = {}
    for mode, argv, sources in (("replay", [f"--replay_articles={LABELED}"], ()),
                                ("live", [], [FeedSource("f", "https://example.org/feed.xml")])):
        options = pipeline_options(argv + [f"--ledger={tmp_path / 'ledger.sqlite'}"])
        p = beam.Pipeline(options=options)
        build_pipeline(p, options.view_as(StorywatchOptions), watchlists, feed_sources=sources)
        (dedupe,) = _applied(p, DedupeArticles)
        shards[mode] = dedupe.shards
    assert shards == {"replay": BOUNDED_SHARDS, "live": DEFAULT_SHARDS} and BOUNDED_SHARDS == 1
