"""How alerts read to people, the same on every channel: kind labels, times, reasons.

Slack, email and the console each format differently, but they name an alert's kind,
show its time and explain why it matched with these, so the channels never disagree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pipeline.match.hits import is_deep
from pipeline.records import UTC, Alert, Evidence

KIND_LABELS = {
    "new_development": "New development",
    "burst": "Burst",
    "coverage": "More coverage",  # a follow-up
    "test": "Test",  # storywatch subscribers test
}


def kind_label(kind: str) -> str:
    """The heading for an alert kind (an unknown kind stands for itself).

    >>> kind_label("new_development"), kind_label("retraction")
    ('New development', 'retraction')
    """
    return KIND_LABELS.get(kind, kind)


def merge_alerts(alerts: Sequence[Alert]) -> Alert:
    """One alert for an article that develops several storylines: the first alert, naming
    every storyline (``Musk–Kremlin contacts and Starlink in Taiwan``), with the evidence
    and sources of all. It keeps the first's ids, so threads and Message-IDs stay stable.

    >>> from pipeline.alert_json import alert_from_json
    >>> a, b = (alert_from_json({"alert_id": i, "storyline": s, "storyline_title": t, "kind": "burst",
    ...     "title": "T", "url": "u", "published": "2024-10-25T10:00:00Z"})
    ...     for i, s, t in (("a1", "s1", "Story one"), ("b1", "s2", "")))
    >>> merge_alerts([a, b]).storyline_title
    'Story one and s2'
    """
    first = alerts[0]
    if len(alerts) == 1:
        return first
    names = list(dict.fromkeys(a.storyline_title or a.storyline_id for a in alerts))
    title = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return dataclasses.replace(
        first,
        storyline_title=title,
        evidence=tuple(dict.fromkeys(e for a in alerts for e in a.evidence)),
        sources=tuple(dict.fromkeys(s for a in alerts for s in a.sources)),
        score=max(a.score for a in alerts),
    )


def fold_same_article(alerts: Iterable[Alert]) -> list[list[Alert]]:
    """Alerts for one subscriber's channel, grouped so that one article is one message.

    An article that develops two storylines gives two alerts (one per storyline); a
    subscriber who follows both gets them together (``wording.merge_alerts``). Groups are
    keyed by the article's URL and the alert kind, in the order of their first alert.
    """
    groups: dict[tuple[str, str], list[Alert]] = {}
    for alert in alerts:
        key = (alert.url or alert.alert_id, alert.kind)
        groups.setdefault(key, []).append(alert)
    return list(groups.values())


def outlets(alert: Alert) -> list[str]:
    """Every outlet that has reported the alert's development so far, first first, once each:
    its sources' (the tracker keeps them in arrival order), then its own.

    >>> from pipeline.alert_json import alert_from_json
    >>> outlets(alert_from_json({"alert_id": "a", "storyline": "s", "kind": "coverage", "title": "t",
    ...     "url": "u3", "outlet": "BBC News", "published": "2024-10-25T10:00:00Z", "sources": [
    ...     ["CNN", "t1", "u1"], ["", "t2", "u2"], ["CNN", "t1b", "u1b"]]}))
    ['CNN', 'BBC News']
    """
    names = [s[0] for s in alert.sources if len(s) == 3] + [alert.outlet]
    return list(dict.fromkeys(n for n in names if n))


#: The kind of a follow-up: more coverage of an alerted development (pipeline.alerts.followups).
FOLLOW_UP = "coverage"

#: Outlets named in a follow-up line; the others are counted.
FOLLOW_UP_OUTLETS_SHOWN = 8


def follow_up_line(alert: Alert) -> str:
    """What a follow-up says: how many outlets have the development now, and which.

    >>> from pipeline.alert_json import alert_from_json
    >>> follow_up_line(alert_from_json({"alert_id": "a", "storyline": "s", "kind": "coverage",
    ...     "title": "t", "url": "u9", "outlet": "AP", "published": "2024-10-25T10:00:00Z",
    ...     "sources": [[f"Outlet {i}", "t", f"u{i}"] for i in range(9)]}))
    'now 10 outlets: Outlet 0, Outlet 1, Outlet 2, Outlet 3, Outlet 4, Outlet 5, Outlet 6, Outlet 7 and 2 more'
    """
    names = outlets(alert)
    shown = ", ".join(names[:FOLLOW_UP_OUTLETS_SHOWN])
    more = len(names) - FOLLOW_UP_OUTLETS_SHOWN
    return f"now {len(names)} outlets: {shown}" + (f" and {more} more" if more > 0 else "")


def latest_follow_ups(alerts: Iterable[Alert]) -> list[Alert]:
    """``alerts`` with only the last follow-up (``coverage``) of each development: a digest
    shows where coverage stands, not every step of it. Order kept (the last one's place)."""
    alerts = list(alerts)
    last: dict[tuple[str, str], int] = {}
    for index, alert in enumerate(alerts):
        if alert.kind == FOLLOW_UP:
            key = (alert.storyline_id, alert.development_id)
            if key not in last or len(outlets(alert)) >= len(outlets(alerts[last[key]])):
                last[key] = index
    keep = set(last.values())
    return [a for i, a in enumerate(alerts) if a.kind != FOLLOW_UP or i in keep]


def other_sources(alert: Alert) -> list[tuple[str, str, str]]:
    """(outlet, title, url) of the other articles so far, without the alert's own."""
    return [s for s in alert.sources if len(s) == 3 and s[2] != alert.url]


def display_time(alert: Alert) -> str:
    """When the article appeared, for people: published time, or first-seen when the feed gave none.

    >>> from pipeline.alert_json import alert_from_json
    >>> display_time(alert_from_json({"alert_id": "a", "storyline": "s", "kind": "burst", "title": "t",
    ...     "url": "u", "published": "1970-01-01T00:00:00Z", "first_seen_at": "2024-10-25T10:00:00Z"}))
    '2024-10-25 10:00 UTC (first seen)'

    A coarse date is shown as coarse as it is, not as midnight of its first day:

    >>> display_time(alert_from_json({"alert_id": "a", "storyline": "s", "kind": "burst", "title": "t",
    ...     "url": "u", "published": "2025-02-01T00:00:00Z", "published_precision": "month"}))
    '2025-02'
    """
    if (
        alert.published_at.year < 1990 or alert.published_precision == "unknown"
    ) and alert.first_seen_at.year >= 1990:
        return alert.first_seen_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") + " (first seen)"
    shape = _PRECISION_FORMAT.get(alert.published_precision, "%Y-%m-%d %H:%M UTC")
    return alert.published_at.astimezone(UTC).strftime(shape)


_PRECISION_FORMAT = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}


