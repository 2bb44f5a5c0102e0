"""Parsing: every recorded feed file, hostile documents, and golden articles.

Golden files live in tests/golden/parse/; after a deliberate change, regenerate them with
``STORYWATCH_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/ingest/test_parse.py`` and review
the diff like code.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.ingest.normalize import UnusableItem, normalize_item
from pipeline.ingest.parse import (
    MAX_DOCUMENT_BYTES,
    ParsedFeed,
    check_entities,
    feed_ttl_seconds,
    parse_feed,
)
from pipeline.ingest.recorded import recorded_feed_files
from pipeline.records import RawFeed, to_json
from tests.paths import FEEDS_DIR, ROOT

UTC = dt.UTC
SEEN = dt.datetime(2030, 1, 1, tzinfo=UTC)
GOLDEN = ROOT / "tests" / "golden" / "parse"
MANIFEST = {e["file"]: e for e in json.loads((FEEDS_DIR / "feeds_manifest.json").read_text())}
_SEED_DOC = (FEEDS_DIR / "stream_gesab001" / "wsj_world@dc4f379b.xml").read_bytes()
ALL_FILES = [p.relative_to(FEEDS_DIR).as_posix() for p in recorded_feed_files(FEEDS_DIR)]


def raw(
    body: bytes,
    *,
    url: str = "https://example.com/feed",
    headers: tuple = (),
    seen: dt.datetime = SEEN,
    name: str = "",
    language: str = "",
) -> RawFeed:
    return RawFeed("feed-1", url, seen, 200, headers, body, name=name, language=language)


def parse_file(rel: str) -> ParsedFeed:
    return parse_feed(raw((FEEDS_DIR / rel).read_bytes(), url=f"replay:{rel}"))


def test_every_recorded_file_is_listed() -> None:
    assert len(ALL_FILES) == 87  # 61 XML documents in the manifest + 26 derived JSON day files


@pytest.mark.parametrize("rel", ALL_FILES)
def test_every_recorded_file_parses_without_escaping_exceptions(rel: str) -> None:
    parsed = parse_file(rel)
    articles = [normalize_item(item) for item in parsed.items]
    for failure in parsed.failures:
        assert failure.key == f"replay:{rel}" and failure.stage == "parse" and failure.reason
        assert failure.at == SEEN  # replays give the same dead letters every time
    entry = MANIFEST.get(rel)
    if entry is None:  # derived JSON day files: item count is in the file itself
        assert len(articles) == len(json.loads((FEEDS_DIR / rel).read_text()))
        return
    item_failures = [f for f in parsed.failures if f.reason.startswith("item ")]
    if (FEEDS_DIR / rel).read_bytes()[:2] == b"\x1f\x8b":
        # feedparser alone cannot read gzip bytes (the manifest's bozo); inflated, it is clean.
        assert articles and not parsed.failures
    elif not entry["bozo"]:
        # Well-formed: every item the manifest counted is an article or an explained item failure.
        assert len(articles) + len(item_failures) == entry["items"], (parsed.failures, parsed.bozo)
        assert not parsed.bozo
    else:
        # Ill-formed: reported, and whatever is readable still comes out.
        assert parsed.bozo or parsed.failures
    for article in articles:
        assert article.title and article.first_seen_at == SEEN
        assert article.published_at.tzinfo is not None


def test_well_formed_article_counts_match_the_manifest() -> None:
    """The headline numbers, spelt out for the files the product relies on."""
    counts = {
        rel: len(parse_file(rel).items)
        for rel in (
            "stream_gesab001/bbc_news_home@c810287c.xml",
            "stream_evilgodfahim_wl/reuters_direct@25d321da.xml",
            "greatfire/dw_chinese_rss1_rdf.xml",
            "plakhovgroup/kyivindependent@61627e3.xml",
            "egfedorov/meduza_chronicle_ru@95b44286.xml",
            "fixtures_rss-parser/heise.atom",
        )
    }
    assert counts == {
        "stream_gesab001/bbc_news_home@c810287c.xml": 56,
        "stream_evilgodfahim_wl/reuters_direct@25d321da.xml": 500,
        "greatfire/dw_chinese_rss1_rdf.xml": 85,
        "plakhovgroup/kyivindependent@61627e3.xml": 25,
        "egfedorov/meduza_chronicle_ru@95b44286.xml": 24,
        "fixtures_rss-parser/heise.atom": 15,
    }


def test_formats_are_recognised() -> None:
    versions = {
        rel: parse_file(rel).version
        for rel in (
            "fixtures_rss-parser/heraldsun.rss",
            "fixtures_rss-parser/rss-1.rss",
            "fixtures_rss-parser/heise.atom",
            "stream_gesab001/nyt_us@e7257cdf.xml",
            "derived_rumca_json/2022-10-14__http.rss.cnn.comrssedition.rss_entries.json",
        )
    }
    assert versions == {
        "fixtures_rss-parser/heraldsun.rss": "rss092",
        "fixtures_rss-parser/rss-1.rss": "rss10",
        "fixtures_rss-parser/heise.atom": "atom10",
        "stream_gesab001/nyt_us@e7257cdf.xml": "rss20",
        "derived_rumca_json/2022-10-14__http.rss.cnn.comrssedition.rss_entries.json": "json",
    }


def test_gzip_bytes_with_an_xml_name_are_inflated() -> None:
    parsed = parse_file("fixtures_node-feedparser/invalid-characters-gzipped.xml")
    assert len(parsed.items) == 25 and not parsed.failures


def test_non_feed_document_is_an_explained_failure() -> None:
    parsed = parse_file("fixtures_rss-parser/unrecognized.rss")
    assert not parsed.items
    assert [f.reason.split(":")[0] for f in parsed.failures] == ["not a feed"]
    assert "replay:fixtures_rss-parser/unrecognized.rss" == parsed.failures[0].key


def test_unterminated_cdata_is_reported_not_raised() -> None:
    parsed = parse_file("nasty_feedparser/illformed__rss_incomplete_cdata.xml")
    assert parsed.bozo and not parsed.items
    assert parsed.failures and "no title and no text" in parsed.failures[0].reason


def test_items_with_1970_dates_fall_back_to_first_seen() -> None:
    parsed = parse_file("egfedorov/meduza_chronicle_ru@95b44286.xml")
    articles = [normalize_item(i) for i in parsed.items]
    assert parsed.undated == 24
    assert all(a.published_is_estimated and a.published_at == SEEN for a in articles)
    assert articles[0].title.startswith(tuple("АБВГДЕЖЗИКЛМНОПРСТУФХЦЧШЩЭЮЯ«")), articles[0].title
    # Every item links to https://meduza.io/: the shared home-page link must not name them.
    assert {a.url for a in articles} == {"https://meduza.io/"} and {
        a.canonical_url for a in articles
    } == {""}
    assert len({a.article_id for a in articles}) == 24


def test_bad_encodings_are_read_and_flagged() -> None:
    parsed = parse_file("fixtures_rss-parser/uolNoticias.rss")
    assert "CharacterEncodingOverride" in parsed.bozo
    assert len(parsed.items) == 15
    assert any("ç" in i.title or "ã" in i.title or "é" in i.title for i in parsed.items)


def test_content_type_header_decides_the_encoding() -> None:
    body = "<rss version='2.0'><channel><item><title>Кремль и Маск</title></item></channel></rss>".encode(
        "koi8-r"
    )
    parsed = parse_feed(
        raw(body, headers=(("content-type", "application/rss+xml; charset=koi8-r"),))
    )
    assert [i.title for i in parsed.items] == ["Кремль и Маск"]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title></item></channel></rss>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><item><title>&xxe;</title></item></channel></rss>
"""


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        BILLION_LAUGHS.decode().encode("utf-16"),
        BILLION_LAUGHS.replace(
            b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="utf-32-be"?>'
        )
        .decode()
        .encode("utf-32-be"),
        gzip.compress(BILLION_LAUGHS),
    ],
    ids=["billion-laughs", "xxe", "utf-16", "utf-32be", "gzip"],
)
def test_entity_declarations_are_refused_before_parsing(body: bytes) -> None:
    parsed = parse_feed(raw(body))
    assert not parsed.items
    assert len(parsed.failures) == 1 and "declares XML entities" in parsed.failures[0].reason
    assert parsed.failures[0].key == "https://example.com/feed"


