"""`storywatch validate` as a user runs it: exit 0 with a summary, or exit 2 with FILE:LINE lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_support import run_storywatch as run
from tests.paths import WATCHLISTS

pytestmark = pytest.mark.slow


def test_shipped_watchlists_are_valid() -> None:
    result = run("validate", "--watchlists", str(WATCHLISTS))
    assert result.returncode == 0, result.stderr
    assert "ok:" in result.stdout and "4 storylines" in result.stdout


def test_broken_watchlists_exit_2_with_every_problem_and_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "entities:\n  - id: musk\n    kind: person\n    name: Musk\n"
        "storylines:\n  - id: s\n    title: S\n    rule:\n      any_of: [nobody]\n",
        encoding="utf-8",
    )
    (tmp_path / "b.yaml").write_text("entities:\n  - id: x\n   kind: bad\n", encoding="utf-8")
    result = run("validate", "--watchlists", str(tmp_path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"{tmp_path / 'b.yaml'}:3: YAML syntax error")
    assert lines[1].startswith(
        f"{tmp_path / 'a.yaml'}:9: storyline 's' names unknown entity or topic 'nobody'"
    )


def test_a_subscriber_channel_given_as_a_list_is_explained_with_its_line(tmp_path: Path) -> None:
    for name in ("entities.yaml", "topics.yaml", "storylines.yaml"):
        (tmp_path / name).write_text(
            (WATCHLISTS / name).read_text(encoding="utf-8"), encoding="utf-8"
        )
    (tmp_path / "subscribers.yaml").write_text(
        "subscribers:\n  - name: desk\n    channels:\n      slack:\n        bot_token_env: DESK_TOKEN\n"
        "        channel: [C0123456789]\n",
        encoding="utf-8",
    )
    result = run("validate", "--watchlists", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{tmp_path / 'subscribers.yaml'}:6: subscribers.0.channels.slack.channel: expected a single text value "
        "(channel ID, e.g. C0123456789 (bot token only)), found a list ['C0123456789']; write it without "
        "brackets: channel: C0123456789"
    ]


def test_a_file_for_the_folder_a_folder_for_a_file_and_a_binary_watchlist(tmp_path: Path) -> None:
    result = run("validate", "--watchlists", str(WATCHLISTS / "entities.yaml"))
    assert (result.returncode, result.stderr.splitlines()) == (
        2,
        [
            f"{WATCHLISTS / 'entities.yaml'}:1: is a file, not the watchlist directory; pass --watchlists DIR "
            "(the folder that holds the watchlist YAML files)"
        ],
    )
    for name in ("entities.yaml", "topics.yaml", "storylines.yaml"):
        (tmp_path / name).write_text(
            (WATCHLISTS / name).read_text(encoding="utf-8"), encoding="utf-8"
        )
    (tmp_path / "subscribers.yaml").mkdir()
    (tmp_path / "extra.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)))
    result = run("validate", "--watchlists", str(tmp_path))
    assert (result.returncode, result.stderr.splitlines()) == (
        2,
        [
            f"{tmp_path / 'extra.yaml'}:1: this is a binary file (it contains NUL bytes), not YAML; check the path"
        ],
    )
    (tmp_path / "extra.yaml").unlink()
    result = run("validate", "--watchlists", str(tmp_path))
    assert (result.returncode, result.stderr.splitlines()) == (
        2,
        [
            f"{tmp_path / 'subscribers.yaml'}:1: is a folder, not a YAML file; pass the file, or rename the folder"
        ],
    )
