"""The WebSub callback HTTP server: the hub's verification GETs and its signed POSTs.

    CallbackApp(receiver, *, max_body_bytes)          a WSGI app (werkzeug)
    CallbackServer(app, *, host="127.0.0.1", port)    serves it on a thread; .close()

``GET …/<token>?hub.mode=…&hub.topic=…&hub.challenge=…[&hub.lease_seconds=…]`` is answered
200 with the challenge when ``receiver.verify_intent`` returns it, else 404 (WebSub 5.3).
``POST …/<token>`` with a body of at most ``max_body_bytes`` is handed to
``receiver.receive``: 202 for a known token whatever the signature (WebSub 8 lets a
subscriber acknowledge a bad one, which gives a prober nothing), 404 for an unknown token
(the hub then drops it), 413 for an oversized body. The token is the path's last segment,
so a proxy may put the callback under any prefix. The server binds to 127.0.0.1 unless
told otherwise, and logs no request lines (query strings carry the topic and challenge).
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

MAX_PUSH_BYTES = 10 * 1024 * 1024


class Receiver(Protocol):
    """What the callback server hands requests to (``client.WebSubClient``)."""

    def verify_intent(
        self, token: str, mode: str, topic: str, challenge: str, lease_seconds: float | None
    ) -> str | None: ...

    def receive(self, token: str, body: bytes, headers: list[tuple[str, str]]) -> bool | None:
        """True: verified; False: refused (bad signature); None: unknown token."""
        ...


def _lease(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


class CallbackApp:
    """The callback endpoint as a WSGI app; see the module docstring."""

    def __init__(self, receiver: Receiver, *, max_body_bytes: int = MAX_PUSH_BYTES) -> None:
        self.receiver = receiver
        self.max_body_bytes = max_body_bytes

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        request.max_content_length = self.max_body_bytes
        return self.respond(request)(environ, start_response)

    def respond(self, request: Request) -> Response:
        token = request.path.rstrip("/").rsplit("/", 1)[-1]
        if not token:
            return Response("not found\n", status=404)
        if request.method == "GET":
            args = request.args
            echoed = self.receiver.verify_intent(
                token,
                args.get("hub.mode", ""),
                args.get("hub.topic", ""),
                args.get("hub.challenge", ""),
                _lease(args.get("hub.lease_seconds")),
            )
            if echoed is None:
                return Response("not found\n", status=404)
            return Response(echoed, status=200, content_type="text/plain")
        if request.method == "POST":
            try:
                body = request.get_data(cache=False)
            except RequestEntityTooLarge:
                return Response("too large\n", status=413)
            outcome = self.receiver.receive(token, body, list(request.headers.items()))
            if outcome is None:
                return Response("not found\n", status=404)
            return Response("", status=202)
        return Response("method not allowed\n", status=405, headers={"Allow": "GET, POST"})


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # a request line holds the topic and the challenge


class CallbackServer:
    """``app`` served by werkzeug's threaded server on ``host:port`` (0: any free port)."""

    def __init__(self, app: CallbackApp, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=_QuietHandler
        )
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="websub-callback", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