_LOL_DECLS = (
    b'<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
)
_LOL_BODY = b'<rss version="2.0"><channel><title>&lol3;</title><item><title>&lol3;</title></item></channel></rss>'


@pytest.mark.parametrize(
    "body",
    [
        # Issue 14 defect 8: both got past the old byte scan of the prolog and were expanded.
        b'<?xml version="1.0"?><!DOCTYPE rss [<!-- <a> -->' + _LOL_DECLS + b"]>" + _LOL_BODY,
        b'<?xml version="1.0"?><!DOCTYPE rss [' + b" " * 70_000 + _LOL_DECLS + b"]>" + _LOL_BODY,
        b'<?xml version="1.0"?><!DOCTYPE rss [<?pi <a> ?>' + _LOL_DECLS + b"]>" + _LOL_BODY,
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % p "x">]><rss version="2.0"><channel>'
        b"<item><title>t</title></item></channel></rss>",
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "&#38;#38;">]><rss version="2.0">'
        b"<channel><item><title>&a;</title></item></channel></rss>",
        b'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "x.dtd" [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/">]>'
        b'<rss version="2.0"><channel><item><title>&xxe;</title></item></channel></rss>',
    ],
    ids=[
        "comment-in-doctype",
        "64kb-padding",
        "pi-in-doctype",
        "parameter",
        "double-ref",
        "xxe-http",
    ],
)
def test_entity_declarations_hidden_from_a_byte_scan_are_refused(body: bytes) -> None:
    parsed = parse_feed(raw(body))
    assert not parsed.items, [i.title[:40] for i in parsed.items]
    assert len(parsed.failures) == 1 and "declares XML entities" in parsed.failures[0].reason


