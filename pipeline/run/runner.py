"""The two ways to run the graph: live until interrupted, or a deterministic replay.

``storywatch run`` calls ``run_live`` and ``storywatch replay`` calls ``run_replay``; both
build the same graph with ``pipeline.run.graph.build_pipeline``. A live run prints one
summary line a minute (``cycle_summary``), read from what the sinks appended to the
feed-health, alerts and dead-letter files in that minute, so it counts what was written.

A live run stops on SIGINT (Ctrl-C) or SIGTERM within ``stop_timeout_seconds``, a second
one stops it at once (``StopSignals``, ``_run_until_interrupted``); both exit 130.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import DirectOptions, PortableOptions, StandardOptions

from pipeline.alert_json import alert_from_json
from pipeline.alerts.decide import format_alert
from pipeline.cli import progress
from pipeline.deliver import lanes
from pipeline.deliver.file_sink import printable
from pipeline.errors import UserError
from pipeline.ingest.fetch.schedule import summarise_intervals
from pipeline.ingest.recorded import recorded_files
from pipeline.jsonl_io import check_output_path, read_jsonl
from pipeline.ledger import open_ledger
from pipeline.run import fnapi_live, metrics
from pipeline.run.graph import build_pipeline
from pipeline.run.inputs import load_run_inputs
from pipeline.run.options import StorywatchOptions, pipeline_options, runner_name
from pipeline.serve.command import serve_command

# The runners that run here on FnApiRunner (DirectRunner falls back to it offline).
_FNAPI_RUNNERS = ("FnApiRunner", "DirectRunner", "SwitchingDirectRunner")
_REMOTE_RUNNERS = ("PortableRunner", "DataflowRunner", "FlinkRunner", "SparkRunner", "PrismRunner")
SUMMARY_EVERY_SECONDS = 60.0
# Long enough for a webhook or SMTP send in progress to finish and be confirmed, short
# enough for Ctrl-C (and below a service manager's SIGTERM-to-SIGKILL grace: 10 s in Docker).
STOP_TIMEOUT_SECONDS = 5.0


def run_live(
    argv: list[str],
    *,
    watchlists_dir: str | None = None,
    metrics_port: int | None = None,
    metrics_bind_host: str = "127.0.0.1",
    stop_timeout_seconds: float = STOP_TIMEOUT_SECONDS,
) -> int:
    """Poll the feed list until interrupted (or ``--run_duration_seconds``); 0 on a clean stop.

    With ``metrics_port`` the driver serves Prometheus metrics there (``run.metrics``; 0 picks
    a free port, named in the banner). SIGINT or SIGTERM stops within
    ``stop_timeout_seconds`` (exit 130), a second one at once."""
    if not math.isfinite(stop_timeout_seconds) or stop_timeout_seconds < 0:
        raise UserError(
            f"--stop-timeout-seconds={stop_timeout_seconds:g}: must be a number 0 or more "
            "(the seconds a stop waits for sends in progress)"
        )
    signals = StopSignals()
    signals.install()  # first thing: a Ctrl-C during start-up must work too
    try:
        return _run_live(
            argv,
            watchlists_dir=watchlists_dir,
            metrics_port=metrics_port,
            metrics_bind_host=metrics_bind_host,
            stop_timeout_seconds=stop_timeout_seconds,
        )
    finally:
        signals.restore()


def _run_live(
    argv: list[str],
    *,
    watchlists_dir: str | None,
    metrics_port: int | None,
    metrics_bind_host: str,
    stop_timeout_seconds: float,
) -> int:
    options = pipeline_options(argv)
    sw = options.view_as(StorywatchOptions)
    if watchlists_dir:
        sw.watchlists = str(watchlists_dir)
    inputs = load_run_inputs(sw, live=True)
    check_outputs(sw, ("alerts_out", "dead_letter_out", "feed_health_out"))
    websub = sw.websub_config()
    if websub is not None:
        check_websub_port(websub.bind_host, websub.port)
    local = runner_name(options) in _FNAPI_RUNNERS
    if metrics_port is not None and not local:
        raise UserError(
            f"--metrics-port: serves the local runner's metrics; on --runner="
            f"{runner_name(options)} the job's counters are in its own monitoring (Cloud "
            "Monitoring on Dataflow)"
        )
    exporter = None
    if metrics_port is not None:
        exporter = metrics.serve(
            metrics_port,
            host=metrics_bind_host,
            counters=metrics.with_tallied_here(fnapi_live.live_counters),
            health_lines=_NewLines(sw.feed_health_out).read,
        )
    print(
        f"storywatch: polling {summarise_intervals(inputs.feed_sources)}, adapting to each "
        f"feed; due feeds checked every {sw.tick_seconds:g} s; alerts to {sw.alerts_out}; "
        "Ctrl-C stops",
        flush=True,
    )
    if local:  # the page reads these files; a remote job's are the workers'
        page = serve_command(
            ledger=sw.ledger,
            alerts=sw.alerts_out,
            feed_health=sw.feed_health_out,
            dead_letters=sw.dead_letter_out,
        )
        print(f"storywatch: status page: {page}", flush=True)
    if websub is not None:
        print(
            f"storywatch: WebSub push: callback server on {websub.bind_host}:{websub.port}, "
            f"hubs call {websub.callback_url}/…; subscribed feeds are polled as a fallback",
            flush=True,
        )
    if exporter is not None:
        print(
            f"storywatch: Prometheus metrics on http://{_url_host(metrics_bind_host)}:"
            f"{exporter.port}/metrics",
            flush=True,
        )
    if local:
        fnapi_live.apply()  # else the local runner spins and grows (docs/live-engine.md)
    p = new_pipeline(options)
    build_pipeline(
        p,
        sw,
        inputs.watchlists,
        feed_sources=inputs.feed_sources,
        coverage_alerts=inputs.coverage_alerts,
    )
    try:
        return _run_until_interrupted(
            p,
            on_wait=CycleReporter(sw).maybe_report,
            stop_timeout_seconds=stop_timeout_seconds,
        )
    finally:
        if exporter is not None:
            exporter.close()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def cycle_summary(
    *,
    seconds: float,
    health: list[dict],
    new_articles: int,
    matches: int = 0,
    alerts: int,
    dead_letters: int,
) -> str:
    """One console line for a cycle, from its feed-health lines (one per fetch attempt,
    each with its ``last_outcome``) and its counts of new articles, storyline matches,
    alert and dead-letter lines.

    >>> h = [{"last_outcome": o} for o in ("new", "not_modified", "same_body", "failed")]
    >>> line = cycle_summary(seconds=60, health=h, new_articles=3, matches=2, alerts=1,
    ...                      dead_letters=2)
    >>> print(line.replace("; ", ";\\n"))
    storywatch: last 60 s: 4 fetches: 1 with new items, 1 not modified (304), 1 same body, 1 failed;
    3 new articles;
    2 matches;
    1 alert;
    2 dead letters
    """
    outcomes = Counter(h.get("last_outcome") or "failed" for h in health)
    return (
        f"storywatch: last {seconds:.0f} s: {_plural(len(health), 'fetch', 'fetches')}: "
        f"{outcomes['new']} with new items, {outcomes['not_modified']} not modified (304), "
        f"{outcomes['same_body']} same body, {outcomes['failed']} failed; "
        f"{_plural(new_articles, 'new article')}; {_plural(matches, 'match', 'matches')}; "
        f"{_plural(alerts, 'alert')}; {_plural(dead_letters, 'dead letter')}"
    )


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


class _NewLines:
    """The complete lines appended to a file since the last call (from its size at start)."""

    def __init__(self, path: str) -> None:
        self._path = Path(path)
        self._offset = self._path.stat().st_size if self._path.exists() else 0

    def read(self) -> list[str]:
        try:
            with self._path.open("rb") as handle:
                if handle.seek(0, os.SEEK_END) < self._offset:  # replaced or truncated
                    self._offset = 0
                handle.seek(self._offset)
                data = handle.read()
        except OSError:
            return []
        complete = data[: data.rfind(b"\n") + 1]
        self._offset += len(complete)
        return complete.decode("utf-8", errors="replace").splitlines()


# Articles that passed cross-feed dedupe: the new ones.
NEW_ARTICLES_COUNTER = ("ingest", "articles_unique")
MATCHES_COUNTER = ("storywatch.match", "matches")


class CycleReporter:
    """Prints ``cycle_summary`` every ``every_seconds`` of a live run, from the lines the
    sinks appended to ``--feed_health_out``, ``--alerts_out`` and ``--dead_letter_out``,
    and the live count of new articles (``fnapi_live.live_counters``)."""

    def __init__(
        self,
        sw: StorywatchOptions,
        *,
        every_seconds: float = SUMMARY_EVERY_SECONDS,
        clock=time.monotonic,
        counters=fnapi_live.live_counters,
        out=None,
    ) -> None:
        self._health = _NewLines(sw.feed_health_out)
        self._counters = counters
        counts = self._counters()
        self._new_articles = counts.get(NEW_ARTICLES_COUNTER, 0)
        self._matches = counts.get(MATCHES_COUNTER, 0)
        self._alerts = _NewLines(sw.alerts_out)
        self._dead_letters = _NewLines(sw.dead_letter_out)
        self._every_seconds = every_seconds
        self._clock = clock
        self._out = out
        self._last = clock()

    def maybe_report(self) -> None:
        now = self._clock()
        if now - self._last < self._every_seconds:
            return
        health = []
        for line in self._health.read():
            try:
                health.append(json.loads(line))
            except ValueError:
                continue
        counts = self._counters()
        new_articles = counts.get(NEW_ARTICLES_COUNTER, 0)
        matches = counts.get(MATCHES_COUNTER, 0)
        line = cycle_summary(
            seconds=now - self._last,
            health=health,
            new_articles=new_articles - self._new_articles,
            matches=matches - self._matches,
            alerts=len(self._alerts.read()),
            dead_letters=len(self._dead_letters.read()),
        )
        self._last, self._new_articles, self._matches = now, new_articles, matches
        print(line, file=self._out or sys.stdout, flush=True)


def check_outputs(sw: StorywatchOptions, names: tuple[str, ...]) -> None:
    """Before the graph starts: every output file can be written and the ledger opens.

    Inside the graph these fail as a Beam traceback (a folder given as ``--alerts_out``,
    a ledger path that is a folder), after the pipeline has started.
    """
    for name in names:
        check_output_path(getattr(sw, name), f"--{name}")
    if not sw.ledger.startswith("firestore://"):  # opened on the workers, not here
        open_ledger(sw.ledger).close()


def check_websub_port(host: str, port: int) -> None:
    """Before the graph starts: the WebSub callback server can listen on ``host:port``
    (inside the graph a taken port fails as a Beam traceback)."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise UserError(
            f"--websub_port={port}: cannot listen on {host}:{port} ({exc.strerror or exc}); "
            "choose a free port, or stop what holds it"
        ) from None


