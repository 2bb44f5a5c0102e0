"""What a run reads before its graph is built: watchlists, feeds and subscribers, checked.

    load_run_inputs(options, *, live) -> RunInputs

The one place both launchers (``run.runner`` locally, ``run.dataflow`` on Dataflow) load
and check the files the graph needs, so a mistake is a ``FILE:LINE`` user error before
anything starts, and the graph itself reads no file. Live runs need at least one feed.
Coverage updates become alerts when ``--coverage_alerts`` asks for them or a subscriber
lists ``coverage`` among its kinds.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config.subscribers import Subscribers, load_subscribers
from pipeline.config.watchlists import Watchlists, load_watchlists
from pipeline.errors import UserError
from pipeline.ingest.poll import load_feed_sources
from pipeline.records import FeedSource
from pipeline.run.options import StorywatchOptions


@dataclass(frozen=True)
class RunInputs:
    """The checked inputs of one run."""

    watchlists: Watchlists
    feed_sources: tuple[FeedSource, ...]
    coverage_alerts: bool


def load_run_inputs(options: StorywatchOptions, *, live: bool) -> RunInputs:
    """Load and check what ``options`` names; raise ``UserError`` with FILE:LINE problems."""
    watchlists = load_watchlists(options.watchlists)
    sources: tuple[FeedSource, ...] = ()
    if live:
        sources = load_feed_sources(
            options.feeds_file, default_min_poll_seconds=options.poll_interval_seconds
        )
        if not sources:
            raise UserError(
                f"{options.feeds_file}:1: no feeds to poll; add feeds or run "
                "`storywatch feeds import FILE.opml`"
            )
    subscribers = load_subscribers(options.subscribers) if options.subscribers else None
    return RunInputs(watchlists, sources, coverage_wanted(options, subscribers))


def coverage_wanted(options: StorywatchOptions, subscribers: Subscribers | None) -> bool:
    """Coverage updates are alerts when asked for, on the command line or by a subscriber."""
    if options.coverage_alerts or subscribers is None:
        return bool(options.coverage_alerts)
    return any("coverage" in s.kinds for s in subscribers.subscribers)
