"""DeliverAlerts while running: a subscribers edit is picked up, a bad one is kept out."""

from __future__ import annotations

import logging
import os

from pipeline.deliver.transform import DeliverAlerts
from tests.deliver_support import SlackStandIn, make_alert

ONE = """\
subscribers:
  - name: desk
    channels:
      slack: {webhook_url_env: TEST_DESK_HOOK, max_messages_per_second: 100}
"""
TWO = (
    ONE
    + """\
  - name: night
    channels:
      slack: {webhook_url_env: TEST_NIGHT_HOOK, max_messages_per_second: 100}
"""
)


def edit(path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_a_subscriber_added_while_running_gets_the_next_alert(tmp_path, monkeypatch, caplog):
    subscribers = tmp_path / "subscribers.yaml"
    subscribers.write_text(ONE, encoding="utf-8")
    now = [0.0]
    with SlackStandIn() as slack:
        monkeypatch.setenv("TEST_DESK_HOOK", slack.url("/desk"))
        monkeypatch.setenv("TEST_NIGHT_HOOK", slack.url("/night"))
        monkeypatch.delenv("TEST_UNSET_HOOK", raising=False)
        fn = DeliverAlerts(
            ledger_url=str(tmp_path / "l.sqlite"),
            subscribers_file=str(subscribers),
            console=False,
            background_sweep=False,
            reload_interval_seconds=30,
        )._fn
        fn.setup()
        fn._watcher.clock = lambda: now[0]
        try:

            def sent(n: int) -> list[str]:
                return sorted(d.subscriber for d in fn.process(make_alert(n)) if d.subscriber)

            assert sent(1) == ["desk"]
            edit(subscribers, TWO)
            now[0] = 30.0
            assert sent(2) == ["desk", "night"]
            edit(subscribers, TWO.replace("TEST_NIGHT_HOOK", "TEST_UNSET_HOOK"))
            now[0] = 60.0
            with caplog.at_level(logging.WARNING, logger="storywatch.config"):
                assert sent(3) == ["desk", "night"]
        finally:
            fn.teardown()
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"{subscribers}:7:" in warning and "TEST_UNSET_HOOK" in warning
    assert len(slack.bodies("/night")) == 2
