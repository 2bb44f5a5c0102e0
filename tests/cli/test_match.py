"""`storywatch match`: one output line per good input line, in order; bad lines on stderr, exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_support import run_storywatch as run
from tests.paths import WATCHLISTS

pytestmark = pytest.mark.slow


def test_match_writes_one_line_per_article_and_reports_bad_lines(tmp_path: Path) -> None:
    lines = [
        {
            "id": "a1",
            "title": "Musk shut off Starlink to prevent Ukraine attack on Russian ships",
            "published": "2023-09-07",
            "labels": ["ignored"],
        },
        "{not json",
        {"id": "a2", "title": "Poachers target musk deer for perfumes"},
        {"title": "no id"},
        {
            "id": 3,
            "title": "Маск и Путин регулярно общаются",
            "summary": "пишет WSJ",
            "outlet": "X",
        },
        {"id": "a4", "title": ""},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines)
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    result = run(
        "match", "--input", str(src), "--output", str(out), "--watchlists", str(WATCHLISTS)
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    err = result.stderr.splitlines()
    assert err[0].startswith(f"{src}:2: not valid JSON")
    assert err[1] == f"{src}:4: missing field 'id'; line skipped"
    assert err[2] == f"{src}:6: missing field 'title'; line skipped"
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["a1", "a2", "3"]
    assert [[s["id"] for s in r["storylines"]] for r in rows] == [
        ["starlink-ukraine-war"],
        [],
        ["musk-kremlin-contacts"],
    ]
    storyline = rows[0]["storylines"][0]
    assert 0 < storyline["score"] <= 1
    starlink = next(e for e in storyline["evidence"] if e["ref"] == "starlink")
    assert starlink == {
        "ref": "starlink",
        "alias": "Starlink",
        "field": "title",
        "start": 14,
        "end": 22,
        "text": "Starlink",
        "kind": "exact",
        "similarity": 100.0,
    }
    kinds = {e["ref"]: e["kind"] for e in rows[2]["storylines"][0]["evidence"]}
    assert kinds == {"elon-musk": "transliterated", "vladimir-putin": "transliterated"}


def test_match_to_stdout_exit_0_when_all_lines_are_good(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        json.dumps({"id": "x", "title": "Taiwan builds a satellite network without Starlink"})
        + "\n"
    )
    result = run("match", "--input", str(src))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["storylines"][0]["id"] == "starlink-taiwan"


def test_missing_input_file_is_a_user_error(tmp_path: Path) -> None:
    result = run("match", "--input", str(tmp_path / "nope.jsonl"))
    assert result.returncode == 2
    assert result.stderr.startswith(f"{tmp_path / 'nope.jsonl'}:1: cannot read input")
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_output_that_fails_while_writing_is_a_user_error(tmp_path: Path) -> None:
    articles = tmp_path / "a.jsonl"
    articles.write_text(json.dumps({"id": "a1", "title": "Musk met Putin"}) + "\n")
    result = run("match", "--input", str(articles), "--output", "/dev/full")
    assert result.returncode == 2
    assert result.stderr.startswith("/dev/full:1: cannot write output (No space left on device)")
    assert "Traceback" not in result.stderr


BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 20


def test_hostile_input_files_are_user_errors_naming_the_input(tmp_path: Path) -> None:
    empty, binary, folder = tmp_path / "empty.jsonl", tmp_path / "image.jsonl", tmp_path / "folder"
    empty.write_text("\n\n")
    binary.write_bytes(BINARY)
    folder.mkdir()
    cases = [
        (
            empty,
            f"{empty}:1: no articles: the file is empty; each line must be a JSON object with at least "
            '"id" and "title"',
        ),
        (
            binary,
            f"{binary}:1: this is a binary file (it contains NUL bytes), not JSON lines; pass the .jsonl file",
        ),
        (folder, f"{folder}:1: cannot read input (Is a directory); check the path"),
    ]
    if Path("/proc/self/mem").exists():  # opens, then every read fails: was blamed on <stdout>
        cases.append(
            (
                Path("/proc/self/mem"),
                "/proc/self/mem:1: cannot read input (Input/output error); "
                "check the file or the disk it is on",
            )
        )
    for path, message in cases:
        result = run("match", "--input", str(path))
        assert (result.returncode, result.stderr.splitlines()) == (2, [message])


def test_non_utf8_line_is_skipped_with_its_line_number(tmp_path: Path) -> None:
    src = tmp_path / "latin1.jsonl"
    src.write_bytes(
        b'{"id": "1", "title": "M\xfcller met Putin"}\n{"id": "2", "title": "Musk met Putin"}\n'
    )
    result = run("match", "--input", str(src))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{src}:1: not UTF-8 text (byte 0xFC at column 24); save the file as UTF-8; line skipped",
        f"{src}: 1 malformed line(s) skipped",
    ]
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ["2"]


def test_output_that_is_the_input_is_refused_before_erasing_it(tmp_path: Path) -> None:
    src = tmp_path / "a.jsonl"
    src.write_text(json.dumps({"id": "a1", "title": "Musk met Putin"}) + "\n")
    result = run("match", "--input", str(src), "--output", str(src))
    assert result.returncode == 2
    assert result.stderr.startswith(f"{src}:1: --output is the --input file")
    assert json.loads(src.read_text())["id"] == "a1"


def test_a_reader_that_stops_early_is_not_reported_as_a_write_error(tmp_path: Path) -> None:
    import subprocess

    from tests.cli_support import STORYWATCH
    from tests.paths import LABELED, ROOT

    big = tmp_path / "many.jsonl"  # enough output to fill the pipe
    big.write_text(LABELED.read_text(encoding="utf-8") * 20, encoding="utf-8")
    proc = subprocess.Popen(
        [STORYWATCH, "match", "--input", str(big)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.read(100)  # like `| head -c 100`
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1
    assert stderr == ""  # was "<stdout>:1: cannot write output (Broken pipe); free space or ..."