def test_every_recorded_xml_feed_passes_the_entity_check() -> None:
    """The real feeds (61 XML documents) must not be refused by the expat prolog check."""
    xml_files = [rel for rel in ALL_FILES if rel in MANIFEST]
    assert len(xml_files) == 61
    for rel in xml_files:
        body = (FEEDS_DIR / rel).read_bytes()
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        check_entities(body)
        assert not any("XML entities" in f.reason for f in parse_file(rel).failures), rel


def test_entity_text_inside_items_is_not_mistaken_for_a_declaration() -> None:
    body = (
        b"<rss version='2.0'><channel><item><title>XML tips</title>"
        b"<description><![CDATA[write <!ENTITY x 'y'> in a DTD]]></description></item></channel></rss>"
    )
    check_entities(body)
    assert [i.title for i in parse_feed(raw(body)).items] == ["XML tips"]


def test_character_entity_declarations_are_allowed() -> None:
    body = (
        b"<?xml version='1.0'?><!DOCTYPE rss [<!ENTITY nbsp \"&#160;\"><!ENTITY copy '&#xA9;'>]>"
        b"<rss version='2.0'><channel><item><title>A&nbsp;B &copy;</title></item></channel></rss>"
    )
    assert [i.title for i in parse_feed(raw(body)).items] == ["A\xa0B \xa9"]
    netscape = (
        b'<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        b'"http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91"><channel>'
        b"<item><title>Old</title></item></channel></rss>"
    )
    assert [i.title for i in parse_feed(raw(netscape)).items] == ["Old"]


def test_gzip_bomb_is_capped() -> None:
    bomb = gzip.compress(b"<rss>" + b" " * (2 * 1024 * 1024) + b"</rss>")
    parsed = parse_feed(raw(bomb), max_document_bytes=1024 * 1024)
    assert not parsed.items and "inflates beyond" in parsed.failures[0].reason


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"", "empty document"),
        (b"   \n", "empty document"),
        (b"\x1f\x8b\x08garbage", "gzip data is corrupt"),
        (b"{not json", "looks like JSON but does not parse"),
        (b'{"a": 1}', "neither a JSON Feed"),
        (b"<html><body><p>Hello</p></body></html>", "not a feed"),
    ],
)
def test_hostile_or_empty_documents_fail_with_reasons(body: bytes, reason: str) -> None:
    parsed = parse_feed(raw(body))
    assert not parsed.items and reason in parsed.failures[0].reason


def test_feedparser_never_opens_a_url_or_file_named_by_the_body(httpserver) -> None:
    for body in (
        httpserver.url_for("/steal").encode(),
        b"/etc/passwd",
        str(FEEDS_DIR / "fixtures_rss-parser" / "heise.atom").encode(),
    ):
        parsed = parse_feed(raw(body))
        assert not parsed.items and parsed.failures
    assert not httpserver.log


