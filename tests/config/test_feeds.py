"""The feed list: the shipped file, FILE:LINE problems, defaults and allowances, OPML reading."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config.feeds import FeedList, feed_url_key, import_opml, load_feeds, read_opml
from pipeline.errors import ConfigError, UserError
from tests.paths import WATCHLISTS


def write(tmp_path: Path, text: str, name: str = "feeds.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_feeds(path)
    return caught.value.problems


def test_shipped_feed_list_covers_the_seeded_storylines() -> None:
    feeds = load_feeds(WATCHLISTS / "feeds.yaml")
    tags = {tag for feed in feeds.feeds for tag in feed.tags}
    assert {"wire", "ukraine", "russia", "taiwan", "tech"} <= tags
    assert {feed.language for feed in feeds.feeds if feed.language} >= {"uk", "ru", "zh-TW"}
    assert not feeds.allow_private_addresses and not any(
        f.allow_private_addresses for f in feeds.feeds
    )
    sources = feeds.sources()
    assert len(sources) == len(feeds.feeds) >= 30
    assert all(
        s.url.startswith("https://") and 300 <= s.min_poll_seconds <= s.max_poll_seconds
        for s in sources
    )
    assert len({s.feed_id for s in sources}) == len(sources)


def test_defaults_and_allowances_reach_the_sources(tmp_path) -> None:
    path = write(
        tmp_path,
        """\
defaults:
  min_poll_seconds: 120
  max_poll_seconds: 900
  language: uk
feeds:
  - url: http://127.0.0.1:8000/feed.xml
    allow_private_addresses: true
  - url: https://kyivindependent.com/rss/
    name: The Kyiv Independent
    language: en
    max_poll_seconds: 600
""",
    )
    first, second = load_feeds(path).sources()
    assert (
        first.allow_private,
        first.language,
        first.min_poll_seconds,
        first.max_poll_seconds,
    ) == (True, "uk", 120, 900)
    assert (second.allow_private, second.language, second.name, second.max_poll_seconds) == (
        False,
        "en",
        "The Kyiv Independent",
        600,
    )
    assert first.feed_id.startswith("127.0.0.1-") and second.feed_id.startswith(
        "kyivindependent.com-"
    )
    everything = FeedList.model_validate(
        {"allow_private_addresses": True, "feeds": [{"url": "https://x.org/"}]}
    )
    assert everything.sources()[0].allow_private


def test_problems_are_located_by_line(tmp_path) -> None:
    path = write(
        tmp_path,
        """\
feeds:
  - url: https://a.example/rss
  - url: ftp://b.example/rss
  - name: no url here
  - url: https://c.example/rss
    min_poll_seconds: 900
    max_poll_seconds: 300
  - url: https://d.example/rss
    min_poll_seconds: 5
  - url: https://e.example/rss
    colour: blue
""",
    )
    found = problems(path)
    assert found == [
        f"{path}:3: feeds.1.url: Value error, 'ftp://b.example/rss' is not an http(s) URL with a host; "
        "write it as https://host/path".replace("Value error, ", ""),
        f"{path}:4: feeds.2.url: missing required field 'url'; add it",
        f"{path}:5: feeds.3: min_poll_seconds (900) is above max_poll_seconds (300); swap them",
        f"{path}:9: feeds.4.min_poll_seconds: must be at least 60, found the number 5",
        f"{path}:11: feeds.5.colour: unknown field 'colour'; remove it or check its spelling",
    ]


def test_duplicate_urls_and_ids_are_reported_where_they_repeat(tmp_path) -> None:
    path = write(
        tmp_path,
        """\
feeds:
  - url: https://www.example.com/rss/
    id: one
  - url: HTTPS://example.com/rss
  - url: https://other.example/rss
    id: one
