"""The subscription state machine: subscribe, verify, renew, lapse, retry, unsubscribe."""

from __future__ import annotations

import itertools

import pytest

from pipeline.ingest.websub.subscriptions import Subscriptions

HUB, TOPIC = "https://hub.example/", "https://news.example/feed"


@pytest.fixture
def subs():
    tokens, secrets_ = itertools.count(1), itertools.count(1)
    return Subscriptions(
        "http://127.0.0.1:8089/websub/",
        lease_seconds=1000,
        renew_fraction=0.8,
        verify_timeout_seconds=60,
        retry_base_seconds=10,
        max_retry_seconds=40,
        new_token=lambda: f"tok{next(tokens)}",
        new_secret=lambda: f"secret{next(secrets_)}",
    )


def subscribed(subs, now=0.0, lease=1000.0):
    subs.want("f", TOPIC, [HUB], now)
    (request,) = subs.due_requests(now)
    assert subs.verify_intent(request.token, "subscribe", TOPIC, "ch", lease, now + 1) == "ch"
    return request


def test_subscribe_request_carries_topic_callback_secret_and_lease(subs):
    subs.want("f", TOPIC, [HUB, "https://second.example/"], 0.0)
    (request,) = subs.due_requests(0.0)
    assert request.hub == HUB
    assert request.form() == {
        "hub.mode": "subscribe",
        "hub.topic": TOPIC,
        "hub.callback": "http://127.0.0.1:8089/websub/tok1",
        "hub.secret": "secret1",
        "hub.lease_seconds": "1000",
    }
    assert "secret1" not in repr(request) and "secret1" not in repr(subs.by_feed["f"])
    assert subs.due_requests(1.0) == []  # sent once, awaiting the hub
    assert not subs.is_live("f", 1.0)


def test_challenge_echoed_only_for_the_token_topic_and_mode_we_asked_for(subs):
    subs.want("f", TOPIC, [HUB], 0.0)
    assert subs.verify_intent("tok1", "subscribe", TOPIC, "ch", 1000, 0.5) is None  # not sent yet
    (request,) = subs.due_requests(0.0)
    assert subs.verify_intent("nope", "subscribe", TOPIC, "ch", 1000, 1) is None
    assert subs.verify_intent("tok1", "subscribe", TOPIC + "x", "ch", 1000, 1) is None
    assert subs.verify_intent("tok1", "unsubscribe", TOPIC, "ch", None, 1) is None
    assert subs.verify_intent("tok1", "subscribe", TOPIC, "", 1000, 1) is None
    assert subs.verify_intent("tok1", "subscribe", TOPIC, "abc", 500, 1) == "abc"
    assert subs.is_live("f", 2) and subs.push_secret("tok1") == ("f", "secret1")
    # A second, unasked confirmation is not echoed; a stranger cannot unsubscribe us.
    assert subs.verify_intent("tok1", "subscribe", TOPIC, "again", 500, 3) is None
    assert subs.verify_intent("tok1", "unsubscribe", TOPIC, "bye", None, 3) is None
    assert subs.is_live("f", 3)


def test_renewal_before_the_granted_lease_ends_keeps_it_live(subs):
    subscribed(subs, lease=100.0)  # verified at t=1: renew at 81, expires at 101
    assert subs.due_requests(80.0) == []
    (renewal,) = subs.due_requests(81.0)
    assert renewal.mode == "subscribe" and renewal.token == "tok1" and renewal.secret == "secret1"
    assert subs.is_live("f", 90.0)  # still live while the renewal awaits verification
    assert subs.verify_intent("tok1", "subscribe", TOPIC, "r", 100, 90.0) == "r"
    assert subs.is_live("f", 150.0) and subs.by_feed["f"].expires_at == 190.0


def test_a_lease_that_lapses_is_not_live_and_is_subscribed_again(subs):
    subscribed(subs, lease=100.0)
    (renewal,) = subs.due_requests(81.0)
    subs.request_failed(renewal, "HTTP 503", 81.0)  # retry at 91
    assert subs.is_live("f", 85.0) and subs.due_requests(85.0) == []
    (retry,) = subs.due_requests(91.0)  # the hub accepts it but never verifies
    assert retry.mode == "subscribe" and subs.is_live("f", 100.9)
    assert not subs.is_live("f", 101.0)  # the lease ended unrenewed: polling back to normal
    (again,) = subs.due_requests(102.0)  # lapsed: subscribed again at once
    assert again.mode == "subscribe" and subs.by_feed["f"].status == "pending"


def test_no_verification_or_a_refused_post_retries_with_doubling_backoff(subs):
    subs.want("f", TOPIC, [HUB], 0.0)
    (first,) = subs.due_requests(0.0)
    subs.request_failed(first, "HTTP 400", 0.0)
    assert subs.due_requests(9.0) == [] and len(subs.due_requests(10.0)) == 1
    assert subs.due_requests(71.0) == []  # 61 s without verification: failure 2, retry +20 s
    assert subs.by_feed["f"].failures == 2 and subs.by_feed["f"].status == "new"
    assert subs.due_requests(90.0) == [] and len(subs.due_requests(91.0)) == 1


def test_a_dropped_feed_is_unsubscribed_and_only_that_unsubscribe_is_echoed(subs):
    subscribed(subs)
    subs.drop("f", 10.0)
    assert not subs.is_live("f", 10.0) and subs.push_secret("tok1") is None
    (request,) = subs.due_requests(10.0)
    assert request.form() == {
        "hub.mode": "unsubscribe",
        "hub.topic": TOPIC,
        "hub.callback": "http://127.0.0.1:8089/websub/tok1",
    }
    assert subs.verify_intent("tok1", "subscribe", TOPIC, "x", 1000, 11) is None
    assert subs.verify_intent("tok1", "unsubscribe", TOPIC, "bye", None, 11) == "bye"
    assert subs.leaving == {}


def test_a_feed_that_moves_hub_or_topic_resubscribes_and_leaves_the_old_one(subs):
    subscribed(subs)
    subs.want("f", TOPIC, [HUB], 5.0)
    assert subs.due_requests(5.0) == []  # same hub and topic: nothing to do
    subs.want("f", TOPIC, ["https://new-hub.example/"], 6.0)
    modes = sorted((r.mode, r.hub) for r in subs.due_requests(6.0))
    assert modes == [("subscribe", "https://new-hub.example/"), ("unsubscribe", HUB)]


def test_a_denial_ends_the_subscription_and_retries_later(subs):
    subscribed(subs)
    assert subs.verify_intent("tok1", "denied", TOPIC, "", None, 5.0) == ""
    assert not subs.is_live("f", 5.0)
    assert subs.due_requests(14.0) == [] and len(subs.due_requests(15.0)) == 1


def test_a_never_sent_subscription_is_simply_forgotten(subs):
    subs.want("f", TOPIC, [HUB], 0.0)
    subs.drop("f", 0.0)
    assert subs.due_requests(0.0) == [] and subs.leaving == {}
