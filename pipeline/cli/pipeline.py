"""``storywatch run``, ``replay`` and ``eval-alerts``: the Beam graph and its alerts.

Importing this module imports Beam (about 2 s), so ``pipeline.cli.main`` imports it only
when one of these commands runs or ``run --help`` / ``replay --help`` lists the pipeline
options.
"""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.run.options import add_storywatch_arguments
from pipeline.run.runner import run_live, run_replay
from pipeline.storylines.evaluate import evaluate_file


def run(args: argparse.Namespace, beam_args: list[str]) -> int:
    return run_live(
        beam_args,
        watchlists_dir=str(args.watchlists),
        metrics_port=args.metrics_port,
        metrics_bind_host=args.metrics_bind_host,
        stop_timeout_seconds=args.stop_timeout_seconds,
    )


def replay(args: argparse.Namespace, beam_args: list[str]) -> int:
    run_replay(
        beam_args,
        feeds=args.feeds,
        articles=args.input,
        alerts_out=args.alerts_out,
        watchlists_dir=str(args.watchlists),
    )
    return 0


def eval_alerts(args: argparse.Namespace) -> int:
    print(evaluate_file(args.input, watchlists_dir=args.watchlists))
    return 0


def add_pipeline_options(group: argparse._ArgumentGroup, *, skip: frozenset[str]) -> None:
    """Every StorywatchOptions flag on ``group``, but those (by dest) the command has itself."""

    class Unless:
        def add_argument(self, *flags: str, **kwargs: Any) -> None:
            if kwargs["dest"] not in skip:
                group.add_argument(*flags, **kwargs)

    add_storywatch_arguments(Unless())
