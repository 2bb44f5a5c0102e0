"""``storywatch run``: live polling of a real local HTTP server, Ctrl-C, restart on the same ledger.

One test, two real subprocess runs (each costs a Beam start-up and a poll cadence):

1. the feed holds item A; the alert for A appears while the run is live; the feed then
   changes to A + B and B's alert arrives at the next poll, with the process still
   running; SIGINT stops it cleanly (exit 130, Ctrl-C's code, no traceback);
2. restart on the same ledger and alerts file with A2 (a syndicated copy of A, new link),
   B and C served: C is alerted; B is not alerted again, and neither is A's development
   through its copy, although the restarted process has no Beam state (it resumes the
   alerted developments from the ledger); each alert id appears once in the file.
"""

from __future__ import annotations

import http.server
import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.cli_support import STORYWATCH
from tests.paths import ROOT

ITEMS = {
    "A": (
        "Elon Musk has been in regular contact with Vladimir Putin, report says",
        "Musk and the Russian president have spoken since late 2022, the Wall Street Journal reports.",
        "Fri, 25 Oct 2024 09:00:00 GMT",
    ),
    "B": (
        "Starlink restored on Ukraine frontline after Russian jamming, Musk says",
        "SpaceX brought Starlink back for Ukrainian troops near the front.",
        "Sat, 26 Oct 2024 09:00:00 GMT",
    ),
    "A2": (
        "UPDATE 1-Elon Musk has been in regular contact with Vladimir Putin, report says - Reuters",
        "Musk and the Russian president have spoken since late 2022, the Wall Street Journal reported.",
        "Fri, 25 Oct 2024 11:00:00 GMT",
    ),
    "C": (
        "Trump names Elon Musk to lead Department of Government Efficiency",
        "Musk and Vivek Ramaswamy will head the new government efficiency commission, DOGE.",
        "Wed, 13 Nov 2024 01:00:00 GMT",
    ),
}


def rss(*keys: str) -> bytes:
    items = "".join(
        f"<item><title>{ITEMS[k][0]}</title><link>https://news.test/{k}</link><guid>https://news.test/{k}</guid>"
        f"<description>{ITEMS[k][1]}</description><pubDate>{ITEMS[k][2]}</pubDate></item>"
        for k in keys
    )
    return (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>Test Wire</title>"
        f"<link>https://news.test/</link><description>test</description>{items}</channel></rss>"
    ).encode()


class FeedServer:
    """A real HTTP server on loopback whose feed document can be swapped between polls."""

    def __init__(self) -> None:
        self.body = rss("A")
        self.status = 200  # anything else: an error page
        self.requests = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                server.requests += 1
                if server.status != 200:
                    self.send_error(server.status)
                    return
                body = server.body
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/feed.xml"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def alerts_in(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for_title(path: Path, proc: subprocess.Popen, title: str, timeout_seconds: float) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if any(a["title"] == title for a in alerts_in(path)):
            return
        assert proc.poll() is None, f"storywatch run exited early: {proc.communicate()}"
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    pytest.fail(f"no alert {title!r} within {timeout_seconds} s\nstdout:\n{out}\nstderr:\n{err}")


