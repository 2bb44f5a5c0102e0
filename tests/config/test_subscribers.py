"""Subscribers config: the shipped file and its examples, FILE:LINE errors, secrets from the environment."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from pipeline.config.subscribers import (
    load_subscribers,
    missing_secrets,
    resolve_secrets,
    unsubscribe_notes,
)
from pipeline.errors import ConfigError
from tests.paths import ROOT, WATCHLISTS

SHIPPED = WATCHLISTS / "subscribers.yaml"
STORYLINES = {
    "musk-kremlin-contacts",
    "starlink-taiwan",
    "starlink-ukraine-war",
    "musk-government-role",
}


DUPLICATE_AND_UNKNOWN = """\
subscribers:
  - name: desk
    storylines: [musk-kremlin-contacts, starlink-mars]
    channels:
      slack: {webhook_url_env: DESK_HOOK}
  - name: desk
    channels:
      slack: {webhook_url_env: OTHER}
"""


def _examples(tmp_path):
    """The commented examples of the shipped file, uncommented, as their own file."""
    text = SHIPPED.read_text()
    lines = [line[4:] for line in text.splitlines() if line.startswith("#   ")]
    start = next(i for i, line in enumerate(lines) if line.startswith("- name:"))
    path = tmp_path / "examples.yaml"
    path.write_text("subscribers:\n" + "\n".join("  " + line for line in lines[start:]) + "\n")
    return path


def test_shipped_file_needs_no_secrets():
    subscribers = load_subscribers(SHIPPED, storyline_ids=STORYLINES)
    assert subscribers.subscribers == ()
    assert resolve_secrets(subscribers, environ={}).values == {}


def test_shipped_examples_are_valid(tmp_path):
    examples = load_subscribers(_examples(tmp_path), storyline_ids=STORYLINES)
    by_name = {s.name: s for s in examples.subscribers}
    assert set(by_name) == {"news-desk", "kremlin-analyst", "ukraine-desk"}
    assert (
        by_name["kremlin-analyst"].mode == "digest"
        and by_name["kremlin-analyst"].channels.email.smtp.effective_port == 587
    )
    assert by_name["ukraine-desk"].channels.slack.threaded
    assert by_name["news-desk"].wants("starlink-taiwan", "burst", 0.6)
    assert not by_name["news-desk"].wants("starlink-taiwan", "coverage", 0.6)
    assert not by_name["news-desk"].wants("starlink-taiwan", "burst", 0.4)


def test_errors_are_located_and_explained(tmp_path):
    path = tmp_path / "subscribers.yaml"
    path.write_text(
        DUPLICATE_AND_UNKNOWN
        + """\
  - name: ana
    timezone: Europe/Berln
    quiet_hours: {start: "22:00", end: "7:00"}
    kinds: [everything]
    channels:
      email: {to: [not an address], from: me@example.org, smtp: {host: localhost, username_env: U}}
  - name: bot
    mode: digest
    channels:
      slack: {bot_token_env: TOKEN, webhook_url_env: HOOK, webhook_url: "https://hooks.slack.com/x"}
"""
    )
    with pytest.raises(ConfigError) as err:
        load_subscribers(path, storyline_ids=STORYLINES)
    problems = err.value.problems
    assert all(re.match(rf"{re.escape(str(path))}:\d+: ", p) for p in problems)
    text = "\n".join(problems)
    assert f"{path}:10: subscribers.2.timezone: unknown time zone 'Europe/Berln'" in text
    assert f"{path}:11: subscribers.2.quiet_hours.end: expected a 24-hour local time" in text
    assert (
        f"{path}:12: subscribers.2.kinds.0: 'everything' is not one of 'new_development', "
        "'burst' or 'coverage'; check the spelling" in text
    )
    assert (
        f"{path}:14: subscribers.2.channels.email.to: invalid email address 'not an address'"
        in text
    )
    assert (
        f"{path}:14: subscribers.2.channels.email.smtp: give both username_env and password_env"
        in text
    )
    assert (
        f"{path}:18: subscribers.3.channels.slack.webhook_url: unknown field 'webhook_url'" in text
    )
    assert "hooks.slack.com" not in text  # a pasted secret is never echoed

    # Once the schema is right, cross-checks follow: duplicate names, unknown storylines.
    path.write_text(DUPLICATE_AND_UNKNOWN)
    with pytest.raises(ConfigError) as err:
        load_subscribers(path, storyline_ids=STORYLINES)
    assert err.value.problems[0].startswith(f"{path}:3: unknown storyline 'starlink-mars'; known: ")
    assert err.value.problems[1].startswith(
        f"{path}:6: duplicate subscriber name 'desk' (first at {path}:2)"
    )


def test_digest_and_slack_rules(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "subscribers:\n  - name: a\n    mode: digest\n    channels:\n"
        "      slack: {bot_token_env: TOKEN}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_subscribers(path)
    assert err.value.problems == [
        f"{path}:5: subscribers.0.channels.slack: a bot token needs a channel: "
        "add channel: C0123456789 (the channel ID)"
    ]


def test_secrets_come_from_the_environment_and_never_show(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("""\
subscribers:
  - name: desk
    channels:
      slack: {webhook_url_env: DESK_HOOK}
      email:
        to: [a@example.org]
        from: me@example.org
        smtp: {host: smtp.example.org, username_env: SMTP_USER, password_env: SMTP_PASSWORD}
