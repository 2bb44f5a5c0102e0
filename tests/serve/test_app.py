"""The status page through Starlette's TestClient: escaping, token, CSRF, no secrets, retry."""

from __future__ import annotations

import json
import re

import pytest
from starlette.testclient import TestClient

from pipeline.ledger.sqlite import SqliteLedger
from pipeline.serve.app import create_app
from pipeline.serve.security import CSRF_COOKIE
from tests.deliver_support import Reply, SlackStandIn
from tests.serve.support import HOSTILE, NOW, config, ledger_with, make_alert, write_alerts

SUBSCRIBERS = """\
subscribers:
  - name: desk
    channels:
      slack: {webhook_url_env: TEST_SERVE_DESK_HOOK, max_messages_per_second: 50}
"""


def _csrf(client: TestClient) -> str:
    page = client.get("/deliveries")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    return match.group(1) if match else client.cookies[CSRF_COOKIE]


@pytest.fixture
def demo(tmp_path):
    alerts = [
        make_alert(1, title=HOSTILE, outlet="<b>Evil outlet</b>"),
        make_alert(2),
        make_alert(3, storyline="starlink-taiwan"),
    ]
    write_alerts(tmp_path / "alerts.jsonl", alerts)
    ledger_with(
        tmp_path / "ledger.sqlite",
        alerts,
        {
            (alerts[0].alert_id, "desk", "slack"): ("sent", ""),
            (alerts[1].alert_id, "desk", "slack"): ("dead", "Slack answered 404 no_service"),
            (alerts[2].alert_id, "desk", "email"): ("retrying", "SMTP 451 try later"),
            (alerts[2].alert_id, "analyst", "email"): ("queued", ""),
        },
    )
    return tmp_path, alerts


