"""Fetching against a real local HTTP server, the address guard, and the schedule's clock logic."""

from __future__ import annotations

import datetime as dt
import doctest
import gzip
import importlib
import itertools
import time

import apache_beam as beam
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.util import assert_that, equal_to
from werkzeug import Request, Response

from pipeline.ingest.fetch.guard import (
    BlockedAddress,
    FetchError,
    check_host,
    forbidden_reason,
    host_reason,
    literal_address,
)
from pipeline.ingest.fetch.http import (
    USER_AGENT,
    FetchPolicy,
    FetchResult,
    fetch_feed,
    make_client,
    parse_max_age,
    parse_retry_after,
)
from pipeline.ingest.fetch.schedule import FeedSchedule, HostGate
from pipeline.ingest.fetch.transform import FetchFeeds, Poller
from pipeline.ingest.parse import parse_feed
from pipeline.records import FeedSource, RawFeed
from tests.paths import FEEDS_DIR

UTC = dt.UTC
FEED = (FEEDS_DIR / "stream_gesab001" / "wsj_world@dc4f379b.xml").read_bytes()
FAST = FetchPolicy(
    connect_timeout_seconds=2,
    read_timeout_seconds=0.5,
    total_timeout_seconds=2,
    max_body_bytes=1024 * 1024,
    max_redirects=3,
)


@pytest.fixture
def client():
    with make_client(FAST) as c:
        yield c


def source(httpserver, path: str = "/feed", **kw) -> FeedSource:
    return FeedSource(
        kw.pop("feed_id", "wsj"),
        httpserver.url_for(path),
        allow_private=kw.pop("allow_private", True),
        **kw,
    )


# --- address guard -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "address, reason",
    [
        ("127.0.0.1", "loopback address"),
        ("127.8.9.10", "loopback address"),
        ("::1", "loopback address"),
        ("10.1.2.3", "private address"),
        ("172.16.5.4", "private address"),
        ("192.168.0.1", "private address"),
        ("169.254.169.254", "cloud metadata address"),
        ("169.254.10.10", "link-local address"),
        ("fe80::1", "link-local address"),
        ("fd00::1", "private address"),
        ("fd12:3456::1", "private address"),
        ("::ffff:127.0.0.1", "loopback address"),
        ("::ffff:10.0.0.1", "private address"),
        ("2002:7f00:1::", "loopback address"),
        ("0.0.0.0", "unspecified address"),
        ("224.0.0.1", "multicast address"),
        ("100.64.0.1", "non-global address"),
        ("240.0.0.1", "private address"),
        ("8.8.8.8", None),
        ("151.101.1.67", None),
        ("2001:4860:4860::8888", None),
        # Issue 14 defect 9: site-local was public; embedded IPv4 decides behind NAT64/6to4.
        ("fec0::1", "site-local address"),
        ("3fff::1", "reserved address"),
        ("64:ff9b::808:808", None),  # DNS64 answer for a public host
        ("64:ff9b::a00:1", "private address"),
        ("64:ff9b::7f00:1", "loopback address"),
        ("2002:808:808::1", None),
        ("2002:a00:1::1", "private address"),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b:1::808:808", "reserved address"),  # local-use NAT64: never public
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "private address"),  # Teredo
    ],
)
def test_forbidden_addresses(address: str, reason: str | None) -> None:
    assert forbidden_reason(address) == reason


# The metadata address 169.254.169.254 (a9fe:a9fe) and link-local 169.254.1.1 in every
# encoding an IPv6 address or an old IPv4 spelling can carry them.
METADATA_ENCODINGS = {
    "nat64": "64:ff9b::a9fe:a9fe",
    "nat64-dotted": "64:ff9b::169.254.169.254",
    "nat64-local-96": "64:ff9b:1::a9fe:a9fe",
    "nat64-local-48": "64:ff9b:1:a9fe:a9:fe00::",  # RFC 6052 /48 layout, u octet skipped
    "6to4": "2002:a9fe:a9fe::1",
    "teredo-client": "2001:0:4136:e378:8000:63bf:5601:5601",  # client bits inverted
    "teredo-server": "2001:0:a9fe:a9fe::1",
    "ipv4-mapped": "::ffff:169.254.169.254",
    "ipv4-mapped-hex": "::ffff:a9fe:a9fe",
    "ipv4-compatible": "::169.254.169.254",
    "decimal": "2852039166",
    "octal": "0251.0376.0251.0376",
    "hex-dotted": "0xa9.0xfe.0xa9.0xfe",
    "hex": "0xa9fea9fe",
    "two-part": "169.254.43518",
    "bracketed-v6": "[64:ff9b::a9fe:a9fe]",
}
LINK_LOCAL_ENCODINGS = {
    "nat64": "64:ff9b::a9fe:101",
    "6to4": "2002:a9fe:101::",
    "ipv4-mapped": "::ffff:169.254.1.1",
    "decimal": "2851995905",
    "v6-zone": "fe80::1%eth0",
}


