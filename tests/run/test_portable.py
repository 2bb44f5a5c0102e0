"""The graph across processes: ``storywatch replay`` of ``seeds/feeds`` gives the golden alerts

1. on Beam's PortableRunner: a Python job service (``local_job_service_main``) and an
   external worker pool (``worker_pool_main``), each its own process, the pool starting the
   SDK worker that runs the DoFns; the driver submits the job over gRPC and reads no file
   the workers wrote (it reports the job's counters), the test reads the alerts file;
2. on two SDK worker processes at once (``--direct_num_workers=2``, multi-processing),
   which split each stage's input between them. Python's local job service runs one SDK
   worker per environment (its FnApiRunner ignores ``direct_num_workers``), so this is the
   way to run two workers here.

Every server is started by the test on free ports, reached at 127.0.0.1, and its whole
process group is ended afterwards. Beam's own gRPC servers bind every interface (the pool
``[::]:PORT``, the runner's control ports ``[::]:0``), which no flag changes: run this on a
machine whose firewall keeps them in.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.errors import UserError
from pipeline.run.runner import run_replay
from tests.cli_support import STORYWATCH
from tests.paths import ROOT

GOLDEN = ROOT / "tests" / "golden" / "replay" / "seeds_feeds_alerts.jsonl"
VENV_BIN = str(Path(sys.executable).parent)
# The worker pool starts SDK workers as `python -c ...`: the venv's python must come first.
ENV = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, log: Path, timeout_seconds: float) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"server exited: {log.read_text()}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"nothing listens on 127.0.0.1:{port} after {timeout_seconds} s: {log.read_text()}")


class Servers:
    """Background servers, each in its own process group (its SDK workers too)."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen] = []

    def start(self, name: str, module: str, *flags: str, port: int) -> Path:
        log = self.tmp_path / f"{name}.log"
        with log.open("w") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", module, *flags],
                cwd=ROOT,
                env=ENV,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        wait_listening(port, proc, log, timeout_seconds=60)
        return log

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)


def replay(tmp_path: Path, *runner_flags: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
    alerts = tmp_path / "alerts.jsonl"
    result = subprocess.run(
        [
            STORYWATCH,
            "replay",
            "--feeds",
            "seeds/feeds",
            "--alerts-out",
            str(alerts),
            f"--ledger={tmp_path / 'ledger.sqlite'}",
            *runner_flags,
        ],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = alerts.read_text(encoding="utf-8").splitlines()
    return result, sorted(
        (json.loads(line) for line in lines if line.strip()),
        key=lambda a: (a["published"], a["storyline"], a["alert_id"]),
    )


def golden() -> list[dict]:
    return [json.loads(line) for line in GOLDEN.read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
def test_portable_runner_with_a_job_service_and_an_external_worker_pool(tmp_path):
    job_port, pool_port = free_port(), free_port()
    servers = Servers(tmp_path)
    try:
        servers.start(
            "job-service",
            "apache_beam.runners.portability.local_job_service_main",
            f"--port={job_port}",
            port=job_port,
        )
        pool_log = servers.start(
            "worker-pool",
            "apache_beam.runners.worker.worker_pool_main",
            f"--service_port={pool_port}",
            port=pool_port,
        )
        result, alerts = replay(
            tmp_path,
            "--runner=PortableRunner",
            f"--job_endpoint=127.0.0.1:{job_port}",
            "--environment_type=EXTERNAL",
            f"--environment_config=127.0.0.1:{pool_port}",
        )
    finally:
        servers.stop()
    assert alerts == golden()
    # the driver counted from the job's metrics; it did not read the workers' file back
    assert f"{len(alerts)} alerts in" in result.stdout and "the job's counters" in result.stdout
    assert alerts[0]["title"] not in result.stdout
    assert "Starting worker" in pool_log.read_text()  # the pool ran the SDK worker


@pytest.mark.slow
def test_two_sdk_worker_processes_give_the_golden_alerts(tmp_path):
    result, alerts = replay(
        tmp_path, "-v", "--direct_num_workers=2", "--direct_running_mode=multi_processing"
    )
    assert alerts == golden()
    assert f"{len(alerts)} alerts (" in result.stdout
    # each SDK worker process logs its start to the runner (-v: INFO)
    assert result.stderr.count("Python sdk harness starting") == 2


def test_a_replay_on_workers_names_its_ledger_and_alerts_file(tmp_path):
    # The driver's temporary defaults: unreachable from other machines, deleted at its end.
    with pytest.raises(UserError, match="give --ledger and --alerts-out: the workers use them"):
        run_replay(
            ["--runner=PortableRunner", "--job_endpoint=127.0.0.1:1"],
            feeds=str(ROOT / "seeds" / "feeds"),
            articles=None,
            alerts_out=None,
        )


def test_the_portable_runner_without_a_job_service_is_a_user_error(tmp_path):
    # Beam would try to start a job server in Docker and fail with a traceback.
    with pytest.raises(UserError, match="--runner=PortableRunner: give --job_endpoint"):
        run_replay(
            ["--runner=PortableRunner", f"--ledger={tmp_path / 'ledger.sqlite'}"],
            feeds=str(ROOT / "seeds" / "feeds"),
            articles=None,
            alerts_out=str(tmp_path / "alerts.jsonl"),
        )
