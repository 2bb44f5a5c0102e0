"""The live-run fixes to FnApiRunner: idempotent, version-pinned, and they keep a bare
PeriodicImpulse -> Map pipeline flat and idle over many ticks (the real check is
bench/live_soak.py; this one is bounded to about 15 s).
"""

from __future__ import annotations

import os
import time

import apache_beam as beam
import pytest
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.runners.portability.fn_api_runner import FnApiRunner, fn_runner
from apache_beam.transforms.periodicsequence import PeriodicImpulse
from apache_beam.utils.timestamp import Timestamp

from bench.live_repro import rss_mb
from pipeline.run import fnapi_live

TICKS = Metrics.counter("test", "ticks")


def test_refuses_another_beam_version():
    with pytest.raises(RuntimeError, match=r"apache-beam 2\.78\.0.*docs/live-engine\.md"):
        fnapi_live.check_supported("2.78.0")
    fnapi_live.check_supported()  # the installed one is supported


def test_apply_is_idempotent():
    fnapi_live.apply()
    patched = fn_runner.FnApiRunner._execute_bundle
    fnapi_live.apply()
    assert fn_runner.FnApiRunner._execute_bundle is patched
    assert fnapi_live.applied()
    assert isinstance(fn_runner.consolidate_monitoring_infos([]), list)


def test_periodic_impulse_stays_flat_and_idle():
    fnapi_live.apply()
    bundles = {"n": 0}
    execute = fn_runner.FnApiRunner._execute_bundle
    key = ("test", "ticks")
    ticks_before = fnapi_live.live_counters().get(key, 0)
    mid_run: dict = {}

    def counting(self, context, manager, bundle_input):
        bundles["n"] += 1
        if bundles["n"] == 20:  # the job is still running: its counters are already live
            mid_run.update(fnapi_live.live_counters())
        return execute(self, context, manager, bundle_input)

    seconds, interval = 12.0, 0.2  # 60 ticks
    fn_runner.FnApiRunner._execute_bundle = counting
    try:
        p = beam.Pipeline(runner=FnApiRunner())
        start = Timestamp.now()
        _ = (
            p
            | PeriodicImpulse(
                start_timestamp=start, stop_timestamp=start + seconds, fire_interval=interval
            )
            | beam.Map(lambda tick: TICKS.inc())
        )
        rss_start, cpu_start, wall_start = rss_mb(), sum(os.times()[:2]), time.monotonic()
        result = p.run()
        result.wait_until_finish()
        wall = time.monotonic() - wall_start
        cpu = sum(os.times()[:2]) - cpu_start
        grown_mb = rss_mb() - rss_start
    finally:
        fn_runner.FnApiRunner._execute_bundle = execute
    (ticks,) = result.metrics().query(MetricsFilter().with_name("ticks"))["counters"]
    assert ticks.committed >= 0.8 * seconds / interval  # metrics still add up when patched
    assert 0 < mid_run.get(key, 0) - ticks_before < ticks.committed
    assert fnapi_live.live_counters()[key] - ticks_before == ticks.committed
    # Unpatched: about 250 bundles/s, 50 % of a core and about 6 MB/s.
    assert bundles["n"] / wall <= 2.5 / interval, bundles
    assert cpu / wall < 0.35, (cpu, wall)
    assert grown_mb < 20, grown_mb
