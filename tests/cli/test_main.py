"""The command line's conventions: --version, help for every flag, one spelling per flag,
logging flags, and no Beam import for the commands that do not need it."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli.main import build_parser, main
from pipeline.run.options import add_storywatch_arguments
from tests.cli_support import STORYWATCH, run_storywatch
from tests.paths import ROOT, WATCHLISTS


def _subparsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, parser) for every command and sub-command under ``parser``."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subparsers(sub, (*path, name))


def _declared_options() -> list[tuple[tuple[str, ...], dict]]:
    declared = []

    class Recorder:
        def add_argument(self, *flags, **kwargs):
            declared.append((flags, kwargs))

    add_storywatch_arguments(Recorder())
    return declared


def _storywatch_wide(*args: str) -> subprocess.CompletedProcess:
    """``storywatch ARGS`` with a terminal wide enough that argparse wraps no help line."""
    return subprocess.run(
        [STORYWATCH, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "1000"},
    )


def test_version_comes_from_the_package_metadata():
    result = run_storywatch("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"storywatch {importlib.metadata.version('storywatch')}"


def test_every_flag_of_every_command_has_help_text():
    commands = list(_subparsers(build_parser()))
    assert {path for path, _ in commands} >= {
        (),
        ("validate",),
        ("match",),
        ("eval",),
        ("run",),
        ("replay",),
        ("eval-alerts",),
        ("feeds",),
        ("feeds", "import"),
        ("seed",),
        ("deliver",),
    }
    for path, parser in commands:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            assert action.help and action.help.strip(), (path, action.option_strings or action.dest)


def test_flags_are_spelled_kebab_case_across_commands():
    for path, parser in _subparsers(build_parser()):
        for action in parser._actions:
            if action.option_strings:
                first = action.option_strings[0]
                assert "_" not in first, (path, action.option_strings)


def test_top_level_help_is_plain_text_not_restructuredtext():
    result = run_storywatch("--help")
    assert result.returncode == 0, result.stderr
    assert "``" not in result.stdout
    assert "validate" in result.stdout and "--version" in result.stdout


@pytest.mark.parametrize("command", ["run", "replay"])
def test_pipeline_help_lists_every_storywatch_option_with_its_help(command):
    result = _storywatch_wide(command, "--help")
    assert result.returncode == 0, result.stderr
    # "  --poll-interval-seconds, --poll_interval_seconds SECONDS" then its help, on the same
    # line or the next one: one entry per flag, keyed by its first spelling
    entries: dict[str, str] = {}
    for line in result.stdout.split("\n\n", 1)[1].splitlines():
        if line.strip().startswith("-"):
            key = line.split()[0].rstrip(",")
            entries[key] = line
        elif entries and line.startswith(" " * 8):
            entries[key] += " " + line.strip()
    own = {"watchlists"}
    if command == "replay":
        own |= {"alerts_out", "replay_feeds", "replay_articles"}
    for flags, kwargs in _declared_options():
        if kwargs["dest"] in own:  # the command's own flag, listed with the command's flags
            continue
        entry = entries[flags[0]]
        assert all(flag in entry for flag in flags), entry
        assert kwargs["help"].replace("%%", "%") in entry, (command, flags)  # argparse's escape
    assert "--runner" in result.stdout  # Beam's own options are pointed to


def test_run_help_does_not_keep_a_hand_written_option_list():
    import pipeline.cli.main as cli_main

    assert not hasattr(cli_main, "PIPELINE_OPTIONS_HELP")


def test_replay_takes_both_spellings_of_alerts_out():
    parser = build_parser()
    for flag in ("--alerts-out", "--alerts_out"):
        args, extra = parser.parse_known_args(["replay", "--input", "a.jsonl", flag, "x.jsonl"])
        assert (args.alerts_out, extra) == (Path("x.jsonl"), [])


def test_deliver_keeps_the_old_dead_letter_spelling():
    parser = build_parser()
    for flag in ("--dead-letter-out", "--dead-letter"):
        args = parser.parse_args(["deliver", "--alerts", "a.jsonl", flag, "d.jsonl"])
        assert args.dead_letter_out == Path("d.jsonl")


def test_run_passes_both_spellings_of_a_pipeline_option_on_to_beam():
    parser = build_parser()
    for flag in ("--poll-interval-seconds=5", "--poll_interval_seconds=5"):
        args, extra = parser.parse_known_args(["run", flag, "-v"])
        assert extra == [flag] and args.verbose == 1


@pytest.fixture
def root_level():
    root = logging.getLogger()
    before = root.level
    yield root
    root.setLevel(before)


@pytest.mark.parametrize(
    ("flags", "level"),
    [
        ([], logging.WARNING),
        (["-v"], logging.INFO),
        (["-vv"], logging.DEBUG),
        (["--log-level", "debug"], logging.DEBUG),
        (["--log-level=ERROR"], logging.ERROR),
        (["-v", "--log-level", "ERROR"], logging.ERROR),
    ],
)
def test_v_and_log_level_set_the_level_before_or_after_the_command(root_level, flags, level):
    for argv in (
        [*flags, "validate", "--watchlists", str(WATCHLISTS)],
        ["validate", "--watchlists", str(WATCHLISTS), *flags],
    ):
        root_level.setLevel(logging.WARNING)
        assert main(argv) == 0
        assert root_level.level == level, argv


def test_a_bad_log_level_is_a_usage_error_without_a_traceback():
    result = run_storywatch("--log-level", "LOUD", "validate")
    assert result.returncode == 2
    assert "invalid choice: 'LOUD'" in result.stderr and "Traceback" not in result.stderr


def test_validate_and_help_do_not_import_beam():
    code = (
        "import sys\n"
        "from pipeline.cli.main import main\n"
        f"assert main(['validate', '--watchlists', {str(WATCHLISTS)!r}]) == 0\n"
        "print('apache_beam' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "False"


def test_ctrl_c_exits_130(monkeypatch, capsys):
    import pipeline.cli.watchlists

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline.cli.watchlists, "validate", interrupted)
    assert main(["validate"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_log_format_json_writes_one_json_object_per_log_record(tmp_path):
    result = run_storywatch(
        "--log-format",
        "json",
        "-v",
        "replay",
        "--feeds",
        "seeds/feeds",
        "--alerts-out",
        str(tmp_path / "alerts.jsonl"),
        timeout_seconds=300,
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]  # every line is JSON
    assert records and all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    assert {r["level"] for r in records} <= {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
    assert all(r["time"].endswith("+00:00") for r in records)
    assert "alerts" in result.stdout  # the console summary stays text on standard output
