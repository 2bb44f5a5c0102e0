"""The feed list: the shipped file, FILE:LINE problems, defaults and allowances, addresses."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config.feeds import FeedList, feed_url_key, load_feeds
from pipeline.errors import ConfigError
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
    # Issue 14: one feed under two schemes (or an IDN spelling) was polled twice.
    assert feed_url_key("http://example.com/rss") == feed_url_key("https://example.com/rss")
    assert feed_url_key("https://bücher.de/rss") == feed_url_key("https://xn--bcher-kva.de/rss")
    assert feed_url_key("https://x.example/rss?utm_source=a") == feed_url_key(
        "https://x.example/rss"
    )
    assert feed_url_key("https://x.example/a%2Fb") != feed_url_key("https://x.example/a/b")


def test_scheme_twins_in_one_list_are_duplicates(tmp_path) -> None:
    path = write(
        tmp_path, "feeds:\n  - url: https://example.com/rss\n  - url: http://example.com/rss\n"
    )
    assert problems(path) == [
        f"{path}:3: feeds.1.url: duplicate of feeds.0 (http://example.com/rss); remove one of them"
    ]


@pytest.mark.parametrize(
    "host, reason",
    [
        ("192.168.1.20", "private address"),
        ("127.0.0.1:8000", "loopback address"),
        ("localhost", "loopback address"),
        ("[fec0::1]", "site-local address"),
        ("0x7f.1", "loopback address"),
    ],
)
def test_a_feed_at_a_private_address_is_a_problem_unless_allowed(tmp_path, host, reason) -> None:
    """Issue 14: `validate` said ok for http://192.168.1.20/feed.xml; the fetcher refuses it."""
    path = write(tmp_path, f"feeds:\n  - url: http://{host}/feed.xml\n")
    [problem] = problems(path)
    assert problem.startswith(f"{path}:2: feeds.0.url: ") and f"{reason}; only public" in problem
    assert "allow_private_addresses" in problem
    allowed = write(
        tmp_path, f"allow_private_addresses: true\nfeeds:\n  - url: http://{host}/feed.xml\n"
    )
    assert len(load_feeds(allowed).feeds) == 1
    one = write(
        tmp_path, f"feeds:\n  - url: http://{host}/feed.xml\n    allow_private_addresses: true\n"
    )
    assert len(load_feeds(one).feeds) == 1


@pytest.mark.parametrize(
    "host", ["169.254.169.254", "[64:ff9b::a9fe:a9fe]", "2852039166", "169.254.3.4"]
)
def test_metadata_and_link_local_feeds_are_problems_even_when_allowed(tmp_path, host) -> None:
    path = write(
        tmp_path, f"allow_private_addresses: true\nfeeds:\n  - url: http://{host}/latest/\n"
    )
    [problem] = problems(path)
    assert "never fetched, even with allow_private_addresses" in problem


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
