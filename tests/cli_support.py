"""Running the real ``storywatch`` console script in a subprocess, for the CLI tests."""

from __future__ import annotations

import subprocess

from tests.paths import ROOT

STORYWATCH = str(ROOT / ".venv" / "bin" / "storywatch")


def run_storywatch(*args: str, timeout_seconds: float = 120) -> subprocess.CompletedProcess:
    """``storywatch ARGS...`` from the repository root; text output captured, never raises on exit codes."""
    return subprocess.run(
        [STORYWATCH, *args], capture_output=True, text=True, timeout=timeout_seconds, cwd=ROOT
    )
