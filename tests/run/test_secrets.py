"""Secret references: environment variables locally, Secret Manager on Google Cloud.

Secret Manager cannot run here, so a fake client object stands in for it (the only mock).
"""

from __future__ import annotations

import pickle
from types import SimpleNamespace

import pytest
from google.api_core import exceptions as gexc

from pipeline.errors import UserError
from pipeline.run.secrets import (
    EnvSecrets,
    SecretEnv,
    SecretManagerSecrets,
    SecretResolver,
    check_reference,
    secret_manager_name,
)


class FakeSecretManagerClient:
    """Stands in for google.cloud.secretmanager.SecretManagerServiceClient."""

    def __init__(
        self, values: dict[str, bytes], *, fail: dict[str, Exception] | None = None
    ) -> None:
        self.values = values
        self.fail = fail or {}
        self.calls: list[str] = []

    def access_secret_version(self, *, name: str):
        self.calls.append(name)
        if name in self.fail:
            raise self.fail[name]
        if name not in self.values:
            raise gexc.NotFound(f"Secret [{name}] not found")
        return SimpleNamespace(payload=SimpleNamespace(data=self.values[name]))


HOOK = "https://hooks.slack.com/services/T000/B000/XXXXXXXX"


def test_secret_manager_names_default_to_latest_version():
    assert (
        secret_manager_name("projects/acme/secrets/slack")
        == "projects/acme/secrets/slack/versions/latest"
    )
    assert (
        secret_manager_name("projects/acme/secrets/slack/versions/3")
        == "projects/acme/secrets/slack/versions/3"
    )
    assert (
        secret_manager_name("projects/acme/locations/europe-west1/secrets/s")
        == "projects/acme/locations/europe-west1/secrets/s/versions/latest"
    )
    assert secret_manager_name("SLACK_WEBHOOK") is None
    assert secret_manager_name("projects/acme/slack") is None


def test_env_reference_resolves_from_environment_and_names_missing_variable():
    resolver = SecretResolver(env=EnvSecrets({"SLACK_WEBHOOK_DESK": HOOK}))
    assert resolver.resolve("SLACK_WEBHOOK_DESK") == HOOK
    assert resolver.resolve("env:SLACK_WEBHOOK_DESK") == HOOK
    with pytest.raises(UserError) as err:
        resolver.resolve("SMTP_PASSWORD")
    assert "SMTP_PASSWORD" in str(err.value) and "not set" in str(err.value)


def test_secret_manager_reference_uses_client_once_per_process():
    client = FakeSecretManagerClient({"projects/acme/secrets/slack/versions/latest": HOOK.encode()})
    locations = []
    sm = SecretManagerSecrets(client_factory=lambda loc: locations.append(loc) or client)
    resolver = SecretResolver(env=EnvSecrets({}), secret_manager=sm)
    assert resolver.resolve("projects/acme/secrets/slack") == HOOK
    assert resolver.resolve("projects/acme/secrets/slack") == HOOK
    assert client.calls == ["projects/acme/secrets/slack/versions/latest"]  # cached
    assert locations == [None]


def test_regional_secret_gets_a_client_for_its_location():
    client = FakeSecretManagerClient({"projects/acme/locations/eu/secrets/s/versions/2": b"v"})
    locations = []
    sm = SecretManagerSecrets(client_factory=lambda loc: locations.append(loc) or client)
    assert sm.get("projects/acme/locations/eu/secrets/s/versions/2") == "v"
    assert locations == ["eu"]


@pytest.mark.parametrize(
    "exc",
    [gexc.NotFound("nope"), gexc.PermissionDenied("denied"), gexc.FailedPrecondition("disabled")],
)
def test_permanent_secret_manager_errors_are_user_errors_naming_the_secret(exc):
    name = "projects/acme/secrets/slack/versions/latest"
    sm = SecretManagerSecrets(
        client_factory=lambda loc: FakeSecretManagerClient({}, fail={name: exc})
    )
    with pytest.raises(UserError) as err:
        sm.get("projects/acme/secrets/slack")
    assert name in str(err.value) and "secretAccessor" in str(err.value)


def test_transient_secret_manager_errors_propagate_for_retry():
    name = "projects/acme/secrets/slack/versions/latest"
    sm = SecretManagerSecrets(
        client_factory=lambda loc: FakeSecretManagerClient(
            {}, fail={name: gexc.ServiceUnavailable("down")}
        )
    )
    with pytest.raises(gexc.ServiceUnavailable):
        sm.get(name)