def test_one_bad_item_never_loses_the_rest() -> None:
    body = (
        b"<rss version='2.0'><channel><title>T</title>"
        b"<item><title>First</title><link>https://example.com/1</link></item>"
        b"<item><link>https://example.com/empty</link></item>"
        b"<item><title>Third</title><link>https://example.com/3</link>"
        b"<pubDate>Thu, 01 Jan 1970 00:00:00 GMT</pubDate></item>"
        b"<item><title>Fourth</title><pubDate>Fri, 25 Oct 2024 09:00:00 +0300</pubDate></item>"
        b"</channel></rss>"
    )
    parsed = parse_feed(raw(body, name="Example Outlet", language="en-GB"))
    assert [i.title for i in parsed.items] == ["First", "Third", "Fourth"]
    assert [f.reason for f in parsed.failures] == [
        "item 1: no title and no text, nothing to watch; skipped"
    ]
    assert parsed.items[1].published_at is None  # 1970: not believed
    assert parsed.items[2].published_at == dt.datetime(2024, 10, 25, 6, 0, tzinfo=UTC)
    assert {i.outlet for i in parsed.items} == {"Example Outlet"} and {
        i.language for i in parsed.items
    } == {"en"}
    assert parsed.undated == 2


def test_dates_in_the_future_are_not_believed() -> None:
    body = (
        b"<rss version='2.0'><channel><item><title>Later</title>"
        b"<pubDate>Mon, 01 Jan 2035 00:00:00 GMT</pubDate></item></channel></rss>"
    )
    assert parse_feed(raw(body)).items[0].published_at is None


def test_relative_links_resolve_against_the_feed_url() -> None:
    body = b"<rss version='2.0'><channel><item><title>A</title><link>/news/1</link></item></channel></rss>"
    assert (
        parse_feed(raw(body, url="https://example.com/feeds/rss")).items[0].link
        == "https://example.com/news/1"
    )


def test_an_aggregator_item_names_its_own_publisher() -> None:
    """An aggregator's feed (Google News, Bing News) carries many outlets: an item's RSS
    <source> is its outlet, cleaned like a feed title; an item without one keeps the
    feed's."""
    body = (
        b"<rss version='2.0'><channel><title>Top stories - Google News</title>"
        b"<item><title>Iran talks resume</title><link>https://news.test/1</link>"
        b"<source url='https://www.reuters.com'>Reuters</source></item>"
        b"<item><title>Iran talks resume, officials say</title><link>https://news.test/2</link>"
        b"<source url='https://apnews.com'>AP News - Top Stories</source></item>"
        b"<item><title>Oil falls</title><link>https://news.test/3</link></item>"
        b"</channel></rss>"
    )
    parsed = parse_feed(raw(body, name="Google News: Iran"))
    assert [i.outlet for i in parsed.items] == ["Reuters", "AP News", "Google News: Iran"]


def test_a_recorded_entry_list_names_its_outlet_by_the_feed_title_else_the_host() -> None:
    entry = {
        "source": "https://feeds.skynews.com/feeds/rss/world.xml",
        "title": "T",
        "link": "https://news.sky.com/1",
    }
    named = json.dumps([{**entry, "album": "Sky News"}]).encode()
    unnamed = json.dumps([{**entry, "album": None}]).encode()
    assert [i.outlet for i in parse_feed(raw(named)).items] == ["Sky News"]
    # the host without feeds. and its TLD (pipeline.ingest.outlet)
    assert [i.outlet for i in parse_feed(raw(unnamed)).items] == ["Skynews"]


def test_json_feed_and_ttl() -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "JF",
            "items": [
                {
                    "id": "1",
                    "url": "https://example.com/1",
                    "title": "Hello",
                    "content_text": "World",
                    "date_published": "2024-10-25T10:00:00Z",
                },
                "not an object",
            ],
        }
    ).encode()
    parsed = parse_feed(raw(body))
    assert [(i.title, i.summary, i.outlet, i.published_at) for i in parsed.items] == [
        ("Hello", "World", "JF", dt.datetime(2024, 10, 25, 10, tzinfo=UTC))
    ]
    assert "item 1: unreadable" in parsed.failures[0].reason
    rss = b"<rss version='2.0'><channel><ttl>30</ttl><item><title>x</title></item></channel></rss>"
    assert parse_feed(raw(rss)).ttl_seconds == 1800 and feed_ttl_seconds(rss) == 1800


