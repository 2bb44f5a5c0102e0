"""Records are frozen, hashable, and serialise to plain JSON."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import pickle

import pytest

from pipeline.records import Article, Evidence, RawFeed, to_json

UTC = dt.UTC
T0 = dt.datetime(2024, 10, 25, 12, 0, tzinfo=UTC)


def _article(**changes) -> Article:
    base = Article(
        article_id="a1",
        feed_id="f",
        url="https://x.test/a",
        canonical_url="https://x.test/a",
        title="Musk met Putin",
        summary="",
        published_at=T0,
        first_seen_at=T0,
    )
    return dataclasses.replace(base, **changes)


def test_records_are_frozen_and_hashable():
    article = _article()
    with pytest.raises(dataclasses.FrozenInstanceError):
        article.title = "changed"  # type: ignore[misc]
    assert hash(article) == hash(_article())
    assert pickle.loads(pickle.dumps(article)) == article


def test_to_json_gives_utc_iso_times_and_nested_records():
    evidence = Evidence(
        ref="elon-musk", alias="musk", field="title", start=0, end=4, text="Musk", kind="exact"
    )
    data = to_json(
        {
            "article": _article(published_at=T0.astimezone(dt.timezone(dt.timedelta(hours=3)))),
            "evidence": (evidence,),
        }
    )
    assert data["article"]["published_at"] == "2024-10-25T12:00:00Z"
    assert data["evidence"][0]["ref"] == "elon-musk"
    json.dumps(data)


def test_raw_feed_header_lookup_is_case_insensitive_and_body_is_not_serialised():
    raw = RawFeed(
        feed_id="f", url="u", fetched_at=T0, status=200, headers=(("etag", '"v1"'),), body=b"<rss/>"
    )
    assert raw.header("ETag") == '"v1"'
    assert raw.header("Last-Modified", "none") == "none"
    assert "body" not in to_json(raw)
