"""Which subscriber and channel gets which alert, and when (pure logic).

>>> from pipeline.config.subscribers import Channels, SlackChannel, EmailChannel, Subscriber, SmtpServer
>>> from pipeline.alert_json import alert_from_json
>>> desk = Subscriber(name="desk", storylines=["starlink-taiwan"], min_score=0.5,
...     channels=Channels(slack=SlackChannel(webhook_url_env="HOOK")))
>>> alert = alert_from_json({"alert_id": "a1", "storyline": "starlink-taiwan", "kind": "new_development",
...     "title": "T", "url": "https://x.test", "published": "2024-10-25T10:00:00Z", "score": 0.8})
>>> [(r.subscriber.name, r.channel, r.due_at) for r in routes(alert, [desk], alert.published_at)]
[('desk', 'slack', None)]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from pipeline.config.subscribers import Subscriber
from pipeline.deliver.digest import due_at
from pipeline.records import Alert


@dataclass(frozen=True, slots=True)
class Route:
    """One alert to one subscriber on one channel, now (``due_at`` None) or later."""

    alert: Alert
    subscriber: Subscriber
    channel: str
    due_at: dt.datetime | None


def routes(alert: Alert, subscribers: Iterable[Subscriber], now: dt.datetime) -> list[Route]:
    """Every (subscriber, channel) that wants ``alert``, with when to deliver it."""
    out = []
    for subscriber in subscribers:
        if not subscriber.wants(alert.storyline_id, alert.kind, alert.score):
            continue
        when = due_at(subscriber, now)
        out += [Route(alert, subscriber, channel, when) for channel in subscriber.channels.names()]
    return out
