"""The printed ``storywatch serve`` command: quoted paths, no ledger password."""

from __future__ import annotations

import doctest
import shlex

import pipeline.serve.command
from pipeline.serve.command import serve_command


def test_doctests() -> None:
    assert doctest.testmod(pipeline.serve.command).failed == 0


def test_the_command_parses_back_to_the_same_paths_and_hides_a_password() -> None:
    line = serve_command(
        ledger="postgresql://sw:hunter2@db.internal/sw",
        alerts="build/my alerts.jsonl",
        feed_health="build/feed health.jsonl",
        dead_letters="build/dead-letters.jsonl",
    )
    assert "hunter2" not in line
    assert shlex.split(line) == [
        "storywatch",
        "serve",
        "--ledger",
        "postgresql://sw:***@db.internal/sw",
        "--alerts",
        "build/my alerts.jsonl",
        "--feed-health",
        "build/feed health.jsonl",
        "--dead-letters",
        "build/dead-letters.jsonl",
    ]


def test_the_page_socket_sends_small_writes_at_once() -> None:
    """Without TCP_NODELAY a keep-alive response written in two parts waited for the
    browser's delayed ACK: 40 ms on every request (bench/serve_pages.py)."""
    import socket

    from pipeline.cli.serve import bind

    listener = bind("127.0.0.1", 0)
    try:
        client = socket.create_connection(listener.getsockname()[:2], timeout=5)
        accepted, _ = listener.accept()
        try:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            accepted.close()
            client.close()
    finally:
        listener.close()
