"""Slack: Block Kit rendering with hostile titles, and a real local HTTP server as the webhook."""

from __future__ import annotations

import itertools
import json
import logging
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from pipeline.config import LineMap
from pipeline.config.subscribers import Channels, Secrets, SlackChannel, Subscriber, Subscribers
from pipeline.deliver.base import PermanentError, TransientError
from pipeline.deliver.dispatch import Dispatcher
from pipeline.deliver.retry import RateLimiter, RetryPolicy
from pipeline.deliver.slack import (
    DELIVERY_ID_HEADER,
    SlackBot,
    SlackWebhook,
    alert_blocks,
    escape,
    link,
)
from pipeline.ledger.sqlite import SqliteLedger
from pipeline.records import Evidence
from tests.deliver_support import FakeSlackApi, Reply, SlackStandIn, make_alert

HOSTILE = [
    "<!channel> Musk met Putin",
    "@here Musk met Putin",
    "<http://evil.example|click> Musk",
    "*bold* _it_ ~strike~ `code` Musk",
    "Tom & Jerry <@U123ABC> <#C42|general>",
    "@channel @everyone",
]


def _all_text(blocks) -> str:
    out = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    out.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return "\n".join(out)


@pytest.mark.parametrize("title", HOSTILE)
def test_hostile_titles_cannot_ping_link_or_format(title):
    alert = make_alert(
        1,
        title=title,
        outlet=title,
        sources=[(title, title, "https://ap.example.org/1")],
        evidence=[Evidence("elon-musk", title, "title", 0, 4, title, "fuzzy", 91.0)],
    )
    text, blocks = alert_blocks(alert)
    rendered = _all_text(blocks) + "\n" + text
    assert "<!" not in rendered and "<@" not in rendered and "<#" not in rendered
    # The only links are the ones we built, to the article and the other source.
    assert set(re.findall(r"<([^|>]+)\|", rendered)) <= {
        "https://news.example.org/articles/1",
        "https://ap.example.org/1",
    }
    assert "evil.example|" not in rendered.replace("&lt;http://evil.example|", "")
    assert not re.search(r"@(channel|here|everyone)\b", rendered)
    assert not re.search(r"(?<![*])\*bold\*|_it_|~strike~|`code`", rendered)
    assert "& " not in rendered.replace("&amp; ", "")  # every & from the article is escaped


def test_escape_and_link_rules():
    assert escape("a & b < c > d") == "a &amp; b &lt; c &gt; d"
    assert escape("line\nbreak\ttab") == "line break tab"
    assert link("javascript:alert(1)", "x") == "x"
    assert link("https://x.test/a|b<c>", "t") == "<https://x.test/a%7Cb%3Cc%3E|t>"


def test_block_kit_message_has_storyline_headline_outlet_time_evidence_and_sources():
    text, blocks = alert_blocks(make_alert(3))
    assert blocks[0] == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "emoji": False,
            "text": "New development: Musk–Kremlin contacts",
        },
    }
    assert blocks[1]["text"]["text"] == (
        "*<https://news.example.org/articles/3|Development 3: Musk and Putin "
        "held talks>*\nReuters · 2024-10-25 10:03 UTC"
    )
    why = blocks[2]["text"]["text"]
    assert why.startswith("*Why it matched*") and "elon-musk: “Musk” (exact) in title" in why
    assert why.endswith("• vladimir-putin: “Putin” (transliterated) in title")
    assert (
        blocks[3]["text"]["text"]
        == "*Other sources so far*\n• AP: <https://ap.example.org/3|Second report 3>"
    )
    assert blocks[-1]["type"] == "context"
    assert text.startswith("New development: Musk–Kremlin contacts: Development 3")


def _webhook_dispatcher(tmp_path, slack, paths, *, per_second=100.0, retry=None):
    subs = tuple(
        Subscriber(
            name=name,
            channels=Channels(
                slack=SlackChannel(
                    webhook_url_env=f"HOOK_{name.upper()}", max_messages_per_second=per_second
                )
            ),
        )
        for name in paths
    )
    secrets = Secrets(
        {f"HOOK_{name.upper()}": SecretStr(slack.url(path)) for name, path in paths.items()}
    )
    ledger = SqliteLedger(tmp_path / "ledger.sqlite")
    dispatcher = Dispatcher(
        ledger,
        subscribers=Subscribers(tmp_path / "s.yaml", subs, LineMap()),
        secrets=secrets,
        dead_letter_path=tmp_path / "dead.jsonl",
        limiter=RateLimiter(),
        retry=retry or RetryPolicy(base_delay_seconds=0.05),
    )
    return dispatcher, ledger


