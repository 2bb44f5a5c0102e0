"""How a live ``storywatch run`` stops on SIGINT (Ctrl-C): bounded, nothing lost, and a
second SIGINT stops it at once. Real subprocess runs against loopback servers that stall.

1. Started with SIGINT ignored (what a shell does to a background command, and what the
   delivery kill loop's final stop hung on for 90 s): SIGINT still stops it (exit 130).
2. A Slack webhook that answers after 2 s and an SMTP server that never answers, both
   with a send in progress at SIGINT: the run exits within the bound, the Slack send
   finishes and is confirmed first (so the next run does not send it again), the email
   stays unconfirmed in the ledger and the next run delivers it once.
3. Two SIGINTs while a stalled send holds a 600 s stop: the second ends the run at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline.ledger.sqlite import SqliteLedger
from tests.cli.test_run import FeedServer
from tests.deliver.crash_support import SUBSCRIBERS, Sinks, live_run, recorded_alerts, write_feeds
from tests.deliver.test_lanes import StalledSmtp
from tests.deliver_support import Reply, SlackStandIn

pytestmark = pytest.mark.slow

# Correctness bounds, not speed targets: a stop that hangs is what they catch.
EXIT_BOUND_SECONDS = 40
START_BOUND_SECONDS = 120


class Output:
    """The lines a process writes to its stdout pipe, read on a thread (never blocks)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, proc: subprocess.Popen, words: str, timeout_seconds: float) -> None:
        deadline = time.monotonic() + timeout_seconds
        while words not in self.text():
            assert proc.poll() is None, f"exited {proc.returncode}: {self.text()}"
            assert time.monotonic() < deadline, f"no {words!r} in {timeout_seconds} s"
            time.sleep(0.1)


def _wait_until(check, proc: subprocess.Popen, what: str, out: Output | None = None) -> None:
    deadline = time.monotonic() + START_BOUND_SECONDS
    while not check():
        assert proc.poll() is None, (
            f"storywatch run exited {proc.returncode} before {what}\n{out.text() if out else ''}"
        )
        assert time.monotonic() < deadline, f"no {what} within {START_BOUND_SECONDS} s"
        time.sleep(0.1)


def _exit_status(proc: subprocess.Popen) -> tuple[int | None, float]:
    """(exit status, seconds) of a stopping run; None if it outlived the bound (then killed)."""
    started = time.monotonic()
    try:
        proc.wait(timeout=EXIT_BOUND_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None, time.monotonic() - started
    return proc.returncode, time.monotonic() - started


def _stalled_subscribers(folder: Path, smtp_port: int) -> SimpleNamespace:
    """The kill tests' subscriber (desk: Slack and email), its SMTP timeout long enough that
    only the stop can end the send."""
    path = folder / "stalled-subscribers.yaml"
    text = SUBSCRIBERS.format(smtp_port=smtp_port).replace(
        "timeout_seconds: 5", "timeout_seconds: 120"
    )
    path.write_text(text)
    return SimpleNamespace(subscribers=path)


@pytest.fixture
def feed(tmp_path):
    server = FeedServer()  # one item, one alert
    write_feeds(tmp_path, server.url)
    yield server
    server.close()


def test_sigint_stops_a_run_started_with_sigint_ignored(tmp_path, feed):
    ignored = signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited by the child
    try:
        proc = live_run(
            tmp_path,
            SimpleNamespace(subscribers=_no_subscribers(tmp_path)),
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    finally:
        signal.signal(signal.SIGINT, ignored)
    out = Output(proc)
    try:
        out.wait_for(proc, "Ctrl-C stops", START_BOUND_SECONDS)
        proc.send_signal(signal.SIGINT)
        status, seconds = _exit_status(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert status == 130, f"SIGINT ignored: still running after {seconds:.0f} s\n{out.text()}"
    assert "Traceback" not in out.text()


@contextlib.contextmanager
def stalled_run(folder: Path, slack_reply: Reply, *, stop_timeout_seconds: float):
    """A live run whose email goes to an SMTP server that never answers and whose Slack
    messages get ``slack_reply``; yields (process, its output, the webhook, the SMTP server)
    and kills the process if a test left it running."""
    smtp = StalledSmtp()
    try:
        with SlackStandIn(slack_reply) as slack:
            proc = live_run(
                folder,
                _stalled_subscribers(folder, smtp.port),
                env={**_env(), "KILLS_DESK_HOOK": slack.url("/desk")},
                extra=(f"--stop-timeout-seconds={stop_timeout_seconds:g}",),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            try:
                yield proc, Output(proc), slack, smtp
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    finally:
        smtp.close()


def test_stop_finishes_the_send_in_progress_and_leaves_the_stalled_one_to_the_next_run(
    tmp_path, feed
):
    slow = Reply(200, "ok", delay_seconds=2)
    with stalled_run(tmp_path, slow, stop_timeout_seconds=10) as (proc, out, slack, smtp):
        # Both sends in progress: Slack's answer is 2 s away, SMTP's never comes.
        _wait_until(lambda: slack.requests and smtp.accepted, proc, "both sends", out)
        proc.send_signal(signal.SIGINT)
        status, seconds = _exit_status(proc)
        first_slack = len(slack.requests)
    assert status == 130 and seconds < EXIT_BOUND_SECONDS, out.text()
    assert "1 send still in progress cut off (desk/email)" in out.text(), out.text()
    [alert_id] = recorded_alerts(tmp_path / "ledger.sqlite")
    assert _states(tmp_path, alert_id) == {"slack": "sent", "email": "claimed"}

    with Sinks(tmp_path) as sinks:  # the next run: a working inbox, a new webhook
        proc = live_run(tmp_path, sinks, env=sinks.env(), stderr=subprocess.DEVNULL)
        try:
            _wait_until(sinks.email_ids, proc, "the email")
            time.sleep(2)  # a repeat would show up now
            proc.send_signal(signal.SIGINT)
            status, _ = _exit_status(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert status == 130
        assert len(sinks.email_ids()) == 1
        assert sinks.slack_ids() == [], "the Slack send confirmed at the stop was sent again"
    assert first_slack == 1
    assert _states(tmp_path, alert_id) == {"slack": "sent", "email": "sent"}


def test_a_second_sigint_stops_at_once(tmp_path, feed):
    stalled = Reply(200, "ok", delay_seconds=300)
    with stalled_run(tmp_path, stalled, stop_timeout_seconds=600) as (proc, out, _, smtp):
        _wait_until(lambda: smtp.accepted, proc, "the stalled email send", out)
        proc.send_signal(signal.SIGINT)
        out.wait_for(proc, "Ctrl-C again stops at once", EXIT_BOUND_SECONDS)
        proc.send_signal(signal.SIGINT)
        status, seconds = _exit_status(proc)
    assert status == 130, f"a second SIGINT did not stop the run in {seconds:.0f} s"
    assert "stopped at once" in out.text(), out.text()
    [alert_id] = recorded_alerts(tmp_path / "ledger.sqlite")
    assert _states(tmp_path, alert_id)["email"] != "sent"  # kept for the next run


def _states(folder: Path, alert_id: str) -> dict[str, str | None]:
    ledger = SqliteLedger(folder / "ledger.sqlite")
    try:
        return {ch: ledger.delivery_state(alert_id, "desk", ch) for ch in ("slack", "email")}
    finally:
        ledger.close()


def _no_subscribers(folder: Path) -> Path:
    path = folder / "no-subscribers.yaml"
    path.write_text("subscribers: []\n")
    return path


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("STORYWATCH_TEST_HOOK")}