""")
    subscribers = load_subscribers(path)
    environ = {"DESK_HOOK": "https://hooks.slack.com/services/T1/B1/XYZ", "SMTP_USER": "bot"}
    with pytest.raises(ConfigError) as err:
        resolve_secrets(subscribers, environ)
    assert err.value.problems == [
        f"{path}:8: desk.email.smtp.password_env: environment variable SMTP_PASSWORD is not set; "
        "export SMTP_PASSWORD=... before starting (the value is a secret and stays out of files)"
    ]
    assert missing_secrets(subscribers, environ) == [
        f"{path}:8: desk.email.smtp.password_env: environment variable SMTP_PASSWORD is not set (needed to deliver)"
    ]

    secrets = resolve_secrets(subscribers, {**environ, "SMTP_PASSWORD": "pw"})
    assert secrets.get("DESK_HOOK") == environ["DESK_HOOK"] and secrets.get("SMTP_PASSWORD") == "pw"
    assert "XYZ" not in repr(secrets) and "pw'" not in repr(secrets)
    assert (
        resolve_secrets(subscribers, environ, deferred={"SMTP_PASSWORD"}).get("SMTP_USER") == "bot"
    )

    with pytest.raises(ConfigError) as err:
        resolve_secrets(
            subscribers, {**environ, "SMTP_PASSWORD": "pw", "DESK_HOOK": "xoxb-not-a-url"}
        )
    assert err.value.problems == [
        f"{path}:4: desk.slack: environment variable DESK_HOOK does not hold a webhook "
        "URL (expected https://hooks.slack.com/services/...) (its value is not shown: it is a secret)"
    ]
    assert "xoxb" not in err.value.problems[0]


def test_validate_checks_subscribers_against_the_watchlists(tmp_path):
    watchlists = tmp_path / "watchlists"
    shutil.copytree(WATCHLISTS, watchlists, ignore=shutil.ignore_patterns("drafts"))
    (watchlists / "subscribers.yaml").write_text(
        "subscribers:\n  - name: desk\n    storylines: [starlink-moon]\n"
        "    channels:\n      slack: {webhook_url_env: SW_TEST_UNSET_HOOK}\n"
    )
    cmd = [str(ROOT / ".venv" / "bin" / "storywatch"), "validate", "--watchlists", str(watchlists)]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"{watchlists / 'subscribers.yaml'}:3: unknown storyline 'starlink-moon'"
    )

    (watchlists / "subscribers.yaml").write_text(
        "subscribers:\n  - name: desk\n    storylines: [starlink-taiwan]\n"
        "    channels:\n      slack: {webhook_url_env: SW_TEST_UNSET_HOOK}\n"
    )
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"{watchlists / 'subscribers.yaml'}: ok: 1 subscribers" in result.stdout
    assert "environment variable SW_TEST_UNSET_HOOK is not set (needed to deliver)" in result.stdout


def test_values_of_the_wrong_type_are_explained_not_library_worded(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("""\
subscribers:
  - name: desk
    storylines: musk-kremlin-contacts
    kinds: [burst]
    mode: [digest]
    digest: daily
    digest_at: 8:30
    quiet_hours: 22
    channels:
      slack:
        bot_token_env: TOKEN
        channel: [C0123456789]
      email: {to: a@example.org, from: [me@example.org], smtp: {host: h, username_env: [hunter2], password_env: P}}