def test_every_page_answers_and_escapes_a_hostile_title(demo):
    tmp_path, alerts = demo
    client = TestClient(create_app(config(tmp_path)))
    for path in ("/", "/storylines/musk-kremlin-contacts", "/feeds", "/deliveries", "/preview"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert "<script>alert" not in page.text and "<img src=x" not in page.text, path
        assert "default-src 'self'" in page.headers["content-security-policy"]
    page = client.get("/storylines/musk-kremlin-contacts")
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    assert "&lt;b&gt;Evil outlet&lt;/b&gt;" in page.text
    assert '<svg class="timeline"' in page.text and page.text.count("<circle") == 2
    assert "desk/slack: sent" in page.text and "desk/slack: dead" in page.text
    other = client.get("/storylines/starlink-taiwan").text
    assert "desk/email: retrying" in other and "analyst/email: queued" in other
    assert client.get("/storylines/nope").status_code == 404


def test_storyline_filters_by_kind_and_date(demo):
    tmp_path, alerts = demo
    client = TestClient(create_app(config(tmp_path)))
    page = client.get("/storylines/musk-kremlin-contacts?kind=burst")
    assert "No development matches these filters" in page.text
    page = client.get("/storylines/musk-kremlin-contacts?since=2024-10-26")
    assert "0 shown (filtered)" in page.text
    page = client.get("/storylines/musk-kremlin-contacts?since=2024-10-25&until=2024-10-25")
    assert "2 shown (filtered)" in page.text


def test_token_is_required_on_every_request_when_configured(demo):
    tmp_path, _ = demo
    client = TestClient(create_app(config(tmp_path, token="s3cret-token")))
    for path in ("/", "/feeds", "/deliveries", "/preview", "/static/htmx.min.js"):
        assert client.get(path).status_code == 401, path
    assert client.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    first = client.get("/feeds?token=s3cret-token", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/feeds"
    assert client.get("/deliveries").status_code == 200  # the cookie the redirect set
    assert "s3cret-token" not in client.get("/deliveries").text


def test_a_post_without_the_csrf_token_changes_nothing(demo):
    tmp_path, alerts = demo
    key = (alerts[1].alert_id, "desk", "slack")
    client = TestClient(create_app(config(tmp_path)))
    form = dict(zip(("alert_id", "subscriber", "channel"), key, strict=True))
    assert client.post("/deliveries/retry", data=form).status_code == 403  # no cookie yet
    token = _csrf(client)
    assert client.post("/deliveries/retry", data=form | {"csrf_token": "forged"}).status_code == 403
    ledger = SqliteLedger(tmp_path / "ledger.sqlite")
    assert ledger.delivery_state(*key) == "dead"
    ledger.close()
    # A cross-site form cannot carry the browser's cookie value: a fresh client with a
    # token copied from another session is refused too.
    assert (
        TestClient(create_app(config(tmp_path)))
        .post("/deliveries/retry", data=form | {"csrf_token": token})
        .status_code
        == 403
    )


def test_retry_sends_a_dead_delivery_again_and_it_leaves_the_dead_letters(demo, monkeypatch):
    tmp_path, alerts = demo
    key = (alerts[1].alert_id, "desk", "slack")
    subscribers = tmp_path / "subscribers.yaml"
    subscribers.write_text(SUBSCRIBERS)
    with SlackStandIn(Reply(200, "ok")) as slack:
        hook = slack.url("/desk-hook-secret-path")
        monkeypatch.setenv("TEST_SERVE_DESK_HOOK", hook)
        client = TestClient(create_app(config(tmp_path, subscribers=subscribers)))
        page = client.get("/deliveries")
        assert "Slack answered 404 no_service" in page.text and page.text.count(">Retry<") == 1
        answer = client.post(
            "/deliveries/retry",
            data={
                "alert_id": key[0],
                "subscriber": "desk",
                "channel": "slack",
                "csrf_token": _csrf(client),
            },
        )
        assert answer.status_code == 200 and "retried: sent to desk/slack" in answer.text
        assert [path for path, *_ in slack.requests] == ["/desk-hook-secret-path"]
        assert "Development 2" in json.dumps(slack.requests[0][2])
    ledger = SqliteLedger(tmp_path / "ledger.sqlite")
    assert ledger.delivery_state(*key) == "sent"
    ledger.close()
    page = client.get("/deliveries")
    assert "No dead deliveries" in page.text
    for text in (
        page.text,
        client.get("/").text,
        client.get("/storylines/musk-kremlin-contacts").text,
    ):
        assert "desk-hook-secret-path" not in text and hook not in text
    again = client.post(
        "/deliveries/retry",
        data={
            "alert_id": key[0],
            "subscriber": "desk",
            "channel": "slack",
            "csrf_token": _csrf(client),
        },
        headers={"HX-Request": "true"},
    )
    assert "not retried" in again.text and "<tr" in again.text


def test_retry_without_subscribers_queues_it_for_the_running_pipeline(demo):
    tmp_path, alerts = demo
    key = (alerts[1].alert_id, "desk", "slack")
    client = TestClient(create_app(config(tmp_path)))
    answer = client.post(
        "/deliveries/retry",
        data={
            "alert_id": key[0],
            "subscriber": "desk",
            "channel": "slack",
            "csrf_token": _csrf(client),
        },
        follow_redirects=True,
    )
    assert "queued for desk/slack" in answer.text
    ledger = SqliteLedger(tmp_path / "ledger.sqlite")
    assert ledger.delivery_state(*key) == "queued" and [d.alert_id for d in ledger.due(NOW)] == [
        key[0]
    ]
    ledger.close()


def test_no_secret_reaches_a_page(tmp_path):
    alerts = [make_alert(1)]
    write_alerts(tmp_path / "alerts.jsonl", alerts)
    ledger_with(
        tmp_path / "ledger.sqlite",
        alerts,
        {
            (alerts[0].alert_id, "desk", "slack"): (
                "dead",
                "POST https://hooks.slack.com/services/T0/B0/XyZsecret: 404",
            )
        },
    )
    (tmp_path / "feed-health.jsonl").write_text(
        json.dumps(
            {
                "feed_id": "private",
                "url": "https://reader:hunter2@feeds.example.org/rss?token=tok-abc",
                "status": "failing",
                "consecutive_failures": 4,
                "last_error": "postgresql://sw:dbpass@db.internal/sw: HTTP 503",
                "next_due_at": "2024-10-26T12:05:00Z",
                "interval_seconds": 600,
            }
        )
        + "\n"
    )
    client = TestClient(create_app(config(tmp_path, ledger=f"sqlite:///{tmp_path}/ledger.sqlite")))
    text = "".join(
        client.get(p).text
        for p in ("/", "/feeds", "/deliveries", "/storylines/musk-kremlin-contacts")
    )
    for secret in ("XyZsecret", "hunter2", "tok-abc", "dbpass"):
        assert secret not in text, secret
    assert "the server is failing (5xx)" in text and "4</td>" in text
