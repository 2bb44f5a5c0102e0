"""When a subscriber gets an alert: now, at the next digest, or after quiet hours (pure logic).

Every function takes the current time as an argument (aware UTC), so tests drive it with
a controlled clock. Local times are in the subscriber's IANA time zone.

Timeline for a daily digest at 08:00 Europe/Berlin with quiet hours 22:00–07:00::

    alert at 2024-10-25 10:15 UTC (12:15 local)  -> due 2024-10-26 06:00 UTC (08:00 local)
    alert at 2024-10-26 05:00 UTC (07:00 local)  -> due 2024-10-26 06:00 UTC (same digest)

and for an immediate subscriber with the same quiet hours::

    alert at 2024-10-25 21:30 UTC (23:30 local)  -> due 2024-10-26 05:00 UTC (07:00 local)
    alert at 2024-10-26 05:00 UTC (07:00 local)  -> now (quiet hours are over)
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from pipeline.config.subscribers import QuietHours, Subscriber, parse_clock
from pipeline.deliver.wording import FOLLOW_UP, fold_same_article, latest_follow_ups, merge_alerts
from pipeline.records import UTC, Alert


def is_quiet(quiet: QuietHours | None, local: dt.datetime) -> bool:
    """Is the local time inside the quiet hours (start inclusive, end exclusive)?

    >>> q = QuietHours(start="22:00", end="07:00")
    >>> [is_quiet(q, dt.datetime(2024, 1, 1, h)) for h in (21, 22, 3, 7)]
    [False, True, True, False]
    """
    if quiet is None:
        return False
    start, end, now = (
        parse_clock(quiet.start),
        parse_clock(quiet.end),
        local.time().replace(tzinfo=None),
    )
    if start < end:
        return start <= now < end
    return now >= start or now < end


def _next_local(local: dt.datetime, at: dt.time) -> dt.datetime:
    """The first local datetime at clock time ``at`` strictly after ``local``."""
    candidate = dt.datetime.combine(local.date(), at, tzinfo=local.tzinfo)
    if candidate <= local:
        candidate = dt.datetime.combine(
            local.date() + dt.timedelta(days=1), at, tzinfo=local.tzinfo
        )
    return candidate


def quiet_end(quiet: QuietHours, local: dt.datetime) -> dt.datetime:
    """When the quiet hours that contain ``local`` end."""
    return _next_local(local, parse_clock(quiet.end))


def next_digest_at(subscriber: Subscriber, now: dt.datetime) -> dt.datetime:
    """The next digest boundary after ``now`` (top of the local hour, or the daily time)."""
    local = now.astimezone(subscriber.zone)
    if subscriber.digest == "hourly":
        top = local.replace(minute=0, second=0, microsecond=0)
        # Add in UTC so a DST change does not skip or repeat an hour.
        return (top.astimezone(UTC) + dt.timedelta(hours=1)).astimezone(subscriber.zone)
    return _next_local(local, parse_clock(subscriber.digest_at))


def due_at(subscriber: Subscriber, now: dt.datetime) -> dt.datetime | None:
    """When to deliver an alert that reaches ``subscriber`` at ``now``; None means now.

    >>> from pipeline.config.subscribers import Channels, SlackChannel
    >>> desk = Subscriber(name="desk", timezone="Europe/Berlin", mode="digest", digest="hourly",
    ...                   channels=Channels(slack=SlackChannel(webhook_url_env="HOOK")))
    >>> due_at(desk, dt.datetime(2024, 10, 25, 10, 15, tzinfo=UTC)).isoformat()
    '2024-10-25T11:00:00+00:00'
    """
    local = now.astimezone(subscriber.zone)
    if subscriber.mode == "immediate":
        if is_quiet(subscriber.quiet_hours, local):
            return quiet_end(subscriber.quiet_hours, local).astimezone(UTC)
        return None
    when = next_digest_at(subscriber, now)
    if is_quiet(subscriber.quiet_hours, when):
        when = quiet_end(subscriber.quiet_hours, when)
    return when.astimezone(UTC)


def follow_up_due_at(subscriber: Subscriber, now: dt.datetime) -> dt.datetime:
    """When a follow-up (more coverage) reaches ``subscriber`` by email: with the digest, or
    for an immediate subscriber at the next ``digest_at`` (daily), after any quiet hours.

    >>> from pipeline.config.subscribers import Channels, SlackChannel
    >>> desk = Subscriber(name="desk", timezone="Europe/Berlin", digest_at="08:00",
    ...                   channels=Channels(slack=SlackChannel(webhook_url_env="HOOK")))
    >>> follow_up_due_at(desk, dt.datetime(2024, 10, 25, 10, 15, tzinfo=UTC)).isoformat()
    '2024-10-26T06:00:00+00:00'
    """
    if subscriber.mode == "digest":
        when = due_at(subscriber, now)
        assert when is not None  # a digest subscriber's alerts always wait for the digest
        return when
    local = now.astimezone(subscriber.zone)
    when = _next_local(local, parse_clock(subscriber.digest_at))
    if is_quiet(subscriber.quiet_hours, when):
        when = quiet_end(subscriber.quiet_hours, when)
    return when.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Digest:
    """Several alerts for one subscriber and channel, sent as one message at ``due_at``.

    ``held`` is true when the alerts waited for the end of quiet hours rather than for a
    digest period. ``digest_id`` is stable for (subscriber, channel, due time), so the
    ledger sends each digest once.
    """

    subscriber: str
    channel: str
    due_at: dt.datetime
    alerts: tuple[Alert, ...]
    held: bool = False

    @property
    def digest_id(self) -> str:
        key = f"{self.subscriber}|{self.channel}|{self.due_at.astimezone(UTC).isoformat()}"
        return "digest-" + hashlib.sha256(key.encode()).hexdigest()[:20]

    def by_storyline(self) -> list[tuple[str, str, tuple[Alert, ...]]]:
        """(storyline id, storyline title, alerts oldest first) in order of first appearance.

        An article that develops several storylines is listed once, in a section that
        names them all (``wording.merge_alerts``), not once under each.
        """
        shown = latest_follow_ups(self.alerts)
        return group_by_storyline(merge_alerts(g) for g in fold_same_article(shown))

    def title(self, zone: dt.tzinfo = UTC) -> str:
        shown = latest_follow_ups(self.alerts)
        updates = sum(a.kind == FOLLOW_UP for a in shown)
        count = len(shown) - updates
        noun = "alert" if count == 1 else "alerts"
        coverage = f"{updates} coverage update{'' if updates == 1 else 's'}"
        when = self.due_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
        if not count:  # only follow-ups: an immediate subscriber's coverage digest
            return f"Coverage: {coverage}, {when}"
        if self.held:
            held = f"{count} {noun} held during quiet hours"
            return held + (f" and {coverage}" if updates else "")
        return f"Digest: {count} {noun}" + (f" and {coverage}" if updates else "") + f", {when}"


def group_by_storyline(alerts: Iterable[Alert]) -> list[tuple[str, str, tuple[Alert, ...]]]:
    """Group alerts by storyline: storylines in order of their first alert, alerts by time.

    >>> from pipeline.alert_json import alert_from_json
    >>> def a(i, s, t): return alert_from_json({"alert_id": i, "storyline": s, "kind": "burst",
    ...     "title": i, "url": "https://x.test", "published": t})
    >>> [(s, [x.alert_id for x in xs]) for s, _, xs in group_by_storyline(
    ...     [a("2", "b", "2024-01-02"), a("1", "a", "2024-01-01"), a("3", "b", "2024-01-01")])]
    [('a', ['1']), ('b', ['3', '2'])]
    """
    groups: dict[str, list[Alert]] = {}
    for alert in sorted(alerts, key=lambda a: (a.published_at, a.alert_id)):
        # Keyed by title too: an alert merged over two storylines gets a section of its own.
        key = (alert.storyline_id, alert.storyline_title or alert.storyline_id)
        groups.setdefault(key, []).append(alert)
    return [(sid, title, tuple(items)) for (sid, title), items in groups.items()]
