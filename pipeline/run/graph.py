"""The storywatch pipeline, wired in the order of the flow.

    poll → fetch → parse → normalise → dedupe → match → track storylines → decide alerts → deliver
                                                          ↘ (live) mark a burst's feeds hot ⇢ fetch
    (replay: recorded feeds → parse → …, or recorded articles → dedupe → …)

Every stage returns ``StageOutputs(main, dead_letter)`` (``pipeline.stage``); the graph
passes each main output on and writes each stage's dead letters with its own
``<Stage>DeadLetters`` step to one JSONL file (plus the ``storywatch/dead_letters``
counter), so a failure is never dropped silently. One writer per stage, not a Flatten
into one: each writer fuses into its stage, so a live failure is in the file within the
bundle that raised it (a Flatten is a stage boundary the local runner only crosses when
the source ends; docs/live-engine.md).
Live, each fetch attempt's ``FeedHealth`` goes to ``--feed_health_out``. WebSub pushes
(docs/websub.md) leave FetchFeeds beside polled bodies locally, and on Dataflow come from
``--websub_pubsub_subscription``, flattened in before ParseFeeds. The graph loads
no file: the caller (``run.runner``, ``run.dataflow``) loads and checks the watchlists,
feeds and subscribers first (``run.inputs``). Live, PollFeeds, MatchWatchlists and
DeliverAlerts re-read them every ``--reload_interval_seconds`` (``config.reload``), from
``--config_uri`` first when it is set (Dataflow: ``config.mirror``).
"""

from __future__ import annotations

from collections.abc import Sequence

import apache_beam as beam

from pipeline.alerts.decide import DecideAlerts
from pipeline.cli.progress import replayed
from pipeline.config.watchlists import Watchlists
from pipeline.deliver.transform import DeliverAlerts
from pipeline.ingest.dedupe import BOUNDED_SHARDS, DEFAULT_SHARDS, DedupeArticles
from pipeline.ingest.fetch.burst import MarkBurstFeeds
from pipeline.ingest.fetch.transform import FetchFeeds
from pipeline.ingest.normalize_transform import NormalizeArticles
from pipeline.ingest.parse import ParseFeeds
from pipeline.ingest.poll import PollFeeds
from pipeline.ingest.recorded import ReplayArticles, ReplayFeeds
from pipeline.ingest.websub.transform import ReadWebSubPushes
from pipeline.match.transform import MatchWatchlists
from pipeline.records import FeedSource
from pipeline.run.options import StorywatchOptions
from pipeline.run.sinks import ReportFeedHealth, WriteDeadLetters
from pipeline.stage import StageOutputs
from pipeline.storylines.transform import TrackStorylines


def build_pipeline(
    p: beam.Pipeline,
    options: StorywatchOptions,
    watchlists: Watchlists,
    *,
    feed_sources: Sequence[FeedSource] = (),
    coverage_alerts: bool = False,
) -> beam.PCollection:
    """Add the whole flow to ``p``; return the PCollection of alerts (for tests)."""

    def main_of(stage: str, outputs: StageOutputs) -> beam.PCollection:
        outputs.dead_letter | f"{stage}DeadLetters" >> beam.ParDo(
            WriteDeadLetters(options.dead_letter_out)
        )
        return outputs.main

    bounded = is_bounded(options)
    if options.replay_articles:
        articles = main_of(
            "ReplayArticles", p | "ReplayArticles" >> ReplayArticles(options.replay_articles)
        ) | "ReplayProgress" >> beam.Map(replayed)
    else:
        if options.replay_feeds:
            raw = main_of(
                "ReplayFeeds", p | "ReplayFeeds" >> ReplayFeeds(options.replay_feeds)
            ) | "ReplayProgress" >> beam.Map(replayed)  # the driver's progress bar (local)
        else:
            raw = main_of("FetchFeeds", _poll_and_fetch(p, options, feed_sources))
            if options.websub_pubsub_subscription:  # Dataflow: pushes a public callback verified
                pushed = main_of(
                    "ReadWebSubPushes",
                    p
                    | "ReadWebSubPushes"
                    >> ReadWebSubPushes(options.websub_pubsub_subscription, feed_sources),
                )
                raw = (raw, pushed) | "PolledAndPushed" >> beam.Flatten()
        items = main_of("ParseFeeds", raw | "ParseFeeds" >> ParseFeeds())
        articles = main_of("NormalizeArticles", items | "NormalizeArticles" >> NormalizeArticles())
    unique = main_of(
        "DedupeArticles", articles | "DedupeArticles" >> _dedupe(options, bounded=bounded)
    )
    matches = main_of(
        "MatchWatchlists",
        unique | "MatchWatchlists" >> _match(options, watchlists, bounded=bounded),
    )
    events = main_of(
        "TrackStorylines", matches | "TrackStorylines" >> _track(options, bounded=bounded)
    )
    if not bounded:  # a burst tightens the polling of the feeds that carry it
        main_of("MarkBurstFeeds", events | "MarkBurstFeeds" >> _mark_burst_feeds(options))
    alerts = main_of(
        "DecideAlerts", events | "DecideAlerts" >> _decide(options, watchlists, coverage_alerts)
    )
    main_of("DeliverAlerts", alerts | "DeliverAlerts" >> _deliver(options))
    return alerts


