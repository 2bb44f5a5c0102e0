"""DeliverAlerts on the FnApiRunner: sink, Slack subscribers, dead letters, no double sends."""

from __future__ import annotations

import datetime as dt
import doctest
import importlib
import json
import time

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from pipeline.config.subscribers import load_subscribers, resolve_secrets
from pipeline.deliver import slack as slack_module
from pipeline.deliver.base import Delivery
from pipeline.deliver.dispatch import Dispatcher
from pipeline.deliver.retry import RateLimiter
from pipeline.deliver.transform import DeliverAlerts
from pipeline.errors import ConfigError
from pipeline.ledger.sqlite import SqliteLedger
from pipeline.records import UTC
from tests.deliver_support import Reply, SlackStandIn, make_alert

SUBSCRIBERS = """\
subscribers:
  - name: desk
    storylines: ["*"]
    channels:
      slack: {webhook_url_env: TEST_DESK_HOOK, max_messages_per_second: 50}
  - name: broken
    storylines: [musk-kremlin-contacts]
    channels:
      slack: {webhook_url_env: TEST_BROKEN_HOOK, max_messages_per_second: 50}
"""


def _run(alerts, expected, **kwargs):
    with beam.Pipeline(runner="FnApiRunner") as p:
        outputs = p | beam.Create(alerts) | DeliverAlerts(**kwargs)
        results = outputs.main | beam.Map(lambda d: (d.alert_id, d.subscriber, d.channel, d.status))
        assert_that(results, equal_to(expected))
        dead = outputs.dead_letter | beam.Map(lambda f: f.key)
        expected_dead = [f"{a}:{s}:{c}" for a, s, c, status in expected if status == "dead"]
        assert_that(dead, equal_to(expected_dead), label="dead letters")


