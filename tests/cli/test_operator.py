"""Operator commands as subprocesses: ``mute``/``unmute``, ``subscribers test``, ``deliver --retry-dead``.

Every server is local: SlackStandIn (webhook), FakeSlackApi (bot) and aiosmtpd (email).
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from aiosmtpd.controller import Controller

from pipeline.ledger.sqlite import SqliteLedger
from tests.cli.test_deliver import STORYWATCH, _env, _write_alerts
from tests.deliver.test_email import Mailbox, _free_port
from tests.deliver_support import FakeSlackApi, Reply, SlackStandIn, make_alert
from tests.paths import ROOT, WATCHLISTS

pytestmark = pytest.mark.slow

HOOK = "/services/T0OPSSEC01/B0OPSSEC02/opsSecretToken789"


def _sw(*args, env=None):
    return subprocess.run(
        [STORYWATCH, *map(str, args)],
        cwd=ROOT,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _desk_only(tmp_path):
    path = tmp_path / "subs.yaml"
    path.write_text(
        "subscribers:\n  - name: desk\n    channels:\n"
        "      slack: {webhook_url_env: SW_DESK_HOOK, max_messages_per_second: 100}\n"
    )
    return path


def test_mute_for_a_while_list_unmute_and_delivery_honours_it(tmp_path):
    ledger = tmp_path / "ledger.sqlite"
    muted, kept = make_alert(1), make_alert(2, storyline="starlink-taiwan")
    alerts = tmp_path / "alerts.jsonl"
    _write_alerts(alerts, [muted, kept])
    subs = _desk_only(tmp_path)

    result = _sw("mute", muted.storyline_id, "--for", "24h", "--ledger", ledger)
    assert result.returncode == 0 and f"muted {muted.storyline_id} until " in result.stdout
    assert "note:" not in result.stdout  # a storyline of the shipped watchlists
    result = _sw("mute", muted.development_id, "--ledger", ledger)
    assert "until unmuted" in result.stdout
    assert f"note: {muted.development_id} is not a storyline id" in result.stdout
    listed = _sw("mute", "--list", "--ledger", ledger)
    assert listed.returncode == 0 and "mute: 2 active" in listed.stdout
    assert f"{muted.development_id}\tuntil unmuted" in listed.stdout

    with SlackStandIn() as slack:
        env = _env(SW_DESK_HOOK=slack.url(HOOK))
        args = ("deliver", "--alerts", alerts, "--subscribers", subs, "--ledger", ledger)
        first = _sw(*args, env=env)
        assert first.returncode == 0, first.stderr
        assert "1 sent" in first.stdout and "1 alert muted" in first.stdout
        [body] = slack.bodies(HOOK)
        assert "Development 2" in body["text"]

        assert _sw("unmute", muted.storyline_id, "--ledger", ledger).returncode == 0
        still = _sw(*args, env=env)  # the development is still muted
        assert len(slack.bodies(HOOK)) == 1 and "1 alert muted" in still.stdout
        assert _sw("unmute", muted.development_id, "--ledger", ledger).returncode == 0
        again = _sw(*args, env=env)
        assert again.returncode == 0 and "1 sent" in again.stdout
        assert len(slack.bodies(HOOK)) == 2 and "Development 1" in slack.bodies(HOOK)[1]["text"]

    gone = _sw("unmute", muted.storyline_id, "--ledger", ledger)
    assert gone.returncode == 1 and "was not muted" in gone.stdout
    bad = _sw("mute", "x", "--for", "soon", "--ledger", ledger)
    assert bad.returncode == 2 and "30m, 24h, 7d" in bad.stderr and "Traceback" not in bad.stderr


def test_subscribers_test_reports_each_channel_without_secrets(tmp_path):
    box = Mailbox(refuse={"gone@example.org"})
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    subs = tmp_path / "subs.yaml"
    subs.write_text(f"""\
subscribers:
  - name: desk
    channels:
      slack: {{webhook_url_env: SW_DESK_HOOK}}
      email:
        to: [analyst@example.org, gone@example.org]
        from: storywatch@example.org
        smtp: {{host: 127.0.0.1, port: {port}, security: none, timeout_seconds: 5}}
  - name: bot
    channels:
      slack: {{bot_token_env: SW_BOT_TOKEN, channel: C0TEST0001, api_url: "API_URL"}}
  - name: broken
    channels:
      slack: {{webhook_url_env: SW_BROKEN_HOOK}}
  - name: other
    channels:
      slack: {{webhook_url_env: SW_UNSET_HOOK}}