def new_pipeline(options) -> beam.Pipeline:
    """``beam.Pipeline(options)``; a mistyped ``--runner`` is a user error, not Beam's ValueError,
    and so is PortableRunner without a job service (Beam would try to start one in Docker)."""
    if (
        runner_name(options) == "PortableRunner"
        and not options.view_as(PortableOptions).job_endpoint
    ):
        raise UserError(
            "--runner=PortableRunner: give --job_endpoint=HOST:PORT of a running job service, e.g. "
            "`python -m apache_beam.runners.portability.local_job_service_main --port=PORT` "
            "(deploy/README.md)"
        )
    try:
        return beam.Pipeline(options=options)
    except ValueError as exc:
        if "runner" not in str(exc).lower():
            raise
        raise UserError(
            f"--runner={options.view_as(StandardOptions).runner}: unknown runner; use FnApiRunner "
            "(the local default), DirectRunner, PortableRunner or DataflowRunner"
        ) from None


class StopSignals:
    """SIGINT and SIGTERM for a live run: the first raises KeyboardInterrupt in the main
    thread (``_run_until_interrupted`` then stops within its timeout), a second one ends
    the process at once with 130.

    Installed whatever the signals were before: a shell starts a background command
    (``storywatch run &`` in a script, a job runner's child) with SIGINT ignored, and
    Python then leaves it ignored, so Ctrl-C and ``kill -INT`` did nothing: the stop the
    delivery kill loop saw hang (docs/live-engine.md, "Stopping a live run").
    """

    def __init__(self) -> None:
        self.received = 0
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def _handle(self, signum: int, frame: Any) -> None:
        self.received += 1
        if self.received > 1:
            _exit_now(b"storywatch: stopped at once (the ledger keeps what was not sent)\n")
        raise KeyboardInterrupt


