"""The callback endpoint's HTTP answers, through werkzeug's test client."""

from __future__ import annotations

from werkzeug.test import Client

from pipeline.ingest.websub.callback import CallbackApp


class Receiver:
    def __init__(self) -> None:
        self.received: list[tuple[str, bytes]] = []

    def verify_intent(self, token, mode, topic, challenge, lease_seconds):
        if (token, mode, topic) == ("tok", "subscribe", "https://t/"):
            return f"{challenge}" if lease_seconds == 300 else None
        return None

    def receive(self, token, body, headers):
        if token != "tok":
            return None
        self.received.append((token, body))
        return dict(headers).get("X-Hub-Signature") == "good"


def test_answers():
    receiver = Receiver()
    client = Client(CallbackApp(receiver, max_body_bytes=100))
    query = {"hub.mode": "subscribe", "hub.topic": "https://t/", "hub.challenge": "c1"}
    ok = client.get("/websub/tok", query_string={**query, "hub.lease_seconds": "300"})
    assert (ok.status_code, ok.text) == (200, "c1")
    assert (
        client.get("/websub/tok", query_string={**query, "hub.lease_seconds": "x"}).status_code
        == 404
    )
    assert client.get("/websub/other", query_string=query).status_code == 404
    assert client.get("/", query_string=query).status_code == 404
    # a push is acknowledged whether or not its signature verified; unknown tokens are 404
    assert (
        client.post(
            "/prefix/websub/tok", data=b"a", headers={"X-Hub-Signature": "good"}
        ).status_code
        == 202
    )
    assert (
        client.post("/websub/tok", data=b"b", headers={"X-Hub-Signature": "bad"}).status_code == 202
    )
    assert client.post("/websub/nope", data=b"c").status_code == 404
    assert client.post("/websub/tok", data=b"x" * 101).status_code == 413
    assert client.put("/websub/tok", data=b"x").status_code == 405
    assert receiver.received == [("tok", b"a"), ("tok", b"b")]
