"""run.runner: the live console's per-cycle summary, from the lines the sinks appended."""

from __future__ import annotations

import doctest
import io
import json
from types import SimpleNamespace

import pipeline.run.runner
from pipeline.run.runner import CycleReporter, cycle_summary


def test_doctests() -> None:
    assert doctest.testmod(pipeline.run.runner).failed == 0


def test_an_idle_cycle_says_so() -> None:
    assert cycle_summary(seconds=60.2, health=[], new_articles=0, alerts=0, dead_letters=0) == (
        "storywatch: last 60 s: 0 fetches: 0 with new items, 0 not modified (304), 0 same body, "
        "0 failed; 0 new articles; 0 matches; 0 alerts; 0 dead letters"
    )


def test_the_reporter_counts_only_what_was_appended_in_its_cycle(tmp_path) -> None:
    health, alerts, dead = (
        tmp_path / "health.jsonl",
        tmp_path / "alerts.jsonl",
        tmp_path / "dead.jsonl",
    )
    alerts.write_text('{"old": 1}\n')  # from an earlier run: not this run's
    options = SimpleNamespace(
        feed_health_out=str(health), alerts_out=str(alerts), dead_letter_out=str(dead)
    )
    now = [0.0]
    unique = {("ingest", "articles_unique"): 7}  # counted before this reporter started
    out = io.StringIO()
    reporter = CycleReporter(
        options, every_seconds=60, clock=lambda: now[0], counters=lambda: unique, out=out
    )

    def append(path, *rows) -> None:
        with path.open("a") as handle:
            handle.writelines(json.dumps(r) + "\n" for r in rows)

    append(health, {"status": "ok", "last_outcome": "new"})
    append(health, {"status": "failing", "last_outcome": "failed"})
    unique[("ingest", "articles_unique")] = 10
    unique[("storywatch.match", "matches")] = 1
    append(alerts, {"alert_id": "x"})
    append(dead, {"stage": "fetch"})
    now[0] = 30.0
    reporter.maybe_report()
    assert out.getvalue() == ""  # not a minute yet
    with health.open("a") as handle:
        handle.write('{"status": "ok", "last_out')  # a line being written is left for later
    now[0] = 61.0
    reporter.maybe_report()
    assert out.getvalue() == (
        "storywatch: last 61 s: 2 fetches: 1 with new items, 0 not modified (304), 0 same body, "
        "1 failed; 3 new articles; 1 match; 1 alert; 1 dead letter\n"
    )
    with health.open("a") as handle:
        handle.write('come": "not_modified"}\n')
    now[0] = 121.0
    reporter.maybe_report()
    assert out.getvalue().splitlines()[-1] == (
        "storywatch: last 60 s: 1 fetch: 0 with new items, 1 not modified (304), 0 same body, "
        "0 failed; 0 new articles; 0 matches; 0 alerts; 0 dead letters"
    )


def test_a_websub_port_that_is_taken_is_a_user_error_before_the_graph_starts():
    import socket

    import pytest

    from pipeline.errors import UserError
    from pipeline.run.runner import check_websub_port

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(UserError, match=f"--websub_port={port}: cannot listen on 127.0.0.1"):
            check_websub_port("127.0.0.1", port)
    check_websub_port("127.0.0.1", port)  # free again
