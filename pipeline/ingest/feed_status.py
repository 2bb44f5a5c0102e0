"""Each feed's current state: the feed list joined with the latest feed-health line per feed.

    latest_feed_health(path) -> {feed id: the newest health line (dict)}
    feed_rows(feeds, health) -> [FeedRow], failing feeds first, then in list order
    format_feed_rows(rows) -> str   the table `storywatch feeds list` prints

The feed-health file is what ``storywatch run`` appends, one JSON line per fetch attempt
(``run.sinks.ReportFeedHealth``); a missing file means no health (a list of feeds only),
and an unreadable line is skipped, as a half-written last line is while a run writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config.feeds import FeedList
from pipeline.deliver.file_sink import printable

#: The longest last error shown in one table cell.
ERROR_CHARS = 80


def latest_feed_health(path: Path | str) -> dict[str, dict[str, Any]]:
    """The last health line of each feed in ``path`` (empty when there is no file)."""
    latest: dict[str, dict[str, Any]] = {}
    try:
        handle = Path(path).open(encoding="utf-8", errors="replace")
    except OSError:
        return latest
    with handle:
        for line in handle:
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and isinstance(row.get("feed_id"), str):
                latest[row["feed_id"]] = row
    return latest


@dataclass(frozen=True, slots=True)
class FeedRow:
    feed_id: str
    name: str
    url: str
    enabled: bool
    poll_seconds: tuple[int, int]
    tags: tuple[str, ...]
    status: str  # ok, failing, or "" (no health yet)
    consecutive_failures: int
    last_error: str
    next_due_at: str
    interval_seconds: float | None


def feed_rows(feeds: FeedList, health: dict[str, dict[str, Any]]) -> list[FeedRow]:
    """One row per feed of the list, failing feeds first (most failures first).

    >>> from pipeline.config.feeds import Feed
    >>> fl = FeedList(feeds=[Feed(url="https://a.example/rss", id="a"),
    ...                      Feed(url="https://b.example/rss", id="b", enabled=False)])
    >>> [(r.feed_id, r.status) for r in feed_rows(fl, {"b": {"status": "failing",
    ...     "consecutive_failures": 4, "last_error": "HTTP 503"}})]
    [('b', 'failing'), ('a', '')]
    """
    rows = []
    for feed in feeds.feeds:
        h = health.get(feed.feed_id, {})
        low = feed.min_poll_seconds or feeds.defaults.min_poll_seconds
        high = feed.max_poll_seconds or feeds.defaults.max_poll_seconds
        interval = h.get("interval_seconds")
        rows.append(
            FeedRow(
                feed_id=feed.feed_id,
                name=feed.name,
                url=feed.url,
                enabled=feed.enabled,
                poll_seconds=(low, high),
                tags=tuple(feed.tags),
                status=str(h.get("status") or ""),
                consecutive_failures=int(h.get("consecutive_failures") or 0),
                last_error=str(h.get("last_error") or ""),
                next_due_at=str(h.get("next_due_at") or ""),
                interval_seconds=float(interval) if isinstance(interval, int | float) else None,
            )
        )
    order = {id(r): i for i, r in enumerate(rows)}
    return sorted(
        rows, key=lambda r: (r.status != "failing", -r.consecutive_failures, order[id(r)])
    )


def format_feed_rows(rows: list[FeedRow]) -> str:
    """A plain-text table, one feed a line; feed text is made printable (no escapes)."""
    header = (
        "ID",
        "STATE",
        "POLL s",
        "EVERY s",
        "FAILURES",
        "NEXT POLL",
        "NAME / URL",
        "LAST ERROR",
    )
    table = [header]
    for r in rows:
        state = "disabled" if not r.enabled else (r.status or "-")
        error = printable(r.last_error)
        table.append(
            (
                r.feed_id,
                state,
                f"{r.poll_seconds[0]}-{r.poll_seconds[1]}",
                f"{r.interval_seconds:.0f}" if r.interval_seconds is not None else "-",
                str(r.consecutive_failures) if r.status else "-",
                r.next_due_at[:19].replace("T", " ") or "-",
                printable(r.name or r.url),
                error if len(error) <= ERROR_CHARS else error[: ERROR_CHARS - 1] + "…",
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True))
        + "  "
        + row[-1]
        for row in table
    ).rstrip()
