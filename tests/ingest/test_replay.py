"""Replays: the order of recorded feeds, replayed articles, and the replay stages in Beam."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import apache_beam as beam
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.util import assert_that, equal_to

from pipeline.errors import UserError
from pipeline.ingest.dedupe import DedupeArticles, Deduplicator
from pipeline.ingest.normalize import normalize_item
from pipeline.ingest.normalize_transform import NormalizeArticles
from pipeline.ingest.parse import ParseFeeds, parse_feed
from pipeline.ingest.recorded import (
    EPOCH,
    ReplayArticles,
    ReplayFeeds,
    newest_item_date,
    recorded_articles,
    recorded_feed_id,
    recorded_feeds,
    recorded_files,
    snapshot_time,
)
from tests.paths import FEEDS_DIR, LABELED

UTC = dt.UTC


def test_snapshot_time_rules() -> None:
    def when(rel: str) -> tuple[str, str]:
        path = FEEDS_DIR / rel
        time, rule = snapshot_time(path, FEEDS_DIR, path.read_bytes())
        return time.isoformat(), rule

    assert when("stream_gesab001/bbc_news_home@c810287c.xml") == (
        "2020-04-21T08:53:10+00:00",
        "manifest stream commit date",
    )
    assert when("derived_rumca_json/2022-10-14__http.rss.cnn.comrssedition.rss_entries.json") == (
        "2022-10-14T23:59:59+00:00",
        "day in file name",
    )
    assert when("greatfire/nyt_chinese_rss2.xml") == (
        "2015-03-16T08:39:56+00:00",
        "newest item date",
    )
    assert when("fixtures_node-feedparser/invalid-characters-gzipped.xml")[1] == "newest item date"
    assert when("fixtures_rss-parser/heraldsun.rss") == (
        "2026-02-05T17:35:29+00:00",
        "manifest commit date",
    )


def test_newest_item_date_reads_rss_atom_and_json_dates() -> None:
    assert newest_item_date(
        b"<pubDate>Fri, 25 Oct 2024 09:00:00 +0300</pubDate><pubDate>Thu, 01 Jan 1970 00:00:00 GMT</pubDate>"
    ) == dt.datetime(2024, 10, 25, 6, tzinfo=UTC)
    assert newest_item_date(b"<updated>2024-10-25T10:00:00Z</updated>") == dt.datetime(
        2024, 10, 25, 10, tzinfo=UTC
    )
    assert newest_item_date(b'[{"date_published": "2022-10-14 23:52:16+00:00"}]') == dt.datetime(
        2022, 10, 14, 23, 52, 16, tzinfo=UTC
    )
    assert newest_item_date(b"<rss/>") is None


def test_replay_order_is_by_time_then_path_and_ignores_mtimes(tmp_path) -> None:
    feeds = recorded_feeds(FEEDS_DIR)
    assert len(feeds) == 87
    keys = [(r.fetched_at, r.url) for r in feeds]
    assert keys == sorted(keys)
    copy = tmp_path / "feeds"
    shutil.copytree(FEEDS_DIR, copy)  # fresh mtimes, same order
    (copy / "stream_gesab001" / "wsj_world@dc4f379b.xml").touch()
    assert [(r.fetched_at, r.url, r.feed_id) for r in recorded_feeds(copy)] == [
        (r.fetched_at, r.url, r.feed_id) for r in feeds
    ]
    bbc = [r for r in feeds if r.feed_id == "stream_gesab001/bbc_news_home"]
    assert (
        len(bbc) == 8
        and bbc[0].url.endswith("@c810287c.xml")
        and bbc[-1].url.endswith("@9e6d80d4.xml")
    )


def test_undatable_files_without_a_manifest_replay_first(tmp_path) -> None:
    (tmp_path / "b.xml").write_bytes(b"<rss><channel><item><title>x</title></item></channel></rss>")
    (tmp_path / "a.xml").write_bytes(
        b"<rss><channel><item><title>y</title><pubDate>Fri, 25 Oct 2024 09:00:00 GMT"
        b"</pubDate></item></channel></rss>"
    )
    (tmp_path / "notes.md").write_text("not a feed")
    feeds = recorded_feeds(tmp_path)
    assert [(r.url, r.fetched_at) for r in feeds] == [
        ("replay:b.xml", EPOCH),
        ("replay:a.xml", dt.datetime(2024, 10, 25, 9, tzinfo=UTC)),
    ]


def test_recorded_feed_ids_group_snapshots() -> None:
    ids = {
        recorded_feed_id(FEEDS_DIR / rel, FEEDS_DIR)
        for rel in (
            "stream_gesab001/wsj_world@dc4f379b.xml",
            "stream_gesab001/wsj_world@9e6d80d4.xml",
        )
    }
    assert ids == {"stream_gesab001/wsj_world"}
    assert (
        recorded_feed_id(
            FEEDS_DIR
            / "derived_rumca_json/2022-10-14__http.rss.cnn.comrssedition.rss_entries.json",
            FEEDS_DIR,
        )
        == "derived_rumca_json/http.rss.cnn.comrssedition.rss"
    )


def test_recorded_articles_in_time_order_with_bad_lines(tmp_path) -> None:
    path = tmp_path / "articles.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps(
                    {"id": "late", "title": "Later story", "published": "2024-11-02T10:00:00Z"}
                ),
                "{broken json",
                json.dumps({"id": "early", "title": "Earlier story", "published": "2024-10-25"}),
                json.dumps({"id": "no-title"}),
            ]
        )
        + "\n"
    )
    articles, failures = recorded_articles(path)
    assert [a.article_id for a in articles] == ["early", "late"]
    assert [(f.stage, f.key.rsplit(":", 1)[1]) for f in failures] == [
        ("replay", "2"),
        ("replay", "4"),
    ]
    assert "missing field 'title'" in failures[1].reason


def test_replay_through_parse_normalize_dedupe_in_beam(tmp_path) -> None:
    """The replay path of the graph on a folder of real snapshots, checked against the pure path."""
    folder = tmp_path / "feeds"
    for rel in (
        "stream_gesab001/wsj_world@dc4f379b.xml",
        "stream_gesab001/wsj_world@666aa9c5.xml",
        "plakhovgroup/kyivindependent@61627e3.xml",
        "plakhovgroup/moscowtimes_mislabelled@6f3c8f3.xml",
        "fixtures_rss-parser/unrecognized.rss",
        "egfedorov/meduza_chronicle_ru@95b44286.xml",
    ):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(FEEDS_DIR / rel, folder / rel)
    raws = recorded_feeds(folder)
    dedup = Deduplicator()
    expected = sorted(
        a.article_id
        for r in raws
        for a in dedup.unique(normalize_item(i) for i in parse_feed(r).items)
    )
    assert (
        len(expected) == 7 + 22 + 3 + 24
    )  # WSJ repeats itself; the relabelled channel shares Kyiv items

    articles_path = tmp_path / "articles.jsonl"
    articles_path.write_text(
        json.dumps({"id": "H1", "title": "Musk met Putin", "published": "2024-11"}) + "\nnot json\n"
    )

    with beam.Pipeline(runner=FnApiRunner()) as pipeline:
        replayed_feeds = pipeline | ReplayFeeds(folder)
        parse = replayed_feeds.main | ParseFeeds()
        normalize = parse.main | NormalizeArticles()
        unique = (normalize.main | DedupeArticles(shards=4)).main
        assert_that(unique | beam.Map(lambda a: a.article_id), equal_to(expected))
        stamped = unique | "EventTime" >> beam.Map(
            lambda a, t=beam.DoFn.TimestampParam: a.first_seen_at.timestamp() == t.micros / 1e6
        )
        assert_that(stamped | beam.Distinct(), equal_to([True]), label="Timestamps")
        assert_that(
            parse.dead_letter | beam.Map(lambda f: (f.key, f.reason.split(":")[0])),
            equal_to([("replay:fixtures_rss-parser/unrecognized.rss", "not a feed")]),
            label="ParseDead",
        )
        replay_articles = pipeline | ReplayArticles(articles_path)
        assert_that(
            replay_articles.main | "Ids" >> beam.Map(lambda a: a.article_id),
            equal_to(["H1"]),
            label="Articles",
        )
        assert_that(
            replay_articles.dead_letter | "Keys" >> beam.Map(lambda f: f.key.rsplit(":", 1)[1]),
            equal_to(["2"]),
            label="ArticlesDead",
        )
    counters = {
        c.key.metric.name: c.committed for c in pipeline.result.metrics().query()["counters"]
    }
    assert counters["feeds_parsed"] == 6 and counters["parse_failures"] == 1
    assert counters["dates_estimated"] == 24 and counters["articles_unique"] == len(expected)


def test_replay_ships_paths_not_documents_and_dead_letters_a_vanished_file(tmp_path) -> None:
    """The job graph carries the file list only (a Create of the bytes pickled and
    bz2-compressed all of them into the job); a file gone before it is read is a Failure."""
    from pipeline.ingest.recorded import (
        RecordedFile,
        _ReadRecordedFn,
        read_recorded,
        recorded_files,
    )

    documents = sum(len(r.body) for r in recorded_feeds(FEEDS_DIR))
    pipeline = beam.Pipeline(runner=FnApiRunner())
    _ = pipeline | ReplayFeeds(FEEDS_DIR)
    assert len(pipeline.to_runner_api().SerializeToString()) < documents / 20

    files = recorded_files(FEEDS_DIR)
    assert [read_recorded(f) for f in files] == recorded_feeds(FEEDS_DIR)
    gone = RecordedFile(str(tmp_path / "gone.xml"), "gone.xml", "gone", EPOCH)
    (out,) = list(_ReadRecordedFn().process(gone))
    assert out.tag == "dead_letter" and out.value.key == gone.path
    assert "unreadable" in out.value.reason and "No such file" in out.value.reason


def test_article_replay_ships_the_path_and_dead_letters_an_unreadable_file(tmp_path) -> None:
    from pipeline.ingest.recorded import _ReadRecordedArticlesFn

    pipeline = beam.Pipeline(runner=FnApiRunner())
    _ = pipeline | ReplayArticles(LABELED)
    assert len(pipeline.to_runner_api().SerializeToString()) < LABELED.stat().st_size / 4
    (out,) = list(_ReadRecordedArticlesFn().process(str(tmp_path / "gone.jsonl")))
    assert out.tag == "dead_letter" and "recorded articles unreadable" in out.value.reason


def test_labeled_articles_replay_in_order() -> None:
    articles, failures = recorded_articles(LABELED)
    assert len(articles) == 127 and not failures
    assert [a.first_seen_at for a in articles] == sorted(a.first_seen_at for a in articles)


def test_a_folder_without_feed_files_is_a_user_error(tmp_path) -> None:
    (tmp_path / "README.md").write_text("notes only")
    with pytest.raises(UserError, match="no recorded feed files here"):
        recorded_files(tmp_path)
