"""What only the PostgreSQL ledger does, on a real server: URLs, errors without the
password, reconnecting, workers creating the tables together, commands on it (``mute``,
``deliver --retry-dead``).

The contract it shares with the other backends is tests/ledger/test_contract.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from typing import Any

import psycopg
import pytest

from pipeline.alert_json import alert_to_json
from pipeline.errors import UserError
from pipeline.ledger import open_ledger
from pipeline.ledger.postgres import PostgresLedger
from pipeline.ledger.protocol import CLAIMED, SENT
from tests.cli_support import STORYWATCH, run_storywatch
from tests.deliver_support import Reply, SlackStandIn, make_alert
from tests.ledger.postgres_server import SUPERUSER, PostgresServer, _free_port
from tests.paths import ROOT

KEY = ("a1", "desk", "slack")


def test_both_schemes_and_the_unix_socket_open_the_same_ledger(postgres_server, postgres_url):
    first = open_ledger(postgres_url, lease_seconds=5.0)
    assert isinstance(first, PostgresLedger) and first.lease_seconds == 5.0
    assert first.record_alert("a1", {"title": "Кремль"})
    name = postgres_url.rsplit("/", 1)[1]
    for url in (
        postgres_url.replace("postgresql://", "postgres://"),
        postgres_server.socket_url(name),
    ):
        other = open_ledger(url)
        assert isinstance(other, PostgresLedger) and other.alert_ids() == ["a1"]
        assert postgres_server.password not in other.url
        other.close()
    first.close()


def _user_error(url: str, **kwargs: Any) -> str:
    with pytest.raises(UserError) as err:
        open_ledger(url, **kwargs)
    return str(err.value)


def test_connection_failures_are_user_errors_that_name_the_ledger_without_its_password(
    postgres_server: PostgresServer, postgres_url: str
):
    password = postgres_server.password
    port = postgres_server.port
    wrong = postgres_server.url("postgres", password="hunter2-wrong")
    message = _user_error(wrong)
    assert "password authentication failed" in message
    assert f"'postgresql://{SUPERUSER}:***@127.0.0.1:{port}/postgres'" in message
    assert "hunter2-wrong" not in message and "check the URL" in message

    message = _user_error(postgres_server.url("no_such_db"))
    assert 'database "no_such_db" does not exist' in message and password not in message

    closed_port = _free_port()
    message = _user_error(
        f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{closed_port}/x", timeout_seconds=2
    )
    assert "cannot connect" in message and password not in message and ":***@" in message

    for malformed in (
        f"postgresql://{SUPERUSER}:{password}@127.0.0.1:notaport/x",
        f"postgresql://{SUPERUSER}:{password}@[::1/x",
        f"postgresql://127.0.0.1:{port}/x?password={password}&sslmode=bogus",
    ):
        message = _user_error(malformed)
        assert message.startswith("ledger 'postgresql://") and password not in message, message


def test_a_password_echoed_by_the_server_is_removed_from_the_message(postgres_url):
    ledger = PostgresLedger(postgres_url)
    secret = postgres_url.split(":")[2].split("@")[0]
    with pytest.raises(UserError) as err:
        ledger._run(lambda c: c.execute(f'SELECT * FROM "{secret}"'))
    assert secret not in str(err.value) and '"***" does not exist' in str(err.value)
    ledger.close()


def test_a_dropped_connection_is_reopened(postgres_server, postgres_url):
    ledger = PostgresLedger(postgres_url)
    assert ledger.record_alert("a1", {"n": 1})
    name = postgres_url.rsplit("/", 1)[1]
    assert postgres_server.terminate_connections(name) == 1  # as a restart or failover does
    assert ledger.claim(*KEY)  # a transaction on the new connection
    assert postgres_server.terminate_connections(name) == 1
    ledger.mark_sent(*KEY)
    assert ledger.delivery_state(*KEY) == SENT and ledger.alert_ids() == ["a1"]
    ledger.close()


class _LostReply(PostgresLedger):
    """Runs each write once, then drops the connection before the caller hears back, as a
    server failover right after a commit does; ``_run`` must then run it again."""

    def __init__(self, url: str, server: PostgresServer) -> None:
        self.server, self.lose = server, False
        super().__init__(url)

    def _run(self, fn, **kwargs):  # type: ignore[no-untyped-def]
        if self.lose:
            self.lose = False
            fn(self._conn)  # committed...
            with pytest.raises(psycopg.errors.AdminShutdown):  # ...and no reply
                self._conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return super()._run(fn, **kwargs)


def test_a_claim_or_an_alert_committed_before_the_connection_dropped_is_still_ours(
    postgres_server, postgres_url
):
    ledger = _LostReply(postgres_url, postgres_server)
    ledger.lose = True
    assert ledger.record_alert("a1", {"n": 1}) is True  # not "recorded before": it was us
    ledger.lose = True
    assert ledger.claim(*KEY) is True  # not "another sender owns it": it was us
    assert ledger.attempts(*KEY) == 1 and ledger.counts() == {CLAIMED: 1}
    assert ledger.record_alert("a1", {"n": 1}) is False  # a real second record still is
    ledger.close()


def test_workers_opening_a_new_database_together_create_the_tables_once(postgres_url):
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []
    opened: list[PostgresLedger] = []

    def open_one() -> None:
        barrier.wait()
        try:
            opened.append(PostgresLedger(postgres_url))
        except BaseException as exc:  # noqa: BLE001 (collected for the assertion)
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(opened) == 6
    with psycopg.connect(postgres_url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'storywatch%'"
        ).fetchone()
    assert tables == (6,)
    for ledger in opened:
        ledger.close()


@pytest.mark.slow
def test_mute_commands_on_a_postgres_ledger_and_a_wrong_password(postgres_server, postgres_url):
    muted = run_storywatch(
        "mute", "musk-kremlin-contacts", "--for", "24h", "--ledger", postgres_url
    )
    assert muted.returncode == 0, muted.stderr
    listed = run_storywatch(
        "mute", "--list", "--ledger", postgres_url.replace("postgresql", "postgres")
    )
    assert listed.returncode == 0 and "musk-kremlin-contacts\tuntil " in listed.stdout
    wrong = postgres_url.replace(postgres_server.password, "hunter2-wrong")
    failed = run_storywatch("unmute", "musk-kremlin-contacts", "--ledger", wrong)
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    assert "password authentication failed" in failed.stderr and ":***@" in failed.stderr
    assert "hunter2-wrong" not in failed.stderr + failed.stdout


def test_keepalives_notice_a_vanished_server_and_the_urls_own_values_win(postgres_url):
    ledger = PostgresLedger(postgres_url, connect_timeout_seconds=4)
    params = ledger._conn.info.get_parameters()
    assert (params["keepalives"], params["keepalives_idle"], params["connect_timeout"]) == (
        "1",
        "30",
        "4",
    )
    ledger.close()
    ledger = PostgresLedger(postgres_url + "?keepalives_idle=5&connect_timeout=2")
    params = ledger._conn.info.get_parameters()
    assert (params["keepalives_idle"], params["connect_timeout"]) == ("5", "2")
    ledger.close()


@pytest.mark.slow
def test_retry_dead_on_a_postgres_ledger_resends_once_the_webhook_is_fixed(tmp_path, postgres_url):
    hook = "/services/T0PGSEC01/B0PGSEC02/pgSecretToken789"
    alert = make_alert(1)
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_text(json.dumps(alert_to_json(alert)) + "\n")
    subs = tmp_path / "subs.yaml"
    subs.write_text(
        "subscribers:\n  - name: desk\n    channels:\n"
        "      slack: {webhook_url_env: PG_DESK_HOOK, max_messages_per_second: 100}\n"
    )
    with SlackStandIn() as slack:
        slack.script[hook] = [Reply(404, "no_service"), Reply(200, "ok")]
        env = {**os.environ, "PG_DESK_HOOK": slack.url(hook)}

        def deliver(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run(
                [
                    STORYWATCH,
                    "deliver",
                    *args,
                    "--subscribers",
                    str(subs),
                    "--ledger",
                    postgres_url,
                ],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )

        first = deliver("--alerts", str(alerts))
        assert first.returncode == 1 and "1 dead" in first.stdout, first.stderr
        retried = deliver("--retry-dead")
        twice = deliver("--retry-dead")
        bodies = slack.bodies(hook)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert (
        "retry-dead: 1 dead deliveries queued again" in retried.stdout
        and "1 sent" in retried.stdout
    )
    assert "retry-dead: 0 dead deliveries queued again" in twice.stdout
    assert len(bodies) == 2
    ledger = open_ledger(postgres_url)
    assert ledger.delivery_state(alert.alert_id, "desk", "slack") == SENT
    assert ledger.dead_deliveries() == []
    ledger.close()
