"""Slack: Block Kit messages through an incoming webhook, or a bot token with threads.

Everything taken from an article (title, outlet, evidence text, other sources) is
escaped for Slack's mrkdwn before it goes into a block: ``&``, ``<`` and ``>`` become
entities (so ``<!channel>``, ``<@U123>`` and ``<http://evil|click>`` render as text),
``@channel``/``@here``/``@everyone`` get a zero-width space after the ``@``, and the
formatting markers ``* _ ~ ``` get one too, so a title can neither ping a channel, add
a link, nor bold half the message. Only links we build (the article URL, ``http(s)``
only, with ``|`` ``<`` ``>`` percent-encoded) are links.

With a bot token, the first alert of a storyline starts a thread and later alerts of
that storyline go into it; the thread's ``ts`` is kept in the ledger per (subscriber,
channel, storyline) so it survives restarts. A follow-up (more coverage) is a reply in
that thread and also edits the development's alert (``chat.update``) to say where
coverage stands; the alert message's ``ts`` is kept the same way, under the key
``message_key(development id)``. The edit is best effort: the reply is the delivery.

Re-sending after a crash (the at-least-once window of ``pipeline.ledger.protocol``): an incoming
webhook cannot be asked what it already posted, so a message in flight when the process
died may appear twice (it carries the same ``X-Storywatch-Delivery-Id``). A bot can be
asked: each message carries its delivery id as Slack message metadata, and before a send
that may repeat an earlier attempt (``maybe_sent``: a taken-over claim or a retry after
an unclear failure), the bot looks for that id in the channel (or the storyline's
thread) and does not post again if it is there. That needs the ``channels:history`` (or
``groups:history``) scope; without it the bot falls back to at-least-once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import urllib.error
from urllib.parse import quote, urlsplit

from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web import WebClient
from slack_sdk.webhook import WebhookClient

from pipeline.alert_json import BadAlert, alert_from_json
from pipeline.alerts.ids import alert_id_for
from pipeline.deliver.base import DeliveryError, PermanentError, TransientError
from pipeline.deliver.digest import Digest
from pipeline.deliver.wording import (
    FOLLOW_UP,
    Reason,
    display_time,
    follow_up_line,
    kind_label,
    other_sources,
    reasons,
)
from pipeline.http_headers import parse_retry_after
from pipeline.records import Alert

NEW_DEVELOPMENT = "new_development"
DELIVERY_ID_HEADER = "X-Storywatch-Delivery-Id"
METADATA_EVENT_TYPE = "storywatch_delivery"
_HISTORY_LIMIT = 200
_ZWSP = "\u200b"
_MENTION = re.compile(r"@(?=(channel|here|everyone)\b)", re.IGNORECASE)
_FORMATTING = re.compile(r"([*_~`])")
_SECTION_LIMIT = 2900  # Slack rejects section text over 3000 characters
_LABEL_LIMIT = 600  # of a link's label: a title, even a 1 MB one, stays readable and whole
_URL_LIMIT = 1500
# What _clip never cuts: a link, an entity, a marker with its zero-width space, a character.
_TOKEN = re.compile(r"<[^<>]*>|&(?:amp|lt|gt);|[*_~`@]\u200b|.", re.DOTALL)
_MAX_SOURCES = 8
_MAX_EVIDENCE = 5

# slack_sdk logs request URLs (our webhook secret) at DEBUG and errors with details; our
# own reasons are logged instead, so its logger stays quiet.
_SDK_LOGGER = logging.getLogger("storywatch.deliver.slack_sdk")
_SDK_LOGGER.setLevel(logging.CRITICAL)
_SDK_LOGGER.propagate = False
log = logging.getLogger("storywatch.deliver.slack")


def escape(text: str) -> str:
    """Text from an article, made inert for Slack mrkdwn.

    >>> escape("<!channel> & <http://evil|click> *bold* @here")
    '&lt;!channel&gt; &amp; &lt;http://evil|click&gt; *\\u200bbold*\\u200b @\\u200bhere'
    """
    text = " ".join(text.split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MENTION.sub("@" + _ZWSP, text)
    return _FORMATTING.sub(r"\1" + _ZWSP, text)


def safe_url(url: str) -> str | None:
    """The URL fit for ``<url|label>``: http(s) only, with ``|``, ``<``, ``>`` encoded."""
    url = url.strip()
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return None
    return quote(url, safe=":/?#[]@!$&'()*+,;=%-._~")


def link(url: str, label: str, *, label_limit: int = _LABEL_LIMIT) -> str:
    """A mrkdwn link with an escaped label, or just the label if the URL is not http(s).

    The label is clipped inside the link, so a huge title still gives a whole link.
    """
    target = safe_url(url)
    text = _clip(escape(label), label_limit) or "(untitled)"
    if target and len(target) > _URL_LIMIT:
        target = None  # Slack cuts long URLs mid-way; a dead link is worse than none
    return f"<{target}|{text}>" if target else text


def _clip(text: str, limit: int = _SECTION_LIMIT) -> str:
    """``text`` cut to ``limit`` characters at a boundary outside markup, with ``…``.

    Never inside a ``<link|label>``, an ``&amp;`` entity, or between a marker and the
    zero-width space that makes it inert (a cut there would leave live markup).

    >>> _clip("ab &amp; <https://x.test|cd>", 6), _clip("ab <https://x.test|cd>", 12)
    ('ab …', 'ab …')
    """
    if len(text) <= limit:
        return text
    end = 0
    for token in _TOKEN.finditer(text):
        if token.end() > limit - 1:
            break
        end = token.end()
    return text[:end] + "…"


def _plain(text: str, limit: int = 150) -> dict:
    return {
        "type": "plain_text",
        "text": _clip(" ".join(text.split()) or "-", limit),
        "emoji": False,
    }


def _mrkdwn_section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text)}}


def reason_line(reason: Reason) -> str:
    """``• starlink: “Starlink” (exact) in title, summary`` with everything escaped."""
    texts = ", ".join(f"“{escape(t)}”" for t in reason.texts)
    return (
        f"• {escape(reason.ref)}: {texts} ({escape(', '.join(reason.kinds))})"
        f" in {escape(', '.join(reason.fields))}"
    )


def _sources_section(alert: Alert, heading: str) -> list[dict]:
    """The other articles so far, by outlet, as one section (none if there are none)."""
    others = other_sources(alert)
    if not others:
        return []
    lines = [
        f"• {escape(outlet)}: {link(url, title)}" if outlet else f"• {link(url, title)}"
        for outlet, title, url in others[:_MAX_SOURCES]
    ]
    if len(others) > _MAX_SOURCES:
        lines.append(f"… and {len(others) - _MAX_SOURCES} more")
    return [_mrkdwn_section(f"*{heading}*\n" + "\n".join(lines))]


def follow_up_blocks(alert: Alert) -> tuple[str, list[dict]]:
    """(notification text, blocks) for a follow-up: the outlets so far, the latest report,
    and the earlier ones (a bot posts it in the storyline's thread, under the alert)."""
    storyline = alert.storyline_title or alert.storyline_id
    line = escape(follow_up_line(alert))
    byline = " · ".join(part for part in (escape(alert.outlet), display_time(alert)) if part)
    blocks: list[dict] = [
        _mrkdwn_section(
            f"*{escape(kind_label(alert.kind))}: {escape(storyline)}*: {line}\n"
            f"Latest: {link(alert.url, alert.title)}" + (f"\n{byline}" if byline else "")
        )
    ]
    blocks += _sources_section(alert, "Earlier reports")
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": _clip(
                        f"storyline `{escape(alert.storyline_id)}` · development "
                        f"{escape(alert.development_id)} · alert {escape(alert.alert_id)}"
                    ),
                }
            ],
        }
    )
    return _clip(f"{escape(kind_label(alert.kind))}: {escape(storyline)}: {line}"), blocks


