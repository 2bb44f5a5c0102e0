"""Helpers for the status page tests: a real ledger with alerts and deliveries, a config."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from pipeline.alert_json import alert_to_json
from pipeline.ledger.protocol import Ledger
from pipeline.ledger.sqlite import SqliteLedger
from pipeline.records import Alert
from pipeline.serve.app import ServeConfig
from tests.deliver_support import make_alert

NOW = dt.datetime(2024, 10, 26, 12, 0, tzinfo=dt.UTC)
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def write_alerts(path: Path, alerts: list[Alert]) -> None:
    path.write_text("".join(json.dumps(alert_to_json(a)) + "\n" for a in alerts), encoding="utf-8")


def ledger_with(
    path: Path, alerts: list[Alert], states: dict[tuple[str, str, str], tuple[str, str]]
) -> None:
    """A real SQLite ledger holding ``alerts`` and deliveries in ``states``: key -> (state, reason)."""
    ledger = SqliteLedger(path)
    try:
        fill_ledger(ledger, alerts, states)
    finally:
        ledger.close()


def fill_ledger(
    ledger: Ledger, alerts: list[Alert], states: dict[tuple[str, str, str], tuple[str, str]]
) -> None:
    """Record ``alerts`` in ``ledger`` (any backend) and its deliveries in ``states``."""
    for alert in alerts:
        ledger.record_alert(alert.alert_id, alert_to_json(alert))
        ledger.mark_routed([alert.alert_id])
        ledger.save_payload(alert.alert_id, alert_to_json(alert))
    for key, (state, reason) in states.items():
        if state == "queued":
            ledger.enqueue(*key, NOW + dt.timedelta(hours=1))
            continue
        ledger.claim(*key)
        if state == "sent":
            ledger.mark_sent(*key)
        elif state == "dead":
            ledger.mark_dead(*key, reason)
        elif state == "retrying":
            ledger.release(*key, reason)


def config(tmp_path: Path, **kwargs) -> ServeConfig:
    values = dict(
        ledger=str(tmp_path / "ledger.sqlite"),
        alerts=tmp_path / "alerts.jsonl",
        feed_health=tmp_path / "feed-health.jsonl",
        dead_letters=tmp_path / "dead-letters.jsonl",
        feeds_file=None,
        subscribers=None,
        clock=lambda: NOW,
    )
    values.update(kwargs)
    return ServeConfig(**values)


__all__ = ["HOSTILE", "NOW", "config", "fill_ledger", "ledger_with", "make_alert", "write_alerts"]