def _no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"{host} is an address: it must be classified without DNS")


@pytest.mark.parametrize("host", METADATA_ENCODINGS.values(), ids=METADATA_ENCODINGS.keys())
def test_metadata_is_refused_in_every_encoding_even_with_private_allowed(host: str) -> None:
    for allow_private in (False, True):
        with pytest.raises(BlockedAddress, match="cloud metadata address; never fetched"):
            check_host(host, 80, allow_private=allow_private, resolver=_no_dns)


@pytest.mark.parametrize("host", LINK_LOCAL_ENCODINGS.values(), ids=LINK_LOCAL_ENCODINGS.keys())
def test_link_local_is_refused_in_every_encoding_even_with_private_allowed(host: str) -> None:
    with pytest.raises(BlockedAddress, match="link-local address; never fetched"):
        check_host(host, 80, allow_private=True, resolver=_no_dns)


@pytest.mark.parametrize(
    "host, reason",
    [
        ("0x7f.1", "loopback"),
        ("2130706433", "loopback"),
        ("012.0.0.1", "private"),
        ("fec0::2", "site-local"),
    ],
)
def test_old_ipv4_spellings_and_site_local_are_not_public(host: str, reason: str) -> None:
    with pytest.raises(BlockedAddress, match=f"{reason} address; only public"):
        check_host(host, 80, allow_private=False, resolver=_no_dns)
    assert check_host(host, 80, allow_private=True, resolver=_no_dns)


def test_names_that_only_look_numeric_are_resolved() -> None:
    assert literal_address("1.2.3.4 x") is None and literal_address("08.1.1.1") is None
    assert literal_address("123.example") is None
    assert host_reason("LOCALHOST.") == "loopback address" and host_reason("news.example") is None
    assert host_reason("[::ffff:192.168.1.20]") == "private address"


def test_names_are_checked_after_resolution() -> None:
    rebinding = {"feeds.example.com": ["93.184.216.34", "127.0.0.1"]}
    with pytest.raises(BlockedAddress, match=r"feeds.example.com \(127.0.0.1\): loopback"):
        check_host(
            "feeds.example.com", 443, allow_private=False, resolver=lambda h, p: rebinding[h]
        )
    assert check_host(
        "feeds.example.com", 443, allow_private=True, resolver=lambda h, p: rebinding[h]
    )


def test_metadata_and_link_local_stay_refused_even_when_private_is_allowed() -> None:
    with pytest.raises(BlockedAddress, match="never fetched"):
        check_host("169.254.169.254", 80, allow_private=True)
    with pytest.raises(BlockedAddress, match="never fetched"):
        check_host(
            "metadata.google.internal",
            80,
            allow_private=True,
            resolver=lambda h, p: ["169.254.169.254"],
        )


def test_loopback_is_refused_without_the_explicit_allowance(httpserver, client) -> None:
    httpserver.expect_request("/feed").respond_with_data(FEED)
    with pytest.raises(BlockedAddress, match="allow_private_addresses"):
        fetch_feed(client, source(httpserver, allow_private=False), policy=FAST)
    assert not httpserver.log  # refused before connecting


# --- one fetch ----------------------------------------------------------------------------


