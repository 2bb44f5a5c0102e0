"""``storywatch deliver``: deliver an alerts JSONL file through the same code as the pipeline.

Useful to re-send after fixing a webhook, to deliver alerts a replay wrote, and to test
delivery end to end (the crash test kills this command mid-burst and runs it again).
Order of work: alerts a previous run recorded but died before routing, and deliveries
left unconfirmed in the ledger (a previous run died), first; then the file's alerts in
file order, then the digests that are due. The summary counts ``waiting`` deliveries
(claimed by a process that is still running or killed but not yet reaped: each is named
with the time its lease runs out; they do not change the exit status, since that
process may be sending them right now) and ``repeats`` (sends that may have reached their
receiver twice, the at-least-once windows of docs/ledger.md). Bad lines are
reported as ``FILE:LINE: reason`` and skipped; the rest is delivered.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from pipeline.alert_json import BadAlert, alert_from_json
from pipeline.config.subscribers import load_subscribers, resolve_secrets
from pipeline.deliver.base import DEAD, RETRY_LATER, SKIPPED, WAITING
from pipeline.deliver.dispatch import Dispatcher, default_dead_letter_path
from pipeline.deliver.file_sink import SINK_SUBSCRIBER, JsonlSink
from pipeline.errors import UserError
from pipeline.jsonl_io import BadLine, check_output_path, read_jsonl
from pipeline.ledger import open_ledger
from pipeline.records import Alert

DEFAULT_LEDGER = "build/ledger.sqlite"
DEFAULT_SUBSCRIBERS = Path("watchlists/subscribers.yaml")


def read_alerts(path: Path) -> Iterator[tuple[int, Alert | None, str]]:
    """(line number, alert or None, problem) for every non-blank line of an alerts JSONL file."""
    for number, obj in read_jsonl(path):
        if isinstance(obj, BadLine):
            yield number, None, str(obj)
            continue
        try:
            yield number, alert_from_json(obj), ""
        except BadAlert as exc:
            yield number, None, str(exc)


def deliver_file(
    alerts_path: Path | None,
    *,
    subscribers_file: Path | None,
    ledger_url: str,
    alerts_out: Path | None = None,
    dead_letter_out: Path | None = None,
    console: bool = False,
    batch_size: int = 50,
) -> int:
    """Deliver every alert of ``alerts_path``; print a summary; return the exit status.

    Without ``alerts_path``, only what the ledger holds is sent: unconfirmed deliveries and
    the queued ones that are due (``deliver --retry-dead`` queues the dead ones again)."""
    subscribers = load_subscribers(subscribers_file) if subscribers_file else None
    secrets = resolve_secrets(subscribers) if subscribers else None
    if alerts_path is not None and alerts_path.is_dir():
        raise UserError(
            f"{alerts_path}:1: is a folder, not an alerts file; pass the JSONL file a replay "
            "wrote (--alerts-out) or another alerts file"
        )
    if alerts_path is not None and not alerts_path.exists():
        raise UserError(
            f"{alerts_path}:1: alerts file not found; pass the JSONL file a replay wrote "
            "(--alerts-out) or another alerts file"
        )
    dead_letter_out = dead_letter_out or default_dead_letter_path(ledger_url)
    for flag, out in (("--alerts-out", alerts_out), ("--dead-letter", dead_letter_out)):
        check_output_path(out, flag)
    ledger = open_ledger(ledger_url)
    sink = JsonlSink(ledger, alerts_out, console=console)
    dispatcher = Dispatcher(
        ledger,
        subscribers=subscribers,
        secrets=secrets,
        sink=sink,
        dead_letter_path=dead_letter_out,
    )
    problems: list[str] = []
    results = []
    try:
        results += dispatcher.retry_unconfirmed()
        batch: list[Alert] = []
        for number, alert, problem in read_alerts(alerts_path) if alerts_path else ():
            if alert is None:
                problems.append(f"{alerts_path}:{number}: skipped: {problem}")
                continue
            batch.append(alert)
            if len(batch) >= batch_size:
                results += dispatcher.deliver(batch)
                batch = []
        results += dispatcher.deliver(batch)
        results += dispatcher.flush_due()
    finally:
        dispatcher.close()
        ledger.close()

    waiting = {(d.alert_id, d.subscriber, d.channel) for d in results if d.status == WAITING}
    # A waiting claim is also skipped when the file names its alert again: count it once.
    results = [
        d
        for d in results
        if d.status != SKIPPED or (d.alert_id, d.subscriber, d.channel) not in waiting
    ]
    counts = Counter(d.status for d in results if d.subscriber != SINK_SUBSCRIBER)
    for problem in problems:
        print(problem, file=sys.stderr)
    for delivery in results:
        if delivery.status in (DEAD, RETRY_LATER, WAITING) or delivery.reason.startswith(
            "refused: "
        ):
            print(
                f"{delivery.status}: alert {delivery.alert_id} to {delivery.subscriber}/{delivery.channel}: "
                f"{delivery.reason}",
                file=sys.stderr,
            )
    summary = ", ".join(
        f"{counts[s]} {s}" for s in ("sent", "queued", "skipped", "retry_later", "dead")
    )
    if counts[WAITING]:
        summary += f", {counts[WAITING]} waiting for another process's claim"
    repeats = sum(1 for d in results if d.repeat)
    if repeats:  # sends that may have reached the receiver twice (docs/ledger.md)
        summary += f", {repeats} repeat{'' if repeats == 1 else 's'}"
    if muted := dispatcher.counts["muted"]:
        summary += f", {muted} alert{'s' if muted > 1 else ''} muted"
    refused = dispatcher.counts["refused_recipients"]
    if refused:
        summary += f", {refused} recipient{'s' if refused > 1 else ''} refused"
    dead_letters = counts[DEAD] or refused
    print(f"deliver: {summary}" + (f" (dead letters: {dead_letter_out})" if dead_letters else ""))
    if problems:
        return 2
    # Waiting deliveries leave the status alone: the process holding them may be sending
    # them right now (two deliver processes on one ledger); each one is named above.
    return 1 if dead_letters or counts[RETRY_LATER] else 0
