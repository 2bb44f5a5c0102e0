"""A WebSub hub stand-in on 127.0.0.1, for the tests and bench/live_latency.py.

    LoopbackHub(lease_seconds=None)   .url, .close()
      POST /  (hub.mode, hub.topic, hub.callback, hub.secret, hub.lease_seconds): 202, then
              on a thread the verification-of-intent GET to the callback; a subscriber is
              kept only if the callback echoed the challenge
      publish(topic, body, *, method="sha256", secret=None) -> callback HTTP statuses
              (signed with the subscriber's secret, or ``secret`` to forge one)
      wait_until(predicate, timeout_seconds)   bounded polling of the hub's records
Every request it sends has a 5 s timeout.
"""

from __future__ import annotations

import http.server
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

import httpx

from pipeline.ingest.websub.signature import sign


@dataclass
class Subscriber:
    topic: str
    callback: str
    secret: str
    lease_seconds: int
    verified_at: float


class LoopbackHub:
    """See the module docstring. ``lease_seconds`` overrides the lease asked for."""

    def __init__(self, *, lease_seconds: int | None = None) -> None:
        self.lease_seconds = lease_seconds
        self.requests: list[dict[str, str]] = []  # hub.secret left out
        self.verifications: list[dict[str, object]] = []
        self.subscribers: dict[tuple[str, str], Subscriber] = {}
        self.lock = threading.Lock()
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                threading.Thread(target=hub._verify, args=(form,), daemon=True).start()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def _verify(self, form: dict[str, str]) -> None:
        mode, topic, callback = form["hub.mode"], form["hub.topic"], form["hub.callback"]
        with self.lock:
            self.requests.append({k: v for k, v in form.items() if k != "hub.secret"})
        lease = self.lease_seconds or int(form.get("hub.lease_seconds") or 3600)
        challenge = secrets.token_urlsafe(12)
        params = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
        if mode == "subscribe":
            params["hub.lease_seconds"] = str(lease)
        try:
            response = httpx.get(callback, params=params, timeout=5)
            status, echoed = response.status_code, response.text == challenge
        except httpx.HTTPError:
            status, echoed = 0, False
        with self.lock:
            self.verifications.append(
                {
                    "mode": mode,
                    "topic": topic,
                    "status": status,
                    "echoed": echoed,
                    "at": time.time(),
                }
            )
            if echoed and mode == "subscribe":
                self.subscribers[(topic, callback)] = Subscriber(
                    topic, callback, form.get("hub.secret", ""), lease, time.time()
                )
            elif echoed and mode == "unsubscribe":
                self.subscribers.pop((topic, callback), None)

    def publish(
        self,
        topic: str,
        body: bytes,
        *,
        content_type: str = "application/rss+xml",
        method: str = "sha256",
        secret: str | None = None,
    ) -> list[int]:
        with self.lock:
            targets = [s for s in self.subscribers.values() if s.topic == topic]
        statuses = []
        for sub in targets:
            headers = {
                "Content-Type": content_type,
                "X-Hub-Signature": sign(body, secret or sub.secret, method=method),
                "Link": f'<{self.url}>; rel="hub", <{topic}>; rel="self"',
            }
            statuses.append(
                httpx.post(sub.callback, content=body, headers=headers, timeout=5).status_code
            )
        return statuses

    def wait_until(self, predicate: Callable[[], bool], timeout_seconds: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            with self.lock:
                if predicate():
                    return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
