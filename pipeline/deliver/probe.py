"""``storywatch subscribers test NAME``: one test message on each channel of one subscriber.

Each channel (Slack webhook or bot, email) gets one message rendered like a real alert
(kind ``test``, storyline ``storywatch-test``), sent once with the channel's own client,
timeout and TLS settings. A test is not an alert: nothing is claimed or recorded in the
delivery ledger, no retry is made, and running it twice sends two messages.

The result per channel is ``sent``, ``sent, but …`` (an email some recipients refused),
``failed`` (permanent: fix the configuration) or ``failed, may pass on retry`` (a timeout,
a 5xx, a 429). Only the other subscribers' secrets may be missing; every reason is passed
through ``redact`` so no webhook URL, path or token is shown.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from pipeline.config.subscribers import Subscribers, resolve_secrets
from pipeline.deliver.base import PermanentError, TransientError, redact
from pipeline.deliver.dispatch import build_channels
from pipeline.errors import UserError
from pipeline.records import UTC, Alert

TEST_STORYLINE = "storywatch-test"


@dataclass(frozen=True, slots=True)
class ChannelResult:
    channel: str  # slack or email
    how: str  # "webhook", "bot", "email to 2 addresses"
    ok: bool
    outcome: str  # what a person reads: sent / failed: REASON


class _NoThreads:
    """The bot's thread store for a test: it never starts or joins a storyline thread."""

    def thread_ts(self, subscriber: str, channel: str, storyline_id: str) -> str | None:
        return None

    def set_thread_ts(self, subscriber: str, channel: str, storyline_id: str, ts: str) -> None:
        pass


def probe_alert(subscriber: str, now: dt.datetime) -> Alert:
    """The message each channel gets: says what it is, for whom, and when."""
    stamp = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return Alert(
        alert_id=f"test-{subscriber}-{now.astimezone(UTC).strftime('%Y%m%dT%H%M%S')}",
        storyline_id=TEST_STORYLINE,
        development_id=f"{TEST_STORYLINE}-{subscriber}",
        kind="test",
        title=f"storywatch test message for subscriber {subscriber} ({stamp})",
        url="",
        published_at=now,
        first_seen_at=now,
        article_ids=(),
        score=1.0,
        outlet="storywatch",
        storyline_title="Test message",
        reason="sent by `storywatch subscribers test`; no alert behind it",
    )


def probe_subscriber(
    subscribers: Subscribers, name: str, *, now: dt.datetime | None = None
) -> list[ChannelResult]:
    """Send one test message on each channel of subscriber ``name``; one result per channel."""
    known = [s.name for s in subscribers.subscribers]
    if name not in known:
        raise UserError(
            f"{subscribers.path}: no subscriber named {name!r}; known: {', '.join(known) or 'none'}"
        )
    mine = {v for where, what, v in subscribers.env_names() if what.startswith(f"{name}.")}
    others = {v for where, what, v in subscribers.env_names()} - mine
    secrets = resolve_secrets(subscribers, deferred=others)
    only = dataclasses.replace(
        subscribers, subscribers=tuple(s for s in subscribers.subscribers if s.name == name)
    )
    channels = build_channels(only, secrets, _NoThreads())
    alert = probe_alert(name, now or dt.datetime.now(UTC))
    sub = only.subscribers[0]
    results = []
    for (_, channel_name), channel in channels.items():
        if channel_name == "slack":
            how = "bot" if sub.channels.slack and sub.channels.slack.threaded else "webhook"
        else:
            to = sub.channels.email.to if sub.channels.email else []
            how = f"email to {len(to)} address{'es' if len(to) != 1 else ''}"
        try:
            refused = channel.send_alert(alert, delivery_key=f"{alert.alert_id}:{channel_name}")
            if refused:
                parts = "; ".join(f"{address} ({why})" for address, why in refused)
                ok, outcome = False, f"sent, but refused for {parts}"
            else:
                ok, outcome = True, "sent"
        except PermanentError as exc:
            ok, outcome = False, f"failed: {exc.reason}"
        except TransientError as exc:
            ok, outcome = False, f"failed, may pass on retry: {exc.reason}"
        except Exception as exc:  # report it per channel, and go on to the next
            ok, outcome = False, f"failed: unexpected {type(exc).__name__}: {exc}"
        finally:
            channel.close()
        results.append(ChannelResult(channel_name, how, ok, redact(outcome, secrets.all_values())))
    return results
