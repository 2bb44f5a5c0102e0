"""Issue 14, defect 1: a live ``run`` killed between deciding an alert and claiming its
deliveries used to lose the alert for good; the restart now delivers it.

A real ``storywatch run`` polls a local feed and delivers to a local Slack webhook and an
aiosmtpd inbox. The test hook ``STORYWATCH_TEST_HOOK_PAUSE_AFTER_RECORD_SECONDS`` holds
the process just after ``record_alert`` (no other way lands a kill in that window every
time: recording and claiming are microseconds apart in one fused stage). The test waits
until the ledger holds the alert, sends SIGKILL, checks nothing was delivered, restarts
without the hook and waits for the alert on both channels. Before the fix the restart
re-fetched the article as a copy of a known development and never delivered it.
"""

from __future__ import annotations

import json
import signal
import time

import pytest

from tests.cli.test_run import ITEMS, FeedServer
from tests.deliver.crash_support import Sinks, live_run, recorded_alerts, tally, write_feeds

pytestmark = pytest.mark.slow


def _stop(proc) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    except Exception:
        proc.kill()
        _, err = proc.communicate()
    return err


def test_a_live_run_killed_right_after_recording_an_alert_delivers_it_after_restart(tmp_path):
    server = FeedServer()  # serves item A
    write_feeds(tmp_path, server.url)
    ledger = tmp_path / "ledger.sqlite"
    try:
        with Sinks(tmp_path) as sinks:
            proc = live_run(
                tmp_path,
                sinks,
                env=sinks.env(STORYWATCH_TEST_HOOK_PAUSE_AFTER_RECORD_SECONDS="60"),
            )
            try:
                deadline = time.monotonic() + 120
                while not recorded_alerts(ledger) and time.monotonic() < deadline:
                    assert proc.poll() is None, proc.communicate()[1]
                    time.sleep(0.2)
                [alert_id] = recorded_alerts(ledger)
                proc.send_signal(signal.SIGKILL)
                proc.communicate(timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
            assert sinks.slack_ids() == [] and sinks.email_ids() == []

            proc = live_run(tmp_path, sinks, env=sinks.env())
            try:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and not (sinks.slack_ids() and sinks.email_ids()):
                    assert proc.poll() is None, proc.communicate()[1]
                    time.sleep(0.2)
                time.sleep(2)  # a repeat would show up now
            finally:
                err = _stop(proc)
            slack, email = sinks.slack_ids(), sinks.email_ids()
    finally:
        server.close()
    assert slack == [f"{alert_id}:desk:slack"], err[-3000:]
    assert len(email) == 1 and tally(email)[1] == 0
    alerts = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert [a["alert_id"] for a in alerts] == [alert_id]
    assert alerts[0]["title"] == ITEMS["A"][0]
