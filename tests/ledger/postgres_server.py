"""A real PostgreSQL server for the tests, started on a temporary directory.

``PostgresServer.start()`` runs ``initdb`` into a fresh directory under the system temp
dir, then ``pg_ctl start`` with the socket in that directory and TCP on 127.0.0.1 only
(a free port). Password authentication (scram-sha-256) is on for every connection, so
the tests see real auth failures. As root (the CI container), initdb and postgres run
as the ``postgres`` user (``runuser``), which owns the directory. ``database()`` creates
one fresh database per test and returns its URL. ``stop()`` stops the server
(``-m immediate``) and removes the directory.

The server binaries are found in ``$STORYWATCH_PG_BIN``, then the newest
``/usr/lib/postgresql/*/bin`` (Debian's ``postgresql`` package, which
``tools/install_test_system.sh`` installs), then ``PATH``. Without them the fixture
fails with that advice: CI must run these tests, so they are never skipped.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

SUPERUSER = "storywatch"
START_TIMEOUT_SECONDS = 60


def find_bin_dir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres, or None."""
    candidates = [os.environ.get("STORYWATCH_PG_BIN", "")]
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True
    )
    which = shutil.which("initdb")
    candidates.append(str(Path(which).parent) if which else "")
    for candidate in filter(None, candidates):
        if all((Path(candidate) / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    bin_dir: Path
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="storywatch-pg-")))
    port: int = field(default_factory=_free_port)
    password: str = field(default_factory=lambda: "pw-" + secrets.token_hex(8))
    _databases: int = 0

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def _as_server_user(self, *args: str | Path) -> list[str]:
        command = [str(a) for a in args]
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    def _run(self, *args: str | Path) -> None:
        done = subprocess.run(
            self._as_server_user(*args),
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_SECONDS,
            cwd=self.root,  # runuser keeps the cwd; postgres must be able to enter it
        )
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(
                f"{Path(str(args[0])).name} failed ({done.returncode}): "
                f"{done.stderr or done.stdout}\n{tail}"
            )

    def start(self) -> PostgresServer:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        self.root.chmod(0o700)
        self._run(
            self.bin_dir / "initdb",
            "-D",
            self.data_dir,
            "-U",
            SUPERUSER,
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--no-sync",
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            self.bin_dir / "pg_ctl",
            "start",
            "-D",
            self.data_dir,
            "-w",
            "-t",
            str(START_TIMEOUT_SECONDS),
            "-l",
            self.root / "server.log",
            "-o",
            options,
        )
        return self

    def stop(self) -> None:
        """Stop the server if it runs, and remove its directory (also after a failed start)."""
        try:
            if (self.data_dir / "postmaster.pid").exists():
                self._run(self.bin_dir / "pg_ctl", "stop", "-D", self.data_dir, "-m", "immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres", *, password: str | None = None) -> str:
        secret = self.password if password is None else password
        return f"postgresql://{SUPERUSER}:{secret}@127.0.0.1:{self.port}/{database}"

    def socket_url(self, database: str) -> str:
        """The same database over the Unix socket (libpq's ``host=`` parameter)."""
        return f"postgresql://{SUPERUSER}:{self.password}@/{database}?host={self.root}&port={self.port}"

    def database(self) -> str:
        """A new, empty database; its URL (TCP, with the password)."""
        self._databases += 1
        name = f"ledger_{self._databases}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def terminate_connections(self, database: str) -> int:
        """Drop every connection to ``database`` as a server restart would; how many."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname=%s",
                (database,),
            ).fetchone()
        return int(row[0]) if row else 0