""",
    )
    assert problems(path) == [
        f"{path}:4: feeds.1.url: duplicate of feeds.0 (HTTPS://example.com/rss); remove one of them",
        f"{path}:6: feeds.2.id: id 'one' is already used by feeds.0; pick another",
    ]


def test_yaml_syntax_errors_and_empty_files(tmp_path) -> None:
    assert problems(write(tmp_path, "feeds:\n  - url: [unclosed\n"))[0].startswith(
        f"{tmp_path / 'feeds.yaml'}:"
    )
    assert load_feeds(write(tmp_path, "")).feeds == []
    with pytest.raises(ConfigError, match="file not found"):
        load_feeds(tmp_path / "missing.yaml")


def test_feed_url_key() -> None:
    assert feed_url_key("HTTPS://WWW.Example.com:443/rss/") == feed_url_key(
        "https://example.com/rss"
    )
    assert feed_url_key("https://example.com/rss?x=1") != feed_url_key("https://example.com/rss")


OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My feeds</title></head>
  <body>
    <outline text="Ukraine" title="Ukraine">
      <outline type="rss" text="Kyiv Independent" xmlUrl="https://kyivindependent.com/rss/" language="en"/>
      <outline type="rss" text="Ukrinform" xmlUrl="https://www.ukrinform.net/rss/block-lastnews"/>
    </outline>
    <outline type="rss" text="Local file" xmlUrl="file:///etc/passwd"/>
    <outline type="rss" title="SpaceNews &amp; more" xmlUrl="https://spacenews.com/feed/"/>
  </body>
</opml>
"""


def test_read_opml_flattens_folders_into_tags(tmp_path) -> None:
    feeds, skipped = read_opml(write(tmp_path, OPML, "feeds.opml"))
    assert [(f.url, f.name, f.language, f.tags) for f in feeds] == [
        ("https://kyivindependent.com/rss/", "Kyiv Independent", "en", ["Ukraine"]),
        ("https://www.ukrinform.net/rss/block-lastnews", "Ukrinform", "", ["Ukraine"]),
        ("https://spacenews.com/feed/", "SpaceNews & more", "", []),
    ]
    assert skipped == ["'Local file': not an http(s) feed URL (file:///etc/passwd)"]


def test_import_appends_new_feeds_and_keeps_comments(tmp_path) -> None:
    feeds_file = write(
        tmp_path,
        "# my comment stays\ndefaults:\n  min_poll_seconds: 600\n"
        "feeds:\n  - url: https://kyivindependent.com/rss\n",
    )
    report = import_opml(write(tmp_path, OPML, "feeds.opml"), feeds_file)
    assert [f.url for f in report.added] == [
        "https://www.ukrinform.net/rss/block-lastnews",
        "https://spacenews.com/feed/",
    ]
    assert report.duplicates == ["https://kyivindependent.com/rss/"]
    text = feeds_file.read_text()
    assert text.startswith("# my comment stays\n") and "# imported from feeds.opml" in text
    merged = load_feeds(feeds_file)
    assert [f.name for f in merged.feeds] == ["", "Ukrinform", "SpaceNews & more"]
    again = import_opml(tmp_path / "feeds.opml", feeds_file)
    assert again.added == [] and len(again.duplicates) == 3 and feeds_file.read_text() == text


def test_import_into_a_new_file(tmp_path) -> None:
    target = tmp_path / "sub" / "feeds.yaml"
    report = import_opml(write(tmp_path, OPML, "feeds.opml"), target)
    assert len(report.added) == 3 and len(load_feeds(target).feeds) == 3


@pytest.mark.parametrize(
    "text, message",
    [
        ("<opml><body><outline", "not well-formed XML"),
        ("<rss version='2.0'/>", "not an OPML file: the root element is <rss>"),
        ("<opml version='2.0'><head/></opml>", "has no <body>"),
        (
            "<?xml version='1.0'?><!DOCTYPE opml [<!ENTITY a 'b'>]><opml><body/></opml>",
            "declares entities",
        ),
        (
            "<?xml version='1.0'?><!DOCTYPE opml [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><opml><body>&x;</body></opml>",
            "declares entities",
        ),
        (
            "<opml version='2.0'><head/><body></body></opml>",
            "no feeds found: no <outline> has an xmlUrl",
        ),
        (
            "<opml version='2.0'><body><outline text='Reading list'><outline text='x' htmlUrl='https://a.test/'/>"
            "</outline></body></opml>",
            "no feeds found",
        ),
    ],
)
def test_malformed_or_hostile_opml_is_a_clear_error(tmp_path, text, message) -> None:
    with pytest.raises(UserError, match=message):
        read_opml(write(tmp_path, text, "bad.opml"))


