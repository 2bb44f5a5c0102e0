"""The WebSub subscriber against a loopback hub: subscribe, verify, push, renew, leave."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from pipeline.ingest.websub.client import WebSubClient, WebSubConfig
from pipeline.ingest.websub.signature import sign
from tests.ingest.websub.loopback_hub import LoopbackHub

TOPIC = "http://127.0.0.1:9/feed.xml"
PUSH = b"<rss><channel><item><title>pushed</title></item></channel></rss>"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def hub():
    hub = LoopbackHub()
    yield hub
    hub.close()


def make_client(**kwargs) -> WebSubClient:
    port = free_port()
    config = WebSubConfig(f"http://127.0.0.1:{port}/websub", port=port, **kwargs)
    return WebSubClient(config).start()


@pytest.fixture
def client():
    client = make_client()
    yield client
    client.close()


def subscribe(client: WebSubClient, hub: LoopbackHub) -> None:
    client.discovered("f", TOPIC, [hub.url], allow_private=True)
    client.offered(["f"], time.time())
    for future in client.pump(time.time()):
        future.result(timeout=5)
    assert hub.wait_until(lambda: (TOPIC, _callback(client)) in hub.subscribers, 5)
    assert client.is_live("f", time.time())


def _callback(client: WebSubClient) -> str:
    return client.subscriptions.callback_url(client.subscriptions.by_feed["f"].token)


def test_subscribe_verify_and_a_signed_push_is_kept(client, hub):
    subscribe(client, hub)
    (request,) = hub.requests
    assert request["hub.mode"] == "subscribe" and request["hub.topic"] == TOPIC
    assert int(request["hub.lease_seconds"]) == client.config.lease_seconds
    assert hub.verifications[-1]["echoed"] and client.counts["verified"] == 1
    assert len(hub.subscribers[(TOPIC, _callback(client))].secret) >= 32
    assert hub.publish(TOPIC, PUSH, method="sha512") == [202]
    (push,) = client.take_pushes(["f"])
    assert push.body == PUSH and push.feed_id == "f" and push.topic == TOPIC
    assert dict(push.headers)["content-type"] == "application/rss+xml"
    assert client.take_pushes(["f"]) == []


def test_a_bad_signature_is_refused_and_counted(client, hub):
    subscribe(client, hub)
    assert hub.publish(TOPIC, PUSH, secret="guessed") == [202]  # acknowledged, not kept
    callback = _callback(client)
    unsigned = httpx.post(callback, content=PUSH, timeout=5)
    assert unsigned.status_code == 202
    assert client.take_pushes(["f"]) == [] and client.counts["pushes_rejected"] == 2
    assert (
        httpx.post(
            callback + "x", content=PUSH, headers={"X-Hub-Signature": sign(PUSH, "k")}
        ).status_code
        == 404
    )


def test_a_stranger_verification_is_refused(client, hub):
    subscribe(client, hub)
    callback = _callback(client)
    for params in (
        {"hub.mode": "unsubscribe", "hub.topic": TOPIC, "hub.challenge": "x"},
        {"hub.mode": "subscribe", "hub.topic": "http://other/", "hub.challenge": "x"},
    ):
        assert httpx.get(callback, params=params, timeout=5).status_code == 404
    assert client.is_live("f", time.time())


def test_renewal_before_the_lease_ends(hub):
    hub.lease_seconds = 2  # the hub grants 2 s: renewal due after 1.6 s
    client = make_client()
    try:
        subscribe(client, hub)
        expires_at = client.subscriptions.by_feed["f"].expires_at
        deadline = time.time() + 5
        while len(hub.requests) < 2 and time.time() < deadline:
            client.pump(time.time())
            time.sleep(0.1)
        assert hub.wait_until(lambda: len(hub.verifications) >= 2, 5)
        renewed_at = hub.verifications[1]["at"]
        assert renewed_at < expires_at and hub.verifications[1]["echoed"]
        assert client.subscriptions.by_feed["f"].expires_at > expires_at
        assert client.is_live("f", expires_at + 0.5)
    finally:
        client.close()


def test_a_feed_no_longer_offered_is_unsubscribed_at_the_hub(hub):
    client = make_client(forget_after_seconds=1.0)
    try:
        subscribe(client, hub)
        client.offered([], time.time() + 2)  # the feed left the feed list
        for future in client.pump(time.time()):
            future.result(timeout=5)
        assert hub.wait_until(lambda: not hub.subscribers, 5)
        assert hub.requests[-1]["hub.mode"] == "unsubscribe"
        assert hub.verifications[-1]["echoed"] and not client.is_live("f", time.time())
    finally:
        client.close()


def test_a_hub_on_a_private_address_is_refused_unless_the_feed_allows_it(client, hub):
    client.discovered("f", TOPIC, [hub.url], allow_private=False)
    client.offered(["f"], time.time())
    for future in client.pump(time.time()):
        future.result(timeout=5)
    assert hub.requests == [] and client.counts["hub_failures"] == 1
    assert client.subscriptions.by_feed["f"].status == "new"


def test_secrets_are_never_logged(client, hub, caplog):
    caplog.set_level("DEBUG")
    subscribe(client, hub)
    hub.publish(TOPIC, PUSH, secret="guessed")
    secret = client.subscriptions.by_feed["f"].secret
    assert caplog.records and all(secret not in r.getMessage() for r in caplog.records)


def test_a_plain_http_hub_is_not_sent_the_secret_for_a_public_feed():
    client = WebSubClient(WebSubConfig("http://127.0.0.1:1/websub", port=1))
    client.discovered("f", "https://news.example/feed", ["http://hub.example/"])
    (request,) = client.subscriptions.due_requests(time.time())
    client._send(request)  # refused before any connection: no resolver, no POST
    assert client.counts["hub_failures"] == 1
    assert "plain-http hub" in client.subscriptions.by_feed["f"].last_error
