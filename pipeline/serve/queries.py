"""What the status page shows, from what the pipeline writes: pure functions.

    merge_alerts(file alerts, recorded)    -> [alert JSON]   the alerts file + the ledger's alerts
    storylines(alerts, deliveries)         -> [Storyline]     developments grouped per storyline
    delivery_rows(records)                 -> {alert id: [DeliveryRow]} in page states
    page_counts(counts, claimed)           -> {page state: n} the ledger's counts, claimed split
    dead_deliveries(dead, alerts, letters) -> [DeadDelivery]  dead rows with their reason
    feed_table(feeds, health, now)         -> [FeedView]      failing first, with history
    FeedHealthIndex(path).refresh()        the feed-health file folded, read as it grows
    scrub(text)                            -> text without secrets (URL passwords, webhooks, tokens)

Nothing here writes or opens the ledger: its rows come through the ``Ledger`` protocol
(``pipeline.serve.ledger_view``), the same on every backend. A missing file is an empty
source, never an error: the page of a run that has not written its feed health yet shows
the feed list only. A half-written or unreadable JSONL line is skipped, as ``feeds list``
skips it.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config.feeds import FeedList
from pipeline.dates import parse_time
from pipeline.ingest.feed_status import feed_rows
from pipeline.ledger.protocol import CLAIMED, DEAD, QUEUED, SENT, DeliveryRecord, RecordedAlert

UTC = dt.UTC
#: The states a person reads on the page, from the ledger's states (a claimed row that
#: failed before, or was claimed more than once, is being retried).
SENDING, RETRYING = "sending", "retrying"

_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):[^@/\s]*@", re.I)
_SECRET_PATTERNS = (
    re.compile(r"https://hooks\.slack\.com/\S+", re.I),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]+"),
    re.compile(r"(?i)\b(token|password|passwd|secret|api[_-]?key)=[^&\s]+"),
)


def scrub(text: str) -> str:
    """``text`` with URL passwords, Slack webhooks and tokens replaced by ``***``.

    >>> scrub("postgresql://sw:hunter2@db/sw failed; https://hooks.slack.com/services/T/B/x")
    'postgresql://sw:***@db/sw failed; ***'
    >>> scrub("GET https://x.test/rss?token=abc&page=2: HTTP 403")
    'GET https://x.test/rss?token=***&page=2: HTTP 403'
    """
    if not text:
        return text
    text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: f"{m[1]}=***" if m.lastindex else "***", text)
    return text


def read_jsonl_objects(path: Path | None) -> list[dict[str, Any]]:
    """Every JSON object line of ``path`` (none when it is missing); other lines skipped."""
    if path is None:
        return []
    try:
        handle = path.open(encoding="utf-8", errors="replace")
    except OSError:
        return []
    out = []
    with handle:
        for line in handle:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
    return out


def merge_alerts(
    file_alerts: Iterable[dict[str, Any]], recorded: Iterable[RecordedAlert]
) -> list[dict[str, Any]]:
    """The alerts of the alerts file and of the ledger (``recorded``, newest first: the
    ledger's payloads fill in alerts the file lacks), one per alert id, file order first,
    then the ledger's oldest first."""
    seen: dict[str, dict[str, Any]] = {}
    for obj in file_alerts:
        if obj.get("alert_id") is not None:
            seen.setdefault(str(obj["alert_id"]), obj)
    for alert in reversed(list(recorded)):
        if alert.alert_id not in seen and alert.payload.get("kind"):
            seen[alert.alert_id] = alert.payload
    return list(seen.values())


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    alert_id: str
    subscriber: str
    channel: str
    state: str  # sent, queued, sending, retrying, dead
    attempts: int
    last_error: str
    updated_at: str


def page_state(state: str, attempts: int, last_error: str) -> str:
    """The state a person reads for a ledger row.

    >>> page_state("claimed", 1, ""), page_state("claimed", 2, ""), page_state("claimed", 1, "503")
    ('sending', 'retrying', 'retrying')
    """
    if state == CLAIMED:
        return RETRYING if attempts > 1 or last_error else SENDING
    return state


@functools.lru_cache(maxsize=65536)  # records are immutable; a page re-reads the same rows
def delivery_row(record: DeliveryRecord) -> DeliveryRow:
    """A ledger row as the page shows it: its page state, its error without secrets."""
    return DeliveryRow(
        record.alert_id,
        record.subscriber,
        record.channel,
        page_state(record.state, record.attempts, record.last_error),
        record.attempts,
        scrub(record.last_error),
        record.updated_at,
    )


def delivery_rows(records: Iterable[DeliveryRecord]) -> dict[str, list[DeliveryRow]]:
    """The delivery rows by alert id, each alert's by subscriber and channel."""
    out: dict[str, list[DeliveryRow]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.subscriber, r.channel)):
        out[record.alert_id].append(delivery_row(record))
    return dict(out)


