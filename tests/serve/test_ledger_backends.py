"""The status page on every ledger backend, read through the ``Ledger`` protocol.

SQLite on a file, PostgreSQL on a real server the tests start (``tests/ledger``'s
fixture, one database per test) and Firestore on ``FakeFirestore`` (the only mock: Google
Cloud) hold the same alerts, deliveries and mutes, with no alerts file: everything the
page shows comes from the ledger. The pages must be the same on all three. Then the
page's bounded, incremental view (``LedgerView``), the page's own retry on PostgreSQL, and
ledgers that cannot be read: an unreachable PostgreSQL (a user error naming it without its
password), Firestore without credentials, a server lost after start, a read failing half-way.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from pipeline.errors import UserError
from pipeline.ledger.firestore import FirestoreLedger
from pipeline.ledger.postgres import PostgresLedger
from pipeline.ledger.protocol import Ledger
from pipeline.ledger.sqlite import SqliteLedger
from pipeline.serve.app import create_app
from pipeline.serve.ledger_view import LedgerView
from tests.cli_support import STORYWATCH, run_storywatch
from tests.ledger.firestore_fake import FakeFirestore, fake_transaction_runner
from tests.ledger.postgres_server import PostgresServer, find_bin_dir
from tests.paths import ROOT
from tests.serve.support import NOW, config, fill_ledger, make_alert

BACKENDS = ("sqlite", "postgresql", "firestore")
ALERTS = [make_alert(1), make_alert(2), make_alert(3, storyline="starlink-taiwan")]
STATES = {
    (ALERTS[0].alert_id, "desk", "slack"): ("sent", ""),
    (ALERTS[1].alert_id, "desk", "slack"): ("dead", "Slack answered 404 no_service"),
    (ALERTS[2].alert_id, "desk", "email"): ("retrying", "SMTP 451 try later"),
    (ALERTS[2].alert_id, "analyst", "email"): ("queued", ""),
}
PAGES = ("/", "/storylines/musk-kremlin-contacts", "/storylines/starlink-taiwan", "/deliveries")


def _backend(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    """ServeConfig arguments for one backend, and ``make()`` opening a ledger on it."""
    if name == "sqlite":
        path = tmp_path / "ledger.sqlite"
        return {"ledger": str(path), "make": lambda: SqliteLedger(path)}
    if name == "postgresql":
        url = request.getfixturevalue("postgres_url")
        return {"ledger": url, "make": lambda: PostgresLedger(url)}
    db = FakeFirestore()

    def opener(url: str, **_: Any) -> Ledger:
        return FirestoreLedger(db, prefix="sw", transaction_runner=fake_transaction_runner)

    return {
        "ledger": "firestore://test-project/sw",
        "ledger_opener": opener,
        "make": lambda: opener(""),
    }


def _filled(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    backend = _backend(name, tmp_path, request)
    ledger = backend["make"]()
    try:
        fill_ledger(ledger, ALERTS, STATES)
        ledger.add_mute("musk-kremlin-contacts", NOW + dt.timedelta(days=1))
        ledger.add_mute(ALERTS[2].development_id, None)
        ledger.add_mute("starlink-taiwan", NOW - dt.timedelta(hours=1))  # ran out
    finally:
        ledger.close()
    return backend


def _client(tmp_path: Path, backend: dict[str, Any], **kwargs: Any) -> TestClient:
    settings = {k: v for k, v in backend.items() if k != "make"}
    return TestClient(create_app(config(tmp_path, alerts=None, **settings, **kwargs)))


def _comparable(html: str) -> str:
    """A page without what differs by backend on purpose: the ledger's name in the footer,
    the form's CSRF token and the time a row was written (the test's wall clock)."""
    html = re.sub(r'<footer class="sources">.*?</footer>', "", html, flags=re.S)
    html = re.sub(r'name="csrf_token" value="[^"]*"', "", html)
    return re.sub(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d UTC</td>", "<td>TIME</td>", html)


def test_every_backend_shows_the_same_storylines_deliveries_and_mutes(tmp_path, request):
    pages: dict[str, dict[str, str]] = {}
    for name in BACKENDS:
        folder = tmp_path / name
        folder.mkdir()
        client = _client(folder, _filled(name, folder, request))
        pages[name] = {}
        for path in PAGES:
            answer = client.get(path)
            assert answer.status_code == 200, (name, path)
            pages[name][path] = _comparable(answer.text)
    index = pages["sqlite"]["/"]
    assert "muted until 2024-10-27 12:00 UTC" in index  # the storyline's mute, with its end
    assert index.count("pill muted") == 1  # starlink-taiwan's mute ran out
    assert "1 sent" in index and "1 dead" in index and "1 retrying" in index
    kremlin = pages["sqlite"]["/storylines/musk-kremlin-contacts"]
    assert "desk/slack: sent" in kremlin and "desk/slack: dead" in kremlin
    taiwan = pages["sqlite"]["/storylines/starlink-taiwan"]
    assert "desk/email: retrying" in taiwan and "analyst/email: queued" in taiwan
    assert '· <span class="pill muted">muted</span>' in taiwan  # the development's mute
    deliveries = pages["sqlite"]["/deliveries"]
    for count in ("1 sent", "1 queued", "1 retrying", "1 dead"):
        assert f"{count}</span>" in deliveries, count
    assert "Slack answered 404 no_service" in deliveries and deliveries.count(">Retry<") == 1
    for name in ("postgresql", "firestore"):
        for path in PAGES:
            assert pages[name][path] == pages["sqlite"][path], (name, path)


def test_retry_on_a_postgresql_ledger_shows_the_new_state_at_once(tmp_path, request):
    backend = _filled("postgresql", tmp_path, request)
    client = _client(tmp_path, backend, ledger_refresh_seconds=3600.0)
    page = client.get("/deliveries").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post(
        "/deliveries/retry",
        data={
            "alert_id": ALERTS[1].alert_id,
            "subscriber": "desk",
            "channel": "slack",
            "csrf_token": token,
        },
        follow_redirects=True,
    )
    assert "queued for desk/slack" in answer.text
    assert "No dead deliveries" in answer.text and "2 queued</span>" in answer.text
    ledger = backend["make"]()
    assert ledger.delivery_state(ALERTS[1].alert_id, "desk", "slack") == "queued"
    ledger.close()


@pytest.mark.parametrize("name", BACKENDS)
def test_the_page_follows_a_running_pipeline_row_by_row(name, tmp_path, request):
    backend = _filled(name, tmp_path, request)
    client = _client(tmp_path, backend, ledger_refresh_seconds=0.0)
    assert "desk/slack: dead" in client.get("/storylines/musk-kremlin-contacts").text
    ledger = backend["make"]()
    try:
        assert ledger.requeue_dead(ALERTS[1].alert_id, "desk", "slack")  # a delivery moves on
        page = client.get("/storylines/musk-kremlin-contacts").text
        assert "desk/slack: queued" in page and "desk/slack: dead" not in page
        later = make_alert(4)  # a new development, recorded with its delivery
        fill_ledger(ledger, [later], {(later.alert_id, "desk", "slack"): ("sent", "")})
        ledger.remove_mute("musk-kremlin-contacts")
    finally:
        ledger.close()
    page = client.get("/storylines/musk-kremlin-contacts").text
    assert "Development 4" in page and page.count("desk/slack: sent") == 2
    assert "muted until" not in client.get("/").text


class _Clock:
    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds


@pytest.mark.parametrize("name", BACKENDS)
def test_the_view_is_bounded_and_follows_the_ledger_row_by_row(name, tmp_path, request):
    backend = _backend(name, tmp_path, request)
    ledger = backend["make"]()
    alerts = [make_alert(n) for n in range(1, 8)]
    fill_ledger(ledger, alerts, {(a.alert_id, "desk", "slack"): ("sent", "") for a in alerts})
    clock = _Clock()
    rows_read: list[int] = []  # rows each unfiltered page read returned
    opened: list[Ledger] = []

    def opener(url: str, **kwargs: Any) -> Ledger:
        made = backend["make"]()
        for method in ("recent_alerts", "recent_deliveries"):
            inner = getattr(made, method)

            def counted(*, _inner: Callable[..., Any] = inner, **kw: Any) -> Any:
                rows = _inner(**kw)
                if kw.get("state") is None:
                    rows_read.append(len(rows))
                return rows

            setattr(made, method, counted)
        opened.append(made)
        return made

    view = LedgerView(
        backend["ledger"],
        refresh_seconds=10.0,
        max_alerts=5,
        max_deliveries=20,
        page_size=2,
        skew_seconds=0.0,
        clock=lambda: NOW,
        monotonic=clock,
        opener=opener,
    )
    first = view.check()
    assert [a.alert_id for a in first.alerts] == [a.alert_id for a in reversed(alerts)][:5]
    assert first.truncated and len(first.deliveries) == 7 and first.counts == {"sent": 7}
    assert view.snapshot() is first  # nothing due: nothing read
    ledger.claim("late", "desk", "slack")
    ledger.mark_dead("late", "desk", "slack", "HTTP 410")
    ledger.add_mute("musk-kremlin-contacts", None)
    clock.seconds += 10.0 if name != "sqlite" else 0.0  # a file ledger: its file changed
    rows_read.clear()
    second = view.snapshot()
    assert second is not first and second.deliveries_version == first.deliveries_version + 1
    assert second.deliveries[0].alert_id == "late" and len(second.deliveries) == 8
    assert [d.alert_id for d in second.dead] == ["late"]
    assert second.active_mutes(NOW) == {"musk-kremlin-contacts": None}
    assert second.truncated and second.alerts == first.alerts
    # incremental: pages down to the newest row held, not the whole ledger again
    assert sum(rows_read) <= 2 + 4, rows_read
    assert len(opened) == 1
    ledger.close()
    view.close()


def test_an_unreachable_postgresql_ledger_is_a_user_error_without_its_password(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    url = f"postgresql://sw:pw-do-not-show@127.0.0.1:{port}/ledger"
    done = run_storywatch(
        "serve",
        f"--ledger={url}",
        f"--alerts={tmp_path / 'none.jsonl'}",
        f"--feeds-file={tmp_path / 'none.yaml'}",
        "--port=0",
        timeout_seconds=60,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert f"ledger 'postgresql://sw:***@127.0.0.1:{port}/ledger'" in output, output
    assert "cannot connect to the PostgreSQL ledger" in output
    assert "pw-do-not-show" not in output and "Traceback" not in output


def test_a_firestore_ledger_without_credentials_is_a_user_error(tmp_path):
    env = {
        k: v
        for k, v in (os.environ | {"HOME": str(tmp_path), "NO_GCE_CHECK": "True"}).items()
        if k not in ("GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG")
    }
    done = subprocess.run(
        [STORYWATCH, "serve", "--ledger=firestore://storywatch-test/sw", "--port=0"]
        + [f"--{f}={tmp_path / 'none'}" for f in ("alerts", "feeds-file")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
    )
    assert (done.returncode, done.stderr.splitlines()) == (
        2,
        [
            "ledger 'firestore://storywatch-test/sw': no Google Cloud credentials here; run "
            "`gcloud auth application-default login`, or use a local ledger (a file path)"
        ],
    )


def test_a_postgresql_ledger_lost_after_start_keeps_the_page_with_the_error(tmp_path):
    bin_dir = find_bin_dir()
    assert bin_dir is not None, "no PostgreSQL server binaries: run tools/install_test_system.sh"
    server = PostgresServer(bin_dir).start()
    try:
        url = server.database()
        ledger = PostgresLedger(url)
        fill_ledger(ledger, ALERTS, STATES)
        ledger.close()
        client = TestClient(
            create_app(config(tmp_path, alerts=None, ledger=url, ledger_refresh_seconds=0.0))
        )
        assert "desk/slack: dead" in client.get("/storylines/musk-kremlin-contacts").text
        server.stop()  # the database server goes away under the running page
        page = client.get("/storylines/musk-kremlin-contacts")
    finally:
        server.stop()
    assert page.status_code == 200
    assert "could not be read at" in page.text and "the page shows what it read before" in page.text
    assert f"postgresql://storywatch:***@127.0.0.1:{server.port}/" in page.text
    assert server.password not in page.text
    assert "desk/slack: dead" in page.text  # the last rows read, still shown


def test_a_read_that_fails_half_way_loses_no_row_once_the_ledger_answers_again(tmp_path):
    path = tmp_path / "ledger.sqlite"
    ledger = SqliteLedger(path)
    fill_ledger(ledger, ALERTS[:1], {})
    failing = {"now": False}

    def opener(url: str, **kwargs: Any) -> Ledger:
        made = SqliteLedger(path)
        inner = made.recent_deliveries

        def flaky(**kw: Any) -> Any:
            if failing["now"]:
                failing["now"] = False
                raise UserError(f"{path}: the ledger cannot be read (disk I/O error)")
            return inner(**kw)

        made.recent_deliveries = flaky  # type: ignore[method-assign]
        return made

    clock = _Clock()
    view = LedgerView(str(path), monotonic=clock, opener=opener)
    assert [a.alert_id for a in view.check().alerts] == [ALERTS[0].alert_id]
    fill_ledger(ledger, ALERTS[1:2], {})
    failing["now"] = True  # the alerts are read, then the deliveries fail
    broken = view.snapshot()
    assert "could not be read at" in broken.error and "disk I/O error" in broken.error
    assert [a.alert_id for a in broken.alerts] == [ALERTS[0].alert_id]  # the last good read
    clock.seconds += 2.0  # the next try, after refresh_seconds
    healed = view.snapshot()
    assert healed.error == ""
    assert [a.alert_id for a in healed.alerts] == [ALERTS[1].alert_id, ALERTS[0].alert_id]
    ledger.close()
    view.close()


def test_a_ledger_larger_than_the_page_reads_is_named_on_the_page(tmp_path, request):
    backend = _filled("sqlite", tmp_path, request)
    small = _client(tmp_path, backend, max_ledger_alerts=2).get("/").text
    assert "The ledger holds more than this page reads: it shows the newest 2 alerts" in small
    assert "holds more than this page reads" not in _client(tmp_path, backend).get("/").text