def test_fetch_sends_honest_user_agent_and_pins_the_checked_address(httpserver, client) -> None:
    httpserver.expect_request("/feed").respond_with_data(FEED, content_type="application/rss+xml")
    result = fetch_feed(client, source(httpserver), policy=FAST, now=1_700_000_000)
    request = httpserver.log[0][0]
    assert request.headers["User-Agent"] == USER_AGENT and USER_AGENT.startswith("storywatch/")
    assert request.headers["Host"] == f"localhost:{httpserver.port}"
    assert result.status == 200 and result.raw.body == FEED
    assert result.raw.fetched_at == dt.datetime.fromtimestamp(1_700_000_000, UTC)
    assert result.raw.header("content-type") == "application/rss+xml"
    assert len(parse_feed(result.raw).items) == 7


def test_a_fetched_feed_carries_its_websub_hub_and_self_links(httpserver, client) -> None:
    body = (
        b'<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>t</title>'
        b'<atom:link rel="hub" href="https://hub.example/"/>'
        b'<atom:link rel="self" href="https://news.example/feed"/></channel></rss>'
    )
    httpserver.expect_request("/feed").respond_with_data(
        body, headers={"Link": '<https://first-hub.example/>; rel="hub"'}
    )
    raw = fetch_feed(client, source(httpserver), policy=FAST).raw
    assert raw.hubs == ("https://first-hub.example/", "https://hub.example/")
    assert raw.self_url == "https://news.example/feed"


def test_conditional_get_with_etag_and_last_modified(httpserver, client) -> None:
    validators = {"ETag": '"v1"', "Last-Modified": "Fri, 25 Oct 2024 10:00:00 GMT"}
    httpserver.expect_ordered_request("/feed").respond_with_data(FEED, headers=validators)
    httpserver.expect_ordered_request(
        "/feed", headers={"If-None-Match": '"v1"', "If-Modified-Since": validators["Last-Modified"]}
    ).respond_with_data("", status=304)
    first = fetch_feed(client, source(httpserver), policy=FAST)
    assert (first.etag, first.last_modified) == ('"v1"', validators["Last-Modified"])
    second = fetch_feed(
        client, source(httpserver), policy=FAST, etag=first.etag, last_modified=first.last_modified
    )
    assert second.status == 304 and second.raw is None
    httpserver.check_assertions()


def test_gzip_encoded_responses_are_decoded(httpserver, client) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        gzip.compress(FEED), headers={"Content-Encoding": "gzip"}
    )
    result = fetch_feed(client, source(httpserver), policy=FAST)
    assert result.raw.body == FEED
    assert "gzip" in httpserver.log[0][0].headers["Accept-Encoding"]


def test_corrupt_gzip_response_is_a_fetch_error(httpserver, client) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        b"not gzip at all", headers={"Content-Encoding": "gzip"}
    )
    with pytest.raises(FetchError, match="does not decode") as caught:
        fetch_feed(client, source(httpserver), policy=FAST)
    assert caught.value.kind == "decoding"


def test_throttling_honours_retry_after(httpserver, client) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "120"}
    )
    with pytest.raises(FetchError) as caught:
        fetch_feed(client, source(httpserver), policy=FAST)
    assert caught.value.kind == "throttled" and caught.value.retry_after_seconds == 120


def test_server_errors_are_fetch_errors(httpserver, client) -> None:
    httpserver.expect_request("/feed").respond_with_data("oops", status=500)
    with pytest.raises(FetchError, match="HTTP 500") as caught:
        fetch_feed(client, source(httpserver), policy=FAST)
    assert caught.value.kind == "http" and caught.value.status == 500


def test_slow_response_hits_the_read_timeout(httpserver, client) -> None:
    def slow(request: Request) -> Response:
        time.sleep(1.5)
        return Response(FEED)

    httpserver.expect_request("/feed").respond_with_handler(slow)
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out") as caught:
        fetch_feed(client, source(httpserver), policy=FAST)
    assert caught.value.kind == "timeout" and time.monotonic() - started < 1.4


@pytest.fixture
def drip_server():
    """A standard-library server that sends a feed a few bytes every 0.2 s (pytest-httpserver
    buffers whole responses, so it cannot drip)."""
    import http.server
    import threading

    class Drip(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.end_headers()
            try:
                for _ in range(25):
                    self.wfile.write(b"<!-- drip -->" * 10)
                    self.wfile.flush()
                    time.sleep(0.2)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Drip)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/feed"
    server.shutdown()
    server.server_close()


