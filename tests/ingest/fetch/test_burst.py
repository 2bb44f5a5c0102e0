"""Burst cadence: a storyline burst marks its feeds hot in the ledger, and FetchFeeds' poller
polls those feeds at the burst cadence until the mark ends."""

from __future__ import annotations

import datetime as dt
import doctest

import apache_beam as beam
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

import pipeline.ingest.fetch.burst
from pipeline.ingest.fetch.burst import BURST_POLL_SECONDS, HotFeeds, MarkBurstFeeds
from pipeline.ingest.fetch.schedule import FeedSchedule
from pipeline.ingest.fetch.transform import FetchPool, Poller
from pipeline.jsonl_io import article_from_json
from pipeline.ledger.sqlite import SqliteLedger
from pipeline.records import FeedSource, Match, StorylineEvent
from tests.ingest.fetch.test_fetch import FakeClock, _fake_fetch

UTC = dt.UTC


def test_doctests() -> None:
    result = doctest.testmod(pipeline.ingest.fetch.burst)
    assert result.failed == 0 and result.attempted > 0


def _event(kind: str, feed_ids: tuple[str, ...] = ()) -> StorylineEvent:
    article = article_from_json({"id": "x1", "title": "Russia says Starlink used by its troops"})
    match = Match(article, "starlink-ukraine-war", 0.9, ())
    return StorylineEvent(
        "starlink-ukraine-war", "burst-1", kind, match, ("x1",), feed_ids=feed_ids
    )


def test_a_burst_marks_the_feeds_that_carry_it_hot_in_the_ledger(tmp_path) -> None:
    url = str(tmp_path / "ledger.sqlite")
    before = dt.datetime.now(UTC)
    with beam.Pipeline(runner=FnApiRunner()) as p:
        _ = (
            p
            | beam.Create([_event("burst", ("ap", "reuters")), _event("coverage")])
            | MarkBurstFeeds(ledger_url=url, hot_for_seconds=7200)
        )
    ledger = SqliteLedger(url)
    hot = ledger.hot_feeds(before)
    assert set(hot) == {"ap", "reuters"}
    assert all(
        dt.timedelta(hours=2) <= until - before < dt.timedelta(hours=2, minutes=1)
        for until in hot.values()
    )
    assert ledger.hot_feeds(before + dt.timedelta(hours=3)) == {}
    ledger.close()


def test_hot_feeds_are_polled_at_the_burst_cadence_until_the_mark_ends() -> None:
    """Two feeds on one host, 300 s apart; a burst names one: it is polled every 60 s while
    hot, the other keeps its 300 s; after the mark ends both are back to 300 s."""
    clock, log = FakeClock(0.0), []
    poller = Poller(_fake_fetch(log), host_gap_seconds=0, sleep=clock.sleep)
    state = poller.new_state()
    feeds = [FeedSource(f, f"https://one.example/{f}", min_poll_seconds=300) for f in ("a", "b")]
    pool = FetchPool(max_concurrent_fetches=2, max_fetches_per_host=2, host_gap_seconds=0)
    hot = {"a": 1800.0}  # marked hot at t=30 s, until t=1800 s
    try:
        for tick in range(720):  # 1 h of 5 s ticks
            clock.now = tick * 5.0
            marks = hot if clock.now >= 30 else None
            poller.tick(
                "one.example", state, feeds, clock.now, pool, wait_seconds=1.0, hot_until=marks
            )
    finally:
        pool.close()
    times = {f: [t for fid, t in log if fid == f] for f in ("a", "b")}
    hot_gaps = [b - a for a, b in zip(times["a"], times["a"][1:], strict=False) if b <= 1800]
    assert hot_gaps and set(hot_gaps) == {BURST_POLL_SECONDS}
    assert times["a"][1] == 60.0  # due at once once marked (last polled at 0, 60 s floor)
    later = [b - a for a, b in zip(times["a"], times["a"][1:], strict=False) if a >= 1800]
    assert later and min(later) >= 300
    b_gaps = {b - a for a, b in zip(times["b"], times["b"][1:], strict=False)}
    assert b_gaps == {300.0}  # its own cadence, untouched by the other feed's burst


def test_a_failing_feed_keeps_its_backoff_and_retry_after_holds() -> None:
    failing = FeedSchedule("f", "https://x", min_interval_seconds=300)
    failing.record_success(0.0, changed=True)
    failing.record_failure(300.0, "HTTP 503")
    due = failing.next_due_at
    failing.tighten(310.0, until=4000.0, interval_seconds=60)
    assert failing.next_due_at == due
    limited = FeedSchedule("g", "https://x", min_interval_seconds=300)
    limited.record_success(0.0, changed=True, retry_after_seconds=900)
    limited.tighten(10.0, until=4000.0, interval_seconds=60)
    assert limited.next_due_at == 900.0


def test_an_unreadable_ledger_keeps_the_last_hot_set() -> None:
    now = [0.0]
    answers: list = [{"a": dt.datetime(1970, 1, 1, 1, tzinfo=UTC)}, RuntimeError("locked")]

    def read(_: dt.datetime):
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    hot = HotFeeds(read, refresh_seconds=30, clock=lambda: now[0])
    assert hot.current() == {"a": 3600.0}
    now[0] = 30.0
    assert hot.current() == {"a": 3600.0}
