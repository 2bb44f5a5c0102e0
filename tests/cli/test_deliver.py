"""``storywatch deliver`` as a subprocess: summaries, user errors, and the SIGKILL crash test."""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import socket
import subprocess
import time
from collections import Counter

import pytest
from aiosmtpd.controller import Controller

from pipeline.alert_json import alert_to_json
from pipeline.deliver.slack import DELIVERY_ID_HEADER
from pipeline.ledger.sqlite import SqliteLedger
from tests.deliver_support import FakeSlackApi, Reply, SlackStandIn, make_alert
from tests.paths import ROOT

STORYWATCH = str(ROOT / ".venv" / "bin" / "storywatch")
pytestmark = pytest.mark.slow


def _write_alerts(path, alerts, extra_lines=()):
    with path.open("w") as fh:
        for alert in alerts:
            fh.write(json.dumps(alert_to_json(alert)) + "\n")
        for line in extra_lines:
            fh.write(line + "\n")


def _run(args, env, timeout=60):
    return subprocess.run(
        [STORYWATCH, "deliver", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRASH_")}
    env.update(extra)
    return env


SUBSCRIBERS = """\
subscribers:
  - name: desk
    channels:
      slack: {{webhook_url_env: CRASH_DESK_HOOK, max_messages_per_second: 100}}
  - name: night
    storylines: ["*"]
    kinds: [new_development, burst]
    channels:
      slack: {{webhook_url_env: CRASH_NIGHT_HOOK, max_messages_per_second: 100}}
  - name: analyst
    channels:
      email:
        to: [analyst@example.org]
        from: storywatch@example.org
        smtp: {{host: 127.0.0.1, port: {smtp_port}, security: none}}
"""

BOT_SUBSCRIBER = """\
  - name: bot
    channels:
      slack: {{bot_token_env: CRASH_BOT_TOKEN, channel: C0CRASH001, api_url: "{api_url}",
              max_messages_per_second: 100}}
"""


def test_missing_secret_and_bad_file_are_clear_errors(tmp_path):
    alerts = tmp_path / "alerts.jsonl"
    _write_alerts(alerts, [make_alert(1)])
    subscribers = tmp_path / "subscribers.yaml"
    subscribers.write_text(SUBSCRIBERS.format(smtp_port=2525))
    env = _env(CRASH_NIGHT_HOOK="https://hooks.slack.com/services/T000/B000/SECRETVALUE")
    result = _run(
        ["--alerts", alerts, "--subscribers", subscribers, "--ledger", tmp_path / "l.sqlite"], env
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{subscribers}:4: desk.slack.webhook_url_env: environment variable CRASH_DESK_HOOK is not set; "
        "export CRASH_DESK_HOOK=... before starting (the value is a secret and stays out of files)"
    ]
    assert "SECRETVALUE" not in result.stdout + result.stderr

    subscribers.write_text("subscribers:\n  - name: x\n    mode: sometimes\n    channels: {}\n")
    result = _run(
        ["--alerts", alerts, "--subscribers", subscribers, "--ledger", tmp_path / "l.sqlite"], env
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        f"{subscribers}:3: subscribers.0.mode: 'sometimes' is not one of 'immediate' or 'digest'; check the spelling"
        in result.stderr
    )
    assert (
        f"{subscribers}:4: subscribers.0.channels: no channel: add slack: or email:"
        in result.stderr
    )


def test_bad_lines_are_reported_and_the_rest_delivered(tmp_path):
    alerts = tmp_path / "alerts.jsonl"
    _write_alerts(
        alerts,
        [make_alert(1)],
        ['{"alert_id": "x"}', "not json", "", json.dumps(alert_to_json(make_alert(2)))],
    )
    out = tmp_path / "out.jsonl"
    result = _run(
        [
            "--alerts",
            alerts,
            "--ledger",
            tmp_path / "l.sqlite",
            "--alerts-out",
            out,
            "--subscribers",
            ROOT / "watchlists" / "subscribers.yaml",
        ],
        _env(),
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"{alerts}:2: skipped: missing field(s) kind, title, storyline_id",
        f"{alerts}:3: skipped: not valid JSON (Expecting value at column 1)",
    ]
    assert [json.loads(line)["alert_id"] for line in out.read_text().splitlines()] == [
        make_alert(1).alert_id,
        make_alert(2).alert_id,
    ]
    assert result.stdout.strip() == "deliver: 0 sent, 0 queued, 0 skipped, 0 retry_later, 0 dead"


def test_an_alert_with_a_bad_evidence_key_is_named_and_skipped_alone(tmp_path):
    bad = alert_to_json(make_alert(2))
    bad["evidence"][0]["colour"] = "red"
    mistyped = alert_to_json(make_alert(3))
    mistyped["score"] = "high"
    alerts = tmp_path / "alerts.jsonl"
    _write_alerts(
        alerts,
        [make_alert(1)],
        [json.dumps(bad), json.dumps(mistyped), json.dumps(alert_to_json(make_alert(4)))],
    )
    out = tmp_path / "out.jsonl"
    result = _run(
        [
            "--alerts",
            alerts,
            "--ledger",
            tmp_path / "l.sqlite",
            "--alerts-out",
            out,
            "--subscribers",
            ROOT / "watchlists" / "subscribers.yaml",
        ],
        _env(),
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"{alerts}:2: skipped: evidence[0] has unknown key 'colour'; evidence keys are ref, alias, field, start, "
        "end, text, kind, similarity: remove it or correct its spelling",
        f"{alerts}:3: skipped: field 'score' must be a number from 0 to 1, found text; write it like 0.8, "
        "or leave it out",
    ]
    assert [json.loads(line)["alert_id"] for line in out.read_text().splitlines()] == [
        make_alert(1).alert_id,
        make_alert(4).alert_id,
    ]


def test_folders_binary_and_unreadable_alert_files_are_clear_errors_before_anything_is_sent(
    tmp_path,
):
    alerts = tmp_path / "alerts.jsonl"
    _write_alerts(alerts, [make_alert(1)])
    folder = tmp_path / "folder"
    folder.mkdir()
    binary = tmp_path / "alerts.bin"
    binary.write_bytes(b"\x00\xff" * 500)
    base = [
        "--ledger",
        tmp_path / "l.sqlite",
        "--subscribers",
        ROOT / "watchlists" / "subscribers.yaml",
    ]
    cases = [
        (
            ["--alerts", folder],
            f"{folder}:1: is a folder, not an alerts file; pass the JSONL file a replay wrote "
            "(--alerts-out) or another alerts file",
        ),
        (
            ["--alerts", binary],
            f"{binary}:1: this is a binary file (it contains NUL bytes), not JSON lines; "
            "pass the .jsonl file",
        ),
        # These two were an IsADirectoryError traceback (or a dead letter lost later).
        (
            ["--alerts", alerts, "--alerts-out", folder],
            f"{folder}: is a folder; pass a file path to --alerts-out",
        ),
        (
            ["--alerts", alerts, "--dead-letter", folder],
            f"{folder}: is a folder; pass a file path to --dead-letter",
        ),
    ]
    if os.path.exists("/proc/self/mem"):  # opens, then every read fails with EIO
        cases.append(
            (
                ["--alerts", "/proc/self/mem"],
                "/proc/self/mem:1: cannot read input (Input/output error); check the file or the disk it is on",
            )
        )
    for args, message in cases:
        result = _run([*args, *base], _env())
        assert (result.returncode, result.stderr.splitlines()) == (2, [message]), args
    assert not SqliteLedger(tmp_path / "l.sqlite").has_alert(make_alert(1).alert_id)


def test_a_cloud_ledger_without_credentials_is_a_user_error(tmp_path):
    alerts = tmp_path / "alerts.jsonl"
    _write_alerts(alerts, [make_alert(1)])
    env = {
        k: v
        for k, v in _env(HOME=str(tmp_path), NO_GCE_CHECK="True").items()
        if k not in ("GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG")
    }
    result = _run(
        [
            "--alerts",
            alerts,
            "--ledger",
            "firestore://storywatch-test/ledger",
            "--subscribers",
            ROOT / "watchlists" / "subscribers.yaml",
        ],
        env,
    )
    assert (result.returncode, result.stderr.splitlines()) == (
        2,
        [
            "ledger 'firestore://storywatch-test/ledger': no Google Cloud credentials here; run `gcloud auth "
            "application-default login`, or use a local ledger (a file path)"
        ],
    )


def test_permanent_failure_exit_status_and_dead_letter(tmp_path):
    alerts = tmp_path / "alerts.jsonl"
    _write_alerts(alerts, [make_alert(1), make_alert(2)])
    subscribers = tmp_path / "subscribers.yaml"
    subscribers.write_text(
        "subscribers:\n  - name: desk\n    channels:\n      slack: {webhook_url_env: CRASH_DESK_HOOK}\n"
    )
    with SlackStandIn(Reply(403, "invalid_token")) as slack:
        env = _env(CRASH_DESK_HOOK=slack.url("/services/T1/B1/very-secret"))
        result = _run(
            ["--alerts", alerts, "--subscribers", subscribers, "--ledger", tmp_path / "l.sqlite"],
            env,
        )
    assert result.returncode == 1
    assert result.stdout.strip() == (
        f"deliver: 0 sent, 0 queued, 0 skipped, 0 retry_later, 2 dead "
        f"(dead letters: {tmp_path / 'delivery-dead-letters.jsonl'})"
    )
    dead = (tmp_path / "delivery-dead-letters.jsonl").read_text()
    assert len(dead.splitlines()) == 2 and "HTTP 403: invalid_token" in dead
    assert "very-secret" not in dead + result.stdout + result.stderr


class _Inbox:
    def __init__(self):
        self.message_ids: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.message_ids.append(msg["Message-ID"].strip())
        return "250 OK"


def test_sigkill_mid_burst_then_restart_delivers_every_alert_exactly_once(tmp_path):
    """Kill ``storywatch deliver`` while it is sending a burst; the restart finishes the job.

    The webhook stand-in answers slowly, so the kill lands mid-burst with a request in
    flight. It records every request with its idempotency key: the request that was in
    flight when the process died is the one that may arrive twice (at-least-once window:
    a webhook cannot be asked what it posted), and it carries the same key both times, so
    the receiver keeps one. Per webhook subscriber we assert: every alert accepted exactly
    once, in order, no loss, and at most that one repeated request. The bot subscriber
    (Web API with history) must get every alert exactly once with no repeat at all, and
    every follow-up in its storyline's thread; email exactly once by Message-ID.
    """
    alerts = [
        make_alert(n, storyline=("starlink-taiwan" if n % 3 == 0 else "musk-kremlin-contacts"))
        for n in range(1, 25)
    ]
    alerts_file = tmp_path / "alerts.jsonl"
    _write_alerts(alerts_file, alerts)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        smtp_port = s.getsockname()[1]
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    subscribers = tmp_path / "subscribers.yaml"
    ledger_path = tmp_path / "ledger.sqlite"
    out = tmp_path / "alerts-out.jsonl"
    args = [
        "--alerts",
        alerts_file,
        "--subscribers",
        subscribers,
        "--ledger",
        ledger_path,
        "--alerts-out",
        out,
    ]
    try:
        with SlackStandIn(Reply(200, "ok", delay_seconds=0.15)) as slack:
            api = FakeSlackApi(slack, delay_seconds=0.15)
            subscribers.write_text(
                SUBSCRIBERS.format(smtp_port=smtp_port) + BOT_SUBSCRIBER.format(api_url=api.url)
            )
            env = _env(
                CRASH_DESK_HOOK=slack.url("/desk"),
                CRASH_NIGHT_HOOK=slack.url("/night"),
                CRASH_BOT_TOKEN="xoxb-crash-test",
            )
            proc = subprocess.Popen(
                [STORYWATCH, "deliver", *map(str, args)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            deadline = time.monotonic() + 30
            while (
                len(slack.bodies("/desk")) < 8
                and time.monotonic() < deadline
                and proc.poll() is None
            ):
                time.sleep(0.01)
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=10)
            assert proc.returncode == -signal.SIGKILL
            before_restart = {
                path: [h[DELIVERY_ID_HEADER] for p, h, _, _ in list(slack.requests) if p == path]
                for path in ("/desk", "/night")
            }
            assert 8 <= len(before_restart["/desk"]) < len(alerts), "the kill must land mid-burst"
            assert len(api.posted) < len(alerts)

            result = _run(args, env)
            assert result.returncode == 0, result.stderr
            requests = list(slack.requests)
    finally:
        controller.stop()

    for path, subscriber in (("/desk", "desk"), ("/night", "night")):
        keys = [headers[DELIVERY_ID_HEADER] for p, headers, _, _ in requests if p == path]
        # What the receiver posts: the first request for each idempotency key.
        posted = list(dict.fromkeys(keys))
        assert posted == [f"{a.alert_id}:{subscriber}:slack" for a in alerts], (
            f"{subscriber}: lost or reordered"
        )
        # The only repeat allowed is the request in flight when the process was killed.
        repeats = [k for k, n in Counter(keys).items() if n > 1]
        assert repeats in ([], before_restart[path][-1:]), f"{subscriber}: repeated {repeats}"
        assert len(keys) == len(alerts) + len(repeats)

    posted = [m["metadata"]["event_payload"]["delivery_id"] for m in api.posted]
    assert posted == [f"{a.alert_id}:bot:slack" for a in alerts], (
        "bot: every alert exactly once, in order"
    )
    threads: dict[str, set] = {}
    for alert, message in zip(alerts, api.posted, strict=True):
        threads.setdefault(alert.storyline_id, set()).add(message["thread_ts"] or message["ts"])
    assert all(len(roots) == 1 for roots in threads.values()), threads

    assert sorted(inbox.message_ids) == sorted(set(inbox.message_ids)) and len(
        inbox.message_ids
    ) == len(alerts)
    assert [json.loads(line)["alert_id"] for line in out.read_text().splitlines()] == [
        a.alert_id for a in alerts
    ]
    ledger = SqliteLedger(ledger_path)
    assert ledger.unconfirmed() == []
    assert ledger.counts() == {"sent": len(alerts) * 5}  # 4 subscribers + the JSONL sink
    assert result.stdout.strip().startswith("deliver: ")