def test_200_429_500_and_400_give_exact_message_counts(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with SlackStandIn() as slack:
        slack.script["/ok"] = [Reply(200)]
        slack.script["/limited"] = [Reply(429, "rate_limited", {"Retry-After": "1"}), Reply(200)]
        slack.script["/flaky"] = [Reply(500, "oops"), Reply(503, "busy"), Reply(200)]
        slack.script["/bad"] = [Reply(400, "invalid_blocks")]
        dispatcher, ledger = _webhook_dispatcher(
            tmp_path, slack, {"ok": "/ok", "limited": "/limited", "flaky": "/flaky", "bad": "/bad"}
        )
        started = time.monotonic()
        results = dispatcher.deliver([make_alert(1)])
        elapsed = time.monotonic() - started
        dispatcher.close()

    status = {d.subscriber: (d.status, d.attempts) for d in results}
    assert status == {
        "ok": ("sent", 1),
        "limited": ("sent", 2),
        "flaky": ("sent", 3),
        "bad": ("dead", 1),
    }
    assert [len(slack.bodies(p)) for p in ("/ok", "/limited", "/flaky", "/bad")] == [1, 2, 3, 1]
    times = [t for p, _, _, t in slack.requests if p == "/limited"]
    assert times[1] - times[0] >= 1.0  # Retry-After honoured
    assert elapsed < 5
    alert_id = make_alert(1).alert_id
    assert [
        ledger.delivery_state(alert_id, s, "slack") for s in ("ok", "limited", "flaky", "bad")
    ] == ["sent", "sent", "sent", "dead"]
    dead = [json.loads(line) for line in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert [(d["subscriber"], d["reason"], d["stage"]) for d in dead] == [
        ("bad", "HTTP 400: invalid_blocks", "deliver")
    ]
    assert dispatcher.counts["dead"] == 1 and dispatcher.counts["sent"] == 3
    # The webhook URLs are secrets: not in the dead letters, not in any log record.
    port = str(slack.server.server_address[1])
    assert port not in (tmp_path / "dead.jsonl").read_text()
    assert all(port not in record.getMessage() for record in caplog.records)
    # Every request carried the idempotency key for its (alert, subscriber, channel).
    assert {h[DELIVERY_ID_HEADER] for p, h, _, _ in slack.requests if p == "/flaky"} == {
        f"{alert_id}:flaky:slack"
    }


def test_a_second_delivery_of_the_same_alerts_sends_nothing(tmp_path):
    with SlackStandIn() as slack:
        dispatcher, ledger = _webhook_dispatcher(tmp_path, slack, {"desk": "/desk"})
        first = dispatcher.deliver([make_alert(1), make_alert(2)])
        again = dispatcher.deliver([make_alert(2), make_alert(1)])
        dispatcher.close()
    assert [d.status for d in first] == ["sent", "sent"]
    assert [d.status for d in again] == ["skipped", "skipped"]
    assert len(slack.bodies("/desk")) == 2


def test_retries_exhausted_leave_it_unconfirmed_and_the_next_sweep_sends_it(tmp_path):
    with SlackStandIn() as slack:
        slack.script["/desk"] = [Reply(502), Reply(502), Reply(200)]
        dispatcher, ledger = _webhook_dispatcher(
            tmp_path,
            slack,
            {"desk": "/desk"},
            retry=RetryPolicy(max_attempts=2, base_delay_seconds=0.01),
        )
        [first] = dispatcher.deliver([make_alert(1)])
        assert (first.status, first.attempts, first.reason) == ("retry_later", 2, "HTTP 502: ok")
        assert ledger.unconfirmed() == [(make_alert(1).alert_id, "desk", "slack")]
        [second] = dispatcher.retry_unconfirmed()
        dispatcher.close()
    assert second.status == "sent"
    assert len(slack.bodies("/desk")) == 3
    assert ledger.unconfirmed() == []


def test_one_failing_webhook_does_not_hold_up_another(tmp_path):
    with SlackStandIn() as slack:
        slack.script["/slow"] = [
            Reply(429, "", {"Retry-After": "1"}),
            Reply(429, "", {"Retry-After": "1"}),
            Reply(200),
        ]
        dispatcher, ledger = _webhook_dispatcher(
            tmp_path, slack, {"slow": "/slow", "fast": "/fast"}
        )
        dispatcher.deliver([make_alert(n) for n in (1, 2, 3)])
        dispatcher.close()
    fast_done = max(t for p, _, _, t in slack.requests if p == "/fast")
    slow_first_success = sorted(t for p, _, _, t in slack.requests if p == "/slow")[2]
    assert fast_done < slow_first_success
    assert len(slack.bodies("/fast")) == 3 and len(slack.bodies("/slow")) == 5


def test_per_webhook_rate_limit_spaces_messages(tmp_path):
    with SlackStandIn() as slack:
        dispatcher, _ = _webhook_dispatcher(tmp_path, slack, {"desk": "/desk"}, per_second=4.0)
        dispatcher.deliver([make_alert(n) for n in range(1, 6)])
        dispatcher.close()
    times = sorted(t for p, _, _, t in slack.requests if p == "/desk")
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # 4 per second: slots 0.25 s apart (a little slack for when each request is received).
    assert len(times) == 5 and min(gaps) >= 0.15 and times[-1] - times[0] >= 0.85


def test_webhook_errors_are_classified():
    with SlackStandIn() as slack:
        slack.script["/x"] = [
            Reply(404, "no_service"),
            Reply(429, "", {"Retry-After": "7"}),
            Reply(500, "x"),
        ]
        hook = SlackWebhook(slack.url("/x"))
        with pytest.raises(PermanentError, match="HTTP 404: no_service"):
            hook.send_alert(make_alert(1), delivery_key="k")
        with pytest.raises(TransientError) as err:
            hook.send_alert(make_alert(1), delivery_key="k")
        assert err.value.retry_after_seconds == 7
        with pytest.raises(TransientError, match="HTTP 500"):
            hook.send_alert(make_alert(1), delivery_key="k")
    with pytest.raises(TransientError, match="cannot reach the Slack webhook"):
        SlackWebhook(slack.url("/x"), timeout_seconds=1).send_alert(make_alert(1), delivery_key="k")


@pytest.mark.parametrize("header", ["-5", "inf", "1e9", "nan"])
def test_a_429_with_an_unusable_retry_after_falls_back_to_backoff(header):
    with SlackStandIn() as slack:
        slack.script["/x"] = [Reply(429, "", {"Retry-After": header})]
        with pytest.raises(TransientError) as err:
            SlackWebhook(slack.url("/x")).send_alert(make_alert(1), delivery_key="k")
    assert err.value.retry_after_seconds is None


def test_bot_token_threads_follow_ups_per_storyline(tmp_path):
    ledger = SqliteLedger(tmp_path / "ledger.sqlite")
    with SlackStandIn() as slack:
        counter = iter(range(100, 200))
        replies = [
            Reply(
                200,
                json.dumps({"ok": True, "ts": f"1700000000.000{next(counter)}"}),
                {"Content-Type": "application/json"},
            )
            for _ in range(5)
        ]
        slack.script["/api/chat.postMessage"] = replies
        bot = SlackBot(
            "xoxb-test-token",
            "C0DESK0001",
            ledger=ledger,
            subscriber="desk",
            api_url=slack.url("/api/"),
        )
        bot.send_alert(make_alert(1), delivery_key="k1")  # starts a thread
        bot.send_alert(make_alert(2), delivery_key="k2")  # follow-up
        bot.send_alert(
            make_alert(3, storyline="starlink-taiwan"), delivery_key="k3"
        )  # another storyline
        bot.send_alert(make_alert(4), delivery_key="k4")  # follow-up
        # A restart keeps the thread (it is in the ledger).
        SlackBot(
            "xoxb-test-token",
            "C0DESK0001",
            ledger=SqliteLedger(tmp_path / "ledger.sqlite"),
            subscriber="desk",
            api_url=slack.url("/api/"),
        ).send_alert(make_alert(5), delivery_key="k5")
        bodies = slack.bodies("/api/chat.postMessage")
        headers = [h for p, h, _, _ in slack.requests]
    assert [b.get("thread_ts") for b in bodies] == [
        None,
        "1700000000.000100",
        None,
        "1700000000.000100",
        "1700000000.000100",
    ]
    assert [b["channel"] for b in bodies] == ["C0DESK0001"] * 5
    assert all(h["Authorization"] == "Bearer xoxb-test-token" for h in headers)
    assert [b["metadata"] for b in bodies] == [
        {"event_type": "storywatch_delivery", "event_payload": {"delivery_id": f"k{n}"}}
        for n in range(1, 6)
    ]


def test_bot_api_errors_are_classified(tmp_path):
    ledger = SqliteLedger(tmp_path / "ledger.sqlite")
    with SlackStandIn() as slack:
        slack.script["/api/chat.postMessage"] = [
            Reply(
                200,
                json.dumps({"ok": False, "error": "channel_not_found"}),
                {"Content-Type": "application/json"},
            ),
            Reply(
                429,
                json.dumps({"ok": False, "error": "ratelimited"}),
                {"Content-Type": "application/json", "Retry-After": "3"},
            ),
            Reply(500, "<html>oops</html>", {"Content-Type": "text/html"}),
        ]
        bot = SlackBot(
            "xoxb-t", "C0DESK0001", ledger=ledger, subscriber="desk", api_url=slack.url("/api/")
        )
        with pytest.raises(PermanentError, match="channel_not_found"):
            bot.send_alert(make_alert(1), delivery_key="k")
        with pytest.raises(TransientError) as err:
            bot.send_alert(make_alert(1), delivery_key="k")
        assert err.value.retry_after_seconds == 3
        with pytest.raises(TransientError):
            bot.send_alert(make_alert(1), delivery_key="k")


_SLACK_SYNTAX = st.sampled_from(
    [
        "<",
        ">",
        "&",
        "|",
        "!",
        "@",
        "*",
        "_",
        "~",
        "`",
        "here",
        "channel",
        "everyone",
        "http://x.test",
        "#C1",
        " ",
        "\n",
        "<!",
        "<@U1>",
        "&amp;",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_SLACK_SYNTAX, st.text(max_size=5)), max_size=20).map("".join))
def test_escaped_text_never_carries_slack_control_sequences(text):
    out = escape(text)
    assert "<" not in out and ">" not in out
    assert "&" not in out.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")
    assert not re.search(r"@(channel|here|everyone)\b", out, re.IGNORECASE)
    assert not re.search(r"[*_~`](?!\u200b)", out)
    # Nothing is lost: undoing the escapes gives back the text (whitespace folded).
    restored = (
        out.replace("\u200b", "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    )
    assert restored == " ".join(text.replace("\u200b", "").split())


def test_bot_does_not_post_again_what_an_earlier_attempt_already_posted(tmp_path):
    ledger = SqliteLedger(tmp_path / "ledger.sqlite")
    with SlackStandIn() as slack:
        api = FakeSlackApi(slack)
        bot = SlackBot("xoxb-t", "C0DESK0001", ledger=ledger, subscriber="desk", api_url=api.url)
        bot.send_alert(make_alert(1), delivery_key="a1:desk:slack")  # starts the thread
        bot.send_alert(make_alert(2), delivery_key="a2:desk:slack")  # in the thread
        # The process died after Slack accepted these; the retries know they may repeat.
        bot.send_alert(make_alert(1), delivery_key="a1:desk:slack", maybe_sent=True)
        bot.send_alert(make_alert(2), delivery_key="a2:desk:slack", maybe_sent=True)
        assert len(api.posted) == 2
        # A retry of something that never arrived is posted.
        bot.send_alert(make_alert(3), delivery_key="a3:desk:slack", maybe_sent=True)
        assert [m["metadata"]["event_payload"]["delivery_id"] for m in api.posted] == [
            "a1:desk:slack",
            "a2:desk:slack",
            "a3:desk:slack",
        ]


def test_bot_without_history_access_falls_back_to_posting(tmp_path, caplog):
    ledger = SqliteLedger(tmp_path / "ledger.sqlite")
    with SlackStandIn() as slack:
        api = FakeSlackApi(slack)
        slack.handlers["/api/conversations.history"] = lambda body: Reply(
            200,
            json.dumps({"ok": False, "error": "missing_scope"}),
            {"Content-Type": "application/json"},
        )
        bot = SlackBot("xoxb-t", "C0DESK0001", ledger=ledger, subscriber="desk", api_url=api.url)
        bot.send_alert(make_alert(1), delivery_key="a1:desk:slack", maybe_sent=True)
    assert len(api.posted) == 1
    assert (
        "cannot check Slack history before re-sending (Slack API error: missing_scope)"
        in caplog.text
    )


_MARKUP = re.compile(r"<[^<>]*>")


@pytest.mark.parametrize(
    "title",
    [
        "Musk " * 200_000,  # 1 MB
        "&" * 1_000_000,  # each becomes &amp;: a cut must not split one
        "<!channel> *" * 90_000,
        "@here " * 170_000,
    ],
    ids=["words", "ampersands", "markup", "mentions"],
)
def test_a_one_megabyte_title_is_cut_outside_link_markup(title):
    """Issue 14 defect 10: the 2,900-character cut landed inside ``<url|label>``."""
    alert = make_alert(1, title=title, url="https://news.example.org/a?b=1&c=2")
    text, blocks = alert_blocks(alert)
    for section in [text, *(b["text"]["text"] for b in blocks if b["type"] == "section")]:
        assert len(section) <= 3000
        stripped = _MARKUP.sub("", section)
        assert "<" not in stripped and ">" not in stripped, "a link was cut open"
        labels = "".join(m.group().partition("|")[2] for m in _MARKUP.finditer(section))
        for outside in (stripped, labels):
            assert not re.search(r"&(?!amp;|lt;|gt;)", outside), "an entity was cut"
        assert not re.search(r"[~`@]…", labels), "a marker lost its zero-width space"
    headline = blocks[1]["text"]["text"]
    assert headline.startswith("*<https://news.example.org/a?b=1&c=2|")
    assert _MARKUP.match(headline[1:]).group().endswith("…>")
