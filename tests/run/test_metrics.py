"""``pipeline.run.metrics``: the exposition from Beam counters, and a live run scraped over HTTP.

The live test runs the real ``storywatch run --metrics-port=0`` in a subprocess against a
loopback feed server (one good feed, one that answers 404) and a loopback Slack webhook
stand-in, scrapes ``/metrics`` with an HTTP client while it runs, and parses the text with
prometheus_client's own parser.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import threading
import time

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pipeline.deliver.base import Delivery
from pipeline.errors import UserError
from pipeline.run import metrics
from pipeline.run.metrics import (
    ALERT_TO_DELIVERED,
    FETCH_TO_ALERT,
    LATENCY_NAMESPACE,
    FailingFeeds,
    RunCollector,
)
from pipeline.run.runner import run_live
from tests.cli.test_run import FeedServer, rss
from tests.cli_support import STORYWATCH
from tests.deliver_support import SlackStandIn
from tests.paths import ROOT


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of a Prometheus text exposition."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def exposition(counters: dict, health: list[str] | None = None) -> dict:
    registry = CollectorRegistry(auto_describe=False)
    lines = list(health or [])
    failing = FailingFeeds(lambda: [lines.pop(0) for _ in range(len(lines))])
    registry.register(RunCollector(lambda: counters, failing))
    return samples(generate_latest(registry).decode())


def test_a_latency_counts_in_the_first_bucket_that_holds_it():
    assert FETCH_TO_ALERT.bucket_counter(0.0) == "fetch_to_alert_seconds_le_0.5"
    assert FETCH_TO_ALERT.bucket_counter(0.5) == "fetch_to_alert_seconds_le_0.5"
    assert FETCH_TO_ALERT.bucket_counter(0.51) == "fetch_to_alert_seconds_le_1"
    assert ALERT_TO_DELIVERED.bucket_counter(400) == "alert_to_delivered_seconds_le_inf"


def test_histograms_are_cumulative_from_the_bucket_counters():
    ns = LATENCY_NAMESPACE
    got = exposition(
        {
            (ns, "fetch_to_alert_seconds_le_1"): 2,
            (ns, "fetch_to_alert_seconds_le_10"): 1,
            (ns, "fetch_to_alert_seconds_le_inf"): 1,
            (ns, "fetch_to_alert_seconds_sum_ms"): 9_500,
        }
    )
    bucket = "storywatch_fetch_to_alert_seconds_bucket"
    assert got[(bucket, (("le", "0.5"),))] == 0
    assert got[(bucket, (("le", "1.0"),))] == 2
    assert got[(bucket, (("le", "5.0"),))] == 2
    assert got[(bucket, (("le", "10.0"),))] == 3
    assert got[(bucket, (("le", "+Inf"),))] == 4
    assert got[("storywatch_fetch_to_alert_seconds_count", ())] == 4
    assert got[("storywatch_fetch_to_alert_seconds_sum", ())] == 9.5
    assert got[("storywatch_alert_to_delivered_seconds_count", ())] == 0
    # the bucket counters are the histogram, not also "other" counters
    assert not any(name == "storywatch_beam_counter_total" for name, _ in got if ns in str(_))


def test_named_counters_deliveries_by_state_and_every_other_counter():
    got = exposition(
        {
            ("ingest", "feeds_polled"): 7,
            ("ingest", "fetch_errors"): 2,
            ("storywatch", "alerts"): 3,
            ("DeliverAlerts", "deliveries_sent"): 5,
            ("DeliverAlerts", "deliveries_dead"): 1,
            ("ingest", "http_304"): 4,
        }
    )
    assert got[("storywatch_feeds_polled_total", ())] == 7
    assert got[("storywatch_fetch_errors_total", ())] == 2
    assert got[("storywatch_alerts_total", ())] == 3
    assert got[("storywatch_matches_total", ())] == 0  # present before the first match
    assert got[("storywatch_deliveries_total", (("state", "sent"),))] == 5
    assert got[("storywatch_deliveries_total", (("state", "dead"),))] == 1
    assert got[("storywatch_deliveries_total", (("state", "retry_later"),))] == 0
    other = ("storywatch_beam_counter_total", (("name", "http_304"), ("namespace", "ingest")))
    assert got[other] == 4
    assert not any(
        name == "storywatch_beam_counter_total" and ("name", "feeds_polled") in labels
        for name, labels in got
    )


def test_feeds_failing_now_follows_each_feeds_latest_health_line():
    def line(feed: str, status: str) -> str:
        return json.dumps({"feed_id": feed, "status": status})

    lines: list[str] = [line("a", "failing"), line("b", "failing"), "torn {", line("c", "ok")]
    failing = FailingFeeds(lambda: [lines.pop(0) for _ in range(len(lines))])
    assert failing.count() == 2
    lines += [line("a", "ok")]
    assert failing.count() == 1  # a recovered; b still failing (no new line)
    lines += [line("c", "failing"), line("b", "ok")]
    assert failing.count() == 1


def test_only_sends_to_subscribers_are_alert_to_delivered_observations():
    arrived = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    results = [
        Delivery("a1", "desk", "slack", "sent", at=arrived + dt.timedelta(seconds=2)),
        Delivery("a1", "*", "jsonl", "sent", at=arrived),
        Delivery("a1", "night", "email", "queued", at=arrived),
        Delivery("a0", "desk", "slack", "sent", at=arrived),  # an earlier alert, swept
    ]
    observed: list[float] = []

    class Recorder:
        def observe(self, seconds: float, *, here: bool = False) -> None:
            observed.append(seconds)

    original = metrics.ALERT_TO_DELIVERED
    metrics.ALERT_TO_DELIVERED = Recorder()  # type: ignore[assignment]
    try:
        metrics.observe_deliveries("a1", results, arrived_at=arrived, sink_subscriber="*")
    finally:
        metrics.ALERT_TO_DELIVERED = original
    assert observed == [2.0]


def test_sends_tallied_in_this_process_reach_the_histogram_beside_the_beam_counters(
    monkeypatch,
):
    # A live run's lanes finish sends outside any bundle, where a Beam counter counts nowhere.
    monkeypatch.setattr(metrics, "_HERE", {})
    before = metrics.ALERT_TO_DELIVERED.family(metrics.tallied_here())
    metrics.ALERT_TO_DELIVERED.observe(0.3, here=True)
    collected = {
        family.name: family
        for family in metrics.RunCollector(metrics.with_tallied_here(dict), None).collect()
        if family.name == "storywatch_alert_to_delivered_seconds"
    }
    samples = {s.name: s.value for s in collected["storywatch_alert_to_delivered_seconds"].samples}
    previous = {s.name: s.value for s in before.samples}
    assert samples["storywatch_alert_to_delivered_seconds_count"] == (
        previous["storywatch_alert_to_delivered_seconds_count"] + 1
    )


def test_a_taken_port_is_a_user_error():
    first = metrics.serve(0, counters=dict)
    try:
        with pytest.raises(UserError, match=rf"--metrics-port={first.port}: cannot listen"):
            metrics.serve(first.port, counters=dict)
        body = httpx.get(f"http://127.0.0.1:{first.port}/metrics", timeout=5).text
        assert "storywatch_alerts_total 0.0" in body
        assert "process_resident_memory_bytes" in body
    finally:
        first.close()


SUBSCRIBERS = """\
subscribers:
  - name: desk
    channels:
      slack: {webhook_url_env: METRICS_TEST_HOOK, max_messages_per_second: 100}