""")
    with pytest.raises(ConfigError) as err:
        load_subscribers(path, storyline_ids=STORYLINES)
    assert err.value.problems == [
        f"{path}:3: subscribers.0.storylines: expected a list, found the text 'musk-kremlin-contacts'; "
        "write it as a list: storylines: [musk-kremlin-contacts]",
        f"{path}:5: subscribers.0.mode: expected one of 'immediate' or 'digest', found a list ['digest']; "
        "write it without brackets: mode: digest",
        f'{path}:7: subscribers.0.digest_at: write the time in quotes: digest_at: "08:30" '
        "(unquoted, YAML reads 8:30 as the number 510)",
        f"{path}:8: subscribers.0.quiet_hours: expected a mapping with the fields start, end, found the number 22; "
        "write the fields indented under it, e.g. quiet_hours: {start: ...}",
        f"{path}:12: subscribers.0.channels.slack.channel: expected a single text value (channel ID, e.g. "
        "C0123456789 (bot token only)), found a list ['C0123456789']; write it without brackets: "
        "channel: C0123456789",
        f"{path}:13: subscribers.0.channels.email.to: expected a list, found the text 'a@example.org'; "
        "write it as a list: to: [a@example.org]",
        f"{path}:13: subscribers.0.channels.email.from: expected a single text value, found a list "
        "['me@example.org']; write it without brackets: from: me@example.org",
        f"{path}:13: subscribers.0.channels.email.smtp.username_env: expected a single text value, found a list; "
        "give one value, not a list",
    ]


def test_ids_of_the_wrong_form_are_explained(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "subscribers:\n  - name: news desk\n    channels:\n"
        "      slack: {bot_token_env: xoxb-1-2, channel: general}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_subscribers(path)
    assert err.value.problems == [
        f"{path}:2: subscribers.0.name: 'news desk' is not valid here: expected letters, digits, '.', '_' and '-' "
        "only, starting with a letter or digit (no spaces)",
        f"{path}:4: subscribers.0.channels.slack.bot_token_env: this value is not valid here: expected the NAME of "
        "an environment variable (letters, digits, _), e.g. STORYWATCH_DESK_WEBHOOK; the secret itself goes in "
        "that variable",
        f"{path}:4: subscribers.0.channels.slack.channel: 'general' is not valid here: expected a Slack channel ID "
        "like C0123456789 (from the channel's 'Copy link'), not the channel name",
    ]


def test_a_missing_or_non_pem_ca_file_is_a_startup_error(tmp_path):
    # It used to pass validation and fail at send time as "SMTP error: FileNotFoundError",
    # retried as if the server were down.
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate\n")
    path = tmp_path / "s.yaml"
    for ca_file, problem in (
        (
            tmp_path / "missing.pem",
            "file not found; give the PEM file of the private CA, "
            "or remove ca_file to trust the system CAs",
        ),
        (not_pem, "not a PEM certificate file (NO_CERTIFICATE_OR_CRL_FOUND)"),
    ):
        path.write_text(
            "subscribers:\n  - name: desk\n    channels:\n      email:\n        to: [a@example.org]\n"
            f"        from: me@example.org\n        smtp: {{host: localhost, ca_file: '{ca_file}'}}\n"
        )
        with pytest.raises(ConfigError) as err:
            load_subscribers(path)
        assert err.value.problems == [f"{path}:7: ca_file {ca_file}: {problem}"]


def test_a_slack_api_url_that_is_not_a_url_is_refused_at_startup(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "subscribers:\n  - name: bot\n    channels:\n      slack: {bot_token_env: TOKEN, "
        "channel: C0123456789, api_url: slack.com/api}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_subscribers(path)
    assert err.value.problems == [
        f"{path}:4: subscribers.0.channels.slack.api_url: 'slack.com/api' is not an "
        "http(s) URL; write it like https://slack.com/api/ or remove api_url"
    ]


UNSUBSCRIBE = """\
{top}subscribers:
  - name: own
    channels:
      email:
        to: [a@desk.example.net]
        from: storywatch@desk.example.net
        unsubscribe: {own}
        smtp: {{host: smtp.desk.example.net}}
  - name: inherits
    channels:
      email:
        to: [b@desk.example.net]
        from: storywatch@desk.example.net
        smtp: {{host: smtp.desk.example.net}}
"""


def test_unsubscribe_is_set_per_file_or_channel_and_placeholders_are_noted(tmp_path):
    """Issue 14: List-Unsubscribe defaulted to a mailbox nobody reads, and validate said ok."""
    path = tmp_path / "subscribers.yaml"
    path.write_text(
        UNSUBSCRIBE.format(top="unsubscribe: leave@news.example.de\n", own="https://n.de/u")
    )
    subs = load_subscribers(path)
    assert [s.channels.email.unsubscribe for s in subs.subscribers] == [
        "https://n.de/u",
        "mailto:leave@news.example.de",
    ]
    assert unsubscribe_notes(subs) == []

    path.write_text(UNSUBSCRIBE.format(top="", own="mailto:unsubscribe@example.org"))
    notes = unsubscribe_notes(load_subscribers(path))
    assert len(notes) == 2
    assert notes[0].startswith(f"{path}:7: own.email: unsubscribe mailto:unsubscribe@example.org")
    assert "placeholder" in notes[0] and "example.org is reserved" in notes[0]
    assert notes[1].startswith(f"{path}:11: inherits.email: no unsubscribe set")
    assert "mailto:storywatch@desk.example.net" in notes[1]

    path.write_text(UNSUBSCRIBE.format(top="unsubscribe: ftp://x\n", own="not a target"))
    with pytest.raises(ConfigError) as err:
        load_subscribers(path)
    assert len(err.value.problems) == 2
    assert all(
        "https: URL (one-click), a mailto: URL or a mailbox" in p for p in err.value.problems
    )