def test_slow_drip_body_hits_the_total_deadline(drip_server) -> None:
    policy = FetchPolicy(read_timeout_seconds=1, total_timeout_seconds=1)
    started = time.monotonic()
    with (
        make_client(policy) as client,
        pytest.raises(FetchError, match="download took over 1 s") as caught,
    ):
        fetch_feed(client, FeedSource("drip", drip_server, allow_private=True), policy=policy)
    assert caught.value.kind == "timeout" and time.monotonic() - started < 2


def test_oversized_body_is_cut(httpserver, client) -> None:
    httpserver.expect_request("/big").respond_with_data(b"x" * (2 * 1024 * 1024))
    with pytest.raises(FetchError, match="over the 1048576-byte limit") as caught:
        fetch_feed(client, source(httpserver, "/big"), policy=FAST)
    assert caught.value.kind == "too_large"


def test_oversized_streamed_body_without_length_is_cut(httpserver, client) -> None:
    def stream(request: Request) -> Response:
        return Response((b"y" * 65536 for _ in range(40)), direct_passthrough=True)

    httpserver.expect_request("/stream").respond_with_handler(stream)
    with pytest.raises(FetchError, match="body is over"):
        fetch_feed(client, source(httpserver, "/stream"), policy=FAST)


def test_gzip_bomb_is_cut_after_decoding(httpserver, client) -> None:
    bomb = gzip.compress(b"\0" * (8 * 1024 * 1024))
    assert len(bomb) < 20_000
    httpserver.expect_request("/bomb").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="body is over"):
        fetch_feed(client, source(httpserver, "/bomb"), policy=FAST)


def test_redirects_are_followed_and_permanent_moves_reported(httpserver, client) -> None:
    httpserver.expect_request("/old").respond_with_data(
        "", status=301, headers={"Location": "/mid"}
    )
    httpserver.expect_request("/mid").respond_with_data(
        "", status=302, headers={"Location": "/feed"}
    )
    httpserver.expect_request("/feed").respond_with_data(FEED)
    result = fetch_feed(client, source(httpserver, "/old"), policy=FAST)
    assert result.final_url == httpserver.url_for("/feed") and result.raw.url == httpserver.url_for(
        "/feed"
    )
    assert result.permanent_redirect == httpserver.url_for("/mid")


def test_redirect_loop_is_refused(httpserver, client) -> None:
    httpserver.expect_request("/a").respond_with_data("", status=302, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data("", status=302, headers={"Location": "/a"})
    with pytest.raises(FetchError, match="redirect loop"):
        fetch_feed(client, source(httpserver, "/a"), policy=FAST)


def test_too_many_redirects_are_refused(httpserver, client) -> None:
    for i in range(6):
        httpserver.expect_request(f"/r{i}").respond_with_data(
            "", status=307, headers={"Location": f"/r{i + 1}"}
        )
    with pytest.raises(FetchError, match="more than 3 redirects"):
        fetch_feed(client, source(httpserver, "/r0"), policy=FAST)
    assert len(httpserver.log) == 4


@pytest.mark.parametrize(
    "location", ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/feed"]
)
def test_redirect_to_metadata_or_link_local_is_refused_on_that_hop(
    httpserver, client, location
) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        "", status=302, headers={"Location": location}
    )
    with pytest.raises(BlockedAddress, match="never fetched"):
        fetch_feed(client, source(httpserver), policy=FAST)
    assert len(httpserver.log) == 1


@pytest.mark.parametrize(
    "location",
    [
        "http://10.0.0.7/feed",
        "http://192.168.1.1/feed",
        "http://[fd00::7]/feed",
        "http://172.16.0.1/feed",
    ],
)
def test_redirect_to_a_private_address_is_refused_on_that_hop(httpserver, client, location) -> None:
    """A feed not allowed private addresses, served by the local server standing in for a
    public host (``public.test``: the test's classifier treats its one address as public),
    redirects to a private address: the guard refuses that hop before connecting."""
    httpserver.expect_request("/feed").respond_with_data(
        "", status=302, headers={"Location": location}
    )
    src = FeedSource("pub", f"http://public.test:{httpserver.port}/feed", allow_private=False)

    def resolver(host: str, port: int) -> list[str]:
        return ["127.0.0.1"] if host == "public.test" else [host]

    def classify(address: str) -> str | None:
        return None if address == "127.0.0.1" else forbidden_reason(address)

    with pytest.raises(BlockedAddress, match="private address"):
        fetch_feed(client, src, policy=FAST, resolver=resolver, classify=classify)
    assert len(httpserver.log) == 1