@pytest.mark.parametrize("ref", [HOOK, "xoxb-123-456-abcdef", "-----BEGIN PRIVATE KEY-----"])
def test_a_value_passed_as_reference_is_refused_without_echoing_it(ref):
    with pytest.raises(UserError) as err:
        check_reference(ref)
    assert ref not in str(err.value)
    with pytest.raises(UserError) as err:
        SecretEnv.parse(f"SLACK_WEBHOOK={ref}")
    assert ref not in str(err.value)


def test_secret_env_parses_pairs_and_reports_every_bad_one():
    env = SecretEnv.parse(
        " SLACK_WEBHOOK_DESK=projects/acme/secrets/slack , SMTP_PASSWORD=env:LOCAL_PW"
    )
    assert env.mapping == (
        ("SLACK_WEBHOOK_DESK", "projects/acme/secrets/slack"),
        ("SMTP_PASSWORD", "env:LOCAL_PW"),
    )
    assert SecretEnv.parse("").mapping == () and SecretEnv.parse(None).mapping == ()
    with pytest.raises(UserError) as err:
        SecretEnv.parse("NOEQUALS,9BAD=X,A=projects/p/x,B=Y,B=Z")
    problems = err.value.problems
    assert any("pair 1" in p for p in problems)
    assert any("pair 2" in p for p in problems)
    assert any(p.startswith("--secret_env A:") for p in problems)
    assert any("B: given more than once" in p for p in problems)


def test_install_sets_environment_from_secret_manager_and_is_picklable():
    client = FakeSecretManagerClient(
        {
            "projects/acme/secrets/slack/versions/latest": HOOK.encode(),
            "projects/acme/secrets/smtp/versions/4": b"pw",
        }
    )
    resolver = SecretResolver(
        env=EnvSecrets({}), secret_manager=SecretManagerSecrets(client_factory=lambda loc: client)
    )
    secret_env = pickle.loads(
        pickle.dumps(
            SecretEnv.parse(
                "SLACK_WEBHOOK_DESK=projects/acme/secrets/slack,SMTP_PASSWORD=projects/acme/secrets/smtp/versions/4"
            )
        )
    )
    environ: dict[str, str] = {}
    assert secret_env.install(environ=environ, resolver=resolver) == [
        "SLACK_WEBHOOK_DESK",
        "SMTP_PASSWORD",
    ]
    assert environ == {"SLACK_WEBHOOK_DESK": HOOK, "SMTP_PASSWORD": "pw"}
    assert HOOK not in repr(secret_env)


def test_install_sets_nothing_when_any_secret_is_missing():
    resolver = SecretResolver(env=EnvSecrets({"A": "1"}))
    environ: dict[str, str] = {}
    with pytest.raises(UserError) as err:
        SecretEnv.parse("X=A,Y=MISSING_ONE,Z=MISSING_TWO").install(
            environ=environ, resolver=resolver
        )
    assert environ == {}
    assert len(err.value.problems) == 2


def test_docstring_examples():
    import doctest

    import pipeline.run.secrets

    result = doctest.testmod(pipeline.run.secrets)
    assert result.failed == 0 and result.attempted >= 5


@pytest.mark.parametrize(
    "pair, ok",
    [
        ("SLACK_WEBHOOK_DESK=projects/acme-news/secrets/desk", True),
        ("SMTP_PASSWORD=projects/acme/locations/eu/secrets/smtp/versions/3", True),
        ("HOOK=env:LOCAL_HOOK", True),
        ("HOOK=LOCAL_HOOK", True),
        ("HOOK=https://hooks.slack.com/services/T/B/X", False),
        ("9HOOK=projects/acme/secrets/x", False),
        ("HOOK=projects/acme/x", False),
    ],
)
def test_secret_env_pair_pattern_agrees_with_the_parser(pair, ok):
    import re

    from pipeline.run.secrets import SECRET_ENV_PAIR

    assert bool(re.fullmatch(SECRET_ENV_PAIR, pair)) is ok
    if ok:
        assert SecretEnv.parse(pair).mapping
    else:
        with pytest.raises(UserError):
            SecretEnv.parse(pair)
