"""The file behind a SQLite ledger: what may be opened, and how a new one is made.

A file at the ledger path must be a whole storywatch ledger. Each of these is refused with
an error that names the path, because opening it as a new ledger would send every alert
to everyone again:

- a 0-byte file (a failed copy, ``> ledger.sqlite``, a full disk);
- a file that is not SQLite (another program's file, a text file);
- a SQLite file cut short: fewer bytes than its header's page count (an interrupted copy);
- a SQLite database without the ledger's ``deliveries`` table (another program's database);
- a damaged page (``PRAGMA quick_check`` at open; SQLite's "malformed" errors later).

A new ledger is made only where no file exists: its tables are written to a temporary file
beside the path, which is hard-linked into place, so two processes starting together never
see a half-made (0-byte) ledger and exactly one of them creates it.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from pipeline.errors import UserError

SQLITE_MAGIC = b"SQLite format 3\x00"
_HEADER_BYTES = 100
_TRUNCATION_READS = 5
_TRUNCATION_PAUSE_SECONDS = 0.05
_FIX = (
    "restore the ledger from a backup, or move the file away to start a new, empty ledger "
    "(every alert would then be sent again)"
)


def ledger_file_error(path: Path, what: str) -> UserError:
    """The one wording of a bad ledger file: what is wrong with ``path`` and how to fix it."""
    return UserError(f"{path}: {what}; {_FIX}")


def check_header(path: Path) -> None:
    """Refuse a file at ``path`` that is empty, not SQLite, or shorter than its header says."""
    size, header = _read_start(path)
    if size == 0:
        raise ledger_file_error(path, "the ledger file is empty (0 bytes), not a ledger")
    if not header.startswith(SQLITE_MAGIC):
        raise ledger_file_error(path, "is not a storywatch ledger (not a SQLite database)")
    if len(header) < _HEADER_BYTES:
        raise ledger_file_error(path, f"the ledger is truncated ({size} bytes)")
    # Another process may be checkpointing into the file (its header already counts pages
    # not yet written) and then deleting its log: a cut file stays short, a busy one does not.
    short = _short_of_header(path)
    for _ in range(_TRUNCATION_READS - 1):
        if short is None:
            return
        time.sleep(_TRUNCATION_PAUSE_SECONDS)
        short = _short_of_header(path)
    if short is None:
        return
    size, expected = short
    raise ledger_file_error(
        path, f"the ledger is truncated ({size} bytes, its header says {expected})"
    )


def _read_start(path: Path) -> tuple[int, bytes]:
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            return size, fh.read(_HEADER_BYTES)
    except IsADirectoryError:
        raise UserError(f"{path}: is a folder; pass a ledger file path") from None
    except PermissionError:
        raise UserError(f"{path}: cannot read the ledger (permission denied)") from None


def _short_of_header(path: Path) -> tuple[int, int] | None:
    """``(bytes, bytes the header counts)`` when the file is shorter than its header says."""
    if _wal_bytes(path) > 0:  # the log may hold pages not yet copied to the file
        return None
    size, header = _read_start(path)
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    page_count = int.from_bytes(header[28:32], "big")
    # The header's page count is valid only when its "version-valid-for" equals the change
    # counter.
    counted = page_count > 0 and header[24:28] == header[92:96]
    if counted and size < page_count * page_size:
        return size, page_count * page_size
    return None


def _wal_bytes(path: Path) -> int:
    """The size of the ledger's write-ahead log, 0 when there is none (or it just went)."""
    try:
        return path.with_name(path.name + "-wal").stat().st_size
    except FileNotFoundError:
        return 0


def check_contents(path: Path, conn: sqlite3.Connection) -> None:
    """Refuse a SQLite database with a damaged page or without the ledger's tables."""
    try:
        problems = [row[0] for row in conn.execute("PRAGMA quick_check(3)")]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as exc:
        raise ledger_file_error(path, f"the ledger is damaged ({exc})") from None
    if problems != ["ok"]:
        raise ledger_file_error(path, f"the ledger is damaged ({'; '.join(problems)})")
    if "deliveries" not in tables:
        raise ledger_file_error(
            path, "is a SQLite database but not a storywatch ledger (no deliveries table)"
        )


def create_new(path: Path, init: Callable[[sqlite3.Connection], None]) -> None:
    """Make a ledger at ``path`` if no file is there (``init`` writes its tables)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.new")
    try:
        conn = sqlite3.connect(str(tmp), isolation_level=None)
        try:
            init(conn)
        finally:
            conn.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
    finally:
        tmp.unlink(missing_ok=True)
