"""``storywatch replay``: real subprocess runs over the bundled real feed snapshots.

The replay of ``seeds/feeds`` (what ``make demo`` runs; copies of files in tests/data/feeds,
see seeds/feeds/PROVENANCE.md) must produce exactly the checked-in golden alerts file,
byte for byte. After a deliberate change to matching or grouping, regenerate it with
``STORYWATCH_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/cli/test_replay.py`` and
review the diff.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.cli_support import run_storywatch
from tests.paths import LABELED, ROOT

GOLDEN = ROOT / "tests" / "golden" / "replay" / "seeds_feeds_alerts.jsonl"


@pytest.mark.slow
def test_replay_of_real_feed_snapshots_matches_the_golden_alerts(tmp_path):
    out = tmp_path / "alerts.jsonl"
    result = run_storywatch(
        "replay", "--feeds", "seeds/feeds", "--alerts-out", str(out), timeout_seconds=300
    )
    assert result.returncode == 0, result.stderr
    if os.environ.get("STORYWATCH_UPDATE_GOLDEN"):
        GOLDEN.write_bytes(out.read_bytes())
    assert out.read_text() == GOLDEN.read_text()
    alerts = [json.loads(line) for line in out.read_text().splitlines()]
    # readable console output: one block per alert, and the grouping summary
    for alert in alerts:
        assert alert["title"] in result.stdout
    assert f"{len(alerts)} alerts" in result.stdout
    assert "matched articles:" in result.stdout and "coverage" in result.stdout
    # the status page needs a ledger that outlives the replay (make demo gives --ledger)
    assert result.stdout.splitlines()[-1] == (
        "status page: add --ledger PATH to keep this replay's ledger, then "
        f"storywatch serve --ledger PATH --alerts {out}"
    )
    # the 11 articles on the Sevastopol/Starlink story of 7-9 Sep 2023: the biography's report
    # and Musk's admission the next morning (dev.jsonl's D18 and D19; an answer to the report,
    # pipeline/storylines/tracker.py), and a Ukrainian presidential adviser's reaction (a new
    # actor: stream_tune.jsonl labels it a development of its own, STK23#3). The join model
    # alerts the report three times: the Guardian's "book says" 3 h after the Post's, in
    # other words, and the New York Times' second article of the 8th, its own outlet's
    # earlier one being coverage of the admission (docs/storylines.md, "The join model").
    sevastopol = [
        a for a in alerts if a["published"].startswith("2023-09") and a["kind"] == "new_development"
    ]
    assert [a["published"][:10] for a in sevastopol] == [
        "2023-09-07",
        "2023-09-07",
        "2023-09-08",
        "2023-09-08",
        "2023-09-08",
    ]
    assert "admits" in sevastopol[2]["title"]
    assert "Ukrainian official" in sevastopol[3]["title"]
    assert "Drone Attack on Russian Fleet" in sevastopol[4]["title"]
    # their coverage: follow-ups naming the outlets (pipeline/alerts/followups.py), not alerts
    follow_ups = [a for a in alerts if a["kind"] == "coverage"]
    assert follow_ups and all(a["reason"].startswith("now ") for a in follow_ups)
    assert all(a["sources"] and "." not in a["outlet"] for a in follow_ups)


@pytest.mark.slow
def test_replay_of_articles_jsonl_is_deterministic_and_skips_nothing_silently(tmp_path):
    articles = tmp_path / "articles.jsonl"
    picked = [
        line for line in LABELED.read_text().splitlines() if '"D18_' in line or '"D19_' in line
    ]
    articles.write_text("\n".join(picked) + "\nnot json\n")
    out = tmp_path / "alerts.jsonl"
    first = run_storywatch("replay", "--input", str(articles), "--alerts-out", str(out))
    assert first.returncode == 0, first.stderr
    alerts = [json.loads(line) for line in out.read_text().splitlines()]
    # 11 articles, two developments: the report (D18) and Musk's acknowledgement (D19);
    # the other outlets' reports are follow-ups of them, not alerts
    follow_ups = [a for a in alerts if a["kind"] == "coverage"]
    alerts = [a for a in alerts if a["kind"] != "coverage"]
    assert [a["kind"] for a in alerts] == ["new_development"] * 2
    assert {f["development_id"] for f in follow_ups} <= {a["development_id"] for a in alerts}
    assert [a["article_ids"][0] for a in alerts] == [
        "H137",
        "H144",
    ]  # the earliest report of each leads
    assert "1 failures in" in first.stdout
    dead = (tmp_path / "alerts.dead-letters.jsonl").read_text()
    assert "not valid JSON" in dead


def test_replay_of_a_missing_folder_is_a_clear_error():
    result = run_storywatch("replay", "--feeds", "no/such/folder")
    assert result.returncode == 2
    assert "no/such/folder: no such folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_replay_needs_exactly_one_source():
    result = run_storywatch("replay", "--feeds", "seeds/feeds", "--input", str(LABELED))
    assert result.returncode == 2 and "not allowed with" in result.stderr


def test_unusable_input_and_output_paths_are_user_errors_before_the_pipeline_starts(tmp_path):
    articles = tmp_path / "articles.jsonl"
    articles.write_text(LABELED.read_text().splitlines()[0] + "\n")
    empty, binary, folder = tmp_path / "empty.jsonl", tmp_path / "a.bin", tmp_path / "folder"
    empty.write_text("")
    binary.write_bytes(b"\x00\x01" * 400)
    folder.mkdir()
    cases = [  # the first three were "0 alerts" (exit 0), the others an IsADirectoryError or Beam traceback
        (
            ["--input", folder],
            f"{folder}: is a folder; pass an articles JSONL file to --input (or a folder of "
            "recorded feeds to --feeds)",
        ),
        (
            ["--input", binary],
            f"{binary}:1: this is a binary file (it contains NUL bytes), not JSON lines; "
            "pass the .jsonl file",
        ),
        (
            ["--input", empty],
            f"{empty}:1: no articles: the file is empty; each line must be a JSON object with "
            'at least "id" and "title"',
        ),
        (
            ["--input", articles, "--alerts-out", folder],
            f"{folder}: is a folder; pass a file path to --alerts_out",
        ),
        (
            ["--input", articles, f"--dead_letter_out={folder}"],
            f"{folder}: is a folder; pass a file path to --dead_letter_out",
        ),
        (
            ["--input", articles, f"--ledger={folder}"],
            f"{folder}: is a folder; pass a ledger file path",
        ),
    ]
    for args, message in cases:
        result = run_storywatch("replay", *map(str, args))
        assert (result.returncode, result.stderr.splitlines()) == (2, [message]), args


def test_a_mistyped_runner_is_a_user_error(tmp_path):
    articles = tmp_path / "articles.jsonl"
    articles.write_text(LABELED.read_text().splitlines()[0] + "\n")
    result = run_storywatch("replay", "--input", str(articles), "--runner=FnApiRuner")
    assert (result.returncode, result.stderr.splitlines()) == (
        2,
        [
            "--runner=FnApiRuner: unknown runner; use FnApiRunner (the local default),"
            " DirectRunner, PortableRunner or DataflowRunner"
        ],
    )