def test_billion_laughs_served_over_http_is_refused_by_the_parser(httpserver, client) -> None:
    from tests.ingest.test_parse import BILLION_LAUGHS

    httpserver.expect_request("/feed").respond_with_data(
        BILLION_LAUGHS, content_type="application/rss+xml"
    )
    result = fetch_feed(client, source(httpserver), policy=FAST)
    parsed = parse_feed(result.raw)
    assert not parsed.items and "declares XML entities" in parsed.failures[0].reason
    assert parsed.failures[0].key == httpserver.url_for("/feed")


def test_header_parsing() -> None:
    assert parse_retry_after("30", now=0) == 30
    assert (
        parse_retry_after(
            "Fri, 25 Oct 2024 10:02:00 GMT",
            now=dt.datetime(2024, 10, 25, 10, tzinfo=UTC).timestamp(),
        )
        == 120
    )
    assert parse_retry_after("soon", now=0) is None
    assert parse_max_age("public, max-age=600") == 600 and parse_max_age("no-cache") is None


# --- schedule, politeness, health (controlled clock) ----------------------------------------


def test_frequently_updated_feed_is_polled_faster_within_bounds() -> None:
    s = FeedSchedule("f", "u", min_interval_seconds=300, max_interval_seconds=3600)
    now = 0.0
    s.record_success(now, changed=True)
    for _ in range(6):  # the feed changes every 20 minutes
        now += 1200
        s.record_success(now, changed=True)
    assert s.interval_seconds == 600  # half the observed update gap
    for _ in range(10):  # then it goes quiet
        now += s.interval_seconds
        s.record_success(now, changed=False)
    assert s.interval_seconds == 3600  # grown to the max bound, not beyond


def test_cadence_comes_from_observed_changes_not_publication_dates() -> None:
    """Two changes 6 minutes apart give a 180 s interval (clamped to the 300 s floor),
    whatever the items' dates say; before, one old item stretched it to the maximum."""
    s = FeedSchedule("f", "u", min_interval_seconds=300, max_interval_seconds=3600)
    s.record_success(0, changed=True)
    assert s.next_due_at == 300  # nothing observed yet: the floor
    s.record_success(360, changed=True)
    assert s.interval_seconds == 300
    hot = FeedSchedule("h", "u", min_interval_seconds=60, max_interval_seconds=3600)
    now = 0.0
    for _ in range(20):  # a wire feed with something new on every poll settles at its floor
        hot.record_success(now, changed=True)
        now = hot.next_due_at
    assert hot.interval_seconds == 60
    quiet = FeedSchedule("q", "u", min_interval_seconds=300, max_interval_seconds=3600)
    now = 0.0
    quiet.record_success(now, changed=True)
    for _ in range(12):  # a blog that never changes again settles at its ceiling
        now = quiet.next_due_at
        quiet.record_success(now, changed=False)
    assert quiet.interval_seconds == 3600


def test_a_tick_a_millisecond_early_does_not_skip_an_interval() -> None:
    """Ticks every 5 s, a feed every 60 s: every gap between fetches is 60 s (12 ticks),
    not 65 s, even though each tick lands a millisecond before the due time."""
    s = FeedSchedule("f", "u", min_interval_seconds=60, max_interval_seconds=60)
    fetched = []
    for tick in range(240):
        now = tick * 5.0 - 0.001
        if s.due(now, tolerance_seconds=2.5):
            fetched.append(now)
            s.record_success(now, changed=True)
    gaps = {round(b - a, 3) for a, b in itertools.pairwise(fetched)}
    assert gaps == {60.0} and len(fetched) == 20


def test_ttl_and_max_age_slow_polling_but_not_beyond_the_max_bound() -> None:
    s = FeedSchedule("f", "u", min_interval_seconds=300, max_interval_seconds=3600)
    s.record_success(0, changed=True, ttl_seconds=1800)
    assert s.next_due_at == 1800
    s.record_success(1800, changed=True, max_age_seconds=86400)
    assert s.next_due_at == 1800 + 3600