@dataclass(frozen=True, slots=True)
class Reason:
    """Why an alert matched, one line per entity or topic: what was found, how, where.

    >>> for reason in reasons((Evidence("starlink", "Starlink", "title", 0, 8, "Starlink", "exact"),
    ...     Evidence("starlink", "Старлинк", "summary", 3, 11, "Старлинк", "transliterated"),
    ...     Evidence("starlink", "Starlink", "summary", 20, 28, "Starlink", "exact"),
    ...     Evidence("elon-musk", "Musk", "summary", 40, 44, "Muks", "fuzzy", 89.0))):
    ...     print(reason)
    starlink: “Starlink”, “Старлинк” (exact, transliterated) in title, summary
    elon-musk: “Muks” (fuzzy 89%) in summary
    >>> print(reasons([Evidence("ukraine", "Ukraine", "summary", 3109, 3116, "Ukraine", "exact")])[0])
    ukraine: “Ukraine” (exact) in summary (deep in the text)
    """

    ref: str
    texts: tuple[str, ...]
    kinds: tuple[str, ...]
    fields: tuple[str, ...]

    def __str__(self) -> str:
        texts = ", ".join(f"“{t}”" for t in self.texts)
        return f"{self.ref}: {texts} ({', '.join(self.kinds)}) in {', '.join(self.fields)}"


def reasons(evidence: Iterable[Evidence]) -> list[Reason]:
    """Evidence folded per ref, in order of first appearance (a feed repeats names a lot)."""
    grouped: dict[str, tuple[list[str], list[str], list[str]]] = {}
    for item in evidence:
        texts, kinds, fields = grouped.setdefault(item.ref, ([], [], []))
        kind = item.kind if item.kind == "exact" else f"{item.kind} {float(item.similarity):.0f}%"
        if item.kind == "transliterated":
            kind = item.kind
        # A mention past the lede weighed less in the score; say so where it was.
        where = f"{item.field} (deep in the text)" if is_deep(item) else item.field
        for values, value in (
            (texts, " ".join((item.text or item.alias).split())),
            (kinds, kind),
            (fields, where),
        ):
            if value not in values:
                values.append(value)
    return [Reason(ref, tuple(t), tuple(k), tuple(f)) for ref, (t, k, f) in grouped.items()]
