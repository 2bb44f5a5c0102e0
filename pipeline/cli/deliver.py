"""``storywatch deliver``, ``subscribers test``, ``mute`` and ``unmute``: delivery commands.

``deliver --retry-dead`` queues every dead delivery of a SQLite ledger again (the status
page's Retry, ``pipeline.serve.actions.retry_dead``, once per dead row) and then sends
them with the alerts file, if one is given. Mutes are kept in the ledger
(``add_mute``/``remove_mute``/``active_mutes``); routing skips a muted storyline's or
development's alerts (``pipeline.deliver.routing``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path

from pipeline.deliver.command import DEFAULT_SUBSCRIBERS, deliver_file
from pipeline.errors import UserError

UTC = dt.UTC
_DURATION = re.compile(r"(\d+)([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> dt.timedelta:
    """``24h``, ``90m``, ``7d``, ``1h30m`` → a timedelta; anything else is a UserError.

    >>> parse_duration("1h30m"), parse_duration("2d")
    (datetime.timedelta(seconds=5400), datetime.timedelta(days=2))
    """
    compact = text.strip().lower()
    if not compact or _DURATION.sub("", compact):
        raise UserError(f"--for {text!r}: not a duration; write it like 30m, 24h, 7d or 1h30m")
    seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION.findall(compact))
    if seconds <= 0:
        raise UserError(f"--for {text!r}: a mute needs a duration above zero")
    return dt.timedelta(seconds=seconds)


def _subscribers_file(args: argparse.Namespace):
    if args.subscribers is None and DEFAULT_SUBSCRIBERS.exists():
        return DEFAULT_SUBSCRIBERS
    return args.subscribers


def _requeue_dead(ledger_url: str) -> int:
    """Queue every dead delivery again, due now; returns how many (any ledger backend)."""
    from pipeline.ledger import local_path, open_ledger

    path = local_path(ledger_url)
    if path is not None and not path.exists():
        raise UserError(f"{path}: ledger file not found; pass --ledger PATH of the run's ledger")
    ledger = open_ledger(ledger_url)
    try:
        return sum(ledger.requeue_dead(*key) for key in ledger.dead_deliveries())
    finally:
        ledger.close()


def deliver(args: argparse.Namespace) -> int:
    if args.alerts is None and not args.retry_dead:
        raise UserError("deliver: give --alerts ALERTS.jsonl, or --retry-dead, or both")
    subscribers = _subscribers_file(args)
    if args.retry_dead:
        if subscribers is None:
            raise UserError(
                "deliver --retry-dead: no subscribers file; pass --subscribers FILE "
                f"(default {DEFAULT_SUBSCRIBERS})"
            )
        print(f"retry-dead: {_requeue_dead(args.ledger)} dead deliveries queued again")
    return deliver_file(
        args.alerts,
        subscribers_file=subscribers,
        ledger_url=args.ledger,
        alerts_out=args.alerts_out,
        dead_letter_out=args.dead_letter_out,
        console=args.console,
    )


def subscribers_test(args: argparse.Namespace) -> int:
    from pipeline.config.subscribers import load_subscribers
    from pipeline.deliver.probe import probe_subscriber

    path = _subscribers_file(args)
    if path is None:
        raise UserError(
            f"subscribers test: no subscribers file; pass --subscribers FILE (default {DEFAULT_SUBSCRIBERS})"
        )
    results = probe_subscriber(load_subscribers(path), args.name)
    for result in results:
        print(f"{args.name}/{result.channel} ({result.how}): {result.outcome}")
    passed = sum(r.ok for r in results)
    print(f"subscribers test: {passed} of {len(results)} channels sent")
    return 0 if passed == len(results) else 1


def _until_text(until: dt.datetime | None) -> str:
    return "until unmuted" if until is None else f"until {until.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def mute(args: argparse.Namespace) -> int:
    from pipeline.ledger import open_ledger

    now = dt.datetime.now(UTC)
    if args.list:
        if args.target or args.duration:
            raise UserError("mute --list takes no target and no --for")
        ledger = open_ledger(args.ledger)
        try:
            mutes = ledger.active_mutes(now)
        finally:
            ledger.close()
        for target, until in sorted(mutes.items()):
            print(f"{target}\t{_until_text(until)}")
        print(f"mute: {len(mutes)} active")
        return 0
    if not args.target or not args.target.strip() or any(c.isspace() for c in args.target):
        raise UserError(
            "mute: give one storyline or development id (no spaces), e.g. "
            "`storywatch mute musk-kremlin-contacts --for 24h`; `mute --list` lists mutes"
        )
    until = now + parse_duration(args.duration) if args.duration else None
    ledger = open_ledger(args.ledger)
    try:
        ledger.add_mute(args.target, until)
    finally:
        ledger.close()
    print(f"muted {args.target} {_until_text(until)}: its alerts are not delivered")
    if (storylines := _storyline_ids()) is not None and args.target not in storylines:
        print(
            f"note: {args.target} is not a storyline id of watchlists/ "
            f"({', '.join(sorted(storylines)) or 'none'}); it mutes the development with "
            "that id. Check the spelling, or `storywatch unmute` it"
        )
    return 0


def _storyline_ids() -> set[str] | None:
    """The storyline ids of ./watchlists, or None when they cannot be read (no note then)."""
    from pipeline.config.watchlists import load_watchlists

    try:
        return {s.id for s in load_watchlists(Path("watchlists")).storylines}
    except (UserError, OSError):
        return None


def unmute(args: argparse.Namespace) -> int:
    from pipeline.ledger import open_ledger

    ledger = open_ledger(args.ledger)
    try:
        removed = ledger.remove_mute(args.target)
    finally:
        ledger.close()
    if not removed:
        print(f"unmute: {args.target} was not muted (`storywatch mute --list` lists mutes)")
        return 1
    print(f"unmuted {args.target}: its alerts are delivered again")
    return 0
