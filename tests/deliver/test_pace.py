"""The per-webhook pace is shared by processes on one machine (issue 14 defect 10).

Two real processes reserve slots for one key at once; with a per-process limiter both
started at their own "now" and their slots overlapped (two messages in the same second).
Nothing sleeps: each process records the slot it was given.
"""

from __future__ import annotations

import subprocess
import sys

from pipeline.deliver.dispatch import SHARED_RATE_LIMITER
from pipeline.deliver.pace import MachineRateLimiter
from tests.paths import ROOT

RESERVE = """
import sys, time
from pipeline.deliver.pace import MachineRateLimiter
last = [0.0]
def clock():
    last[0] = time.time()
    return last[0]
limiter = MachineRateLimiter(sys.argv[1], clock=clock, sleep=lambda seconds: None)
sys.stdin.readline()  # start together
for _ in range(5):
    delay = limiter.wait("slack-webhook:abc", 1.0)
    print(f"{last[0] + delay:.6f}", flush=True)  # the slot it was given
"""


def test_two_processes_get_slots_one_second_apart(tmp_path):
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RESERVE, str(tmp_path / "pace")],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.close()
    outs = [p.stdout.read() for p in procs]
    for p in procs:
        p.wait(timeout=60)
    assert all(p.returncode == 0 for p in procs)
    slots = sorted(float(line) for out in outs for line in out.split())
    assert len(slots) == 10
    gaps = [b - a for a, b in zip(slots, slots[1:], strict=False)]
    assert min(gaps) > 0.95, gaps  # per process, the two chains overlapped: gaps near 0


def test_the_dispatchers_default_pace_is_the_machines(tmp_path):
    assert isinstance(SHARED_RATE_LIMITER, MachineRateLimiter)
    clock = [100.0]
    slept: list[float] = []
    limiter = MachineRateLimiter(tmp_path, clock=lambda: clock[0], sleep=slept.append)
    assert [limiter.wait("k", 2.0) for _ in range(3)] == [0.0, 0.5, 1.0]
    clock[0] = 200.0  # a slot in the past is ignored
    assert limiter.wait("k", 2.0) == 0.0
    (tmp_path / "k.slot").write_text("garbage")
    assert limiter.wait("k", 2.0) == 0.0  # a damaged file costs one early send


def test_an_unusable_folder_falls_back_to_the_process(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    limiter = MachineRateLimiter(blocker / "pace", sleep=lambda s: None)
    assert limiter.wait("k", 1.0) == 0.0
    assert limiter.wait("k", 1.0) > 0.5
    assert "pacing this process only" in caplog.text
