"""`storywatch seed` end to end: real subprocess runs of the installed command."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.paths import DATA, LABELED, ROOT, WATCHLISTS

STORYWATCH = Path(sys.executable).with_name("storywatch")
SEED = ROOT / "seeds" / "wsj-musk-putin-2024-10-25.txt"

pytestmark = pytest.mark.slow


def run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(STORYWATCH), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def watchlists(tmp_path) -> Path:
    """A copy of the shipped watchlists, so drafts are written into a throwaway tree."""
    target = tmp_path / "watchlists"
    target.mkdir()
    for path in WATCHLISTS.glob("*.yaml"):
        shutil.copy(path, target / path.name)
    return target


def test_seed_writes_a_draft_that_validates_once_kept(watchlists):
    result = run("seed", SEED, "--watchlists", watchlists)
    assert result.returncode == 0, result.stderr
    draft = watchlists / "drafts" / "wsj-musk-putin-2024-10-25.yaml"
    assert draft.is_file()
    assert f"{draft}:" in result.stdout and "storylines" in result.stdout
    # drafts/ is not loaded: the watchlists validate as before ...
    assert run("validate", "--watchlists", watchlists).returncode == 0
    # ... and keeping the draft (moving it next to the watchlists) validates unchanged.
    shutil.move(draft, watchlists / draft.name)
    kept = run("validate", "--watchlists", watchlists)
    assert kept.returncode == 0, kept.stderr
    data = yaml.safe_load((watchlists / draft.name).read_text(encoding="utf-8"))
    assert len(data["storylines"]) >= 4
    assert re.search(r"(\d+) storylines", kept.stdout)


def test_seed_out_option_and_html_input(watchlists, tmp_path):
    out = tmp_path / "elsewhere" / "recall.yaml"
    result = run(
        "seed", DATA / "seeds" / "product-recall.html", "--watchlists", watchlists, "--out", out
    )
    assert result.returncode == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    assert "name: Breville" in text and "new: true" in text
    assert not (watchlists / "drafts").exists()


def test_dry_run_prints_draft_and_reach_and_writes_nothing(watchlists):
    result = run("seed", SEED, "--watchlists", watchlists, "--dry-run", "--check", LABELED)
    assert result.returncode == 0, result.stderr
    assert not (watchlists / "drafts").exists()
    out = result.stdout
    assert "storylines:" in out
    assert f"# reach over {LABELED}: 127 items" in out
    assert re.search(r"#   musk-talks\s+\d+ items  -> musk-kremlin-contacts", out)
    f1 = float(re.search(r"# mapped micro-F1: ([0-9.]+)", out).group(1))
    assert f1 >= 0.75
    yaml.safe_load(out)  # the reach lines are comments: the output is still a draft


def test_dry_run_check_feeds_counts_recorded_items(watchlists):
    result = run(
        "seed",
        DATA / "seeds" / "football-transfer.txt",
        "--watchlists",
        watchlists,
        "--dry-run",
        "--check-feeds",
        DATA / "feeds" / "stream_gesab001",
    )
    assert result.returncode == 0, result.stderr
    match = re.search(r"# reach over .*stream_gesab001: (\d+) items", result.stdout)
    assert match and int(match.group(1)) > 100
    assert "mapped micro-F1" not in result.stdout  # no labels, no score


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.txt", b"", "empty"),
        ("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8, "binary"),
        (
            "page.html",
            b"<html><head><title>Menu</title><script>x()</script></head><body><nav>Home</nav></body></html>",
            "no article text",
        ),
        (
            "zh.txt",
            "马斯克自2022年以来一直与普京保持联系。双方讨论了星链、台湾和乌克兰战争。华尔街日报援引多名官员的话报道了此事。".encode(),
            "Han script",
        ),
        (
            "ru.txt",
            "Илон Маск с 2022 года ведёт тайные переговоры с Владимиром Путиным. Предприниматель обсуждал "
            "с Кремлём бизнес и геополитику, включая спутниковую связь и войну в Украине.".encode(),
            "Cyrillic script",
        ),
    ],
)
def test_bad_input_exits_2_with_a_message_and_writes_nothing(
    watchlists, tmp_path, name, content, message
):
    seed_file = tmp_path / name
    seed_file.write_bytes(content)
    out = tmp_path / "out.yaml"
    result = run("seed", seed_file, "--watchlists", watchlists, "--out", out)
    assert result.returncode == 2
    assert message in result.stderr and str(seed_file) in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() and not (watchlists / "drafts").exists()


def test_missing_labeled_file_is_a_clear_error(watchlists, tmp_path):
    result = run(
        "seed", SEED, "--watchlists", watchlists, "--dry-run", "--check", tmp_path / "nope.jsonl"
    )
    assert result.returncode == 2
    assert "nope.jsonl: file not found" in result.stderr


def test_folders_and_empty_folders_for_the_check_and_background_options(watchlists, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    # The files `storywatch replay --feeds` reads (pipeline/ingest/recorded.py): notes in
    # the folder are not feeds.
    (empty / "README.md").write_text("notes only")
    skipped = "notes such as *.md, *.txt, *.yaml and README are skipped"
    cases = [
        (["--check", empty], f"{empty}: is a folder; pass a labeled JSONL file to --check"),
        (
            ["--check-feeds", empty],
            f"{empty}: no recorded feed files here ({skipped}); "
            "pass a folder of recorded feeds to --check-feeds",
        ),
        # An empty --background folder silently gave a draft with no background statistics.
        (
            ["--background", empty],
            f"{empty}: no recorded feed files here ({skipped}); pass a "
            "folder of recorded feeds to --background, or leave it out for the bundled ones",
        ),
        (
            ["--check-feeds", tmp_path / "missing"],
            f"{tmp_path / 'missing'}: not a directory of recorded feeds; "
            "pass a folder of recorded feeds to --check-feeds",
        ),
    ]
    for args, message in cases:
        result = run("seed", SEED, "--watchlists", watchlists, "--dry-run", *args)
        assert (result.returncode, result.stderr.splitlines()) == (2, [message]), args
