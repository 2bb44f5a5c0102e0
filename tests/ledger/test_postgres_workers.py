"""Many workers on one PostgreSQL ledger: every alert is sent exactly once.

Two ``storywatch deliver`` processes start at the same moment on the same alerts file and
the same PostgreSQL ledger (a real server, tests/ledger/postgres_server.py). Two Slack
webhook subscribers are served by a local stand-in that answers slowly, so the two
processes overlap for seconds and contend for the same deliveries; each process writes
its ``--alerts-out`` file (the JSONL sink is a ledger channel too). Every delivery id must
reach its webhook exactly once, every alert must be in exactly one of the two files, and
the ledger must hold every delivery as sent.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter

import pytest

from pipeline.alert_json import alert_to_json
from pipeline.deliver.slack import DELIVERY_ID_HEADER
from pipeline.ledger import open_ledger
from tests.cli_support import STORYWATCH
from tests.deliver_support import Reply, SlackStandIn, make_alert
from tests.paths import ROOT

pytestmark = pytest.mark.slow

SUBSCRIBERS = """\
subscribers:
  - name: desk
    channels:
      slack: {webhook_url_env: WORKERS_DESK_HOOK, max_messages_per_second: 100}
  - name: night
    storylines: ["*"]
    channels:
      slack: {webhook_url_env: WORKERS_NIGHT_HOOK, max_messages_per_second: 100}
"""
ALERTS = 120  # more than one batch (50) of the dispatcher: the two share the work
REPLY_DELAY_SECONDS = 0.05  # 240 sends take one process ~12 s: the two overlap


def test_two_deliver_processes_on_one_postgres_ledger_send_every_alert_once(tmp_path, postgres_url):
    alerts = [
        make_alert(n, storyline=("starlink-taiwan" if n % 3 == 0 else "musk-kremlin-contacts"))
        for n in range(1, ALERTS + 1)
    ]
    alerts_file = tmp_path / "alerts.jsonl"
    alerts_file.write_text("".join(json.dumps(alert_to_json(a)) + "\n" for a in alerts))
    subscribers = tmp_path / "subscribers.yaml"
    subscribers.write_text(SUBSCRIBERS)
    outs = [tmp_path / "out-1.jsonl", tmp_path / "out-2.jsonl"]
    with SlackStandIn(Reply(200, "ok", delay_seconds=REPLY_DELAY_SECONDS)) as slack:
        env = {
            **os.environ,
            "WORKERS_DESK_HOOK": slack.url("/desk"),
            "WORKERS_NIGHT_HOOK": slack.url("/night"),
        }
        procs = [
            subprocess.Popen(
                [
                    STORYWATCH,
                    "deliver",
                    "--alerts",
                    str(alerts_file),
                    "--subscribers",
                    str(subscribers),
                    "--ledger",
                    postgres_url,
                    "--alerts-out",
                    str(out),
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for out in outs
        ]
        results = [proc.communicate(timeout=120) for proc in procs]
        requests = list(slack.requests)

    password = postgres_url.split(":")[2].split("@")[0]
    sent = []
    for proc, (stdout, stderr) in zip(procs, results, strict=True):
        assert proc.returncode == 0, stderr
        assert password not in stdout + stderr
        sent.append(int(re.search(r"deliver: (\d+) sent", stdout)[1]))  # type: ignore[index]
    assert sum(sent) == ALERTS * 2 and min(sent) > 0, sent  # both worked, none twice
    for path, subscriber in (("/desk", "desk"), ("/night", "night")):
        keys = Counter(h[DELIVERY_ID_HEADER] for p, h, _, _ in requests if p == path)
        assert keys == Counter(f"{a.alert_id}:{subscriber}:slack" for a in alerts), subscriber
    written = [
        [json.loads(line)["alert_id"] for line in out.read_text().splitlines()]
        for out in outs
        if out.exists()
    ]
    assert sorted(sum(written, [])) == sorted(a.alert_id for a in alerts)  # each in one file
    ledger = open_ledger(postgres_url)
    assert ledger.counts() == {"sent": ALERTS * 3} and ledger.unconfirmed() == []
    ledger.close()
