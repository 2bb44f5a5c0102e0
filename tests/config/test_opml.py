"""OPML import: strict check, lenient reading (listparser), duplicates, refused addresses."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config.feeds import load_feeds
from pipeline.config.opml import import_opml, read_opml
from pipeline.errors import UserError


def write(tmp_path: Path, text: str, name: str = "feeds.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


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
    read = read_opml(write(tmp_path, OPML, "feeds.opml"))
    feeds, skipped = read.feeds, read.skipped
    assert not read.notes
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


# An export as feed readers write it: upper-case tags and attributes, bare "&" in titles and
# query strings (issue 14: the strict parser refused the whole file).
SLOPPY = """<?xml version="1.0" encoding="ISO-8859-1"?>
<OPML VERSION="1.0"><HEAD><TITLE>Exported</TITLE></HEAD><BODY>
<OUTLINE TEXT="News & Politics">
  <OUTLINE TEXT="Café & Co" TYPE="rss" XMLURL="https://news.example/rss?cat=1&region=eu&amp;lang=de"/>
  <OUTLINE TEXT="Wire" TYPE="rss" XMLURL="https://wire.example/feed"/>
</OUTLINE>
</BODY></OPML>
"""


def test_an_export_with_bare_ampersands_and_upper_case_tags_is_recovered(tmp_path) -> None:
    path = tmp_path / "sloppy.opml"
    path.write_bytes(SLOPPY.encode("iso-8859-1"))
    read = read_opml(path)
    assert [(f.url, f.name, f.tags) for f in read.feeds] == [
        ("https://news.example/rss?cat=1&region=eu&lang=de", "Caf\xe9 & Co", ["News & Politics"]),
        ("https://wire.example/feed", "Wire", ["News & Politics"]),
    ]
    [note] = read.notes
    assert note.startswith(f"{path}: not well-formed XML (line ") and "read leniently" in note


def test_the_strict_check_still_refuses_entities_in_a_sloppy_export(tmp_path) -> None:
    body = SLOPPY.replace("<OPML", '<!DOCTYPE OPML [<!ENTITY x SYSTEM "file:///etc/passwd">]><OPML')
    path = tmp_path / "x.opml"
    path.write_bytes(body.encode("iso-8859-1"))
    with pytest.raises(UserError, match="declares entities or external references"):
        read_opml(path)


def test_the_http_twin_of_a_listed_https_feed_is_a_duplicate(tmp_path) -> None:
    feeds_file = write(tmp_path, "feeds:\n  - url: https://kyivindependent.com/rss/\n")
    opml = write(
        tmp_path,
        "<opml version='2.0'><body>"
        "<outline text='KI' xmlUrl='http://kyivindependent.com/rss'/>"
        "<outline text='W' xmlUrl='https://wire.example/feed'/>"
        "<outline text='W again' xmlUrl='http://www.wire.example/feed/'/>"
        "</body></opml>",
        "f.opml",
    )
    report = import_opml(opml, feeds_file)
    assert [f.url for f in report.added] == ["https://wire.example/feed"]
    assert report.duplicates == ["http://kyivindependent.com/rss", "http://www.wire.example/feed/"]
    assert [f.url for f in load_feeds(feeds_file).feeds] == [
        "https://kyivindependent.com/rss/",
        "https://wire.example/feed",
    ]


PRIVATE_OPML = (
    "<opml version='2.0'><body>"
    "<outline text='NAS' xmlUrl='http://192.168.1.20/feed.xml'/>"
    "<outline text='Meta' xmlUrl='http://169.254.169.254/latest/meta-data/'/>"
    "<outline text='W' xmlUrl='https://wire.example/feed'/>"
    "</body></opml>"
)


def test_feeds_at_private_addresses_are_skipped_with_the_reason(tmp_path) -> None:
    feeds_file = write(tmp_path, "feeds:\n  - url: https://kyivindependent.com/rss/\n")
    report = import_opml(write(tmp_path, PRIVATE_OPML, "p.opml"), feeds_file)
    assert [f.url for f in report.added] == ["https://wire.example/feed"]
    assert report.skipped == [
        "'NAS': http://192.168.1.20/feed.xml: 192.168.1.20: private address; only public "
        "addresses are fetched unless the feed list sets allow_private_addresses",
        "'Meta': http://169.254.169.254/latest/meta-data/: 169.254.169.254: cloud metadata "
        "address; never fetched, even with allow_private_addresses",
    ]


def test_a_list_that_allows_private_addresses_imports_them_but_never_metadata(tmp_path) -> None:
    feeds_file = write(tmp_path, "allow_private_addresses: true\nfeeds: []\n")
    report = import_opml(write(tmp_path, PRIVATE_OPML, "p.opml"), feeds_file)
    assert [f.url for f in report.added] == [
        "http://192.168.1.20/feed.xml",
        "https://wire.example/feed",
    ]
    assert len(report.skipped) == 1 and "cloud metadata" in report.skipped[0]
    assert len(load_feeds(feeds_file).feeds) == 2


def test_opml_is_read_from_bytes_never_fetched(tmp_path) -> None:
    """listparser fetches a str that starts with http(s)://; the importer hands it bytes."""
    path = write(tmp_path, "http://127.0.0.1:9/list.opml", "url.opml")
    with pytest.raises(UserError, match="not well-formed XML"):
        read_opml(path)


@pytest.mark.slow
def test_import_then_validate_as_a_user_runs_them(tmp_path) -> None:
    """Issue 14: the private feed was imported without a word and `validate` said ok."""
    import shutil

    from tests.cli_support import run_storywatch
    from tests.paths import WATCHLISTS

    for name in ("entities.yaml", "topics.yaml", "storylines.yaml"):
        shutil.copy(WATCHLISTS / name, tmp_path / name)
    feeds_file = write(tmp_path, "feeds:\n  - url: https://kyivindependent.com/rss/\n")
    opml = write(tmp_path, PRIVATE_OPML, "p.opml")
    imported = run_storywatch("feeds", "import", str(opml), "--feeds-file", str(feeds_file))
    assert imported.returncode == 0, imported.stderr
    assert "skipped 'NAS': http://192.168.1.20/feed.xml: 192.168.1.20: private address" in (
        imported.stderr
    )
    assert "1 added, 0 already listed, 2 skipped" in imported.stdout
    feeds_file.write_text(feeds_file.read_text() + "  - url: http://192.168.1.20/feed.xml\n")
    checked = run_storywatch("validate", "--watchlists", str(tmp_path))
    assert checked.returncode == 2 and "Traceback" not in checked.stderr
    assert f"{feeds_file}:6: feeds.2.url: 192.168.1.20: private address" in checked.stderr