def test_retry_after_delays_even_beyond_the_max_bound() -> None:
    s = FeedSchedule("f", "u", min_interval_seconds=300, max_interval_seconds=600)
    s.record_failure(0, "HTTP 429", retry_after_seconds=7200)
    assert s.next_due_at >= 7200 and not s.due(7199) and s.due(s.next_due_at)


def test_failures_back_off_exponentially_but_never_give_up() -> None:
    s = FeedSchedule(
        "f", "u", min_interval_seconds=300, max_interval_seconds=3600, max_backoff_seconds=6 * 3600
    )
    now, delays = 0.0, []
    for _ in range(30):
        s.record_failure(now, "HTTP 500")
        delays.append(s.next_due_at - now)
        now = s.next_due_at
    assert 300 <= delays[0] <= 330 and 600 <= delays[1] <= 660 and 1200 <= delays[2] <= 1320
    assert all(later >= earlier - 1e-6 for earlier, later in itertools.pairwise(delays))
    assert delays[-1] == pytest.approx(6 * 3600)  # capped, still scheduled
    health = s.health()
    assert (health.status, health.consecutive_failures, health.last_error) == (
        "failing",
        30,
        "HTTP 500",
    )
    assert health.last_success_at is None and health.next_due_at == dt.datetime.fromtimestamp(
        now, UTC
    )
    s.record_success(now, changed=True)
    assert s.health().status == "ok" and s.consecutive_failures == 0 and s.next_due_at == now + 300


def test_host_gate_spaces_requests() -> None:
    gate = HostGate(gap_seconds=5)
    assert [gate.try_acquire(t) for t in (0, 1, 4.9, 5, 5.1, 10)] == [
        True,
        False,
        False,
        True,
        False,
        True,
    ]


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_poller_learns_validators_and_reports_health(httpserver, client) -> None:
    httpserver.expect_ordered_request("/feed").respond_with_data(FEED, headers={"ETag": '"v1"'})
    httpserver.expect_ordered_request("/feed", headers={"If-None-Match": '"v1"'}).respond_with_data(
        "", status=304
    )
    httpserver.expect_ordered_request("/feed").respond_with_data("down", status=503)
    clock = FakeClock()
    poller = Poller(
        lambda src, **kw: fetch_feed(client, src, policy=FAST, **kw),
        host_gap_seconds=5,
        sleep=clock.sleep,
    )
    state = poller.new_state()
    src = source(httpserver, min_poll_seconds=300, max_poll_seconds=3600)
    (attempt,) = poller.poll(state, [src], clock)
    assert attempt.result.raw.body == FEED and attempt.failure is None
    assert attempt.health.status == "ok" and attempt.status == 200
    # Publication dates (WSJ's items are ~40 min apart) no longer set the cadence.
    assert attempt.health.interval_seconds == 300
    due = attempt.health.next_due_at.timestamp()
    clock.now = due - 3  # not due yet, even with half a 5 s tick of tolerance
    assert poller.poll(state, [src], clock) == []
    clock.now = due - 1  # within the tolerance: fetched; 304 nothing new
    (attempt,) = poller.poll(state, [src], clock)
    assert attempt.result is None and attempt.failure is None and attempt.status == 304
    clock.now = attempt.health.next_due_at.timestamp()
    (attempt,) = poller.poll(state, [src], clock)
    assert attempt.result is None and "HTTP 503" in attempt.failure.reason
    assert attempt.failure.key == src.url and attempt.health.consecutive_failures == 1
    assert attempt.health.last_success_at == dt.datetime.fromtimestamp(due - 1, UTC)
    httpserver.check_assertions()


def _fake_fetch(log: list[tuple[str, float]]):
    def fetch(source: FeedSource, *, now: float, **_: object) -> FetchResult:
        log.append((source.feed_id, now))
        body = f"<rss>{source.feed_id} {now}</rss>".encode()
        raw = RawFeed(source.feed_id, source.url, dt.datetime.now(UTC), 200, (), body)
        return FetchResult(200, source.url, raw)

    return fetch


