"""Outlet names (pipeline/ingest/outlet.py): the feed list's name, the cleaned title, the host.

The titles are those of recorded feeds in tests/data/feeds and seeds/feeds.
"""

from __future__ import annotations

import pytest

from pipeline.ingest.outlet import host_label, outlet_name


@pytest.mark.parametrize(
    ("title", "url", "expected"),
    [
        ("BBC News - Home", "https://feeds.bbci.co.uk/news/rss.xml", "BBC News"),
        ("BBC News - World", "", "BBC News"),
        ("Reuters Feed", "", "Reuters"),
        ("The Washington Post - Tech", "", "The Washington Post"),
        ("NYT > U.S. News", "", "NYT"),
        ("WSJ.com: World News", "", "WSJ"),
        ("Deutsche Welle: DW-WORLD.DE", "", "Deutsche Welle"),
        ("Meduza — Хроника статей", "", "Meduza"),
        ("Livemint - News", "", "Livemint"),
        ("Sky News", "", "Sky News"),
        ("The Moscow Times", "", "The Moscow Times"),
        ("纽约时报中文网 国际纵览", "", "纽约时报中文网 国际纵览"),
        # the part that names the feed's host wins over a section name before it
        ("World news | The Guardian", "https://www.theguardian.com/world/rss", "The Guardian"),
        ("Top stories | Example", "", "Example"),
        # a recorded entry list names its feed by host (pipeline/ingest/parse.py)
        ("rss.cnn.com", "", "CNN"),
        ("www.theverge.com", "", "Theverge"),
    ],
)
def test_feed_titles_become_outlet_names(title: str, url: str, expected: str) -> None:
    assert outlet_name("", title, url) == expected


def test_the_feed_lists_name_wins_verbatim() -> None:
    assert outlet_name("BBC News World", "BBC News - World", "https://feeds.bbci.co.uk/x") == (
        "BBC News World"
    )
    assert outlet_name("  Reuters (via  Google News) ", "x", "") == "Reuters (via Google News)"


@pytest.mark.parametrize(
    ("title", "url", "expected"),
    [
        ("", "https://rss.cnn.com/rss/edition.rss", "CNN"),
        ("", "https://feeds.reuters.com/reuters/topNews", "Reuters"),
        ("", "https://www.lemonde.fr/rss/une.xml", "Lemonde"),
        ("", "https://www.abc.net.au/news/feed/51120/rss.xml", "ABC"),
        ("Top stories", "https://rss.nytimes.com/services/xml/rss/nyt/World.xml", "Nytimes"),
        ("RSS Feed", "http://xn--80aswg.xn--p1ai/rss", "Сайт"),
        ("", "http://10.0.0.1/feed", ""),
        ("", "http://localhost:8080/feed", ""),
        ("", "seeds/feeds/some/file.xml", ""),
        ("", "", ""),
    ],
)
def test_without_a_usable_title_the_host_names_the_outlet(
    title: str, url: str, expected: str
) -> None:
    assert outlet_name("", title, url) == expected


def test_host_label_is_the_registrable_name() -> None:
    assert host_label("feeds.bbci.co.uk") == "bbci"
    assert host_label("news.sky.com") == "sky"
    assert host_label("127.0.0.1") == ""
    assert host_label("[::1]") == ""


def test_docstring_examples() -> None:
    import doctest

    import pipeline.ingest.outlet

    result = doctest.testmod(pipeline.ingest.outlet)
    assert result.attempted > 0 and result.failed == 0
