"""The status page's demo data, made by the real commands: the browser tests and
``tools/screenshots.py`` both use it.

1. ``storywatch replay --feeds seeds/feeds`` (the bundled real snapshots, what ``make demo``
   replays) into a ledger and an alerts file;
2. ``storywatch deliver`` of those alerts to two Slack-webhook subscribers on a local
   stand-in server: ``desk`` answers 200 (sent), ``analyst`` 404 (dead, a dead letter);
3. a short ``storywatch run`` over a feed list on a local server: two bundled snapshots
   served (ok), one path gone (404), one failing (503), one port with nothing listening,
   so the feed-health file holds real ok and failing lines.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.cli_support import STORYWATCH
from tests.deliver_support import Reply, SlackStandIn
from tests.paths import ROOT

SUBSCRIBERS = """\
subscribers:
  - name: desk
    channels:
      slack: {webhook_url_env: DEMO_DESK_HOOK, max_messages_per_second: 50}
  - name: analyst
    storylines: [starlink-ukraine-war]
    channels:
      slack: {webhook_url_env: DEMO_ANALYST_HOOK, max_messages_per_second: 50}
"""
SERVED = {
    "/reuters.xml": ROOT / "seeds/feeds/stream_evilgodfahim_wl/reuters_fulltext@f52d1319.xml",
    "/kyiv.xml": ROOT / "seeds/feeds/plakhovgroup/kyivindependent@61627e3.xml",
}


@dataclass
class Demo:
    folder: Path
    ledger: Path
    alerts: Path
    feed_health: Path
    dead_letters: Path
    feeds_file: Path
    subscribers: Path
    slack: SlackStandIn
    #: what ``storywatch replay`` and ``storywatch run`` printed (stdout, then stderr)
    replay_output: str = ""
    run_output: str = ""

    def serve_args(self) -> list[str]:
        return [
            f"--ledger={self.ledger}",
            f"--alerts={self.alerts}",
            f"--feed-health={self.feed_health}",
            f"--dead-letters={self.dead_letters}",
            f"--feeds-file={self.feeds_file}",
            f"--subscribers={self.subscribers}",
        ]

    def env(self) -> dict[str, str]:
        return os.environ | {
            "DEMO_DESK_HOOK": self.slack.url("/desk"),
            "DEMO_ANALYST_HOOK": self.slack.url("/analyst"),
        }


class _FeedServer:
    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                path = SERVED.get(self.path)
                if path is not None:
                    body = path.read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/rss+xml")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(503 if self.path == "/busy.xml" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(
    args: list[str], env: dict[str, str], timeout_seconds: float, *, ok: tuple[int, ...] = (0,)
) -> str:
    result = subprocess.run(
        [STORYWATCH, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_seconds,
    )
    if result.returncode not in ok:
        raise RuntimeError(
            f"storywatch {args[0]} exited {result.returncode}: {result.stderr[-2000:]}"
        )
    return result.stdout + result.stderr


def build_demo(folder: Path, slack: SlackStandIn, *, live_seconds: float = 10.0) -> Demo:
    """Make the demo data in ``folder``; ``slack`` must be running (its /analyst path 404s)."""
    slack.script["/analyst"] = [Reply(404, "no_service")]
    demo = Demo(
        folder=folder,
        ledger=folder / "ledger.sqlite",
        alerts=folder / "alerts.jsonl",
        feed_health=folder / "feed-health.jsonl",
        dead_letters=folder / "dead-letters.jsonl",
        feeds_file=folder / "feeds.yaml",
        subscribers=folder / "subscribers.yaml",
        slack=slack,
    )
    demo.subscribers.write_text(SUBSCRIBERS)
    env = demo.env()
    demo.replay_output = _run(
        [
            "replay",
            "--feeds",
            "seeds/feeds",
            f"--alerts-out={demo.alerts}",
            f"--ledger={demo.ledger}",
        ],
        env,
        300,
    )
    _run(
        [
            "deliver",
            f"--alerts={demo.alerts}",
            f"--subscribers={demo.subscribers}",
            f"--ledger={demo.ledger}",
        ],
        env,
        120,
        ok=(0, 1),  # deliver exits 1 when a delivery is dead
    )
    feeds = _FeedServer()
    base = f"http://127.0.0.1:{feeds.port}"
    demo.feeds_file.write_text(
        "allow_private_addresses: true\nfeeds:\n"
        f"  - {{url: '{base}/reuters.xml', id: reuters-wire, name: Reuters (scraped feed), tags: [hot]}}\n"
        f"  - {{url: '{base}/kyiv.xml', id: kyiv-independent, name: The Kyiv Independent}}\n"
        f"  - {{url: '{base}/gone.xml', id: moved-outlet, name: An outlet that moved its feed}}\n"
        f"  - {{url: '{base}/busy.xml', id: busy-outlet, name: An overloaded outlet}}\n"
        f"  - {{url: 'http://127.0.0.1:{_closed_port()}/rss', id: offline-outlet, name: Nothing listening}}\n"
    )
    try:
        demo.run_output = _run(
            [
                "run",
                f"--feeds_file={demo.feeds_file}",
                f"--ledger={folder / 'live-ledger.sqlite'}",
                f"--alerts_out={folder / 'live-alerts.jsonl'}",
                f"--dead_letter_out={demo.dead_letters}",
                f"--feed_health_out={demo.feed_health}",
                f"--run_duration_seconds={live_seconds}",
                "--tick_seconds=1",
                # every demo feed is on 127.0.0.1: no politeness gap, so each is tried at once
                "--host_gap_seconds=0",
            ],
            env,
            180,
        )
    finally:
        feeds.close()
    return demo
