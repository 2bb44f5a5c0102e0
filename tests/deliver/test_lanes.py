"""Issue 14, defect 3: one failing channel blocks no other; bounded per-channel queues.

A real SMTP server on loopback that accepts the connection and never answers (not even
its greeting) holds up the email lane only: the live ``DeliverAlerts`` step keeps posting
to a real local Slack webhook stand-in promptly, and a full email queue gives its claims
nothing instead of growing or blocking: the alerts it could not take stay unrouted in
the ledger, so a later sweep delivers them (nothing lost).
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from pipeline.alert_json import alert_to_json
from pipeline.deliver import lanes
from pipeline.deliver.base import RETRY_LATER, SENT
from pipeline.deliver.lanes import Job, Lane
from pipeline.deliver.transform import DeliverAlerts
from pipeline.ledger.sqlite import SqliteLedger
from tests.deliver_support import SlackStandIn, make_alert

SMTP_TIMEOUT_SECONDS = 20
RECORD_LEASE_SECONDS = 1.0


class StalledSmtp:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte (no greeting)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(conn)

    def close(self) -> None:
        self._stop.set()
        for conn in self.accepted:
            conn.close()
        self.sock.close()


SUBSCRIBERS = """\
subscribers:
  - name: desk
    channels:
      slack: {{webhook_url_env: LANES_DESK_HOOK, max_messages_per_second: 100}}
      email:
        to: [desk@example.org]
        from: storywatch@example.org
        smtp: {{host: 127.0.0.1, port: {port}, security: none, timeout_seconds: {timeout}}}
