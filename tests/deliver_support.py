"""Helpers for the delivery tests: alerts, a recording Slack stand-in, an SMTP server."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pipeline.records import UTC, Alert, Evidence

T0 = dt.datetime(2024, 10, 25, 10, 0, tzinfo=UTC)


def make_alert(
    n: int = 1,
    *,
    storyline: str = "musk-kremlin-contacts",
    kind: str = "new_development",
    score: float = 0.9,
    title: str | None = None,
    url: str | None = None,
    at: dt.datetime | None = None,
    outlet: str = "Reuters",
    sources=None,
    evidence=None,
) -> Alert:
    at = at or T0 + dt.timedelta(minutes=n)
    return Alert(
        alert_id=f"{storyline}-dev{n}-{kind}",
        storyline_id=storyline,
        development_id=f"{storyline}-dev{n}",
        kind=kind,
        title=title if title is not None else f"Development {n}: Musk and Putin held talks",
        url=url or f"https://news.example.org/articles/{n}",
        published_at=at,
        first_seen_at=at + dt.timedelta(minutes=2),
        article_ids=(f"art-{n}", f"art-{n}b"),
        score=score,
        outlet=outlet,
        storyline_title="Musk–Kremlin contacts" if storyline == "musk-kremlin-contacts" else "",
        sources=tuple(sources)
        if sources is not None
        else (("AP", f"Second report {n}", f"https://ap.example.org/{n}"),),
        evidence=tuple(evidence)
        if evidence is not None
        else (
            Evidence(
                ref="elon-musk",
                alias="Musk",
                field="title",
                start=16,
                end=20,
                text="Musk",
                kind="exact",
            ),
            Evidence(
                ref="vladimir-putin",
                alias="Путин",
                field="title",
                start=25,
                end=30,
                text="Putin",
                kind="transliterated",
                similarity=100.0,
            ),
        ),
        reason="first article of a new development",
    )


@dataclass
class Reply:
    status: int = 200
    body: str = "ok"
    headers: dict = field(default_factory=dict)
    delay_seconds: float = 0.0


class SlackStandIn:
    """A real HTTP server on loopback that records every POST like Slack would receive it.

    ``script`` maps a path to a list of replies used in order (the last one repeats);
    ``handlers`` maps a path to a function of the request body that returns the reply;
    ``requests`` keeps (path, headers, json body, monotonic time) of every request.
    """

    def __init__(self, default: Reply | None = None) -> None:
        self.script: dict[str, list[Reply]] = {}
        self.handlers: dict[str, object] = {}
        self.default = default or Reply()
        self.requests: list[tuple[str, dict, dict, float]] = []
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                content_type = self.headers.get("Content-Type", "")
                if "json" in content_type:
                    body = json.loads(raw or b"{}")
                else:
                    from urllib.parse import parse_qs

                    body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                with stand_in._lock:
                    stand_in.requests.append(
                        (self.path, dict(self.headers), body, time.monotonic())
                    )
                    if self.path in stand_in.handlers:
                        reply = stand_in.handlers[self.path](body)
                    else:
                        replies = stand_in.script.get(self.path)
                        reply = (
                            (replies.pop(0) if len(replies) > 1 else replies[0])
                            if replies
                            else stand_in.default
                        )
                if reply.delay_seconds:
                    time.sleep(reply.delay_seconds)
                payload = reply.body.encode()
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def bodies(self, path: str) -> list[dict]:
        with self._lock:
            return [body for p, _, body, _ in self.requests if p == path]

    def __enter__(self) -> SlackStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeSlackApi:
    """Slack's Web API for a bot, on a SlackStandIn: post, channel history, thread replies.

    Messages are kept like Slack keeps them (ts, thread_ts, metadata); ``posted`` lists
    them in order. ``delay_seconds`` slows every post (to land a kill mid-request).
    """

    def __init__(
        self, stand_in: SlackStandIn, prefix: str = "/api/", *, delay_seconds: float = 0.0
    ) -> None:
        self.posted: list[dict] = []
        self.delay_seconds = delay_seconds
        self._ts = 1700000000.0
        stand_in.handlers[prefix + "chat.postMessage"] = self._post
        stand_in.handlers[prefix + "conversations.history"] = self._history
        stand_in.handlers[prefix + "conversations.replies"] = self._replies
        self.url = stand_in.url(prefix)

    @staticmethod
    def _ok(**data) -> Reply:
        return Reply(200, json.dumps({"ok": True, **data}), {"Content-Type": "application/json"})

    def _post(self, body: dict) -> Reply:
        self._ts += 1
        message = {
            "ts": f"{self._ts:.6f}",
            "channel": body["channel"],
            "text": body.get("text", ""),
            "thread_ts": body.get("thread_ts"),
            "metadata": body.get("metadata"),
        }
        self.posted.append(message)
        return Reply(
            200,
            json.dumps({"ok": True, "channel": body["channel"], "ts": message["ts"]}),
            {"Content-Type": "application/json"},
            delay_seconds=self.delay_seconds,
        )

    def _visible(self, message: dict, include_metadata: bool) -> dict:
        shown = {k: v for k, v in message.items() if v is not None and k != "metadata"}
        if include_metadata and message.get("metadata"):
            shown["metadata"] = message["metadata"]
        return shown

    def _history(self, body: dict) -> Reply:
        include = str(body.get("include_all_metadata", "")).lower() in ("1", "true")
        top = [
            m
            for m in reversed(self.posted)
            if m["channel"] == body["channel"] and not m["thread_ts"]
        ]
        return self._ok(
            messages=[self._visible(m, include) for m in top[: int(body.get("limit", 100))]]
        )

    def _replies(self, body: dict) -> Reply:
        include = str(body.get("include_all_metadata", "")).lower() in ("1", "true")
        thread = [
            m
            for m in self.posted
            if m["channel"] == body["channel"]
            and (m["ts"] == body["ts"] or m["thread_ts"] == body["ts"])
        ]
        return self._ok(messages=[self._visible(m, include) for m in thread])
