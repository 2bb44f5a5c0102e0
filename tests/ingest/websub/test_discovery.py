"""WebSub discovery: hubs and self from the Link header, Atom and RSS atom:link."""

from __future__ import annotations

from pipeline.ingest.websub.discovery import HubLinks, discover

BASE = "https://news.example/feeds/world.xml"


def test_atom_feed_hub_and_self_in_the_feed_head():
    body = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        b'<link rel="alternate" href="https://news.example/"/>'
        b'<link rel="hub" href="https://pubsubhubbub.appspot.com/"/>'
        b'<link rel="hub" href="https://hub.example/second"/>'
        b'<link rel="self" href="https://news.example/feeds/world.atom"/>'
        b"<entry><link rel='hub' href='https://evil.example/'/></entry></feed>"
    )
    assert discover([], body, base_url=BASE) == HubLinks(
        ("https://pubsubhubbub.appspot.com/", "https://hub.example/second"),
        "https://news.example/feeds/world.atom",
    )


def test_rss_atom_link_and_relative_urls():
    body = (
        b'<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>t</title>'
        b"<link>https://news.example/</link>"
        b'<atom:link rel="hub" href="/hub"/><atom:link href="world.xml" rel="self" '
        b'type="application/rss+xml"/><item><title>x</title></item></channel></rss>'
    )
    links = discover([], body, base_url=BASE)
    assert links.hubs == ("https://news.example/hub",)
    assert links.topic("ignored") == "https://news.example/feeds/world.xml"


def test_link_header_comes_first_and_repeats_collapse():
    headers = [
        ("content-type", "application/rss+xml"),
        ("link", '<https://hub.example/>; rel="hub", <https://news.example/t>; rel="self"'),
        ("link", "<https://hub.example/>; rel=hub"),
    ]
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><link rel="hub" href="https://other/"/></feed>'
    )
    links = discover(headers, body, base_url=BASE)
    assert links == HubLinks(("https://hub.example/", "https://other/"), "https://news.example/t")


def test_no_hub_broken_or_hostile_documents_give_what_came_before():
    assert (
        discover([], b"<rss><channel><title>t</title></channel></rss>", base_url=BASE) == HubLinks()
    )
    cut = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><link rel="hub" href="https://h/"/><title>&bad'
    )
    assert discover([], cut, base_url=BASE).hubs == ("https://h/",)
    bomb = b'<!DOCTYPE x [<!ENTITY a "aaaa">]><feed><link rel="hub" href="https://h/"/></feed>'
    assert discover([], bomb, base_url=BASE) == HubLinks()
    not_http = b'<feed><link rel="hub" href="javascript:alert(1)"/></feed>'
    assert discover([], not_http, base_url=BASE) == HubLinks()
    assert discover([], b"\x1f\x8b garbage", base_url=BASE) == HubLinks()
