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
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from pipeline.config.subscribers import Subscriber
from pipeline.deliver.digest import due_at, follow_up_due_at
from pipeline.deliver.wording import FOLLOW_UP, fold_same_article
from pipeline.records import Alert

__all__ = ["Route", "fold_same_article", "muted_by", "routes", "wants"]


@dataclass(frozen=True, slots=True)
class Route:
    """One alert to one subscriber on one channel, now (``due_at`` None) or later.

    ``muted`` names the mute that holds it back (a storyline or development id), or is "".
    """

    alert: Alert
    subscriber: Subscriber
    channel: str
    due_at: dt.datetime | None
    muted: str = ""


def muted_by(alert: Alert, muted: Collection[str]) -> str:
    """The storyline or development id of ``alert`` that is muted, or "".

    >>> from pipeline.alert_json import alert_from_json
    >>> a = alert_from_json({"alert_id": "a1", "storyline": "s", "development_id": "s-d1",
    ...     "kind": "burst", "title": "T", "url": "u", "published": "2024-10-25T10:00:00Z"})
    >>> muted_by(a, {"s-d1"}), muted_by(a, {"other"})
    ('s-d1', '')
    """
    for target in (alert.storyline_id, alert.development_id):
        if target and target in muted:
            return target
    return ""


def routes(
    alert: Alert,
    subscribers: Iterable[Subscriber],
    now: dt.datetime,
    *,
    muted: Collection[str] = (),
) -> list[Route]:
    """Every (subscriber, channel) that wants ``alert``, with when to deliver it.

    A muted storyline's or development's alert still gets its routes, marked ``muted``:
    the caller does not send them and counts them (``storywatch mute``).
    """
    held = muted_by(alert, muted)
    out = []
    for subscriber in subscribers:
        if not wants(subscriber, alert):
            continue
        when = due_at(subscriber, now)
        for channel in subscriber.channels.names():
            if alert.kind == FOLLOW_UP and channel == "email":
                # Coverage is never an email of its own: it waits for the digest.
                out.append(
                    Route(alert, subscriber, channel, follow_up_due_at(subscriber, now), held)
                )
            else:
                out.append(Route(alert, subscriber, channel, when, held))
    return out


def wants(subscriber: Subscriber, alert: Alert) -> bool:
    """Does ``subscriber`` get ``alert``? A follow-up (more coverage of a development) goes
    to whoever gets the development's alerts, and to whoever asked for ``coverage``.

    >>> from pipeline.config.subscribers import Channels, SlackChannel
    >>> from pipeline.alert_json import alert_from_json
    >>> desk = Subscriber(name="desk", channels=Channels(slack=SlackChannel(webhook_url_env="H")))
    >>> wants(desk, alert_from_json({"alert_id": "f1", "storyline": "s", "kind": "coverage",
    ...     "title": "T", "url": "u", "published": "2024-10-25T10:00:00Z"}))
    True
    """
    kinds = (alert.kind, "new_development") if alert.kind == FOLLOW_UP else (alert.kind,)
    return any(subscriber.wants(alert.storyline_id, kind, alert.score) for kind in kinds)
