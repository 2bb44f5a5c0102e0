"""Progress bars: ``storywatch replay`` and ``storywatch seed`` on a terminal (a real pty) show a
tqdm bar; with the output piped they print nothing extra (pipeline/cli/progress.py)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time

import pytest

from pipeline.cli import progress
from tests.cli_support import STORYWATCH, run_storywatch
from tests.paths import ROOT

SEED = "seeds/wsj-musk-putin-2024-10-25.txt"
BAR_MARKS = ("%|", "\r", "█")


def on_a_terminal(*args: str, timeout_seconds: float = 180) -> tuple[int, str]:
    """``storywatch ARGS`` with stdin, stdout and stderr on a new pty (100 columns); its output."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(
        [STORYWATCH, *args], cwd=ROOT, stdin=slave, stdout=slave, stderr=slave, close_fds=True
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout_seconds
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        else:
            pytest.fail(f"storywatch {' '.join(args)} ran past {timeout_seconds} s")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        os.close(master)
    return proc.returncode, b"".join(chunks).decode("utf-8", errors="replace")


def test_replayed_ticks_only_the_watchers_inside_the_block():
    ticks: list[int] = []
    assert progress.replayed("x") == "x"  # nobody watching: nothing happens
    with progress.watch_replayed(lambda: ticks.append(1)):
        progress.replayed("a")
        progress.replayed("b")
    progress.replayed("c")
    assert ticks == [1, 1]


def test_replay_shows_a_bar_on_a_terminal_and_nothing_extra_when_piped(tmp_path):
    args = ("replay", "--feeds", "seeds/feeds", "--alerts-out", str(tmp_path / "a.jsonl"))
    code, shown = on_a_terminal(*args)
    assert code == 0, shown
    assert "replaying:" in shown and "%|" in shown
    # the command's own output follows the cleared bar: the golden replay's alert count
    alerts = len(
        (ROOT / "tests" / "golden" / "replay" / "seeds_feeds_alerts.jsonl").read_text().splitlines()
    )
    assert f"{alerts} alerts" in shown

    piped = run_storywatch(*args, timeout_seconds=180)
    assert piped.returncode == 0, piped.stderr
    assert "replaying" not in piped.stderr + piped.stdout
    assert not any(mark in piped.stderr + piped.stdout for mark in BAR_MARKS)
    assert f"{alerts} alerts" in piped.stdout


def test_seed_check_feeds_shows_a_bar_on_a_terminal_and_nothing_extra_when_piped():
    args = ("seed", SEED, "--dry-run", "--check-feeds", "seeds/feeds")
    code, shown = on_a_terminal(*args)
    assert code == 0, shown
    assert "checking feeds:" in shown and "%|" in shown

    piped = run_storywatch(*args, timeout_seconds=180)
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == ""
    assert not any(mark in piped.stdout for mark in BAR_MARKS)