def start(tmp_path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            STORYWATCH,
            "run",
            f"--feeds_file={tmp_path / 'feeds.yaml'}",
            f"--ledger={tmp_path / 'ledger.sqlite'}",
            f"--alerts_out={tmp_path / 'alerts.jsonl'}",
            f"--dead_letter_out={tmp_path / 'dead.jsonl'}",
            "--poll_interval_seconds=2",
            "--host_gap_seconds=0.5",
            # The items are dated Oct/Nov 2024; the default 72 h age cut is tested in test_graph.
            "--max_article_age_hours=0",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(proc: subprocess.Popen) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()  # never leave a live pipeline behind a failed test
        out, err = proc.communicate()
        pytest.fail(f"storywatch run did not stop within 60 s of SIGINT\nstderr:\n{err}")
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "stopped" in out
    return out, err


@pytest.mark.slow
def test_live_run_alerts_while_running_stops_on_sigint_and_restarts_without_repeats(tmp_path):
    server = FeedServer()
    try:
        # The fetcher's cadence floor is 60 s per feed, so the second poll comes a minute later.
        (tmp_path / "feeds.yaml").write_text(
            "allow_private_addresses: true\n"
            f"feeds:\n  - url: {server.url}\n    id: test-wire\n    name: Test Wire\n"
            "    min_poll_seconds: 60\n    max_poll_seconds: 60\n"
        )
        alerts_file = tmp_path / "alerts.jsonl"

        proc = start(tmp_path)
        wait_for_title(alerts_file, proc, ITEMS["A"][0], timeout_seconds=90)
        server.body = rss("A", "B")
        wait_for_title(alerts_file, proc, ITEMS["B"][0], timeout_seconds=150)
        assert proc.poll() is None  # B arrived while the pipeline was still running
        out, _ = stop(proc)
        assert "ALERT starlink-ukraine-war new_development" in out  # console sink, live
        first_run = {a["alert_id"] for a in alerts_in(alerts_file)}
        assert server.requests >= 2

        server.body = rss("A2", "B", "C")
        proc = start(tmp_path)
        wait_for_title(alerts_file, proc, ITEMS["C"][0], timeout_seconds=90)
        time.sleep(3)  # give a repeated A or B the chance to show up
        stop(proc)
    finally:
        server.close()

    alerts = alerts_in(alerts_file)
    ids = [a["alert_id"] for a in alerts]
    assert len(ids) == len(set(ids)), "an alert was written twice"
    assert first_run < set(ids)
    titles = sorted(a["title"] for a in alerts if a["kind"] == "new_development")
    assert titles.count(ITEMS["A"][0]) == 1 and titles.count(ITEMS["B"][0]) == 1
    assert titles.count(ITEMS["C"][0]) == 1
    assert ITEMS["A2"][0] not in titles


def test_a_negative_duration_or_a_folder_for_an_output_is_a_user_error(tmp_path):
    # --run_duration_seconds=-5 was a bare AssertionError from deep inside Beam.
    result = subprocess.run(
        [STORYWATCH, "run", "--run_duration_seconds=-5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, result.stderr.splitlines()) == (
        2,
        ["--run_duration_seconds=-5: must be a number above 0"],
    )
    result = subprocess.run(
        [STORYWATCH, "run", "--run_duration_seconds=1", f"--feed_health_out={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, result.stderr.splitlines()) == (
        2,
        [f"{tmp_path}: is a folder; pass a file path to --feed_health_out"],
    )


def test_a_feed_that_404s_at_start_up_is_warned_about_on_its_first_failure(tmp_path):
    # The third failure in a row would come minutes later (backoff); a 404 needs a fix now.
    server = FeedServer()
    server.status = 404
    try:
        (tmp_path / "feeds.yaml").write_text(
            f"allow_private_addresses: true\nfeeds:\n  - url: {server.url}\n    id: gone-wire\n"
        )
        result = subprocess.run(
            [
                STORYWATCH,
                "run",
                f"--feeds_file={tmp_path / 'feeds.yaml'}",
                f"--ledger={tmp_path / 'ledger.sqlite'}",
                f"--alerts_out={tmp_path / 'alerts.jsonl'}",
                f"--dead_letter_out={tmp_path / 'dead.jsonl'}",
                f"--feed_health_out={tmp_path / 'health.jsonl'}",
                "--run_duration_seconds=8",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.close()
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "cannot be fetched" in line]
    assert len(warnings) == 1, result.stderr
    assert "gone-wire" in warnings[0] and "HTTP 404" in warnings[0]


def _run_briefly(tmp_path, feeds_yaml: str) -> subprocess.CompletedProcess:
    (tmp_path / "feeds.yaml").write_text(feeds_yaml)
    return subprocess.run(
        [
            STORYWATCH,
            "run",
            f"--feeds_file={tmp_path / 'feeds.yaml'}",
            f"--ledger={tmp_path / 'ledger.sqlite'}",
            f"--alerts_out={tmp_path / 'alerts.jsonl'}",
            f"--dead_letter_out={tmp_path / 'dead.jsonl'}",
            f"--feed_health_out={tmp_path / 'health.jsonl'}",
            "--run_duration_seconds=8",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_a_name_that_does_not_resolve_is_warned_about_on_its_first_failure(tmp_path):
    # Issue 15: a start-up failure the user can fix is reported at once, with the fix.
    result = _run_briefly(
        tmp_path, "feeds:\n  - {url: 'https://feeds.example.invalid/rss.xml', id: typo-wire}\n"
    )
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "cannot be fetched" in line]
    assert len(warnings) == 1, result.stderr
    assert "typo-wire" in warnings[0] and "cannot resolve feeds.example.invalid" in warnings[0]
    assert "check the feed list" in warnings[0]


@pytest.mark.slow
def test_a_private_address_in_the_feed_list_stops_the_run_before_any_fetch(tmp_path):
    # Earlier still than a first failure: the feed list's own check names the line and the fix.
    result = _run_briefly(tmp_path, "feeds:\n  - {url: 'http://127.0.0.1:9/rss.xml', id: local}\n")
    assert result.returncode == 2
    assert f"{tmp_path / 'feeds.yaml'}:2: feeds.0.url: 127.0.0.1: loopback address" in result.stderr
    assert "unless the feed list sets allow_private_addresses" in result.stderr
    assert not (tmp_path / "health.jsonl").exists() or not (tmp_path / "health.jsonl").read_text()