def alert_blocks(alert: Alert) -> tuple[str, list[dict]]:
    """(notification text, Block Kit blocks) for one alert."""
    if alert.kind == FOLLOW_UP:
        return follow_up_blocks(alert)
    storyline = alert.storyline_title or alert.storyline_id
    label = kind_label(alert.kind)
    byline = " · ".join(part for part in (escape(alert.outlet), display_time(alert)) if part)
    blocks: list[dict] = [
        {"type": "header", "text": _plain(f"{label}: {storyline}")},
        _mrkdwn_section(f"*{link(alert.url, alert.title)}*\n{byline}"),
    ]
    if alert.why_new:
        blocks.append(_mrkdwn_section(f"*Why it is new*\n{escape(alert.why_new)}"))
    why = reasons(alert.evidence)
    if why:
        lines = [reason_line(r) for r in why[:_MAX_EVIDENCE]]
        if len(why) > _MAX_EVIDENCE:
            lines.append(f"… and {len(why) - _MAX_EVIDENCE} more")
        if alert.matched_sentence:  # where it matched, in the article's words
            lines.insert(0, f"“{escape(alert.matched_sentence)}”")
        blocks.append(_mrkdwn_section("*Why it matched*\n" + "\n".join(lines)))
    blocks += _sources_section(alert, "Other sources so far")
    context = [
        f"storyline `{escape(alert.storyline_id)}`",
        f"score {alert.score:.2f}",
        f"alert {escape(alert.alert_id)}",
    ]
    if alert.reason and alert.reason != alert.why_new:  # said above already
        context.append(escape(alert.reason))
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(" · ".join(context))}]}
    )
    text = _clip(f"{label}: {escape(storyline)}: {escape(alert.title)}")
    return text, blocks