def test_deliver_alerts_in_beam_once_each_with_dead_letters(tmp_path, monkeypatch):
    alerts = [make_alert(n) for n in (1, 2, 3)] + [make_alert(4, storyline="starlink-taiwan")]
    with SlackStandIn() as slack:
        slack.script["/broken"] = [Reply(400, "invalid_payload")]
        monkeypatch.setenv("TEST_DESK_HOOK", slack.url("/desk"))
        monkeypatch.setenv("TEST_BROKEN_HOOK", slack.url("/broken"))
        subscribers = tmp_path / "subscribers.yaml"
        subscribers.write_text(SUBSCRIBERS)
        common = dict(
            ledger_url=str(tmp_path / "ledger.sqlite"),
            alerts_out=str(tmp_path / "alerts.jsonl"),
            subscribers_file=str(subscribers),
            dead_letter_out=str(tmp_path / "dead.jsonl"),
            console=False,
        )
        expected = (
            [(a.alert_id, "*", "jsonl", "sent") for a in alerts]
            + [(a.alert_id, "desk", "slack", "sent") for a in alerts]
            + [(a.alert_id, "broken", "slack", "dead") for a in alerts[:3]]
        )
        _run(alerts, expected, **common)
        # A second run over the same alerts (a restart replaying them) sends nothing.
        expected_again = (
            [(a.alert_id, "*", "jsonl", "skipped") for a in alerts]
            + [(a.alert_id, "desk", "slack", "skipped") for a in alerts]
            + [(a.alert_id, "broken", "slack", "skipped") for a in alerts[:3]]
        )
        _run(alerts, expected_again, **common)

    assert len(slack.bodies("/desk")) == 4
    assert len(slack.bodies("/broken")) == 3
    lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["alert_id"] for line in lines) == sorted(
        a.alert_id for a in alerts
    )
    dead = [json.loads(line) for line in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert sorted(d["alert_id"] for d in dead) == sorted(a.alert_id for a in alerts[:3])
    assert {d["reason"] for d in dead} == {"HTTP 400: invalid_payload"}
    assert all(
        "127.0.0.1" not in line for line in (tmp_path / "dead.jsonl").read_text().splitlines()
    )


def test_missing_secret_fails_at_construction(tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_DESK_HOOK", raising=False)
    monkeypatch.delenv("TEST_BROKEN_HOOK", raising=False)
    subscribers = tmp_path / "subscribers.yaml"
    subscribers.write_text(SUBSCRIBERS)
    with pytest.raises(ConfigError) as err:
        DeliverAlerts(ledger_url=str(tmp_path / "l.sqlite"), subscribers_file=str(subscribers))
    assert err.value.problems[0].startswith(
        f"{subscribers}:5: desk.slack.webhook_url_env: "
        "environment variable TEST_DESK_HOOK is not set"
    )
    assert len(err.value.problems) == 2


def test_delivery_record_is_frozen():
    delivery = Delivery("a", "desk", "slack", "sent")
    with pytest.raises(AttributeError):
        delivery.status = "dead"


class _Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def test_background_sweep_sends_a_due_digest_without_new_alerts(tmp_path, monkeypatch):
    subscribers = tmp_path / "subscribers.yaml"
    subscribers.write_text(
        "subscribers:\n  - name: desk\n    mode: digest\n    digest: hourly\n"
        "    channels:\n      slack: {webhook_url_env: TEST_DESK_HOOK}\n"
    )
    clock = _Clock(dt.datetime(2024, 10, 25, 10, 5, tzinfo=UTC))
    with SlackStandIn() as slack:
        monkeypatch.setenv("TEST_DESK_HOOK", slack.url("/desk"))
        transform = DeliverAlerts(
            ledger_url=str(tmp_path / "l.sqlite"),
            subscribers_file=str(subscribers),
            console=False,
            clock=clock,
            sweep_interval_seconds=0.1,
        )
        fn = transform._fn
        fn.setup()
        try:
            queued = list(fn.process(make_alert(1))) + list(fn.process(make_alert(2)))
            assert [(d.subscriber, d.status) for d in queued] == [("desk", "queued")] * 2
            time.sleep(0.3)
            assert slack.bodies("/desk") == []  # not due yet
            clock.now = dt.datetime(2024, 10, 25, 11, 0, 1, tzinfo=UTC)
            deadline = time.monotonic() + 5
            while not slack.bodies("/desk") and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            fn.teardown()
    [digest] = slack.bodies("/desk")
    assert digest["text"].startswith("Digest: 2 alerts")


def test_an_alert_that_cannot_be_rendered_does_not_stop_the_others(tmp_path, monkeypatch):
    subscribers = tmp_path / "subscribers.yaml"
    subscribers.write_text(
        "subscribers:\n  - name: desk\n    channels:\n"
        "      slack: {webhook_url_env: TEST_DESK_HOOK, max_messages_per_second: 100}\n"
    )
    # A valid alert (it survives the JSON round trip through the ledger; reading refuses
    # mistyped evidence now) whose rendering raises every time: a bug in a renderer.
    poison = make_alert(2)
    render = slack_module.alert_blocks

    def fragile_render(alert):
        if alert.alert_id == poison.alert_id:
            raise ValueError("could not convert string to float: 'high'")
        return render(alert)

    monkeypatch.setattr(slack_module, "alert_blocks", fragile_render)
    with SlackStandIn() as slack:
        monkeypatch.setenv("TEST_DESK_HOOK", slack.url("/desk"))
        loaded = load_subscribers(subscribers)
        dispatcher = Dispatcher(
            SqliteLedger(tmp_path / "l.sqlite"),
            subscribers=loaded,
            secrets=resolve_secrets(loaded),
            limiter=RateLimiter(),
            dead_letter_path=tmp_path / "dead.jsonl",
        )
        first = dispatcher.deliver([make_alert(1), poison, make_alert(3)])
        assert [d.status for d in first] == ["sent", "retry_later", "sent"]
        assert [d.status for d in dispatcher.retry_unconfirmed()] == ["retry_later"]
        assert [d.status for d in dispatcher.retry_unconfirmed()] == ["dead"]
        assert dispatcher.retry_unconfirmed() == []
        dispatcher.close()
    assert len(slack.bodies("/desk")) == 2
    assert "unexpected ValueError" in (tmp_path / "dead.jsonl").read_text()


def test_delivery_docstring_examples():
    for name in ("base", "wording", "digest", "routing", "slack", "email", "file_sink", "dispatch"):
        module = importlib.import_module(f"pipeline.deliver.{name}")
        result = doctest.testmod(module)
        assert result.failed == 0, name
    assert doctest.testmod(importlib.import_module("pipeline.deliver.digest")).attempted >= 3
