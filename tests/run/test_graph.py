"""The whole graph on FnApiRunner over recorded articles: same decisions as the pure path.

One Beam run (they cost seconds): the labeled items plus one broken line are replayed
through ``build_pipeline``; the alerts PCollection it returns must hold exactly the
alerts that ``alert_eval.alerts_for`` (matcher → track_in_order → decide_alert, no Beam)
gives, with the follow-ups ``followups.follow_ups_of`` decides on the same events; the
JSONL sink must hold them too, and the broken line must reach the dead-letter file
instead of vanishing.
"""

from __future__ import annotations

import json

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from pipeline.alerts.followups import follow_ups_of
from pipeline.config.watchlists import load_watchlists
from pipeline.match.matcher import Matcher
from pipeline.run.graph import build_pipeline
from pipeline.run.options import StorywatchOptions, pipeline_options
from pipeline.storylines.evaluate import alerts_for, events_for
from tests.paths import LABELED, WATCHLISTS


def test_replay_graph_makes_the_same_decisions_as_the_pure_path_and_dead_letters_bad_lines(
    tmp_path,
):
    articles = tmp_path / "articles.jsonl"
    lines = LABELED.read_text().splitlines()
    articles.write_text(
        "\n".join(lines[:40] + ['{"id": "broken", "title": 42}'] + lines[40:]) + "\n"
    )
    watchlists = load_watchlists(WATCHLISTS)
    from pipeline.jsonl_io import read_articles

    read = [a for _, _, a in read_articles(articles) if not isinstance(a, Exception)]
    expected = alerts_for(read, Matcher(watchlists).match)
    assert len(expected) >= 15
    # and the follow-ups of their coverage (pipeline/alerts/followups.py), decided the same way
    follow_ups = follow_ups_of(events_for(read, Matcher(watchlists).match))
    assert follow_ups
    expected += follow_ups

    options = pipeline_options(
        [
            f"--replay_articles={articles}",
            f"--ledger={tmp_path / 'ledger.sqlite'}",
            f"--alerts_out={tmp_path / 'alerts.jsonl'}",
            f"--dead_letter_out={tmp_path / 'dead.jsonl'}",
            "--console_alerts=false",
        ]
    )
    with beam.Pipeline(options=options) as p:
        alerts = build_pipeline(p, options.view_as(StorywatchOptions), watchlists)
        assert_that(
            alerts | beam.Map(lambda a: (a.alert_id, a.kind, a.article_ids[0])),
            equal_to([(a.alert_id, a.kind, a.article_ids[0]) for a in expected]),
        )

    written = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert sorted(a["alert_id"] for a in written) == sorted(a.alert_id for a in expected)
    dead = [json.loads(line) for line in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert len(dead) == 1 and "title" in dead[0]["reason"] and dead[0]["key"].endswith(":41")


def test_coverage_alerts_are_on_when_a_subscriber_asks_for_them(tmp_path):
    from pipeline.config.subscribers import load_subscribers
    from pipeline.run.inputs import coverage_wanted

    subscribers = tmp_path / "subscribers.yaml"
    entry = (
        "  - name: {name}\n    storylines: ['*']\n    kinds: [{kinds}]\n    channels:\n"
        "      email: {{to: [desk@example.org], from: sw@example.org, smtp: {{host: localhost}}}}\n"
    )
    subscribers.write_text("subscribers:\n" + entry.format(name="desk", kinds="new_development"))
    options = pipeline_options([f"--subscribers={subscribers}"]).view_as(StorywatchOptions)
    assert coverage_wanted(options, load_subscribers(subscribers)) is False
    subscribers.write_text(
        "subscribers:\n"
        + entry.format(name="desk", kinds="new_development")
        + entry.format(name="analyst", kinds="new_development, coverage")
    )
    assert coverage_wanted(options, load_subscribers(subscribers)) is True
    assert (
        coverage_wanted(
            pipeline_options(["--coverage_alerts=true"]).view_as(StorywatchOptions), None
        )
        is True
    )


def test_delivery_secrets_named_by_secret_env_need_not_be_set_where_the_job_is_built(
    tmp_path, monkeypatch
):
    import pytest

    from pipeline.errors import UserError
    from pipeline.run.graph import _deliver

    monkeypatch.delenv("DESK_HOOK", raising=False)
    subscribers = tmp_path / "subscribers.yaml"
    subscribers.write_text(
        "subscribers:\n  - name: desk\n    channels:\n      slack: {webhook_url_env: DESK_HOOK}\n"
    )
    base = [f"--subscribers={subscribers}", f"--ledger={tmp_path / 'ledger.sqlite'}"]
    with pytest.raises(UserError, match="DESK_HOOK"):
        _deliver(pipeline_options(base).view_as(StorywatchOptions))
    deliver = _deliver(
        pipeline_options(base + ["--secret_env=DESK_HOOK=projects/acme/secrets/desk"]).view_as(
            StorywatchOptions
        )
    )
    assert deliver._fn._secret_env == "DESK_HOOK=projects/acme/secrets/desk"


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
    from pipeline.ingest.dedupe import BOUNDED_SHARDS, DEFAULT_SHARDS, DedupeArticles
    from pipeline.records import FeedSource

    watchlists = load_watchlists(WATCHLISTS)
    shards = {}
    for mode, argv, sources in (
        ("replay", [f"--replay_articles={LABELED}"], ()),
        ("live", [], [FeedSource("f", "https://example.org/feed.xml")]),
    ):
        options = pipeline_options(argv + [f"--ledger={tmp_path / 'ledger.sqlite'}"])
        p = beam.Pipeline(options=options)
        build_pipeline(p, options.view_as(StorywatchOptions), watchlists, feed_sources=sources)
        (dedupe,) = _applied(p, DedupeArticles)
        shards[mode] = dedupe.shards
    assert shards == {"replay": BOUNDED_SHARDS, "live": DEFAULT_SHARDS} and BOUNDED_SHARDS == 1


# --- the live graph: feed health and the age cut ---------------------------------------------


def test_failing_feed_warning_fires_once_when_the_threshold_is_crossed():
    from pipeline.ingest.fetch.schedule import FeedSchedule
    from pipeline.run.sinks import failing_feed_warning

    schedule = FeedSchedule("wire", "https://wire.example/rss")
    schedule.record_success(0.0, changed=True)
    warnings = []
    for attempt in range(1, 6):
        schedule.record_failure(attempt * 600.0, "HTTP 503 Service Unavailable")
        warnings.append(failing_feed_warning(schedule.health(), failing_after_failures=3))
    assert [w is not None for w in warnings] == [False, False, True, False, False]
    assert "wire (https://wire.example/rss) is failing: 3 failed fetches in a row" in warnings[2]
    assert "last success 1970-01-01 00:00 UTC" in warnings[2] and "HTTP 503" in warnings[2]
    schedule.record_success(4000.0, changed=False)
    assert schedule.health().status == "ok"  # a recovered feed starts a new spell
    for attempt in range(3):
        schedule.record_failure(5000.0 + attempt, "timeout")
    assert failing_feed_warning(schedule.health(), failing_after_failures=3) is not None


def test_live_graph_reports_a_failing_feed_and_skips_the_backlog_of_a_fresh_run(
    httpserver, tmp_path, caplog
):
    """One live run (PeriodicImpulse on FnApiRunner, ~4 s): a feed answering 500 is written
    to the health file and warned about; of two matching items, the one published 40 days
    ago is dropped by the default 72 h age cut and only the fresh one alerts."""
    import datetime as dt
    import logging

    from pipeline.records import FeedSource

    now = dt.datetime.now(dt.UTC)
    items = [
        (
            "Elon Musk has been in regular contact with Vladimir Putin, report says",
            "Musk and the Russian president have spoken since late 2022.",
            now - dt.timedelta(hours=1),
        ),
        (
            "Starlink restored on Ukraine frontline after Russian jamming, Musk says",
            "SpaceX brought Starlink back for Ukrainian troops near the front.",
            now - dt.timedelta(days=40),
        ),
    ]
    rss = (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>Wire</title><link>https://wire.test/</link>"
        "<description>t</description>"
        + "".join(
            f"<item><title>{t}</title><link>https://wire.test/{i}</link><description>{d}</description>"
            f"<pubDate>{when:%a, %d %b %Y %H:%M:%S} GMT</pubDate></item>"
            for i, (t, d, when) in enumerate(items)
        )
        + "</channel></rss>"
    )
    httpserver.expect_request("/wire").respond_with_data(rss, content_type="application/rss+xml")
    httpserver.expect_request("/gone").respond_with_data("down", status=500)
    sources = [
        FeedSource("wire", httpserver.url_for("/wire"), allow_private=True),
        FeedSource("gone", httpserver.url_for("/gone"), allow_private=True),
    ]
    health_path = tmp_path / "health.jsonl"
    options = pipeline_options(
        [
            f"--ledger={tmp_path / 'ledger.sqlite'}",
            f"--alerts_out={tmp_path / 'alerts.jsonl'}",
            f"--dead_letter_out={tmp_path / 'dead.jsonl'}",
            f"--feed_health_out={health_path}",
            "--failing_feed_after_failures=1",
            "--console_alerts=false",
            "--tick_seconds=0.5",
            "--run_duration_seconds=3",
            "--host_gap_seconds=0",
        ]
    )
    with caplog.at_level(logging.WARNING, logger="pipeline.run.sinks"):
        p = beam.Pipeline(options=options)
        build_pipeline(
            p, options.view_as(StorywatchOptions), load_watchlists(WATCHLISTS), feed_sources=sources
        )
        result = p.run()
        result.wait_until_finish()

    alerts = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert [a["title"] for a in alerts] == [items[0][0]]
    health = {h["feed_id"]: h for h in map(json.loads, health_path.read_text().splitlines())}
    assert health["wire"]["status"] == "ok" and health["gone"]["status"] == "failing"
    assert health["gone"]["consecutive_failures"] == 1 and "500" in health["gone"]["last_error"]
    assert any("feed gone" in r.message and "is failing" in r.message for r in caplog.records)
    counters = {c.key.metric.name: c.committed for c in result.metrics().query()["counters"]}
    assert counters["articles_stale"] == 1 and counters["feeds_failing"] == 1