def is_bounded(options: StorywatchOptions) -> bool:
    """A replay of recorded data ends; the live pipeline polls until stopped."""
    return bool(options.replay_feeds or options.replay_articles)


def _poll_and_fetch(
    p: beam.Pipeline, options: StorywatchOptions, feed_sources: Sequence[FeedSource]
) -> StageOutputs:
    polled = p | "PollFeeds" >> PollFeeds(
        feed_sources,
        tick_seconds=options.tick_seconds,
        stop_after_seconds=options.run_duration_seconds,
        feeds_file=options.feeds_file,
        default_min_poll_seconds=options.poll_interval_seconds,
        reload_interval_seconds=options.reload_interval_seconds,
        config_uri=options.config_uri,
    )
    fetched = polled | "FetchFeeds" >> FetchFeeds(
        host_gap_seconds=options.host_gap_seconds,
        tick_seconds=options.tick_seconds,
        ledger_url=options.ledger,
        websub=options.websub_config(),  # local WebSub: pushes leave FetchFeeds too
    )
    fetched.health | "ReportFeedHealth" >> beam.ParDo(
        ReportFeedHealth(
            options.feed_health_out, failing_after_failures=options.failing_feed_after_failures
        )
    )
    return StageOutputs(fetched.main, fetched.dead_letter)


def _match(options: StorywatchOptions, watchlists: Watchlists, *, bounded: bool) -> MatchWatchlists:
    # A replay is a fixed input: it matches against the watchlists loaded at start.
    return MatchWatchlists(
        watchlists,
        watchlists_dir=None if bounded else options.watchlists,
        reload_interval_seconds=options.reload_interval_seconds,
        config_uri=options.config_uri,
    )


def _dedupe(options: StorywatchOptions, *, bounded: bool) -> DedupeArticles:
    return DedupeArticles(
        shards=BOUNDED_SHARDS if bounded else DEFAULT_SHARDS,
        max_age_seconds=options.max_article_age_seconds(bounded=bounded),
    )


def _track(options: StorywatchOptions, *, bounded: bool) -> TrackStorylines:
    return TrackStorylines(bounded=bounded, ledger_url=options.ledger, **options.tracker_tunables())


def _mark_burst_feeds(options: StorywatchOptions) -> MarkBurstFeeds:
    # Tight polling lasts as long as the burst's own window.
    return MarkBurstFeeds(
        ledger_url=options.ledger, hot_for_seconds=options.burst_window_hours * 3600
    )


def _decide(
    options: StorywatchOptions, watchlists: Watchlists, coverage_alerts: bool
) -> DecideAlerts:
    return DecideAlerts(
        ledger_url=options.ledger,
        storyline_titles={s.id: s.title or "" for s in watchlists.storylines},
        coverage_alerts=coverage_alerts,
        latency_metrics=not is_bounded(options),  # a replay's fetch times are the recording's
    )


def _deliver(options: StorywatchOptions) -> DeliverAlerts:
    return DeliverAlerts(
        ledger_url=options.ledger,
        alerts_out=options.alerts_out,
        subscribers_file=options.subscribers,
        console=options.console_alerts,
        secret_env=options.secret_env,
        reload_interval_seconds=0 if is_bounded(options) else options.reload_interval_seconds,
        config_uri=options.config_uri,
        # Live: one bounded queue per channel, so a stalled channel holds up no other.
        wait_for_channels=is_bounded(options),
    )
