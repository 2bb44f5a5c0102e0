"""The ``storywatch serve`` command line that opens the status page on a run's files.

    serve_command(ledger=…, alerts=…, feed_health=None, dead_letters=None) -> str

Printed by ``storywatch run`` in its banner and by ``storywatch replay`` at its end, so the
user can paste it. Paths are shell-quoted; a remote ledger's password is shown as ``***``
(never printed), so that line must then be completed by hand.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from pipeline.serve.queries import scrub


def serve_command(
    *,
    ledger: str,
    alerts: str | Path,
    feed_health: str | Path | None = None,
    dead_letters: str | Path | None = None,
) -> str:
    """``storywatch serve --ledger … --alerts …`` (and the feed health / dead letters if given).

    >>> serve_command(ledger="build/demo ledger.sqlite", alerts="build/demo-alerts.jsonl")
    "storywatch serve --ledger 'build/demo ledger.sqlite' --alerts build/demo-alerts.jsonl"
    >>> serve_command(ledger="postgresql://sw:pw@db/sw", alerts="a.jsonl", feed_health="h.jsonl")
    "storywatch serve --ledger 'postgresql://sw:***@db/sw' --alerts a.jsonl --feed-health h.jsonl"
    """
    parts = ["storywatch", "serve", "--ledger", scrub(str(ledger)), "--alerts", str(alerts)]
    if feed_health:
        parts += ["--feed-health", str(feed_health)]
    if dead_letters:
        parts += ["--dead-letters", str(dead_letters)]
    return shlex.join(parts)
