"""Follow-ups: more coverage of an alerted development, as a few updates of its alert.

A syndicated copy or another outlet's report of a known development is not a new alert.
It may become a *follow-up* (an ``Alert`` of kind ``coverage``) that names every outlet
so far ("now 4 outlets: CNN, Reuters, BBC News, AP"): Slack posts it in the storyline's
thread, email puts it in the digest (``pipeline.deliver``).

Contract. Key: (storyline id, development id). State: the follow-ups already decided,
read back from the ledger (``earlier_follow_ups``: each is an alert whose payload the
ledger keeps), so a restart neither repeats nor forgets one. A coverage or duplicate
event gives a follow-up only if it names an outlet that neither the alert's lead nor
the last follow-up named, at most ``max_follow_ups_per_development`` times, and at most
one per ``min_gap_minutes`` by the covering article's ``first_seen_at`` (live: when it
was fetched; a replay of daily dumps sees a day's items at the day's end). An outlet
held back by the gap is named by the next follow-up, if one comes. The N-th follow-up of
a development has one id in every run: ``follow_up_id(storyline, development, N)``, so
the ledger sends it at most once per subscriber and channel.

Timeline (defaults 30 min, 3 follow-ups)::

    10:00 CNN      new development D                   alert
    10:05 CNN      copy of D, no new outlet            nothing
    10:10 Reuters  coverage of D                       follow-up 1: now 2 outlets: CNN, Reuters
    10:20 BBC News coverage, 10 min after follow-up 1  nothing (named by the next one)
    10:50 AP       coverage                            follow-up 2: now 4 outlets: …, BBC News, AP
    12:00 DW       coverage                            follow-up 3; after it, nothing more
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from pipeline.alert_json import BadAlert, alert_from_json
from pipeline.alerts.ids import alert_id_for
from pipeline.alerts.sentence import matched_sentence
from pipeline.deliver.wording import follow_up_line, outlets
from pipeline.records import Alert, StorylineEvent
from pipeline.storylines.tracker import COVERAGE, DUPLICATE

FOLLOW_UP_KINDS = (COVERAGE, DUPLICATE)


def follow_up_id(storyline_id: str, development_id: str, number: int) -> str:
    """Stable id (16 hex digits) of the ``number``-th follow-up of a development.

    >>> follow_up_id("starlink-ukraine-war", "3f2a", 1)
    'a8728b8433b7f18a'
    """
    return alert_id_for(storyline_id, development_id, COVERAGE, f"follow-up {number}")


def earlier_follow_ups(
    load_payload: Callable[[str], dict[str, Any] | None],
    storyline_id: str,
    development_id: str,
    *,
    max_follow_ups_per_development: int,
    known: Sequence[Alert] = (),
) -> list[Alert]:
    """The follow-ups of a development the ledger holds, first to last (read by their ids);
    ``known``: the first ones, already read (only the later ones are looked up)."""
    found: list[Alert] = list(known)
    for number in range(len(found) + 1, max_follow_ups_per_development + 1):
        payload = load_payload(follow_up_id(storyline_id, development_id, number))
        if not payload:
            break
        try:
            found.append(alert_from_json(payload))
        except BadAlert:
            break
    return found


def decide_follow_up(
    event: StorylineEvent,
    earlier: Sequence[Alert],
    *,
    storyline_titles: Mapping[str, str] | None = None,
    min_gap_minutes: float = 30.0,
    max_follow_ups_per_development: int = 3,
) -> Alert | None:
    """The next follow-up of ``event``'s development, or None (module docstring: when)."""
    if event.kind not in FOLLOW_UP_KINDS or event.article is None or not event.development_id:
        return None
    if len(earlier) >= max_follow_ups_per_development:
        return None
    article = event.article.article
    candidate = Alert(
        alert_id=follow_up_id(event.storyline_id, event.development_id, len(earlier) + 1),
        storyline_id=event.storyline_id,
        development_id=event.development_id,
        kind=COVERAGE,
        title=article.title,
        url=article.url,
        published_at=article.published_at,
        first_seen_at=article.first_seen_at,
        article_ids=(article.article_id,)
        + tuple(i for i in event.articles if i != article.article_id),
        # An update of the development's alert: its lead's score, so whoever got the
        # alert (min_score) gets its follow-ups.
        score=round(event.lead.score, 4),
        outlet=article.outlet,
        storyline_title=event.article.storyline_title
        or event.lead.storyline_title
        or (storyline_titles or {}).get(event.storyline_id, ""),
        sources=tuple(s for s in event.sources if not s[2] or s[2] != article.url),
        evidence=event.article.evidence,
        published_precision=article.published_precision,
        matched_sentence=matched_sentence(article, event.article.evidence),
    )
    named = set(outlets(earlier[-1])) if earlier else {event.lead.article.outlet}
    if not any(o not in named for o in outlets(candidate)):
        return None
    gap = dt.timedelta(minutes=min_gap_minutes)
    if earlier and article.first_seen_at - earlier[-1].first_seen_at < gap:
        return None
    return replace(candidate, reason=follow_up_line(candidate))


def follow_ups_of(events: Iterable[StorylineEvent], **policy: Any) -> list[Alert]:
    """Every follow-up of ``events`` (in their order), each decided on the ones before it:
    what ``DecideAlerts`` decides on an empty ledger, without Beam."""
    decided: dict[tuple[str, str], list[Alert]] = {}
    out = []
    for event in events:
        earlier = decided.setdefault((event.storyline_id, event.development_id), [])
        follow_up = decide_follow_up(event, earlier, **policy)
        if follow_up is not None:
            earlier.append(follow_up)
            out.append(follow_up)
    return out
