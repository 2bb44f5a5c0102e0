"""The local sink: every alert as one JSON line (``--alerts-out``) and one console line.

Alerts always go here, subscribers or not, so a run shows what it would have sent.
Each alert is written once across restarts: the sink claims ``(alert_id, "*", "jsonl")``
in the ledger before writing and marks it sent after the line is flushed. If the process
died between the two, the next start finds the alert id already in the file and only
confirms it, and a torn last line (killed mid-write) is cut off before appending.
"""

from __future__ import annotations

import json
import sys
import threading
import unicodedata
from pathlib import Path
from typing import TextIO

from pipeline.alert_json import alert_to_json
from pipeline.deliver.base import SENT, SKIPPED, Delivery
from pipeline.deliver.wording import display_time
from pipeline.ledger.protocol import Ledger
from pipeline.records import Alert

SINK_SUBSCRIBER = "*"
_FILE_LOCKS: dict[str, threading.Lock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


def _file_lock(path: Path) -> threading.Lock:
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(str(path.resolve()), threading.Lock())


def printable(text: str) -> str:
    """``text`` without control characters, so an article title cannot drive the terminal."""
    return "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text
    )


def console_line(alert: Alert) -> str:
    """One line for a person watching the run.

    >>> from pipeline.alert_json import alert_from_json
    >>> console_line(alert_from_json({"alert_id": "a1", "storyline": "s", "kind": "burst",
    ...     "title": "T\\x1b[31m", "url": "https://x.test", "published": "2024-01-02T03:04:00Z",
    ...     "outlet": "Wire"}))
    'ALERT s burst: T [31m (Wire, 2024-01-02 03:04 UTC) https://x.test'
    """
    when = display_time(alert)
    outlet = f"{alert.outlet}, " if alert.outlet else ""
    return printable(
        f"ALERT {alert.storyline_id} {alert.kind}: {alert.title} ({outlet}{when}) {alert.url}"
    )


class JsonlSink:
    """Appends alerts to a JSONL file and/or prints them, each alert id once per ledger."""

    def __init__(
        self,
        ledger: Ledger,
        path: Path | str | None,
        *,
        console: bool = True,
        stream: TextIO | None = None,
    ) -> None:
        self.ledger = ledger
        self.path = Path(path) if path else None
        self.console = console
        self.stream = stream
        self.channel = "jsonl" if self.path else "console"
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._recover()

    @property
    def enabled(self) -> bool:
        return self.path is not None or self.console

    def _recover(self) -> None:
        """Cut a torn last line; confirm claimed alerts whose line did reach the file."""
        with _file_lock(self.path):
            if not self.path.exists():
                return
            with self.path.open("rb+") as fh:
                data = fh.read()
                if data and not data.endswith(b"\n"):
                    fh.truncate(data.rfind(b"\n") + 1)
                    data = data[: data.rfind(b"\n") + 1]
            pending = {
                a
                for a, s, c in self.ledger.unconfirmed()
                if s == SINK_SUBSCRIBER and c == self.channel
            }
            if not pending:
                return
            for line in data.decode("utf-8", "replace").splitlines():
                try:
                    alert_id = json.loads(line).get("alert_id")
                except (ValueError, AttributeError):
                    continue
                if alert_id in pending:
                    self.ledger.mark_sent(alert_id, SINK_SUBSCRIBER, self.channel)

    def write(self, alert: Alert) -> Delivery:
        if not self.ledger.claim(alert.alert_id, SINK_SUBSCRIBER, self.channel):
            return Delivery(
                alert.alert_id, SINK_SUBSCRIBER, self.channel, SKIPPED, reason="already written"
            )
        if self.path is not None:
            line = json.dumps(alert_to_json(alert), ensure_ascii=False, sort_keys=True) + "\n"
            with _file_lock(self.path), self.path.open("a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
        if self.console:
            stream = self.stream or sys.stdout
            print(console_line(alert), file=stream, flush=True)
        self.ledger.mark_sent(alert.alert_id, SINK_SUBSCRIBER, self.channel)
        return Delivery(alert.alert_id, SINK_SUBSCRIBER, self.channel, SENT, attempts=1)
