"""``storywatch deliver``: (re)deliver an alerts file to the subscribers, once each."""

from __future__ import annotations

import argparse

from pipeline.deliver.command import DEFAULT_SUBSCRIBERS, deliver_file


def deliver(args: argparse.Namespace) -> int:
    subscribers = args.subscribers
    if subscribers is None and DEFAULT_SUBSCRIBERS.exists():
        subscribers = DEFAULT_SUBSCRIBERS
    return deliver_file(
        args.alerts,
        subscribers_file=subscribers,
        ledger_url=args.ledger,
        alerts_out=args.alerts_out,
        dead_letter_out=args.dead_letter_out,
        console=args.console,
    )