"""


@pytest.mark.slow
def test_a_live_run_is_scraped_and_shows_counters_and_both_latency_histograms(tmp_path):
    feed, broken = FeedServer(), FeedServer()
    feed.body = rss("A", "B")
    broken.status = 404
    (tmp_path / "feeds.yaml").write_text(
        "allow_private_addresses: true\nfeeds:\n"
        f"  - {{url: {feed.url}, id: wire, min_poll_seconds: 60, max_poll_seconds: 60}}\n"
        f"  - {{url: {broken.url}, id: gone}}\n"
    )
    (tmp_path / "subscribers.yaml").write_text(SUBSCRIBERS)
    with SlackStandIn() as slack:
        env = dict(os.environ, METRICS_TEST_HOOK=slack.url("/services/T1/B1/metrics-secret"))
        proc = subprocess.Popen(
            [
                STORYWATCH,
                "run",
                "--metrics-port=0",
                f"--feeds_file={tmp_path / 'feeds.yaml'}",
                f"--subscribers={tmp_path / 'subscribers.yaml'}",
                f"--ledger={tmp_path / 'ledger.sqlite'}",
                f"--alerts_out={tmp_path / 'alerts.jsonl'}",
                f"--dead_letter_out={tmp_path / 'dead.jsonl'}",
                f"--feed_health_out={tmp_path / 'health.jsonl'}",
                "--host_gap_seconds=0.5",
                "--max_article_age_hours=0",
                "--run_duration_seconds=120",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        out: list[str] = []
        reader = threading.Thread(target=lambda: out.extend(proc.stdout), daemon=True)
        reader.start()
        try:
            port = _banner_port(out, proc, timeout_seconds=60)
            got, text = _scrape_until_delivered(port, proc, timeout_seconds=90)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                _, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
            feed.close()
            broken.close()
    assert "Traceback" not in err
    assert "metrics-secret" not in text
    assert got[("storywatch_feeds_polled_total", ())] >= 2
    assert got[("storywatch_fetch_errors_total", ())] >= 1
    assert got[("storywatch_new_articles_total", ())] >= 2
    assert got[("storywatch_matches_total", ())] >= 2
    assert got[("storywatch_alerts_total", ())] >= 2
    assert got[("storywatch_deliveries_total", (("state", "sent"),))] >= 3  # sink + slack
    assert got[("storywatch_feeds_failing_now", ())] == 1
    assert got[("storywatch_fetch_to_alert_seconds_count", ())] >= 2
    assert got[("storywatch_alert_to_delivered_seconds_count", ())] >= 1
    # a loopback fetch → alert takes seconds, not the hours since the items were published
    assert got[("storywatch_fetch_to_alert_seconds_sum", ())] < 120
    assert len(slack.bodies("/services/T1/B1/metrics-secret")) >= 1


def _banner_port(out: list[str], proc: subprocess.Popen, *, timeout_seconds: float) -> int:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        for line in list(out):
            found = re.search(r"Prometheus metrics on http://127\.0\.0\.1:(\d+)/metrics", line)
            if found:
                return int(found.group(1))
        assert proc.poll() is None, f"storywatch run exited: {proc.stderr.read()}"
        time.sleep(0.2)
    pytest.fail(f"no metrics banner within {timeout_seconds} s: {out}")


def _scrape_until_delivered(
    port: int, proc: subprocess.Popen, *, timeout_seconds: float
) -> tuple[dict, str]:
    """Scrape every second until both histograms have observations (bounded)."""
    deadline = time.monotonic() + timeout_seconds
    got: dict = {}
    text = ""
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"storywatch run exited: {proc.stderr.read()}"
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        got = samples(text)
        if (
            got.get(("storywatch_fetch_to_alert_seconds_count", ()), 0) >= 2
            and got.get(("storywatch_alert_to_delivered_seconds_count", ()), 0) >= 1
            and got.get(("storywatch_feeds_failing_now", ()), 0) >= 1
        ):
            return got, text
        time.sleep(1)
    pytest.fail(f"the histograms stayed empty for {timeout_seconds} s:\n{text}")


def test_metrics_port_on_another_runner_is_a_user_error(tmp_path):
    # Dataflow's workers keep the counters; its own monitoring shows them.
    with pytest.raises(UserError, match="--metrics-port: serves the local runner's metrics"):
        run_live(
            [
                "--runner=DataflowRunner",
                f"--ledger={tmp_path / 'ledger.sqlite'}",
                f"--alerts_out={tmp_path / 'alerts.jsonl'}",
                f"--dead_letter_out={tmp_path / 'dead.jsonl'}",
                f"--feed_health_out={tmp_path / 'health.jsonl'}",
            ],
            watchlists_dir=str(ROOT / "watchlists"),
            metrics_port=0,
        )