def _exit_now(message: bytes) -> None:
    """End the process with 130 (128 + SIGINT, the shell's code for a command stopped by
    Ctrl-C) without joining any thread; from a signal handler too (no print: the main
    thread may be inside one)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a reentrant flush from the handler, a closed pipe: exiting anyway
            pass
    try:
        os.write(sys.stdout.fileno(), message)
    except (OSError, ValueError):
        pass
    os._exit(130)


def _run_until_interrupted(
    p: beam.Pipeline,
    *,
    on_wait=lambda: None,
    stop_timeout_seconds: float = STOP_TIMEOUT_SECONDS,
) -> int:
    """Run ``p`` in a worker thread until it ends or the main thread gets KeyboardInterrupt
    (``StopSignals``: Ctrl-C or SIGTERM). ``on_wait`` is called about every half second.

    The local runner has no cancel, and a KeyboardInterrupt raised inside a bundle is
    treated as a bundle failure, so the main thread only waits, and on a stop: no delivery
    lane starts another send, the sends in progress get at most ``stop_timeout_seconds`` to
    finish and be confirmed (``lanes.stop_all``), then the process exits (130) without
    joining the pipeline's threads (fetches in progress are dropped: the next run polls
    again). Nothing is lost: every alert is in the ledger before it is delivered, a lane
    claims a delivery only when it starts its send and confirms it after, so the next
    start routes and sends what was not confirmed (a send cut off at the timeout may be a
    counted repeat). Dead letters and feed health are written and flushed line by line
    inside the stage that produced them (``run.sinks``, ``run.graph``).
    """
    outcome: dict = {}

    def work() -> None:
        try:
            p.run().wait_until_finish()
        except BaseException as exc:  # handed to the main thread
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="storywatch-pipeline", daemon=True)
    try:
        worker.start()
        while worker.is_alive():
            worker.join(0.5)
            on_wait()
    except KeyboardInterrupt:
        _stop(stop_timeout_seconds)
    if "error" in outcome:
        raise outcome["error"]
    return 0


def _stop(timeout_seconds: float) -> None:
    """The bounded stop after the first Ctrl-C; never returns."""
    _say(
        f"storywatch: stopping: sends in progress get up to {timeout_seconds:g} s to finish "
        "(Ctrl-C again stops at once)"
    )
    cut = lanes.stop_all(timeout_seconds=timeout_seconds)
    _say(
        "storywatch: stopped (alerts so far are in the ledger and the alerts file"
        + (
            f"; {_plural(len(cut), 'send')} still in progress cut off ({', '.join(cut)}), "
            "sent again by the next run)"
            if cut
            else ")"
        )
    )
    _exit_now(b"")


def _say(text: str) -> None:
    try:
        print(text, flush=True)
    except (OSError, ValueError):  # nobody reads stdout any more: stop all the same
        pass


def run_replay(
    argv: list[str],
    *,
    feeds: str | None,
    articles: str | None,
    alerts_out: str | None,
    watchlists_dir: str | None = None,
    out=None,
) -> list[dict]:
    """Replay recorded feeds or articles through the same graph; return the alerts (JSON).

    A replay starts from an empty ledger (a temporary one unless ``--ledger`` is given) and
    rewrites ``alerts_out`` sorted by (published, storyline, alert id), so the same input
    always gives the same file.
    """
    out = out or sys.stdout
    source = Path(feeds or articles)
    if not source.exists():
        raise UserError(f"{source}: no such {'folder' if feeds else 'file'}; check the path")
    if articles:  # unreadable, a folder, binary or empty: a user error now, not one dead letter
        if source.is_dir():
            raise UserError(
                f"{source}: is a folder; pass an articles JSONL file to --input "
                "(or a folder of recorded feeds to --feeds)"
            )
        if next(read_jsonl(source), None) is None:
            raise UserError(
                f"{source}:1: no articles: the file is empty; each line must be a JSON object "
                'with at least "id" and "title"'
            )
    with tempfile.TemporaryDirectory(prefix="storywatch-replay-") as tmp:
        alerts_path = Path(alerts_out) if alerts_out else Path(tmp) / "alerts.jsonl"
        defaults = {
            "ledger": str(Path(tmp) / "ledger.sqlite"),
            "alerts_out": str(alerts_path),
            "dead_letter_out": str(alerts_path.with_name(alerts_path.stem + ".dead-letters.jsonl")),
            "console_alerts": "false",
        }
        given = {a.split("=", 1)[0].lstrip("-") for a in argv if a.startswith("--")}
        argv = [f"--{k}={v}" for k, v in defaults.items() if k not in given] + list(argv)
        options = pipeline_options(argv)
        _check_remote_replay(options, ledger_given="ledger" in given, alerts_out=alerts_out)
        sw = options.view_as(StorywatchOptions)
        sw.replay_feeds, sw.replay_articles = (
            (str(feeds) if feeds else None),
            (str(articles) if articles else None),
        )
        if watchlists_dir:
            sw.watchlists = str(watchlists_dir)
        inputs = load_run_inputs(sw, live=False)
        check_outputs(sw, ("alerts_out", "dead_letter_out"))
        for path in (Path(sw.alerts_out), Path(sw.dead_letter_out)):
            path.unlink(missing_ok=True)
        started = time.monotonic()
        p = new_pipeline(options)
        build_pipeline(p, sw, inputs.watchlists, coverage_alerts=inputs.coverage_alerts)
        local = runner_name(options) in _FNAPI_RUNNERS
        # In memory, the DoFns run in this process: their progress ticks drive a bar.
        in_process = local and options.view_as(DirectOptions).direct_running_mode == "in_memory"
        total, unit = _replay_inputs(sw)
        with progress.bar(desc="replaying", total=total, unit=unit, enabled=in_process) as shown:
            with progress.watch_replayed(lambda: shown.update(1)):
                result = p.run()
                result.wait_until_finish()
        seconds = time.monotonic() - started
        if not local:  # the workers wrote the files, maybe on other machines: count instead
            print(_remote_summary(result, seconds, sw), file=out)
            print(_storyline_summary(result), file=out)
            return []
        alerts = _sorted_alerts(Path(sw.alerts_out))
        _print_alerts(
            alerts,
            out,
            seconds=seconds,
            alerts_path=alerts_out,
            dead_letters=Path(sw.dead_letter_out),
        )
        print(_storyline_summary(result), file=out)
        if alerts_out:
            print(_status_page_hint(sw, ledger_given="ledger" in given), file=out)
    return alerts


def _status_page_hint(sw: StorywatchOptions, *, ledger_given: bool) -> str:
    """How to open the status page on this replay's files (its own ledger is deleted at the
    end unless ``--ledger`` named one)."""
    if not ledger_given:
        return "status page: add --ledger PATH to keep this replay's ledger, then " + serve_command(
            ledger="PATH", alerts=sw.alerts_out
        )
    page = serve_command(ledger=sw.ledger, alerts=sw.alerts_out, dead_letters=sw.dead_letter_out)
    return f"status page: {page}  (then open http://127.0.0.1:8080/)"


def _check_remote_replay(options, *, ledger_given: bool, alerts_out: str | None) -> None:
    """On a runner other than the local one, the workers open the ledger and write the alerts
    themselves: the driver's temporary defaults would be unreachable, or deleted when the
    driver ends, so both must be named. A misspelt runner is left to ``make_pipeline``'s
    "unknown runner" error, which is the one the user needs."""
    if runner_name(options) in _FNAPI_RUNNERS or runner_name(options) not in _REMOTE_RUNNERS:
        return
    missing = [
        flag for flag, ok in (("--ledger", ledger_given), ("--alerts-out", alerts_out)) if not ok
    ]
    if missing:
        raise UserError(
            f"--runner={runner_name(options)}: give {' and '.join(missing)}: the workers use "
            "them, not the driver (a ledger every worker reaches: postgresql://… across "
            "machines, a SQLite path when all run on this one; an alerts path they can write)"
        )


def _replay_inputs(sw: StorywatchOptions) -> tuple[int, str]:
    """How many inputs a replay reads (the bar's total) and what they are."""
    if sw.replay_articles:
        with open(sw.replay_articles, "rb") as lines:
            return sum(1 for line in lines if line.strip()), "article"
    return len(recorded_files(sw.replay_feeds)), "file"


def _counter_totals(result, namespace: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for c in result.metrics().query(MetricsFilter().with_namespace(namespace))["counters"]:
        counts[c.key.metric.name] = counts.get(c.key.metric.name, 0) + c.committed
    return counts


def _remote_summary(result, seconds: float, sw: StorywatchOptions) -> str:
    """A replay on another runner: the job's counters say how many alerts and dead letters;
    the files are wherever the workers wrote them."""
    try:
        counts = _counter_totals(result, "storywatch")
    except Exception:  # a runner without metrics
        return (
            f"replay finished in {seconds:.1f} s; the workers wrote the alerts to {sw.alerts_out}"
        )
    return (
        f"{counts.get('alerts', 0)} alerts in {seconds:.1f} s (the job's counters); the workers "
        f"wrote them to {sw.alerts_out}"
        + (
            f"; {counts['dead_letters']} failures in {sw.dead_letter_out}"
            if counts.get("dead_letters")
            else ""
        )
    )


def _storyline_summary(result) -> str:
    """One line from the tracker's counters: how many matched articles became how few alerts."""
    try:
        counts = _counter_totals(result, "storywatch")
    except Exception:  # a runner without metrics: the alerts above are the result
        return ""
    kinds = ("new_development", "coverage", "duplicate", "burst", "stale")
    matched = sum(counts.get(f"storyline_{k}", 0) for k in kinds if k != "burst")
    return (
        f"{matched} matched articles: "
        + ", ".join(f"{counts.get(f'storyline_{k}', 0)} {k}" for k in kinds)
        + f"; {counts.get('alerts', 0)} alerts"
    )


def _sorted_alerts(path: Path) -> list[dict]:
    if not path.exists():
        path.write_text("")
        return []
    alerts = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    alerts.sort(key=lambda a: (a["published"], a["storyline"], a["alert_id"]))
    path.write_text(
        "".join(json.dumps(a, ensure_ascii=False, sort_keys=True) + "\n" for a in alerts),
        encoding="utf-8",
    )
    return alerts


def _print_alerts(
    alerts: list[dict], out, *, seconds: float, alerts_path, dead_letters: Path
) -> None:
    for data in alerts:
        text = format_alert(alert_from_json(data))
        print("\n".join(printable(line) for line in text.split("\n")), file=out)
        print(file=out)
    kinds = {}
    for data in alerts:
        kinds[data["kind"]] = kinds.get(data["kind"], 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"
    failures = sum(1 for _ in dead_letters.open(encoding="utf-8")) if dead_letters.exists() else 0
    print(
        f"{len(alerts)} alerts ({summary}) in {seconds:.1f} s"
        + (f"; written to {alerts_path}" if alerts_path else "")
        + (f"; {failures} failures in {dead_letters}" if failures else ""),
        file=out,
    )