"""


@pytest.fixture
def stalled_smtp():
    server = StalledSmtp()
    yield server
    server.close()


def _record(tmp_path, alerts) -> None:
    """What DecideAlerts does before delivery, with a short record lease for the test."""
    ledger = SqliteLedger(tmp_path / "ledger.sqlite", lease_seconds=RECORD_LEASE_SECONDS)
    try:
        for alert in alerts:
            ledger.save_payload(alert.alert_id, alert_to_json(alert))
            ledger.record_alert(alert.alert_id, alert_to_json(alert))
    finally:
        ledger.close()


def _owed(tmp_path) -> tuple[set[str], set[tuple[str, str, str]]]:
    """(alerts a sweep would route, email deliveries a sweep would retry), once the record
    lease ran out."""
    time.sleep(RECORD_LEASE_SECONDS + 0.1)
    ledger = SqliteLedger(tmp_path / "ledger.sqlite")
    try:
        emails = {key for key in ledger.unconfirmed() if key[2] == "email"}
        return set(ledger.unrouted_alerts()), emails
    finally:
        ledger.close()


def _live_fn(tmp_path, monkeypatch, slack, port, **kwargs):
    subscribers = tmp_path / "subscribers.yaml"
    subscribers.write_text(SUBSCRIBERS.format(port=port, timeout=SMTP_TIMEOUT_SECONDS))
    monkeypatch.setenv("LANES_DESK_HOOK", slack.url("/desk"))
    transform = DeliverAlerts(
        ledger_url=str(tmp_path / "ledger.sqlite"),
        subscribers_file=str(subscribers),
        console=False,
        background_sweep=False,
        wait_for_channels=False,
        **kwargs,
    )
    return transform._fn


def test_a_stalled_smtp_server_does_not_delay_slack_alerts(tmp_path, monkeypatch, stalled_smtp):
    with SlackStandIn() as slack:
        fn = _live_fn(tmp_path, monkeypatch, slack, stalled_smtp.port)
        alerts = [make_alert(n) for n in range(1, 5)]
        _record(tmp_path, alerts)
        fn.setup()
        try:
            started = time.monotonic()
            for alert in alerts[:3]:
                list(fn.process(alert))
            handed_over = time.monotonic() - started
            while len(slack.bodies("/desk")) < 3 and time.monotonic() - started < 10:
                time.sleep(0.02)
            all_posted = time.monotonic() - started
            sent = [d for d in fn.process(alerts[3]) if d.channel == "slack"]
        finally:
            fn.teardown()
    # Before the fix each alert waited for the email of the one before: 3 x 20 s.
    assert handed_over < 3, f"process() held the pipeline for {handed_over:.1f} s"
    assert all_posted < 5, f"3 Slack alerts took {all_posted:.1f} s behind a stalled SMTP"
    assert len(slack.bodies("/desk")) >= 3
    assert {d.status for d in sent} <= {SENT}
    assert stalled_smtp.accepted, "the email lane did try the stalled server"
    # Nothing lost: the email in progress is an unconfirmed claim, and the alerts whose
    # email was still queued at teardown are unrouted, for the next sweep.
    unrouted, emails = _owed(tmp_path)
    assert emails == {(alerts[0].alert_id, "desk", "email")}
    assert unrouted == {a.alert_id for a in alerts[1:]}


def test_a_full_channel_queue_releases_its_claims_for_the_next_sweep(
    tmp_path, monkeypatch, stalled_smtp
):
    with SlackStandIn() as slack:
        fn = _live_fn(tmp_path, monkeypatch, slack, stalled_smtp.port)
        alerts = [make_alert(n) for n in range(1, 7)]
        _record(tmp_path, alerts)
        fn.setup()
        fn._dispatcher.max_queued_per_channel = 2
        try:
            results = []
            for alert in alerts:
                results += fn.process(alert)
                time.sleep(0.05)  # the email lane takes its first job before the next
        finally:
            fn.teardown()
    email_later = [d for d in results if d.channel == "email" and d.status == RETRY_LATER]
    # One email in progress (stalled), two queued, the other three given back.
    assert len(email_later) == 3, [(d.channel, d.status) for d in results]
    assert all("queue of desk is full" in d.reason for d in email_later)
    # All six emails are still owed (none dropped): one claim in flight, five alerts unrouted.
    unrouted, emails = _owed(tmp_path)
    assert emails == {(alerts[0].alert_id, "desk", "email")}
    assert unrouted == {a.alert_id for a in alerts[1:]}


def test_a_lane_is_bounded_keeps_order_and_cancels_what_is_queued_on_close():
    gate = threading.Event()
    done: list[int] = []
    lane = Lane("desk/slack", max_queued=2)

    def job(n):
        def run():
            gate.wait(5)
            done.append(n)
            return [n]

        return Job(run, [(f"a{n}", "desk", "slack")])

    first = lane.submit(job(1), block=False)
    deadline = time.monotonic() + 5
    while lane.waiting() and time.monotonic() < deadline:
        time.sleep(0.01)  # job 1 is running now
    assert lane.submit(job(2), block=False) is not None
    assert lane.submit(job(3), block=False) is not None
    assert lane.submit(job(4), block=False) is None  # bound: 2 queued
    cancelled: list[Job] = []
    closer = threading.Thread(
        target=lane.close, kwargs={"join_timeout_seconds": 5, "on_cancel": cancelled.append}
    )
    closer.start()
    time.sleep(0.1)
    gate.set()
    closer.join(10)
    assert first.result(timeout=1) == [1] and done == [1]
    assert [j.keys[0][0] for j in cancelled] == ["a2", "a3"]
    assert lane.submit(job(5), block=False) is None  # closed


@pytest.fixture
def process_stop():
    yield lanes.stop_all
    lanes._STOPPING.clear()  # a stop is for the whole process; the next tests run lanes again


def test_stop_all_cancels_queued_jobs_and_waits_only_for_the_job_in_progress(process_stop):
    # storywatch run on Ctrl-C: no lane starts another send, the one in progress gets the
    # timeout; queued jobs claimed nothing, so the ledger keeps them for the next run.
    release = threading.Event()
    lane = Lane("stop-test/email", max_queued=4)
    in_progress = Job(lambda: release.wait(30), [("a1", "desk", "email")])
    queued = Job(lambda: "sent", [("a2", "desk", "email")])
    lane.submit(in_progress, block=False)
    lane.submit(queued, block=False)
    deadline = time.monotonic() + 5
    while not in_progress.future.running() and time.monotonic() < deadline:
        time.sleep(0.01)
    # Still in progress when the time was up (other tests' lanes may be too).
    assert "stop-test/email" in process_stop(timeout_seconds=0.2)
    assert queued.future.cancelled()
    later = Job(lambda: "sent", [("a3", "desk", "email")])
    assert lane.submit(later, block=False) is not None
    release.set()
    assert in_progress.future.result(timeout=5) is True  # let finish, not cut off
    deadline = time.monotonic() + 5
    while not later.future.done() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert later.future.cancelled()
    assert "stop-test/email" not in process_stop(timeout_seconds=5)
