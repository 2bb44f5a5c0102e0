"""A file as an earlier commit had it, for benchmarks that run old code or data beside new.

``file_at(commit, path)`` is ``git show commit:path`` from the repository root, or None
(with a line saying why) where git or the commit is not there, so a bench can still run
its shipped half from a copy without history.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def file_at(commit: str, path: str) -> str | None:
    """The text of ``path`` at ``commit``, or None (printed: why) without git or commit."""
    try:
        return subprocess.run(
            ["git", "show", f"{commit}:{path}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"(git show {commit}:{path} failed, so its figures are left out: {exc})")
        return None