#: The order the deliveries page counts states in.
PAGE_STATES = (SENT, QUEUED, SENDING, RETRYING, DEAD)


def page_counts(counts: dict[str, int], claimed: Iterable[DeliveryRecord]) -> dict[str, int]:
    """The ledger's counts by page state: its claimed rows split into sending and retrying
    (``claimed``: those rows, as read; any the read left out stay ``claimed``).

    >>> rec = DeliveryRecord("a1", "desk", "slack", "claimed", 2, "", "")
    >>> page_counts({"sent": 3, "claimed": 2}, [rec])
    {'sent': 3, 'retrying': 1, 'claimed': 1}
    """
    split = Counter(page_state(r.state, r.attempts, r.last_error) for r in claimed)
    merged = {state: n for state, n in counts.items() if state != CLAIMED} | split
    left = counts.get(CLAIMED, 0) - sum(split.values())
    out = {state: merged[state] for state in PAGE_STATES if merged.get(state)}
    out |= {state: n for state, n in merged.items() if state not in out and n}
    if left > 0:
        out[CLAIMED] = left
    return out


@dataclass
class Development:
    development_id: str
    kind: str  # of its first alert: new_development (or coverage, burst)
    title: str
    url: str
    outlet: str
    published_at: dt.datetime
    outlets: list[str]
    coverage_count: int
    why: str
    why_new: str
    evidence: list[dict[str, Any]]
    sources: list[tuple[str, str, str]]
    alert_ids: list[str]
    deliveries: list[DeliveryRow] = field(default_factory=list)
    burst: bool = False
    rate_per_hour: float | None = None
    baseline_per_hour: float | None = None

    @property
    def anchor(self) -> str:
        return f"dev-{self.development_id}"


@dataclass
class Storyline:
    storyline_id: str
    title: str
    developments: list[Development]

    @property
    def bursts(self) -> list[Development]:
        return [d for d in self.developments if d.burst]

    @property
    def last_at(self) -> dt.datetime | None:
        return max((d.published_at for d in self.developments), default=None)

    def states(self) -> Counter[str]:
        return Counter(r.state for d in self.developments for r in d.deliveries)