def digest_blocks(digest: Digest) -> tuple[str, list[dict]]:
    """(notification text, blocks) for a digest, one section per storyline."""
    title = digest.title()
    blocks: list[dict] = [{"type": "header", "text": _plain(title)}]
    for _, storyline_title, alerts in digest.by_storyline()[:45]:
        lines = [
            f"• {escape(kind_label(a.kind))}: {link(a.url, a.title)}"
            f"{' (' + escape(a.outlet) + ')' if a.outlet else ''} · {display_time(a)}"
            + (f" · {escape(follow_up_line(a))}" if a.kind == FOLLOW_UP else "")
            for a in alerts[:20]
        ]
        if len(alerts) > 20:
            lines.append(f"… and {len(alerts) - 20} more")
        blocks.append(_mrkdwn_section(f"*{escape(storyline_title)}*\n" + "\n".join(lines)))
    return escape(title), blocks


def message_key(development_id: str) -> str:
    """The ledger's thread key under which a bot keeps the ``ts`` of a development's alert.

    >>> message_key("8316841a0b3e1390")
    'development:8316841a0b3e1390'
    """
    return f"development:{development_id}"


def _classify(status: int, headers: dict, body: str) -> None:
    """Raise the right DeliveryError for an HTTP answer that is not a success."""
    snippet = " ".join((body or "").split())[:120]
    if status == 429:
        lowered = {k.lower(): v for k, v in (headers or {}).items()}
        value = lowered.get("retry-after")
        if isinstance(value, list):
            value = value[0] if value else None
        raise TransientError(
            f"HTTP 429 rate limited: {snippet}",
            retry_after_seconds=parse_retry_after(value, now=time.time()),
        )
    if status >= 500 or status in (408, 425):
        raise TransientError(f"HTTP {status}: {snippet}")
    raise PermanentError(f"HTTP {status}: {snippet}")


class SlackWebhook:
    """One incoming webhook (its URL is a secret: it never appears in reasons or logs)."""

    name = "slack"

    def __init__(
        self, url: str, *, timeout_seconds: float = 10.0, max_messages_per_second: float = 1.0
    ) -> None:
        self._client = WebhookClient(
            url, timeout=timeout_seconds, logger=_SDK_LOGGER, retry_handlers=[]
        )
        self.rate_key = "slack-webhook:" + hashlib.sha256(url.encode()).hexdigest()[:16]
        self.per_second = max_messages_per_second

    def _post(self, text: str, blocks: list[dict], delivery_key: str) -> None:
        body = {"text": text, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}
        try:
            response = self._client.send_dict(body, headers={DELIVERY_ID_HEADER: delivery_key})
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            raise TransientError(f"cannot reach the Slack webhook: {type(exc).__name__}") from None
        except ValueError:  # http.client.InvalidURL quotes the path, which is the secret
            raise PermanentError(
                "the Slack webhook URL is not a valid URL; copy it again (not shown: a secret)"
            ) from None
        if response.status_code != 200:
            _classify(response.status_code, response.headers, response.body)

    def send_alert(self, alert: Alert, *, delivery_key: str, maybe_sent: bool = False) -> None:
        # A webhook cannot be asked what it posted: maybe_sent cannot be checked here.
        self._post(*alert_blocks(alert), delivery_key)

    def send_digest(self, digest: Digest, *, delivery_key: str, maybe_sent: bool = False) -> None:
        self._post(*digest_blocks(digest), delivery_key)

    def close(self) -> None:
        pass


