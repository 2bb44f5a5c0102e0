"""Issue 14's done-when bar, at a CI-sized count: SIGKILL ``storywatch deliver`` and a live
``storywatch run`` at seeded random points against local sinks (bench/delivery_kills.py
runs 20 of each and prints the figures). Nothing lost; repeats at most one per channel per
kill, only the request in flight at that kill, and every repeat counted.
"""

from __future__ import annotations

import random

import pytest

from bench.delivery_kills import deliver_mode, run_mode

pytestmark = pytest.mark.slow


def _check(report: dict) -> None:
    assert report["lost"] == 0, report
    real = 0
    for receiver in report["receivers"]:
        assert receiver["max_repeats_in_one_kill"] <= 1, report
        assert receiver["repeats_outside_window"] == 0, report
        real += receiver["repeats"]
    assert report["counted_repeats"] >= real, report


def test_deliver_killed_at_random_points_loses_nothing(tmp_path):
    report = deliver_mode(tmp_path, 5, random.Random(1405))
    _check(report)
    assert report["kills_mid_run"] >= 3, report  # the kills landed mid-burst
    assert report["final_exit_status"] == 0


def test_a_live_run_killed_at_random_points_loses_nothing(tmp_path):
    report = run_mode(tmp_path, 3, random.Random(1406))
    _check(report)
    # the load: the new developments and their follow-ups (coverage is at most 3 follow-ups
    # per development now, no longer an alert per article: 9 at seed 1406, 11 before)
    assert report["alerts_recorded"] >= 8, report
    assert report["unrouted"] == 0