def _evidence_words(evidence: Iterable[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(str(e.get("text") or e.get("alias") or "") for e in evidence))


def storylines(
    alerts: list[dict[str, Any]], deliveries: dict[str, list[DeliveryRow]]
) -> list[Storyline]:
    """Alerts grouped into developments (by development id) and storylines, newest first."""
    by_storyline: dict[str, dict[str, Development]] = defaultdict(dict)
    titles: dict[str, str] = {}
    for data in alerts:
        sid = str(data.get("storyline_id") or data.get("storyline") or "")
        published = parse_time(data.get("published_at") or data.get("published"))
        if not sid or published is None:
            continue
        titles[sid] = str(data.get("storyline_title") or titles.get(sid) or sid)
        alert_id = str(data.get("alert_id"))
        kind = str(data.get("kind") or "")
        dev_id = str(data.get("development_id") or alert_id)
        sources = [
            tuple(str(p) for p in s[:3]) for s in data.get("sources") or () if isinstance(s, list)
        ]
        outlets = [str(data.get("outlet") or "")] + [s[0] for s in sources if s]
        dev = by_storyline[sid].get(dev_id)
        if dev is None:
            dev = Development(
                development_id=dev_id,
                kind=kind,
                title=str(data.get("title") or ""),
                url=str(data.get("url") or ""),
                outlet=str(data.get("outlet") or ""),
                published_at=published,
                outlets=[],
                coverage_count=0,
                why=str(data.get("reason") or ""),
                why_new=str(data.get("why_new") or ""),
                evidence=list(data.get("evidence") or ()),
                sources=[],
                alert_ids=[],
            )
            by_storyline[sid][dev_id] = dev
        elif kind == "new_development" and dev.kind != "new_development":
            dev.kind, dev.title, dev.url = (
                kind,
                str(data.get("title") or ""),
                str(data.get("url") or ""),
            )
        dev.alert_ids.append(alert_id)
        dev.outlets = list(dict.fromkeys([*dev.outlets, *(o for o in outlets if o)]))
        dev.sources = list(dict.fromkeys([*dev.sources, *sources]))  # type: ignore[list-item]
        dev.coverage_count = max(dev.coverage_count, len(data.get("article_ids") or ()), 1)
        dev.why_new = dev.why_new or str(data.get("why_new") or "")
        if kind == "burst":
            dev.burst = True
            dev.rate_per_hour = data.get("rate_per_hour")
            dev.baseline_per_hour = data.get("baseline_per_hour")
    out = []
    for sid, devs in by_storyline.items():
        ordered = sorted(devs.values(), key=lambda d: (d.published_at, d.development_id))
        out.append(Storyline(sid, titles.get(sid, sid), ordered))
    attach_deliveries(out, deliveries)
    return sorted(out, key=lambda s: s.last_at or dt.datetime.min.replace(tzinfo=UTC), reverse=True)


def attach_deliveries(lines: Iterable[Storyline], deliveries: dict[str, list[DeliveryRow]]) -> None:
    """Give each development the delivery rows of its alerts (replacing those it had), so
    new delivery states need no new grouping of the alerts."""
    for line in lines:
        for dev in line.developments:
            dev.deliveries = [row for a in dev.alert_ids for row in deliveries.get(a, ())]


def filter_developments(
    developments: list[Development],
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    kind: str = "",
) -> list[Development]:
    """The developments published from ``since`` to ``until`` (whole UTC days) of ``kind``."""
    return [
        d
        for d in developments
        if (since is None or d.published_at.date() >= since)
        and (until is None or d.published_at.date() <= until)
        and (not kind or d.kind == kind or (kind == "burst" and d.burst))
    ]


@dataclass(frozen=True, slots=True)
class DeadDelivery:
    alert_id: str
    subscriber: str
    channel: str
    title: str
    storyline_id: str
    reason: str
    attempts: int
    at: str


def dead_deliveries(
    dead: Iterable[DeliveryRecord],
    alerts: list[dict[str, Any]],
    letters: list[dict[str, Any]],
) -> list[DeadDelivery]:
    """The ledger's dead rows (``dead``, as read now: a retried one is no longer listed),
    newest first; the reason is the ledger's, else the delivery dead-letter file's."""
    by_id = {str(a.get("alert_id")): a for a in alerts}
    reasons = {
        (str(x.get("alert_id")), str(x.get("subscriber")), str(x.get("channel"))): x
        for x in letters
    }
    out = []
    for row in map(delivery_row, dead):
        if row.state != DEAD:
            continue
        letter = reasons.get((row.alert_id, row.subscriber, row.channel), {})
        alert = by_id.get(row.alert_id, {})
        out.append(
            DeadDelivery(
                alert_id=row.alert_id,
                subscriber=row.subscriber,
                channel=row.channel,
                title=str(alert.get("title") or letter.get("title") or ""),
                storyline_id=str(alert.get("storyline_id") or alert.get("storyline") or ""),
                reason=scrub(row.last_error or str(letter.get("reason") or "")),
                attempts=row.attempts,
                at=row.updated_at,
            )
        )
    return sorted(out, key=lambda d: d.at, reverse=True)


@dataclass(frozen=True, slots=True)
class FeedView:
    feed_id: str
    name: str
    url: str
    enabled: bool
    status: str  # ok, failing, disabled, or "" (no health yet)
    consecutive_failures: int
    last_error: str
    last_success_at: str
    last_attempt_at: str
    interval_seconds: float | None
    next_due_at: str
    #: fetches that found new items, per UTC day, last ``days`` days (oldest first)
    new_per_day: list[int]
    poll_bounds: tuple[int, int]


class FeedHealthIndex:
    """The feed-health file folded as it grows: the newest line of each feed and, per feed
    and UTC day, the fetches that found new items.

    ``refresh()`` reads only the bytes appended since the last call: the file is append-only
    (``run.sinks.ReportFeedHealth``) and grows by a line per fetch, so a long run's file is
    never read twice. A file replaced or cut shorter is read again from its start; a
    half-written last line waits for the next call. Bound: one line per feed and one counter
    per (feed, day) seen. ``stamp`` changes whenever what was read changes.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._reset(None)

    def _reset(self, identity: tuple[int, int] | None) -> None:
        self._identity = identity
        self._offset = 0
        self.latest: dict[str, dict[str, Any]] = {}
        self.per_day: dict[str, Counter[dt.date]] = defaultdict(Counter)

    @property
    def stamp(self) -> tuple[Any, ...]:
        return (self._identity, self._offset)

    def refresh(self) -> FeedHealthIndex:
        if self.path is None:
            return self
        try:
            st = self.path.stat()
        except OSError:
            self._reset(None)
            return self
        identity = (st.st_dev, st.st_ino)
        if identity != self._identity or st.st_size < self._offset:
            self._reset(identity)
        if st.st_size == self._offset:
            return self
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                data = handle.read(st.st_size - self._offset)
        except OSError:
            return self
        end = data.rfind(b"\n")
        if end < 0:
            return self
        for raw in data[:end].split(b"\n"):
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if isinstance(line, dict):
                self.add(line)
        self._offset += end + 1
        return self

    def add(self, line: dict[str, Any]) -> None:
        fid = line.get("feed_id")
        if not isinstance(fid, str):
            return
        self.latest[fid] = line
        if line.get("last_outcome") == "new":
            attempt = _utc_time(line.get("last_attempt_at"))
            if attempt is not None:
                self.per_day[fid][attempt.date()] += 1


_NONE: Counter[dt.date] = Counter()


def _utc_time(value: Any) -> dt.datetime | None:
    """The pipeline's own ISO stamps parsed fast (``fromisoformat``), anything else by
    ``parse_time``."""
    if isinstance(value, str):
        try:
            t = dt.datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)
    return parse_time(value)


def feed_table(
    feeds: FeedList | None,
    health: FeedHealthIndex | Iterable[dict[str, Any]],
    *,
    now: dt.datetime,
    days: int = 7,
) -> list[FeedView]:
    """Every feed of the list (and any feed the health names that the list lacks), failing
    first (``pipeline.ingest.feed_status.feed_rows`` order), with its per-day history.
    ``health``: a ``FeedHealthIndex`` or the health lines, oldest first."""
    if not isinstance(health, FeedHealthIndex):
        index = FeedHealthIndex(None)
        for line in health:
            index.add(line)
        health = index
    latest, per_day = health.latest, health.per_day
    today = now.astimezone(UTC).date()
    window = [today - dt.timedelta(days=days - 1 - i) for i in range(days)]
    rows = feed_rows(feeds, latest) if feeds is not None else []
    listed = {r.feed_id for r in rows}
    views = []
    for r in rows:
        h = latest.get(r.feed_id, {})
        views.append(
            FeedView(
                feed_id=r.feed_id,
                name=r.name,
                url=scrub(r.url),
                enabled=r.enabled,
                status=r.status if r.enabled else "disabled",
                consecutive_failures=r.consecutive_failures,
                last_error=scrub(r.last_error),
                last_success_at=str(h.get("last_success_at") or ""),
                last_attempt_at=str(h.get("last_attempt_at") or ""),
                interval_seconds=r.interval_seconds,
                next_due_at=r.next_due_at,
                new_per_day=[per_day.get(r.feed_id, _NONE)[d] for d in window],
                poll_bounds=r.poll_seconds,
            )
        )
    for fid, h in latest.items():  # fetched by a run, since removed from the list
        if fid in listed:
            continue
        interval = h.get("interval_seconds")
        views.append(
            FeedView(
                feed_id=fid,
                name="",
                url=scrub(str(h.get("url") or "")),
                enabled=True,
                status=str(h.get("status") or ""),
                consecutive_failures=int(h.get("consecutive_failures") or 0),
                last_error=scrub(str(h.get("last_error") or "")),
                last_success_at=str(h.get("last_success_at") or ""),
                last_attempt_at=str(h.get("last_attempt_at") or ""),
                interval_seconds=float(interval) if isinstance(interval, int | float) else None,
                next_due_at=str(h.get("next_due_at") or ""),
                new_per_day=[per_day.get(fid, _NONE)[d] for d in window],
                poll_bounds=(0, 0),
            )
        )
    order = {id(v): i for i, v in enumerate(views)}
    return sorted(
        views, key=lambda v: (v.status != "failing", -v.consecutive_failures, order[id(v)])
    )


__all__ = [
    "DEAD",
    "QUEUED",
    "RETRYING",
    "SENDING",
    "SENT",
    "DeadDelivery",
    "DeliveryRow",
    "Development",
    "FeedHealthIndex",
    "FeedView",
    "Storyline",
    "attach_deliveries",
    "dead_deliveries",
    "delivery_row",
    "delivery_rows",
    "feed_table",
    "filter_developments",
    "merge_alerts",
    "page_counts",
    "read_jsonl_objects",
    "scrub",
    "storylines",
]
