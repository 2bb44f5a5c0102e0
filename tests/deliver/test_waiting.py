"""Issue 14, defect 10 (first bullet): a restart after an unreaped kill says what waits.

``storywatch deliver`` is killed with SIGKILL while a request is in flight and is not
reaped (a zombie: its pid still answers), so its claim looks alive and waits out the
lease. The restart used to print "0 retry_later" and exit 0. Now it names each waiting
delivery with the time its lease runs out and counts them in the summary.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import subprocess
import time

import pytest

from pipeline.alert_json import alert_to_json
from tests.deliver.crash_support import STORYWATCH, Sinks
from tests.deliver_support import Reply, make_alert
from tests.paths import ROOT

pytestmark = pytest.mark.slow


def test_a_restart_after_an_unreaped_kill_names_what_waits_and_until_when(tmp_path):
    alerts = [make_alert(n) for n in range(1, 4)]
    alerts_file = tmp_path / "alerts.jsonl"
    alerts_file.write_text("".join(json.dumps(alert_to_json(a)) + "\n" for a in alerts))
    with Sinks(tmp_path) as sinks:
        sinks.slack.default = Reply(200, "ok", delay_seconds=2)
        args = [
            STORYWATCH,
            "deliver",
            "--alerts",
            str(alerts_file),
            "--subscribers",
            str(sinks.subscribers),
            "--ledger",
            str(tmp_path / "ledger.sqlite"),
        ]
        proc = subprocess.Popen(args, cwd=ROOT, env=sinks.env(), stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while not sinks.slack_ids() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert sinks.slack_ids(), "the first request never arrived"
            proc.send_signal(signal.SIGKILL)  # and no wait(): the pid stays, unreaped
            time.sleep(0.3)
            before = dt.datetime.now(dt.UTC)
            sinks.slack.default = Reply(200, "ok")
            result = subprocess.run(
                args, cwd=ROOT, env=sinks.env(), capture_output=True, text=True, timeout=60
            )
            after = dt.datetime.now(dt.UTC)
        finally:
            proc.wait(timeout=10)
    summary = result.stdout.strip().splitlines()[-1]
    # At most one claim in flight per lane (Slack, email): those wait, the rest is sent.
    waiting = int(re.search(r"(\d+) waiting for another process's claim", summary).group(1))
    assert 1 <= waiting <= 2, summary
    assert f"{2 * len(alerts) - waiting} sent, 0 queued, 0 skipped" in summary, summary
    assert result.returncode == 0, result.stderr  # the holder may be sending them now
    lines = [x for x in result.stderr.splitlines() if x.startswith("waiting: ")]
    assert len(lines) == waiting
    [line] = [x for x in lines if f"alert {alerts[0].alert_id} to desk/slack" in x]
    until = dt.datetime.strptime(
        re.search(r"by (\S+ \S+) UTC at the latest", line).group(1), "%Y-%m-%d %H:%M:%S"
    ).replace(tzinfo=dt.UTC)
    # The lease (600 s) runs out at most that long after the restart looked (its "now",
    # between the two clock readings; a loaded machine takes seconds to start it).
    assert before < until <= after + dt.timedelta(seconds=601)
