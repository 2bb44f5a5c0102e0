"""`storywatch feeds import` and the feeds.yaml part of `storywatch validate`, run as real processes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.paths import ROOT, WATCHLISTS

STORYWATCH = ROOT / ".venv" / "bin" / "storywatch"
pytestmark = pytest.mark.slow

OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0"><head><title>Export</title></head><body>
  <outline text="Taiwan">
    <outline type="rss" text="Taipei Times" xmlUrl="https://www.taipeitimes.com/xml/index.rss"/>
    <outline type="rss" text="Focus Taiwan" xmlUrl="https://feeds.feedburner.com/rsscna/engnews"/>
  </outline>
  <outline type="rss" text="Tass" xmlUrl="https://tass.com/rss/v2.xml"/>
</body></opml>
"""


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(STORYWATCH), *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_import_merges_without_duplicates(tmp_path) -> None:
    (tmp_path / "export.opml").write_text(OPML)
    feeds_file = tmp_path / "feeds.yaml"
    shutil.copy(WATCHLISTS / "feeds.yaml", feeds_file)
    before = feeds_file.read_text()
    result = run("feeds", "import", "export.opml", "--feeds-file", "feeds.yaml", cwd=tmp_path)
    # All three are already in the shipped list (www. and trailing slashes do not matter).
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "feeds.yaml: 0 added, 3 already listed, 0 skipped"
    assert feeds_file.read_text() == before

    (tmp_path / "more.opml").write_text(
        OPML.replace("tass.com", "tass.ru").replace("taipeitimes", "taiwannews")
    )
    result = run("feeds", "import", "more.opml", "--feeds-file", "feeds.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "added https://www.taiwannews.com/xml/index.rss (Taipei Times)" in result.stdout
    assert result.stdout.splitlines()[-1] == "feeds.yaml: 1 added, 2 already listed, 0 skipped"
    assert feeds_file.read_text().startswith(before)


def test_malformed_opml_exits_2_with_a_located_message(tmp_path) -> None:
    (tmp_path / "broken.opml").write_text("<opml><body>\n<outline text='x'\n</body></opml>")
    result = run("feeds", "import", "broken.opml", "--feeds-file", "feeds.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("broken.opml:3: not well-formed XML")
    assert "Traceback" not in result.stderr and not (tmp_path / "feeds.yaml").exists()


def test_missing_opml_file_exits_2(tmp_path) -> None:
    result = run("feeds", "import", "nope.opml", cwd=tmp_path)
    assert result.returncode == 2 and "nope.opml:1: cannot read OPML file" in result.stderr


def test_validate_reports_feeds_yaml_problems(tmp_path) -> None:
    watchlists = tmp_path / "watchlists"
    shutil.copytree(WATCHLISTS, watchlists, ignore=shutil.ignore_patterns("drafts"))
    ok = run("validate", "--watchlists", str(watchlists), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert f"{watchlists / 'feeds.yaml'}: ok: " in ok.stdout

    (watchlists / "feeds.yaml").write_text(
        "feeds:\n  - url: https://a.example/rss\n    min_poll_seconds: 10\n"
    )
    bad = run("validate", "--watchlists", str(watchlists), cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        f"{watchlists / 'feeds.yaml'}:3: feeds.0.min_poll_seconds: "
        "must be at least 60, found the number 10"
    )


def test_list_disable_enable_remove_as_an_operator_would(tmp_path) -> None:
    feeds_file = tmp_path / "feeds.yaml"
    shutil.copy(WATCHLISTS / "feeds.yaml", feeds_file)
    shipped = feeds_file.read_text()
    health = tmp_path / "feed-health.jsonl"
    health.write_text(
        '{"feed_id": "tass-en", "status": "failing", "consecutive_failures": 3, '
        '"last_error": "HTTP 403 Forbidden", "next_due_at": "2026-12-02T10:00:00+00:00", '
        '"interval_seconds": 1200.0}\n'
    )
    listed = run(
        "feeds", "list", "--feeds-file", "feeds.yaml", "--feed-health", str(health), cwd=tmp_path
    )
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[1].startswith("tass-en ") and "HTTP 403 Forbidden" in lines[1]  # failing first
    assert "1 failing" in lines[-1]
    off = run("feeds", "disable", "bbc-world", "--feeds-file", "feeds.yaml", cwd=tmp_path)
    assert off.returncode == 0 and "disabled bbc-world" in off.stdout, off.stderr
    listed = run("feeds", "list", "--feeds-file", "feeds.yaml", cwd=tmp_path)
    assert any(
        line.startswith("bbc-world ") and " disabled " in line
        for line in listed.stdout.splitlines()
    )
    validate = run("validate", "--watchlists", str(WATCHLISTS), cwd=ROOT)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    on = run(
        "feeds",
        "enable",
        "https://feeds.bbci.co.uk/news/world/rss.xml",
        "--feeds-file",
        "feeds.yaml",
        cwd=tmp_path,
    )
    assert on.returncode == 0, on.stderr
    assert feeds_file.read_text() == shipped  # comments and layout kept
    gone = run("feeds", "remove", "nyt-world", "--feeds-file", "feeds.yaml", cwd=tmp_path)
    assert gone.returncode == 0 and "nyt-world" not in feeds_file.read_text()
    unknown = run("feeds", "remove", "nyt-world", "--feeds-file", "feeds.yaml", cwd=tmp_path)
    assert unknown.returncode == 2 and "no feed 'nyt-world'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
