"""Two fixes to Beam 2.77's FnApiRunner that let a live (PeriodicImpulse) run hold for weeks.

    apply()                 patch once (idempotent); RuntimeError if Beam is not 2.77.x or
                            the patched internals moved
    applied() -> bool       whether this process runs the patched runner
    STATS                   {"slept_seconds": ...}: time spent honouring resume delays
    live_counters()         {(namespace, name): total} of the user counters of the bundles
                            run so far (the runner reports them only when the job ends)

What and why (docs/live-engine.md has the measurements and the minimal reproduction):

1. Metrics consolidated eagerly. After every bundle ``fn_runner.run_stages`` replaces a
   stage's monitoring infos by ``consolidate_monitoring_infos(chain(new, old))``, and that
   function is a generator: nothing is ever consolidated, each bundle adds one level of
   unconsumed generators holding its protobufs, and memory grows per bundle (about 125 KB
   per bundle for the storywatch graph). Patched: the module-level name returns a list.
2. Resume delays honoured. PeriodicImpulse defers its remainder with a requested delay;
   the runner ignores it and re-runs the stage at once, 130-290 empty bundles a second
   (50-80 % of a core). Patched: when the only ready input is that residual, the runner
   sleeps the requested delay (capped at ``MAX_SLEEP_SECONDS``) before going on. The
   runner is single-threaded and nothing else is runnable then, so no work waits.

Both rely on private names (``fn_runner.consolidate_monitoring_infos``,
``FnApiRunner._run_bundle``, ``FnApiRunner._execute_bundle``), hence the version pin:
a live run on an unpatched runner would eat memory, so ``apply`` refuses rather than
warns. Replays have no residuals; the patch changes nothing for them. Dataflow honours
resume delays itself and is never patched (``run.runner.run_live`` decides).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import apache_beam as beam
from apache_beam.metrics import monitoring_infos
from apache_beam.runners.portability.fn_api_runner import fn_runner

SUPPORTED_BEAM = "2.77."
MAX_SLEEP_SECONDS = 5.0
STATS: dict[str, float] = {"slept_seconds": 0.0}

_LOCK = threading.Lock()
_APPLIED: dict[str, bool] = {"done": False}
_COUNTERS_LOCK = threading.Lock()
_LIVE_COUNTERS: dict[tuple[str, str], int] = {}


def live_counters() -> dict[tuple[str, str], int]:
    """A snapshot of the user counters summed over every bundle finished so far."""
    with _COUNTERS_LOCK:
        return dict(_LIVE_COUNTERS)


def _tally(infos: Iterable[Any]) -> None:
    """Add one finished bundle's user counters (a bundle reports its own deltas)."""
    with _COUNTERS_LOCK:
        for info in infos:
            if info.urn != monitoring_infos.USER_COUNTER_URN:
                continue
            key = (info.labels.get("NAMESPACE", ""), info.labels.get("NAME", ""))
            value = monitoring_infos.extract_counter_value(info)  # type: ignore[no-untyped-call]  # Beam untyped
            _LIVE_COUNTERS[key] = _LIVE_COUNTERS.get(key, 0) + int(value)


def applied() -> bool:
    return _APPLIED["done"]


def check_supported(version: str = beam.__version__) -> None:
    """Raise RuntimeError unless this Beam is the one the patch was written against."""
    missing = [
        name
        for name, owner in (
            ("consolidate_monitoring_infos", fn_runner),
            ("_run_bundle", fn_runner.FnApiRunner),
            ("_execute_bundle", fn_runner.FnApiRunner),
        )
        if not callable(getattr(owner, name, None))
    ]
    if not version.startswith(SUPPORTED_BEAM) or missing:
        raise RuntimeError(
            f"apache-beam {version}: the live-run fixes in pipeline/run/fnapi_live.py are "
            f"written for {SUPPORTED_BEAM}x"
            + (f" and need {', '.join(missing)}, which this Beam lacks" if missing else "")
            + "; without them a live run on the local runner grows by megabytes a second. "
            "See docs/live-engine.md (re-measure with bench/live_repro.py, then move the pin)"
        )


def _eager_consolidate(
    metrics: Iterable[Any], key: Callable[[Any], Any] = monitoring_infos.to_key
) -> list[Any]:
    return list(monitoring_infos.consolidate(metrics, key))  # type: ignore[no-untyped-call]  # Beam untyped


def apply() -> None:
    """Patch FnApiRunner in this process (once; later calls do nothing)."""
    with _LOCK:
        if _APPLIED["done"]:
            return
        check_supported()
        run_bundle = fn_runner.FnApiRunner._run_bundle
        execute_bundle = fn_runner.FnApiRunner._execute_bundle

        def _run_bundle(self: Any, context: Any, manager: Any, *args: Any, **kwargs: Any) -> Any:
            out = run_bundle(self, context, manager, *args, **kwargs)
            result, deferred = out[0], out[1]
            _tally(result.process_bundle.monitoring_infos)
            delays = [
                root.requested_time_delay.ToMicroseconds() / 1e6
                for root in result.process_bundle.residual_roots
                if root.HasField("requested_time_delay")
            ]
            self._storywatch_delay_seconds = min(delays) if (deferred and delays) else 0.0
            return out

        def _execute_bundle(self: Any, context: Any, manager: Any, bundle_input: Any) -> Any:
            self._storywatch_delay_seconds = 0.0
            response = execute_bundle(self, context, manager, bundle_input)
            delay = min(self._storywatch_delay_seconds, MAX_SLEEP_SECONDS)
            # <= 1: the residual just re-enqueued is the only thing left to run.
            if delay > 0 and len(context.queues.ready_inputs) <= 1:
                time.sleep(delay)
                STATS["slept_seconds"] += delay
            return response

        for owner, name, replacement in (
            (fn_runner, "consolidate_monitoring_infos", _eager_consolidate),
            (fn_runner.FnApiRunner, "_run_bundle", _run_bundle),
            (fn_runner.FnApiRunner, "_execute_bundle", _execute_bundle),
        ):
            setattr(owner, name, replacement)
        _APPLIED["done"] = True
