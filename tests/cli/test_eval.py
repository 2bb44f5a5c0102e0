"""`storywatch eval`: per-storyline and micro P/R/F1, with false positives and misses and their evidence."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli_support import run_storywatch as run
from tests.paths import LABELED

pytestmark = pytest.mark.slow


def test_eval_on_the_dev_set() -> None:
    result = run("eval", "--input", str(LABELED))
    assert result.returncode == 0, result.stderr
    micro = re.search(r"^micro\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", result.stdout, re.M)
    assert micro and float(micro[3]) >= 0.99
    for storyline in (
        "musk-kremlin-contacts",
        "starlink-taiwan",
        "starlink-ukraine-war",
        "musk-government-role",
    ):
        assert re.search(rf"^{storyline}\s+[\d.]+\s+[\d.]+\s+[\d.]+", result.stdout, re.M)
    assert "false positives:" in result.stdout and "misses:" in result.stdout


def test_eval_lists_mistakes_with_evidence_and_bad_lines(tmp_path: Path) -> None:
    src = tmp_path / "labeled.jsonl"
    src.write_text(
        "\n".join(
            [
                json.dumps(
                    {
                        "id": "fp",
                        "title": "Musk deer and Elon Musk in Kyiv with Starlink",
                        "labels": [],
                    }
                ),
                json.dumps(
                    {
                        "id": "miss",
                        "title": "Kremlin denies it",
                        "labels": ["musk-kremlin-contacts"],
                    }
                ),
                json.dumps({"id": "bad", "title": "x", "labels": "starlink-taiwan"}),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    result = run("eval", "--input", str(src))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"{src}:3: field 'labels' must be a list of storyline ids; "
        'write e.g. "labels": ["musk-kremlin-contacts"], or "labels": [] for none'
    )
    out = result.stdout
    assert "false positives: 1" in out and "fp  starlink-ukraine-war score=" in out
    assert "starlink <- 'Starlink' title[" in out
    assert (
        "misses: 1" in out
        and "miss  musk-kremlin-contacts" in out
        and "kremlin <- 'Kremlin' title[0:7] exact" in out
    )


def test_eval_of_a_file_without_usable_items_is_a_user_error(tmp_path: Path) -> None:
    src = tmp_path / "empty.jsonl"
    src.write_text("\n", encoding="utf-8")
    result = run("eval", "--input", str(src))
    assert result.returncode == 2
    assert "no usable labeled items" in result.stderr


def test_a_storyline_with_no_positives_and_no_predictions_prints_na_not_a_perfect_score(
    tmp_path: Path,
) -> None:
    src = tmp_path / "labeled.jsonl"
    src.write_text(
        "\n".join(
            [
                json.dumps(
                    {
                        "id": "1",
                        "title": "Elon Musk held talks with Vladimir Putin",
                        "labels": ["musk-kremlin-contacts"],
                    }
                ),
                json.dumps(
                    {"id": "2", "title": "Rain expected in Berlin on Tuesday", "labels": []}
                ),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    result = run("eval", "--input", str(src), "--quiet")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[1:6]}
    assert rows["musk-kremlin-contacts"] == ["1.000", "1.000", "1.000", "1", "0", "0"]
    for storyline in ("starlink-taiwan", "starlink-ukraine-war", "musk-government-role"):
        assert rows[storyline] == ["n/a", "n/a", "n/a", "0", "0", "0"]
    assert rows["micro"] == ["1.000", "1.000", "1.000", "1", "0", "0"]
    assert (
        "n/a: no labeled item carries starlink-taiwan, starlink-ukraine-war, musk-government-role and none "
        "was predicted, so there is nothing to score (not a perfect score)"
    ) in result.stdout


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs /proc/self/mem")
def test_a_read_error_is_a_user_error_not_a_traceback() -> None:
    result = run("eval", "--input", "/proc/self/mem")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "/proc/self/mem:1: cannot read input (Input/output error); check the file or the disk it is on"
    ]


def test_a_binary_input_is_one_clear_error(tmp_path: Path) -> None:
    src = tmp_path / "labeled.jsonl.gz"
    src.write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(256)) * 8)
    result = run("eval", "--input", str(src))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{src}:1: this is gzip-compressed; decompress it first (gunzip FILE)"
    ]