class SlackBot:
    """``chat.postMessage`` with a bot token; follow-ups of a storyline go into its thread."""

    name = "slack"

    def __init__(
        self,
        token: str,
        channel: str,
        *,
        ledger,
        subscriber: str,
        api_url: str | None = None,
        timeout_seconds: float = 10.0,
        max_messages_per_second: float = 1.0,
    ) -> None:
        kwargs = {"base_url": api_url} if api_url else {}
        self._client = WebClient(
            token=token,
            timeout=int(max(1, timeout_seconds)),
            logger=_SDK_LOGGER,
            retry_handlers=[],
            **kwargs,
        )
        self._channel = channel
        self._ledger = ledger
        self._subscriber = subscriber
        self.rate_key = (
            "slack-bot:" + hashlib.sha256(f"{token}|{channel}".encode()).hexdigest()[:16]
        )
        self.per_second = max_messages_per_second

    def _call(self, method, **kwargs):
        """Call a Web API method; map its failures to Transient/PermanentError."""
        try:
            return method(**kwargs)
        except SlackApiError as exc:
            resp = exc.response
            error = resp.data.get("error", "") if isinstance(resp.data, dict) else ""
            if resp.status_code == 200:
                transient = error in (
                    "ratelimited",
                    "internal_error",
                    "fatal_error",
                    "service_unavailable",
                    "request_timeout",
                )
                if transient:
                    raise TransientError(f"Slack API error: {error}") from None
                raise PermanentError(f"Slack API error: {error or 'unknown'}") from None
            _classify(resp.status_code, dict(resp.headers or {}), error or str(resp.data)[:120])
            raise  # pragma: no cover (_classify always raises)
        except (SlackRequestError, json.JSONDecodeError, ValueError) as exc:
            raise TransientError(f"bad answer from the Slack API: {type(exc).__name__}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            raise TransientError(f"cannot reach the Slack API: {type(exc).__name__}") from None

    def _post(
        self, text: str, blocks: list[dict], *, delivery_key: str, thread_ts: str | None = None
    ) -> str:
        response = self._call(
            self._client.chat_postMessage,
            channel=self._channel,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            unfurl_links=False,
            unfurl_media=False,
            metadata={
                "event_type": METADATA_EVENT_TYPE,
                "event_payload": {"delivery_id": delivery_key},
            },
        )
        return str(response.get("ts") or "")

    def posted_ts(self, delivery_key: str, thread_ts: str | None = None) -> str | None:
        """The ts of a message already posted with ``delivery_key``, or None (also when unsure)."""
        try:
            if thread_ts:
                response = self._call(
                    self._client.conversations_replies,
                    channel=self._channel,
                    ts=thread_ts,
                    include_all_metadata=True,
                    limit=_HISTORY_LIMIT,
                )
            else:
                response = self._call(
                    self._client.conversations_history,
                    channel=self._channel,
                    include_all_metadata=True,
                    limit=_HISTORY_LIMIT,
                )
        except DeliveryError as exc:
            log.warning(
                "cannot check Slack history before re-sending (%s); sending, at least once",
                exc.reason,
            )
            return None
        for message in response.get("messages") or ():
            metadata = message.get("metadata") or {}
            if (
                metadata.get("event_type") == METADATA_EVENT_TYPE
                and (metadata.get("event_payload") or {}).get("delivery_id") == delivery_key
            ):
                return str(message.get("ts") or "")
        return None

    def send_alert(self, alert: Alert, *, delivery_key: str, maybe_sent: bool = False) -> None:
        thread = self._ledger.thread_ts(self._subscriber, self.name, alert.storyline_id)
        ts = self.posted_ts(delivery_key, thread) if maybe_sent else None
        if ts is None:
            ts = self._post(*alert_blocks(alert), delivery_key=delivery_key, thread_ts=thread)
        if thread is None and ts:
            self._ledger.set_thread_ts(self._subscriber, self.name, alert.storyline_id, ts)
        if ts and alert.kind == NEW_DEVELOPMENT:
            key = message_key(alert.development_id)
            self._ledger.set_thread_ts(self._subscriber, self.name, key, ts)
        if alert.kind == FOLLOW_UP:
            self._edit_alert(alert)

    def _edit_alert(self, follow_up: Alert) -> None:
        """Show where coverage stands in the development's alert message, if it is known."""
        key = message_key(follow_up.development_id)
        ts = self._ledger.thread_ts(self._subscriber, self.name, key)
        dev_id = alert_id_for(follow_up.storyline_id, follow_up.development_id, NEW_DEVELOPMENT)
        payload = self._ledger.load_payload(dev_id) if ts else None
        if not payload:
            return
        try:
            text, blocks = alert_blocks(alert_from_json(payload))
        except BadAlert:
            return
        coverage = _mrkdwn_section(
            f"*Coverage so far*\n{escape(follow_up_line(follow_up))}\n"
            f"Latest: {link(follow_up.url, follow_up.title)}"
        )
        blocks.insert(2, coverage)
        try:
            self._call(
                self._client.chat_update, channel=self._channel, ts=ts, text=text, blocks=blocks
            )
        except DeliveryError as exc:
            log.warning("cannot edit the alert to show its coverage (%s); the reply is sent", exc)

    def send_digest(self, digest: Digest, *, delivery_key: str, maybe_sent: bool = False) -> None:
        if maybe_sent and self.posted_ts(delivery_key) is not None:
            return
        text, blocks = digest_blocks(digest)
        self._post(text, blocks, delivery_key=delivery_key)

    def close(self) -> None:
        pass