@pytest.mark.parametrize("junk", [b"\x80", b"\x00"])
def test_bytes_that_crash_feedparser_become_failures(junk: bytes) -> None:
    """Found by the property test below: feedparser itself raises on these."""
    body = _SEED_DOC[:30] + junk + _SEED_DOC[30:38]
    parsed = parse_feed(raw(body))
    assert not parsed.items and "feedparser failed" in parsed.failures[0].reason


def test_oversized_document_is_refused() -> None:
    parsed = parse_feed(raw(b"<rss>" + b" " * 2048 + b"</rss>"), max_document_bytes=1024)
    assert "over the 1024-byte limit" in parsed.failures[0].reason
    assert MAX_DOCUMENT_BYTES >= 10 * 1024 * 1024


GOLDEN_FILES = [
    "stream_gesab001/wsj_world@dc4f379b.xml",
    "greatfire/bbc_chinese_atom.xml",
    "greatfire/dw_chinese_rss1_rdf.xml",
    "plakhovgroup/kyivindependent@df6a163c.xml",
    "egfedorov/meduza_chronicle_ru@95b44286.xml",
    "fixtures_rss-parser/heraldsun.rss",
    "fixtures_node-feedparser/saxerror.xml",
    "stream_evilgodfahim_wl/reuters_direct@e19fee55.xml",
    "derived_rumca_json/2022-10-15__https.www.theverge.comrssindex.xml_entries.json",
]


def _golden_view(rel: str) -> dict:
    parsed = parse_file(rel)
    articles = [normalize_item(i) for i in parsed.items]
    keep = (
        "article_id",
        "title",
        "summary",
        "url",
        "canonical_url",
        "published_at",
        "published_is_estimated",
        "outlet",
        "language",
        "content_hash",
        "guid",
    )
    return {
        "version": parsed.version,
        "bozo": parsed.bozo,
        "articles": len(articles),
        "failures": [f.reason for f in parsed.failures],
        "first": [
            {k: (v[:200] if isinstance(v, str) else v) for k, v in to_json(a).items() if k in keep}
            for a in articles[:3]
        ],
    }


@pytest.mark.parametrize("rel", GOLDEN_FILES)
def test_golden_articles(rel: str) -> None:
    path = GOLDEN / (rel.replace("/", "__") + ".json")
    view = _golden_view(rel)
    if os.environ.get("STORYWATCH_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(view, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    assert view == json.loads(path.read_text(encoding="utf-8"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cut=st.integers(0, len(_SEED_DOC)),
    position=st.integers(0, len(_SEED_DOC)),
    junk=st.binary(max_size=40),
    gzipped=st.booleans(),
)
def test_mangled_documents_never_raise(cut: int, position: int, junk: bytes, gzipped: bool) -> None:
    body = _SEED_DOC[:cut]
    body = body[:position] + junk + body[position:]
    if gzipped:
        body = (
            gzip.compress(body)[: max(2, len(body) // 2)] if position % 2 else gzip.compress(body)
        )
    parsed = parse_feed(raw(body))
    assert parsed.items or parsed.failures or not body.strip() or parsed.version
    for item in parsed.items:
        try:
            normalize_item(item)
        except UnusableItem:  # e.g. a title of "<b></b>": explained, not a crash
            pass


def test_doctests() -> None:
    import doctest
    import importlib

    module = importlib.import_module("pipeline.ingest.parse")
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0


def test_document_dates_ignore_future_and_pre_year_1_dates():
    from pipeline.ingest.parse import document_dates

    body = (
        b"<rss><channel><item><pubDate>Fri, 31 Dec 9999 23:59:59 GMT</pubDate></item>"
        b"<item><pubDate>Fri, 25 Oct 2024 09:00:00 GMT</pubDate></item>"
        b"<item><dc:date>0001-01-01T00:00:00+05:00</dc:date></item></channel></rss>"
    )
    # The year 9999 used to become a replay's clock (every item first seen then) and the
    # year-1 date raised OverflowError converting to UTC.
    assert document_dates(body) == [dt.datetime(2024, 10, 25, 9, tzinfo=dt.UTC)]
