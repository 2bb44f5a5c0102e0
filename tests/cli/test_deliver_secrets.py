"""Issue 14 defect 6: a webhook's secret (its URL, path, path segments) in no output, file or ledger.

A local webhook that echoes the request path in its 4xx and 5xx bodies (plainly, JSON-escaped
and percent-encoded), run through ``storywatch deliver`` as a subprocess with logging on; then
stderr, stdout, the dead-letter file and the ledger's bytes are searched for every form.
"""

from __future__ import annotations

import json
import subprocess
from urllib.parse import quote

import pytest

from tests.cli.test_deliver import STORYWATCH, _env, _write_alerts
from tests.deliver_support import Reply, SlackStandIn, make_alert
from tests.paths import ROOT

pytestmark = pytest.mark.slow

DEAD_PATH = "/services/T0DEADSEC1/B0DEADSEC2/deadSecretToken123"
RETRY_PATH = "/services/T0RETRYSC1/B0RETRYSC2/retrySecretToken456"

SUBSCRIBERS = """\
subscribers:
  - name: gone
    channels:
      slack: {webhook_url_env: SW_GONE_HOOK, max_messages_per_second: 100}
  - name: flaky
    channels:
      slack: {webhook_url_env: SW_FLAKY_HOOK, max_messages_per_second: 100}
"""


def _echo(status: int, path: str) -> Reply:
    body = (
        json.dumps({"error": f"no_service {path}", "path": path})
        + f" raw={path} q={quote(path, safe='')}"
    )
    return Reply(status, body.replace("/", "\\/", 2))


def _forms(path: str) -> list[str]:
    return [path, path.lstrip("/"), *path.split("/")[2:], quote(path, safe="")]


def _run(args, env):
    return subprocess.run(
        [STORYWATCH, "-v", "deliver", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _deliver_one_alert(tmp_path, env):
    """``storywatch -v deliver`` of one alert to the two webhook subscribers."""
    alerts = tmp_path / "alerts.jsonl"
    _write_alerts(alerts, [make_alert(1)])
    (tmp_path / "subs.yaml").write_text(SUBSCRIBERS)
    args = ["--alerts", alerts, "--subscribers", tmp_path / "subs.yaml"]
    return _run([*args, "--ledger", tmp_path / "ledger.sqlite"], env)


def test_an_echoed_webhook_path_reaches_no_output_dead_letter_or_ledger(tmp_path):
    with SlackStandIn() as slack:
        slack.script[DEAD_PATH] = [_echo(404, DEAD_PATH)]
        slack.script[RETRY_PATH] = [_echo(500, RETRY_PATH)]
        env = _env(SW_GONE_HOOK=slack.url(DEAD_PATH), SW_FLAKY_HOOK=slack.url(RETRY_PATH))
        result = _deliver_one_alert(tmp_path, env)
        assert slack.bodies(DEAD_PATH) and slack.bodies(RETRY_PATH)  # the echo was returned
    assert result.returncode == 1, result.stderr
    assert "1 retry_later" in result.stdout and "1 dead" in result.stdout
    dead = (tmp_path / "delivery-dead-letters.jsonl").read_text()
    assert "HTTP 404" in dead and "***" in dead
    places = {"stdout": result.stdout, "stderr": result.stderr, "dead letters": dead}
    for ledger_file in tmp_path.glob("ledger.sqlite*"):
        places[ledger_file.name] = ledger_file.read_bytes().decode("latin-1")
    # The 500's reason is kept in the ledger (redacted): the ledger was searched.
    assert any("HTTP 500" in v for k, v in places.items() if k.startswith("ledger"))
    for path in (DEAD_PATH, RETRY_PATH):
        for form in _forms(path):
            for where, text in places.items():
                assert form not in text, f"{form!r} leaked into {where}"


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("https://hooks.slack.com/services/T0SPACE01/B0SPACE02/has space", "space"),
        ("ftp://hooks.slack.com/services/T0SPACE01/B0SPACE02/schemeSecret9", "webhook URL"),
        ("https://hooks.slack.com:99999/services/T0SPACE01/B0SPACE02/portSecret9", "valid URL"),
        ("https://hooks.slack.com/services/T0SPACE01/B0SPACE02/sécretSecret9", "non-ASCII"),
    ],
)
def test_a_bad_webhook_url_is_refused_at_startup_without_echoing_it(tmp_path, value, words):
    env = _env(SW_GONE_HOOK=value, SW_FLAKY_HOOK="https://hooks.slack.com/services/T0/B0/okSecret1")
    result = _deliver_one_alert(tmp_path, env)
    assert result.returncode == 2
    assert "SW_GONE_HOOK" in result.stderr and words in result.stderr
    assert "subs.yaml:4:" in result.stderr
    for form in ("T0SPACE01", "B0SPACE02", "has space", "Secret9", "okSecret1"):
        assert form not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