def test_import_refuses_when_feeds_is_not_the_last_key(tmp_path) -> None:
    feeds_file = write(
        tmp_path, "feeds:\n  - url: https://a.example/rss\ndefaults:\n  language: en\n"
    )
    with pytest.raises(UserError, match="'feeds:' must be the last top-level key"):
        import_opml(write(tmp_path, OPML, "feeds.opml"), feeds_file)


def test_doctests() -> None:
    import doctest
    import importlib

    module = importlib.import_module("pipeline.config.feeds")
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0


def test_values_of_the_wrong_type_are_explained_not_library_worded(tmp_path) -> None:
    path = write(
        tmp_path,
        """\
defaults: 600
feeds:
  - https://a.example/rss
  - url: [https://b.example/rss]
    name: [B]
    tags: politics
    min_poll_seconds: 10m
    allow_private_addresses: maybe
""",
    )
    assert problems(path) == [
        f"{path}:1: defaults: expected a mapping with the fields min_poll_seconds, max_poll_seconds, language, "
        "found the number 600; write the fields indented under it, e.g. defaults: {min_poll_seconds: ...}",
        f"{path}:3: feeds.0: expected a mapping with the fields url, id, name, language, min_poll_seconds, "
        "max_poll_seconds, tags, allow_private_addresses, enabled, found the text 'https://a.example/rss'; "
        'write the item as fields, e.g. - url: "https://a.example/rss"',
        f"{path}:4: feeds.1.url: expected a single text value (http(s) URL of the RSS/Atom/JSON feed), found a "
        "list ['https://b.example/rss']; write it without brackets: url: \"https://b.example/rss\"",
        f"{path}:5: feeds.1.name: expected a single text value (outlet name shown in alerts; default: the feed's "
        "own title), found a list ['B']; write it without brackets: name: B",
        f"{path}:7: feeds.1.min_poll_seconds: expected a whole number, found the text '10m'; "
        "write a whole number without quotes, e.g. 300",
        f"{path}:6: feeds.1.tags: expected a list, found the text 'politics'; write it as a list: tags: [politics]",
        f"{path}:8: feeds.1.allow_private_addresses: expected true or false (allow loopback/private addresses "
        "(tests only)), found the text 'maybe'; write allow_private_addresses: true or "
        "allow_private_addresses: false",
    ]


def test_norwegian_language_tag_unquoted_is_explained(tmp_path) -> None:
    # YAML 1.1 reads `no` as false; the message used to suggest quoting "False".
    path = write(tmp_path, "feeds:\n  - url: https://www.nrk.no/toppsaker.rss\n    language: no\n")
    assert problems(path) == [
        f"{path}:3: feeds.0.language: expected a single text value (language tag, e.g. en, uk, ru, zh-TW), found "
        "false (true/false); YAML reads an unquoted yes, no, on, off, true or false as true/false; put the value "
        'in quotes, e.g. language: "no"'
    ]


def test_opml_folders_nested_thousands_deep_are_a_user_error(tmp_path) -> None:
    depth = 5000  # was a RecursionError traceback from `storywatch feeds import`
    opml = write(
        tmp_path,
        '<?xml version="1.0"?><opml version="2.0"><body>'
        + '<outline text="x">' * depth
        + '<outline text="A" xmlUrl="https://a.example/rss"/>'
        + "</outline>" * depth
        + "</body></opml>",
        name="deep.opml",
    )
    with pytest.raises(UserError) as err:
        read_opml(opml)
    assert err.value.problems == [
        f"{opml}:1: outlines nested too deeply (folders inside folders hundreds of "
        "levels deep); export the subscriptions again"
    ]
