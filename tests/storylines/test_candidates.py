"""The candidate scan: numpy columns and word index kept in step, and the same candidates.

Real headlines (tests/data/labeled) with random times, date precisions and arrival order
go through a tracker with small bounds (so developments are added, joined, expire and
are evicted all the time); after every article the kept ``DevelopmentColumns`` must equal
a fresh build from the developments, and before every article ``scan_timestamped`` must
give what ``scan`` (one development at a time) gives, float for float.
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
import random

import numpy as np

from pipeline.jsonl_io import article_from_json
from pipeline.records import Match
from pipeline.storylines.candidates import scan, scan_timestamped
from pipeline.storylines.headlines import content_words, headline_key, responds
from pipeline.storylines.state import StorylineState, fresh_rows
from pipeline.storylines.timing import published_range
from pipeline.storylines.tracker import StorylineTracker
from tests.paths import DATA

T0 = dt.datetime(2024, 10, 25, tzinfo=dt.UTC)


def _real_items() -> list[dict]:
    items = []
    for name in ("dev.jsonl", "stream_tune.jsonl"):
        with (DATA / "labeled" / name).open(encoding="utf-8") as f:
            items += [json.loads(line) for line in f if line.strip()]
    return [i for i in items if i.get("title")]


def _stream(rng: random.Random, n: int) -> list[Match]:
    """Real headlines at random times within 5 days: mostly timestamps, some dates only
    (day, month) and some undated; in arrival order, so originals come after copies."""
    items = _real_items()
    out = []
    for k in range(n):
        item = rng.choice(items)
        when = T0 + dt.timedelta(minutes=rng.randrange(0, 5 * 24 * 60))
        published = rng.choices(
            [when.isoformat(), when.date().isoformat(), when.strftime("%Y-%m"), None],
            weights=[85, 8, 2, 5],
        )[0]
        raw = {
            "id": f"{item['id']}-{k}" if rng.random() < 0.8 else item["id"],
            "title": item["title"],
            "summary": item.get("summary") or "",
            "url": item.get("url") or "",
            "outlet": item.get("outlet") or "",
            "language": item.get("language") or "",
            "first_seen": (when + dt.timedelta(hours=1)).isoformat(),
        }
        if published:
            raw["published"] = published
        out.append(Match(article_from_json(raw), "s", 0.9, ()))
    return out


def _check_columns(state: StorylineState) -> None:
    devs = state.developments
    live = {d.slot for d in devs}
    assert len(live) == len(devs) and -1 not in live  # one slot each
    assert not live & set(state.columns.free)
    assert state.columns.rows(devs) == fresh_rows(devs)
    assert all(position >= 0 for _, position in state.columns.rows(devs)["words"])


def _scan_both(tracker: StorylineTracker, state: StorylineState, m: Match) -> int:
    """Both scans of the article against the state as it is; the candidates compared."""
    article = m.article
    at = published_range(article)
    words = content_words(f"{article.title} {article.summary[:300]}")
    if at[0] != at[1] or len(words) < tracker.min_comparable_words:
        return 0
    devs = state.developments[::-1]
    common = state.storyline_vocabulary(words, tracker.storyline_vocabulary_share)
    residual = words - common
    answer = responds(headline_key(article.title))
    one = scan(
        devs, at, words, residual, common,
        window=tracker.coverage_window, answer=answer, informative=True,
    )  # fmt: skip
    fast = scan_timestamped(
        state.columns, devs, at[0], words, residual, common,
        window=tracker.coverage_window, answer=answer,
    )  # fmt: skip
    assert [id(d) for d in fast.devs] == [id(d) for d in one.devs]
    for column in ("overlap", "residual", "hours", "mean", "counts", "actions"):
        assert np.asarray(getattr(fast, column)).tolist() == list(getattr(one, column)), column
    assert fast.latest == one.latest
    return len(one.devs)


def test_columns_stay_in_step_and_the_fast_scan_equals_the_general_one():
    rng = random.Random(13)
    seen = compared = 0
    for bound, horizon, kept in ((5, 30.0, 3), (12, 60.0, 50)):
        tracker = StorylineTracker(
            max_developments=bound,
            duplicate_horizon_hours=horizon,
            coverage_window_hours=24,
            max_articles_per_development=kept,
        )
        state = StorylineState("s")
        for m in _stream(rng, 700):
            compared += _scan_both(tracker, state, m)
            tracker.observe_in(state, m)
            _check_columns(state)
            seen += len(state.developments)
        # A restart from the ledger re-seeds the developments: columns for them too.
        restored = StorylineState("s")
        alerts = [
            {
                "storyline": "s",
                "kind": "new_development",
                "development_id": d.development_id,
                "article_ids": d.article_ids,
                "title": d.lead.article.title,
                "published": d.lead.article.published_at.isoformat(),
            }
            for d in state.developments
        ]
        assert tracker.restore(restored, alerts) == len(state.developments)
        _check_columns(restored)
    assert seen > 3000 and compared > 1500  # many states, many candidates compared


def test_a_drifted_column_or_word_index_is_caught():
    """The check above fails when a development changes behind the columns' back."""
    tracker = StorylineTracker(max_developments=8)
    state = StorylineState("s")
    for m in _stream(random.Random(2), 60):
        tracker.observe_in(state, m)
    _check_columns(state)
    dev = state.developments[-1]
    dev.last_at += dt.timedelta(hours=1)  # not refreshed
    assert state.columns.rows(state.developments) != fresh_rows(state.developments)
    state.refresh(dev)
    _check_columns(state)
    dev.vocab.add("zzzzz")  # a word the index does not know
    assert state.columns.rows(state.developments) != fresh_rows(state.developments)


def test_the_state_with_its_columns_pickles_and_goes_on_alike():
    """The Beam state value: a pickled state decides the next articles as the original."""
    tracker = StorylineTracker(max_developments=10)
    state = StorylineState("s")
    stream = _stream(random.Random(4), 200)
    for m in stream[:150]:
        tracker.observe_in(state, m)
    copy = pickle.loads(pickle.dumps(state))
    _check_columns(copy)
    for m in stream[150:]:
        a, b = tracker.observe_in(state, m), tracker.observe_in(copy, m)
        assert [(e.kind, e.development_id, e.reason) for e in a] == [
            (e.kind, e.development_id, e.reason) for e in b
        ]
    _check_columns(copy)
