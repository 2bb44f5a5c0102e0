"""Cross-feed dedup: repeated snapshots, several feeds, GUID churn; bounded state; Beam parity."""

from __future__ import annotations

import datetime as dt
import re

import apache_beam as beam
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.ingest.dedupe import DedupeArticles, Deduplicator, SeenKeys, dedup_key, shard_of
from pipeline.ingest.normalize import normalize_item
from pipeline.ingest.parse import parse_feed
from pipeline.records import Article, RawFeed
from tests.paths import FEEDS_DIR

UTC = dt.UTC
T0 = dt.datetime(2024, 10, 25, 10, 0, tzinfo=UTC)


def articles_of(
    rel: str, *, seen: dt.datetime = T0, body: bytes | None = None, feed_id: str | None = None
) -> list[Article]:
    body = (FEEDS_DIR / rel).read_bytes() if body is None else body
    raw = RawFeed(feed_id or rel.rsplit("@", 1)[0], f"replay:{rel}", seen, 200, (), body)
    return [normalize_item(item) for item in parse_feed(raw).items]


def article(
    n: int,
    *,
    url: str = "",
    title: str = "",
    summary: str = "A summary long enough to be specific.",
    feed_id: str = "f",
    guid: str = "",
    seen: dt.datetime = T0,
    published: dt.datetime | None = None,
    content_hash: str = "",
) -> Article:
    return Article(
        f"a{n}",
        feed_id,
        url,
        url,
        title or f"Title number {n}",
        summary,
        published or seen,
        seen,
        content_hash=content_hash or f"h{n}",
        guid=guid,
    )


# --- SeenKeys ------------------------------------------------------------------------------


def test_seen_keys_expire_by_time_and_refresh_on_sight() -> None:
    seen = SeenKeys(ttl_seconds=100, max_keys=10)
    assert [seen.seen("a", t) for t in (0, 50, 140, 240, 341)] == [False, True, True, True, False]


def test_seen_keys_are_bounded_by_count_dropping_least_recent() -> None:
    seen = SeenKeys(ttl_seconds=10_000, max_keys=3)
    for i, key in enumerate("abcd"):
        seen.seen(key, i)
    assert len(seen) == 3 and "a" not in seen
    seen.seen("b", 10)  # refresh b, so c is now the oldest
    seen.seen("e", 11)
    assert "c" not in seen and "b" in seen


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("abcdefghij"), st.integers(0, 1000)), max_size=200),
    st.integers(1, 5),
    st.integers(1, 300),
)
def test_seen_keys_never_exceed_their_bounds(events, max_keys, ttl) -> None:
    seen = SeenKeys(ttl_seconds=ttl, max_keys=max_keys)
    now = 0
    for key, step in events:
        now += step
        seen.seen(key, now)
        assert len(seen) <= max_keys
        assert all(now - last <= ttl for last in seen._last_seen.values())


def test_seen_keys_survive_pickling() -> None:
    import pickle

    seen = SeenKeys(ttl_seconds=60, max_keys=5)
    seen.seen("a", 0)
    copy = pickle.loads(pickle.dumps(seen))
    assert copy.seen("a", 30) and len(copy) == 1


# --- dedup on real recorded feeds ------------------------------------------------------------


def test_repeated_snapshots_of_one_feed_give_each_story_once() -> None:
    snapshots = [
        "stream_gesab001/wsj_world@dc4f379b.xml",
        "stream_gesab001/wsj_world@666aa9c5.xml",
        "stream_gesab001/wsj_world@49755d6c.xml",
    ]
    everything = [
        a
        for i, rel in enumerate(snapshots)
        for a in articles_of(rel, seen=T0 + dt.timedelta(hours=i))
    ]
    unique = list(Deduplicator().unique(everything))
    assert len(everything) == 21
    assert len(unique) == len({a.url for a in everything}) == 14


def test_snapshots_a_month_apart_share_their_items() -> None:
    july = articles_of(
        "plakhovgroup/kyivindependent@df6a163c.xml", seen=dt.datetime(2024, 7, 27, tzinfo=UTC)
    )
    august = articles_of(
        "plakhovgroup/kyivindependent@61627e3.xml", seen=dt.datetime(2024, 8, 24, tzinfo=UTC)
    )
    dedup = Deduplicator()
    assert len(list(dedup.unique(july))) == 20
    assert len(list(dedup.unique(august))) == 5  # 20 of its 25 items were in July's snapshot


def test_same_story_through_several_feeds_is_one_article() -> None:
    kyiv = articles_of("plakhovgroup/kyivindependent@61627e3.xml", feed_id="kyiv")
    # A third-party channel titled "The Moscow Times" re-publishing Kyiv Independent items.
    relabelled = articles_of(
        "plakhovgroup/moscowtimes_mislabelled@6f3c8f3.xml",
        feed_id="moscowtimes",
        seen=T0 + dt.timedelta(minutes=5),
    )
    dedup = Deduplicator()
    assert len(list(dedup.unique(kyiv))) == 25
    assert list(dedup.unique(relabelled)) == []
    assert dedup.duplicates_by_kind["url"] == 22


def test_tracking_and_amp_variants_of_one_url_are_one_article() -> None:
    dedup = Deduplicator()
    urls = [
        "https://www.theguardian.com/world/2024/oct/25/musk-putin",
        "https://amp.theguardian.com/world/2024/oct/25/musk-putin?utm_source=twitter",
        "https://www.theguardian.com/world/2024/oct/25/musk-putin/amp#comments",
    ]
    from pipeline.ingest.normalize import canonical_url

    kept = [
        dedup.is_new(article(i, url=canonical_url(u), feed_id=f"feed{i}"))
        for i, u in enumerate(urls)
    ]
    assert kept == [True, False, False]


