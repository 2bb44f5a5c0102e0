"""Defect 5 of issue 14: what lies at a SQLite ledger path is a whole ledger or an error that
names the path; only a missing file becomes a new ledger (pipeline/ledger/sqlite_file.py)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading

import pytest

from pipeline.errors import UserError
from pipeline.ledger.sqlite import SqliteLedger
from tests.paths import ROOT


def _ledger_with_alerts(path, count=300):
    ledger = SqliteLedger(path)
    for n in range(count):
        ledger.record_alert(f"a{n}", {"title": "x" * 200})
    ledger.close()


def test_a_zero_byte_file_is_refused_not_started_over(tmp_path):
    path = tmp_path / "ledger.sqlite"
    path.write_bytes(b"")
    with pytest.raises(UserError, match=r"ledger.sqlite: the ledger file is empty \(0 bytes\)"):
        SqliteLedger(path)
    assert path.read_bytes() == b""  # nothing written over it


def test_a_truncated_copy_is_refused(tmp_path):
    path = tmp_path / "ledger.sqlite"
    _ledger_with_alerts(path)
    data = path.read_bytes()
    assert len(data) > 8192
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="the ledger is truncated"):
        SqliteLedger(path)


def test_another_programs_sqlite_database_is_refused(tmp_path):
    path = tmp_path / "ledger.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(UserError, match="not a storywatch ledger \\(no deliveries table\\)"):
        SqliteLedger(path)


def test_a_damaged_last_page_is_a_user_error_not_a_traceback(tmp_path):
    path = tmp_path / "ledger.sqlite"
    _ledger_with_alerts(path)
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    data[-page_size:] = b"\xff" * page_size  # the last page overwritten, the size kept
    path.write_bytes(bytes(data))
    with pytest.raises(UserError, match="ledger.sqlite: the ledger is damaged"):
        SqliteLedger(path)


def test_two_processes_starting_together_make_one_ledger(tmp_path):
    path = tmp_path / "new" / "ledger.sqlite"
    errors: list[BaseException] = []

    def open_it():
        try:
            SqliteLedger(path).close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(p.name for p in path.parent.iterdir()) == ["ledger.sqlite"]
    SqliteLedger(path).close()  # and it is a whole ledger


@pytest.mark.slow
def test_replay_on_a_zero_byte_ledger_exits_2_naming_it(tmp_path):
    path = tmp_path / "ledger.sqlite"
    path.write_bytes(b"")
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "replay", "--feeds", "seeds/feeds", f"--ledger={path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert f"{path}: the ledger file is empty (0 bytes)" in result.stderr
    assert "Traceback" not in result.stderr
    assert path.read_bytes() == b""