def test_three_feeds_on_one_host_are_all_polled() -> None:
    """Before: the gate was checked per feed in list order, so the third feed never got a turn."""
    clock, log = FakeClock(0.0), []
    poller = Poller(_fake_fetch(log), host_gap_seconds=5, sleep=clock.sleep)
    state = poller.new_state()
    feeds = [FeedSource(f"f{i}", f"https://one.example/{i}", min_poll_seconds=60) for i in range(3)]
    for tick in range(60):  # 5 min of 5 s ticks
        clock.now = tick * 5.0
        poller.poll(state, feeds, clock)
    counts = {f.feed_id: sum(1 for fid, _ in log if fid == f.feed_id) for f in feeds}
    assert min(counts.values()) >= 4, counts  # each about every 60 s
    starts = [t for _, t in log]
    assert all(b - a >= 5 for a, b in itertools.pairwise(starts))  # the gap is kept


def test_two_hundred_feeds_on_one_host_take_turns() -> None:
    """200 feeds, 5 s gap, 5 s ticks: one fetch per tick, each feed polled once in the
    first 200 ticks, in turn (oldest due first), and the second round in the same order."""
    clock, log = FakeClock(0.0), []
    poller = Poller(_fake_fetch(log), host_gap_seconds=5, sleep=clock.sleep)
    state = poller.new_state()
    feeds = [
        FeedSource(f"f{i:03d}", f"https://one.example/{i}", min_poll_seconds=300)
        for i in range(200)
    ]
    for tick in range(400):
        clock.now = tick * 5.0 + (0.003 if tick % 2 else -0.002)  # jittered ticks
        poller.poll(state, feeds, clock)
    first_round = [fid for fid, _ in log[:200]]
    assert sorted(first_round) == [f.feed_id for f in feeds]
    assert [fid for fid, _ in log[200:400]] == first_round
    assert all(b - a >= 5 - 1e-9 for a, b in itertools.pairwise(t for _, t in log))


def test_a_feed_removed_from_the_list_is_forgotten() -> None:
    clock, log = FakeClock(0.0), []
    poller = Poller(_fake_fetch(log), host_gap_seconds=0, sleep=clock.sleep)
    state = poller.new_state()
    a, b = (FeedSource(i, f"https://one.example/{i}") for i in "ab")
    poller.poll(state, [a, b], clock)
    poller.poll(state, [a], clock)
    assert set(state.schedules) == {"a"}


def test_fetch_feeds_in_beam(httpserver) -> None:
    httpserver.expect_request("/feed").respond_with_data(FEED, headers={"ETag": '"v1"'})
    httpserver.expect_request("/gone").respond_with_data("gone", status=410)
    sources = [
        FeedSource("wsj", f"http://127.0.0.1:{httpserver.port}/feed", allow_private=True),
        FeedSource("gone", f"http://localhost:{httpserver.port}/gone", allow_private=True),
        FeedSource("blocked", f"http://localhost:{httpserver.port}/feed"),
    ]
    with beam.Pipeline(runner=FnApiRunner()) as pipeline:
        fetch = pipeline | beam.Create(sources) | FetchFeeds(policy=FAST, host_gap_seconds=0)
        assert_that(
            fetch.main | beam.Map(lambda r: (r.feed_id, len(r.body))),
            equal_to([("wsj", len(FEED))]),
        )
        assert_that(
            fetch.dead_letter
            | beam.Map(lambda f: (f.stage, f.key.rsplit("/", 1)[1], f.reason.split(":")[0])),
            equal_to(
                [
                    ("fetch", "gone", "http"),
                    ("fetch", "feed", "refused to fetch localhost (127.0.0.1)"),
                ]
            ),
            label="DeadLetter",
        )
        assert_that(
            fetch.health | beam.Map(lambda h: (h.feed_id, h.status)),
            equal_to([("wsj", "ok"), ("gone", "failing"), ("blocked", "failing")]),
            label="Health",
        )
    names = {c.key.metric.name: c.committed for c in pipeline.result.metrics().query()["counters"]}
    assert names["feeds_polled"] == 3 and names["fetch_errors"] == 2 and names["feeds_fetched"] == 1


@pytest.mark.parametrize("name", ["guard", "schedule"])
def test_doctests(name: str) -> None:
    module = importlib.import_module(f"pipeline.ingest.fetch.{name}")
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0