""")
    try:
        with SlackStandIn() as slack:
            api = FakeSlackApi(slack)
            subs.write_text(subs.read_text().replace("API_URL", api.url))
            broken = "/services/T0BRKSEC01/B0BRKSEC02/brokenSecret000"
            slack.script[broken] = [Reply(404, f"no_service for {broken}")]
            env = _env(
                SW_DESK_HOOK=slack.url(HOOK),
                SW_BOT_TOKEN="xoxb-000-secret-bot-token",
                SW_BROKEN_HOOK=slack.url(broken),
            )
            desk = _sw("subscribers", "test", "desk", "--subscribers", subs, env=env)
            bot = _sw("subscribers", "test", "bot", "--subscribers", subs, env=env)
            bad = _sw("subscribers", "test", "broken", "--subscribers", subs, env=env)
            unknown = _sw("subscribers", "test", "nobody", "--subscribers", subs, env=env)
            [hook_body] = slack.bodies(HOOK)
            posted = list(api.posted)
    finally:
        controller.stop()

    assert "desk/slack (webhook): sent" in desk.stdout
    assert (
        "desk/email (email to 2 addresses): sent, but refused for gone@example.org" in desk.stdout
    )
    assert "550" in desk.stdout and desk.returncode == 1
    assert "storywatch test message for subscriber desk" in hook_body["text"]
    assert [rcpts for rcpts, _ in box.messages] == [["analyst@example.org"]]
    assert bot.returncode == 0 and "bot/slack (bot): sent" in bot.stdout
    assert len(posted) == 1 and posted[0]["channel"] == "C0TEST0001"
    assert bad.returncode == 1 and "broken/slack (webhook): failed: HTTP 404" in bad.stdout
    assert unknown.returncode == 2 and "no subscriber named 'nobody'" in unknown.stderr
    everything = "".join(r.stdout + r.stderr for r in (desk, bot, bad, unknown))
    for secret in (
        "T0OPSSEC01",
        "opsSecretToken789",
        "secret-bot-token",
        "T0BRKSEC01",
        "B0BRKSEC02",
        "brokenSecret000",
    ):
        assert secret not in everything
    assert "Traceback" not in everything


def test_retry_dead_resends_once_the_webhook_is_fixed(tmp_path):
    ledger = tmp_path / "ledger.sqlite"
    alerts = tmp_path / "alerts.jsonl"
    alert = make_alert(1)
    _write_alerts(alerts, [alert])
    subs = _desk_only(tmp_path)
    with SlackStandIn() as slack:
        slack.script[HOOK] = [Reply(404, "no_service"), Reply(200, "ok")]
        env = _env(SW_DESK_HOOK=slack.url(HOOK))
        first = _sw(
            "deliver", "--alerts", alerts, "--subscribers", subs, "--ledger", ledger, env=env
        )
        assert first.returncode == 1 and "1 dead" in first.stdout
        retried = _sw("deliver", "--retry-dead", "--subscribers", subs, "--ledger", ledger, env=env)
        twice = _sw("deliver", "--retry-dead", "--subscribers", subs, "--ledger", ledger, env=env)
        bodies = slack.bodies(HOOK)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert "retry-dead: 1 dead deliveries queued again" in retried.stdout
    assert "1 sent" in retried.stdout
    assert "retry-dead: 0 dead deliveries queued again" in twice.stdout
    assert len(bodies) == 2 and "Development 1" in json.dumps(bodies[1], ensure_ascii=False)
    store = SqliteLedger(ledger)
    assert store.delivery_state(alert.alert_id, "desk", "slack") == "sent"
    store.close()
    none = _sw("deliver", "--ledger", ledger)
    assert none.returncode == 2 and "--retry-dead" in none.stderr


def test_validate_notes_a_placeholder_list_unsubscribe(tmp_path):
    watchlists = tmp_path / "watchlists"
    shutil.copytree(WATCHLISTS, watchlists, ignore=shutil.ignore_patterns("drafts"))
    email = (
        "subscribers:\n  - name: analyst\n    channels:\n      email:\n"
        "        to: [analyst@news.example.de]\n        from: storywatch@news.example.de\n"
        "        smtp: {host: smtp.news.example.de}\n"
    )
    (watchlists / "subscribers.yaml").write_text(email)
    result = _sw("validate", "--watchlists", watchlists)
    assert result.returncode == 0, result.stderr
    assert "note: " in result.stdout and "analyst.email: no unsubscribe set" in result.stdout
    (watchlists / "subscribers.yaml").write_text(
        "unsubscribe: https://news.example.de/unsubscribe\n" + email
    )
    result = _sw("validate", "--watchlists", watchlists)
    assert result.returncode == 0 and "unsubscribe" not in result.stdout


def test_validate_notes_a_webhook_url_that_cannot_work_without_showing_it(tmp_path):
    watchlists = tmp_path / "watchlists"
    shutil.copytree(WATCHLISTS, watchlists, ignore=shutil.ignore_patterns("drafts"))
    (watchlists / "subscribers.yaml").write_text(_desk_only(tmp_path).read_text())
    bad = "https://hooks.slack.com/services/T0VALSEC01/B0VALSEC02/with space"
    result = _sw("validate", "--watchlists", watchlists, env=_env(SW_DESK_HOOK=bad))
    assert result.returncode == 0, result.stderr
    assert "note: " in result.stdout and "SW_DESK_HOOK holds a space" in result.stdout
    assert "T0VALSEC01" not in result.stdout + result.stderr
