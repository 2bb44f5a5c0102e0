"""``storywatch eval-alerts``: alert precision, development recall, duplicate alerts (subprocess)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli_support import run_storywatch
from tests.paths import LABELED, WATCHLISTS


def figure(text: str, name: str) -> float:
    return float(re.search(rf"{name}: ([0-9.]+)", text).group(1))


def test_eval_alerts_on_the_labeled_set_meets_precision_and_recall_targets():
    result = run_storywatch("eval-alerts", "--input", str(LABELED))
    assert result.returncode == 0, result.stderr
    assert figure(result.stdout, "alert precision") >= 0.95
    assert figure(result.stdout, "development recall") >= 0.9
    # Measured 0.000 (0/18): D23, whose first item is dated only "2025-02", alerts once
    # because coarse dates are compared as ranges (pipeline/storylines/timing.py).
    assert figure(result.stdout, "duplicate alerts") <= 0.05
    assert "repeated:" not in result.stdout


def test_eval_alerts_counts_a_repeated_development(tmp_path):
    # The same event published three weeks apart with unrelated headlines: two alerts for one dup_group.
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text(
        '{"id": "x1", "title": "Elon Musk held secret calls with Vladimir Putin, WSJ reports", '
        '"published": "2024-10-01", "labels": ["musk-kremlin-contacts"], "dup_group": "G1"}\n'
        '{"id": "x2", "title": "Kremlin confirms Putin spoke with Elon Musk several times", '
        '"published": "2024-10-25", "labels": ["musk-kremlin-contacts"], "dup_group": "G1"}\n'
    )
    result = run_storywatch("eval-alerts", "--input", str(labeled))
    assert result.returncode == 0, result.stderr
    assert "duplicate alerts: 1.000 (1/1" in result.stdout
    assert "development recall: 1.000 (1/1" in result.stdout


def test_eval_alerts_reports_bad_lines_with_their_line_number(tmp_path):
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text(
        '{"id": "x1", "title": "ok", "labels": []}\n{"id": "x2", "title": "no labels"}\n'
    )
    result = run_storywatch("eval-alerts", "--input", str(labeled))
    assert result.returncode == 2
    assert f"{labeled}:2:" in result.stderr and "labels" in result.stderr
    assert "Traceback" not in result.stderr


def test_misspelt_label_is_a_user_error_naming_the_line(tmp_path) -> None:
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text(
        '{"id": "1", "title": "Musk met Putin", "labels": ["musk-kremlin-contact"]}\n'
    )
    result = run_storywatch("eval-alerts", "--input", str(labeled), "--watchlists", str(WATCHLISTS))
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"{labeled}:1: labels name unknown storyline(s) musk-kremlin-contact;"
    )
    assert "Traceback" not in result.stderr


def test_label_fields_of_the_wrong_type_are_bad_lines_not_silently_single_developments(
    tmp_path,
) -> None:
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text(
        '{"id": "1", "title": "Musk met Putin", "labels": ["musk-kremlin-contacts"], "dup_group": 7}\n'
        '{"id": "2", "title": "Musk spoke to Putin", "labels": ["musk-kremlin-contacts"], "dup_group": ["G1"]}\n'
        '{"id": "3", "title": "Rain in Berlin", "labels": [], "development": "C1"}\n'
        '{"id": "4", "title": "Rain in Kyiv", "labels": [], "dup_group": "G2", '
        '"development": {"chain": "C1", "order": "first"}}\n'
    )
    result = run_storywatch("eval-alerts", "--input", str(labeled))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{labeled}:1: field 'dup_group' must be text (the id items of one event share) or null, found a number "
        '(7); write e.g. "dup_group": "D1"',
        f"{labeled}:2: field 'dup_group' must be text (the id items of one event share) or null, found a list; "
        'write e.g. "dup_group": "D1"',
        f"{labeled}:3: field 'development' must be an object {{chain, order}} or null, found text; "
        'write e.g. "development": {"chain": "C1", "order": 2}, or null',
        f"{labeled}:4: development.order must be a whole number (1 for the first development), found text; "
        'write e.g. "development": {"chain": "C1", "order": 2}, or null',
    ]


def test_no_alerts_and_no_developments_are_na_not_perfect(tmp_path) -> None:
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text('{"id": "1", "title": "Rain in Berlin", "labels": []}\n')
    result = run_storywatch("eval-alerts", "--input", str(labeled))
    assert result.returncode == 0, result.stderr
    assert "alert precision: n/a (no alerts) (0/0" in result.stdout
    assert "development recall: n/a (no labeled developments) (0/0" in result.stdout
    assert "1.000" not in result.stdout


def test_a_read_error_or_a_binary_file_is_a_user_error_not_a_traceback(tmp_path) -> None:
    binary = tmp_path / "labeled.jsonl"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    result = run_storywatch("eval-alerts", "--input", str(binary))
    assert (result.returncode, result.stderr.splitlines()) == (
        2,
        [
            f"{binary}:1: this is a binary file (it contains NUL bytes), not JSON lines; pass the .jsonl file"
        ],
    )
    if Path("/proc/self/mem").exists():
        result = run_storywatch("eval-alerts", "--input", "/proc/self/mem")
        assert (result.returncode, result.stderr.splitlines()) == (
            2,
            [
                "/proc/self/mem:1: cannot read input (Input/output error); check the file or the disk it is on"
            ],
        )


def test_absurd_dates_are_undated_items_not_a_tracker_overflow(tmp_path) -> None:
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text(
        '{"id": "1", "title": "Elon Musk met Vladimir Putin", "published": "9999-12-31T23:59:59+00:00", '
        '"labels": ["musk-kremlin-contacts"]}\n'
        '{"id": "2", "title": "Elon Musk talked to Vladimir Putin again", "published": "0001-01-01T00:00:00Z", '
        '"labels": ["musk-kremlin-contacts"]}\n'
        '{"id": "3", "title": "Elon Musk and Vladimir Putin spoke", "published": 1e20, '
        '"labels": ["musk-kremlin-contacts"]}\n'
    )
    result = run_storywatch("eval-alerts", "--input", str(labeled))
    assert result.returncode == 0, result.stderr
    assert "development recall:" in result.stdout and "Traceback" not in result.stderr


def test_coverage_in_its_own_dup_group_counts_with_its_development(tmp_path) -> None:
    # A wire story and another outlet's report of the same event: two dup_groups, one
    # development {chain, order}, so one development; a second alert for it is a repeat.
    same_event = '"development": {"chain": "C1", "order": 1}'
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text(
        '{"id": "x1", "title": "Elon Musk held secret calls with Vladimir Putin, WSJ reports", '
        f'"published": "2024-10-01", "labels": ["musk-kremlin-contacts"], "dup_group": "W1", {same_event}}}\n'
        '{"id": "x2", "title": "Kremlin figures praise Elon Musk as Putin ally", '
        f'"published": "2024-10-25", "labels": ["musk-kremlin-contacts"], "dup_group": null, {same_event}}}\n'
    )
    result = run_storywatch("eval-alerts", "--input", str(labeled))
    assert result.returncode == 0, result.stderr
    assert "development recall: 1.000 (1/1" in result.stdout
    assert "duplicate alerts: 1.000 (1/1" in result.stdout
    assert "repeated: musk-kremlin-contacts W1 alerted 2 times" in result.stdout


def test_eval_alerts_prints_the_grouping_and_per_storyline_figures():
    result = run_storywatch("eval-alerts", "--input", str(LABELED))
    assert result.returncode == 0, result.stderr
    assert "grouping (BCubed): precision 1.000, recall 1.000" in result.stdout
    assert "  starlink-ukraine-war: 10 developments, 0 missed, 0 false alarms, 0 repeated" in (
        result.stdout
    )
    assert "  musk-kremlin-contacts: 3 developments, 0 missed, 1 false alarms, 0 repeated" in (
        result.stdout
    )