def _churn(body: bytes, generation: int) -> bytes:
    """The same items re-published with fresh GUIDs (and session ids in their links)."""
    body = re.sub(
        rb"<guid([^>]*)>([^<]*)</guid>",
        lambda m: b'<guid isPermaLink="false">regen-%d-%s</guid>' % (generation, m.group(2)[-12:]),
        body,
    )
    return re.sub(
        rb"<link>([^<]*)</link>",
        lambda m: b"<link>%s?session=%d</link>" % (m.group(1), generation),
        body,
    )


def test_guid_churn_gives_no_new_articles() -> None:
    rel = "stream_gesab001/nyt_us@e7257cdf.xml"
    original = (FEEDS_DIR / rel).read_bytes()
    dedup = Deduplicator()
    first = list(dedup.unique(articles_of(rel, body=original)))
    assert len(first) == 20
    for generation in (1, 2, 3):
        churned = articles_of(
            rel, body=_churn(original, generation), seen=T0 + dt.timedelta(minutes=10 * generation)
        )
        assert len(churned) == 20
        assert {a.guid for a in churned}.isdisjoint({a.guid for a in first})
        assert list(dedup.unique(churned)) == []
    assert dedup.duplicates_by_kind["content"] >= 57
    assert sum(dedup.duplicates_by_kind.values()) == 60


def test_guid_catches_an_item_whose_link_and_text_changed() -> None:
    dedup = Deduplicator()
    assert dedup.is_new(article(1, url="https://x.com/draft-slug", guid="tag:x.com,2024:42"))
    edited = article(
        2, url="https://x.com/final-slug", guid="tag:x.com,2024:42", title="Edited headline"
    )
    assert not dedup.is_new(edited) and dedup.duplicates_by_kind["guid"] == 1
    other_feed = article(
        3, url="https://y.com/z", guid="tag:x.com,2024:42", feed_id="other", title="Other"
    )
    assert dedup.is_new(other_feed)  # GUIDs are only unique within one feed


def test_short_generic_items_are_not_merged_by_content() -> None:
    dedup = Deduplicator()
    letters = [
        article(
            i, url=f"https://x.com/letters-{i}", title="Letters", summary="", content_hash="same"
        )
        for i in range(3)
    ]
    assert [dedup.is_new(a) for a in letters] == [True, True, True]
    assert dedup_key(letters[0], "content") is None


def test_short_items_without_url_or_guid_repeat_only_within_their_feed() -> None:
    dedup = Deduplicator()
    bare = [
        article(i, title="Briefing", summary="", content_hash="same", feed_id=feed)
        for i, feed in enumerate(["a", "a", "b"])
    ]
    assert [dedup.is_new(a) for a in bare] == [True, False, True]


def test_keys_expire_after_the_ttl_and_stale_articles_can_be_dropped() -> None:
    dedup = Deduplicator(ttl_seconds=3600)
    assert dedup.is_new(article(1, url="https://x.com/1"))
    assert dedup.is_new(article(1, url="https://x.com/1", seen=T0 + dt.timedelta(hours=2)))
    strict = Deduplicator(max_age_seconds=86400)
    old = article(2, url="https://x.com/2", published=T0 - dt.timedelta(days=3))
    assert not strict.is_new(old) and strict.stale == 1


def test_shards_are_stable_across_processes() -> None:
    assert shard_of("u:https://bbc.co.uk/news/1", 64) == shard_of("u:https://bbc.co.uk/news/1", 64)
    assert shard_of("u:https://bbc.co.uk/news/1", 64) == 8


# --- Beam -----------------------------------------------------------------------------------


def test_dedupe_articles_in_beam_matches_the_pure_deduplicator() -> None:
    rels = [
        "stream_gesab001/wsj_world@dc4f379b.xml",
        "stream_gesab001/wsj_world@666aa9c5.xml",
        "plakhovgroup/kyivindependent@61627e3.xml",
        "plakhovgroup/moscowtimes_mislabelled@6f3c8f3.xml",
    ]
    inputs = [
        a for i, rel in enumerate(rels) for a in articles_of(rel, seen=T0 + dt.timedelta(hours=i))
    ]
    rel = "stream_gesab001/nyt_us@e7257cdf.xml"
    inputs += articles_of(rel) + articles_of(
        rel, body=_churn((FEEDS_DIR / rel).read_bytes(), 1), seen=T0 + dt.timedelta(hours=5)
    )
    inputs.append(
        Article(
            "naive", "f", "", "", "Naive time", "", dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 1)
        )
    )
    expected = sorted(a.article_id for a in Deduplicator().unique(inputs[:-1]))
    assert len(expected) == 7 + 25 + 20
    with beam.Pipeline(runner=FnApiRunner()) as pipeline:
        dedupe = pipeline | beam.Create(inputs) | DedupeArticles(shards=4)
        assert_that(dedupe.main | beam.Map(lambda a: a.article_id), equal_to(expected))
        assert_that(
            dedupe.dead_letter | beam.Map(lambda f: (f.stage, f.key)),
            equal_to([("dedupe", "naive")]),
            label="DeadLetter",
        )
    counters = {
        c.key.metric.name: c.committed
        for c in pipeline.result.metrics().query()["counters"]
        if c.key.metric.name.startswith(("articles_unique", "duplicates_by_"))
    }
    assert counters["articles_unique"] == len(expected)
    assert sum(v for k, v in counters.items() if k.startswith("duplicates_by_")) == len(
        inputs
    ) - 1 - len(expected)


def test_doctests() -> None:
    import doctest
    import importlib

    module = importlib.import_module("pipeline.ingest.dedupe")
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0
