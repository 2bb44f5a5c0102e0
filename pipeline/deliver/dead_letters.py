"""The delivery stage's dead-letter file: one JSONL line per permanent failure.

    DeadLetters(path).write(delivery, title, recipient=...)

Each line is the ``Failure`` record (stage ``deliver``, key ``alert/subscriber/channel``)
plus the alert id, subscriber, channel, attempts, title and, for one refused email
address, its recipient; ``deliver --retry-dead`` and the status page read it. Writes are
thread-safe (the lanes write from their own threads). A message that reaches it has
already been redacted: the file holds no secret.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from pipeline.deliver.base import Delivery
from pipeline.records import Failure, to_json


class DeadLetters:
    """Appends permanent failures to a JSONL file (thread-safe); the file has no secrets."""

    def __init__(self, path: Path | str | None) -> None:
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, delivery: Delivery, title: str = "", *, recipient: str = "") -> None:
        if self.path is None:
            return
        failure = Failure(
            stage="deliver",
            key=f"{delivery.alert_id}/{delivery.subscriber}/{delivery.channel}",
            reason=delivery.reason,
            at=delivery.at,
        )
        record = (
            to_json(failure)
            | {
                "alert_id": delivery.alert_id,
                "subscriber": delivery.subscriber,
                "channel": delivery.channel,
                "attempts": delivery.attempts,
                "title": title,
            }
            | ({"recipient": recipient} if recipient else {})
        )
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
