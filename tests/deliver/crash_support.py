"""Local sinks and subprocess runs for the kill tests of delivery (issue 14, defects 1 and 7).

``Sinks``: a Slack webhook stand-in and an aiosmtpd inbox on 127.0.0.1 that record every
message with its delivery id (``X-Storywatch-Delivery-Id``, the email ``Message-ID``),
and a subscribers file naming them. ``live_run`` starts a real ``storywatch run`` on a
local feed; ``tally`` tells what each receiver got: lost ids and repeats per channel.
Used by tests/deliver/test_crash_recovery.py and bench/delivery_kills.py.
"""

from __future__ import annotations

import email
import email.policy
import os
import socket
import sqlite3
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from pipeline.deliver.slack import DELIVERY_ID_HEADER
from tests.deliver_support import SlackStandIn
from tests.paths import ROOT

STORYWATCH = str(ROOT / ".venv" / "bin" / "storywatch")

SUBSCRIBERS = """\
subscribers:
  - name: desk
    kinds: [new_development, burst, coverage]
    channels:
      slack: {{webhook_url_env: KILLS_DESK_HOOK, max_messages_per_second: 100}}
      email:
        to: [desk@example.org]
        from: storywatch@example.org
        smtp: {{host: 127.0.0.1, port: {smtp_port}, security: none, timeout_seconds: 5}}
"""


class _Inbox:
    def __init__(self) -> None:
        self.message_ids: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.message_ids.append(str(msg["Message-ID"]).strip())
        return "250 OK"


class Sinks:
    """A Slack webhook (path /desk) and an SMTP inbox on loopback, and their subscribers file."""

    def __init__(self, folder: Path) -> None:
        self.slack = SlackStandIn()
        # A client killed mid-request is the point of these tests, not a server error.
        self.slack.server.handle_error = lambda request, address: None
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.smtp_port = s.getsockname()[1]
        self.inbox = _Inbox()
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.smtp_port)
        self.subscribers = folder / "subscribers.yaml"
        self.subscribers.write_text(SUBSCRIBERS.format(smtp_port=self.smtp_port))

    def __enter__(self) -> Sinks:
        self.slack.__enter__()
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()
        self.slack.__exit__(*exc)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STORYWATCH_TEST_HOOK")}
        env["KILLS_DESK_HOOK"] = self.slack.url("/desk")
        env.update(extra)
        return env

    def slack_ids(self) -> list[str]:
        with self.slack._lock:
            return [h[DELIVERY_ID_HEADER] for p, h, _, _ in self.slack.requests if p == "/desk"]

    def email_ids(self) -> list[str]:
        return list(self.inbox.message_ids)


def tally(ids: list[str]) -> tuple[set[str], int]:
    """(distinct ids received, repeated requests) for one receiver."""
    counts = Counter(ids)
    return set(counts), sum(n - 1 for n in counts.values())


def recorded_alerts(ledger_path: Path) -> list[str]:
    """Alert ids in a SQLite ledger, read without the ledger's own locks (another process runs)."""
    if not ledger_path.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{ledger_path}?mode=ro", uri=True, timeout=5)
        try:
            return [row[0] for row in conn.execute("SELECT alert_id FROM alerts")]
        finally:
            conn.close()
    except sqlite3.Error:
        return []


def live_run(
    folder: Path,
    sinks: Sinks,
    *,
    env: dict[str, str],
    extra: tuple[str, ...] = (),
    stderr: Any = subprocess.PIPE,
    stdout: Any = subprocess.DEVNULL,
) -> subprocess.Popen:
    """``storywatch run`` on ``folder/feeds.yaml`` with the sinks as its subscribers
    (``stderr``: a pipe, or a file for long runs, so the log never fills a pipe; ``sinks``:
    anything with a ``subscribers`` path)."""
    return subprocess.Popen(
        [
            STORYWATCH,
            "run",
            f"--feeds_file={folder / 'feeds.yaml'}",
            f"--ledger={folder / 'ledger.sqlite'}",
            f"--alerts_out={folder / 'alerts.jsonl'}",
            f"--dead_letter_out={folder / 'dead.jsonl'}",
            f"--feed_health_out={folder / 'feed-health.jsonl'}",
            f"--subscribers={sinks.subscribers}",
            "--poll_interval_seconds=2",
            "--host_gap_seconds=0.5",
            "--max_article_age_hours=0",
            "--console_alerts=false",
            *extra,
        ],
        cwd=ROOT,
        env=env,
        stdout=stdout,
        stderr=stderr,
        text=True,
    )


def write_feeds(folder: Path, url: str) -> None:
    (folder / "feeds.yaml").write_text(
        "allow_private_addresses: true\n"
        f"feeds:\n  - url: {url}\n    id: test-wire\n    name: Test Wire\n"
        "    min_poll_seconds: 60\n    max_poll_seconds: 60\n"
    )
