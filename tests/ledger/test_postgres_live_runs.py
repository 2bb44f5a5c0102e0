"""Two live ``storywatch run`` processes on one PostgreSQL ledger send every alert once.

Both poll the same local feed (three real-style items on 127.0.0.1) for a fixed time
(``--run_duration_seconds``), each with its own Beam state, alerts file and dead-letter
file, and both deliver to the same Slack webhook stand-in. Each decides the same alerts;
the shared ledger (a real server, tests/ledger/postgres_server.py) lets only one record
each and claim each delivery, so every delivery id reaches the webhook exactly once and
every alert is in exactly one of the two ``--alerts_out`` files.
"""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from pipeline.deliver.slack import DELIVERY_ID_HEADER
from pipeline.ledger import open_ledger
from tests.cli.test_run import ITEMS, FeedServer, alerts_in, rss
from tests.cli_support import STORYWATCH
from tests.deliver_support import Reply, SlackStandIn
from tests.paths import ROOT

pytestmark = pytest.mark.slow

RUN_SECONDS = 45  # Beam start-up, one poll of the feed, delivery; then each run stops
SUBSCRIBERS = """\
subscribers:
  - name: desk
    storylines: ["*"]
    channels:
      slack: {webhook_url_env: LIVE_DESK_HOOK, max_messages_per_second: 100}
"""


def _start(tmp_path: Path, n: int, ledger_url: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [
            STORYWATCH,
            "run",
            f"--feeds_file={tmp_path / 'feeds.yaml'}",
            f"--subscribers={tmp_path / 'subscribers.yaml'}",
            f"--ledger={ledger_url}",
            f"--alerts_out={tmp_path / f'alerts-{n}.jsonl'}",
            f"--dead_letter_out={tmp_path / f'dead-{n}.jsonl'}",
            f"--feed_health_out={tmp_path / f'health-{n}.jsonl'}",
            f"--run_duration_seconds={RUN_SECONDS}",
            "--poll_interval_seconds=2",
            "--host_gap_seconds=0.5",
            "--max_article_age_hours=0",  # the items are dated 2024
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_live_runs_on_one_postgres_ledger_send_every_alert_once(tmp_path, postgres_url):
    server = FeedServer()
    server.body = rss("A", "B", "C")
    (tmp_path / "feeds.yaml").write_text(
        "allow_private_addresses: true\n"
        f"feeds:\n  - url: {server.url}\n    id: test-wire\n    name: Test Wire\n"
        "    min_poll_seconds: 60\n    max_poll_seconds: 60\n"
    )
    (tmp_path / "subscribers.yaml").write_text(SUBSCRIBERS)
    try:
        with SlackStandIn(Reply(200, "ok")) as slack:
            env = {**os.environ, "LIVE_DESK_HOOK": slack.url("/desk")}
            procs = [_start(tmp_path, n, postgres_url, env) for n in (1, 2)]
            try:
                results = [proc.communicate(timeout=RUN_SECONDS + 120) for proc in procs]
            finally:
                for proc in procs:
                    if proc.poll() is None:  # never leave a live pipeline behind
                        proc.kill()
                        proc.communicate()
            requests = list(slack.requests)
    finally:
        server.close()

    password = postgres_url.split(":")[2].split("@")[0]
    for proc, (stdout, stderr) in zip(procs, results, strict=True):
        assert proc.returncode == 0, stderr[-3000:]
        assert "Traceback" not in stderr and password not in stdout + stderr
    assert server.requests >= 2  # both polled
    written = [a["alert_id"] for n in (1, 2) for a in alerts_in(tmp_path / f"alerts-{n}.jsonl")]
    titles = {a["title"] for n in (1, 2) for a in alerts_in(tmp_path / f"alerts-{n}.jsonl")}
    assert {ITEMS[k][0] for k in "ABC"} <= titles, titles
    assert len(written) == len(set(written)), Counter(written).most_common(3)
    ledger = open_ledger(postgres_url)
    assert sorted(ledger.alert_ids()) == sorted(written)  # each alert decided once, in one file
    keys = Counter(h[DELIVERY_ID_HEADER] for p, h, _, _ in requests if p == "/desk")
    assert keys == Counter(f"{a}:desk:slack" for a in written)  # every alert sent, once
    assert ledger.unconfirmed() == [] and ledger.unrouted_alerts() == []
    ledger.close()
