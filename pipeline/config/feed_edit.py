"""Edits of the feed list that keep the file a person wrote: disable, enable, remove.

    set_enabled(path, selector, enabled=False) -> Feed     # `storywatch feeds disable|enable`
    remove_feed(path, selector) -> Feed                     # `storywatch feeds remove`
    find_feed(feeds, selector) -> int                       # which entry a selector names

A selector is a feed's id (its ``id:``, or the derived ``host-hash`` that ``feeds list``
shows) or its URL (compared as ``feed_url_key`` does: scheme, case of host, ``www.``,
trailing slash, tracking parameters). The file is edited with ruamel.yaml's round trip, so comments, order and layout
stay; the result is checked with ``load_feeds`` before it replaces the file (write, then
rename), so an edit never leaves a broken feed list. A running ``storywatch run`` picks the
change up within ``--reload_interval_seconds``: a disabled or removed feed stops being
polled, an enabled one starts.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from pipeline.config.feeds import Feed, FeedList, feed_url_key, load_feeds
from pipeline.errors import UserError


def find_feed(feeds: FeedList, selector: str) -> int:
    """The index of the feed ``selector`` names; UserError naming the choices if none."""
    wanted = selector.strip()
    for index, feed in enumerate(feeds.feeds):
        if wanted == feed.feed_id:
            return index
    if "://" in wanted:
        key = feed_url_key(wanted)
        for index, feed in enumerate(feeds.feeds):
            if feed_url_key(feed.url) == key:
                return index
    raise UserError(
        f"no feed '{selector}' in the feed list; give an id or URL as `storywatch feeds list` "
        "shows them"
    )


def set_enabled(path: Path | str, selector: str, *, enabled: bool) -> Feed:
    """Mark one feed ``enabled: false`` (or remove the mark); returns the feed as it is now."""

    def change(entry: Any) -> None:
        if enabled:
            entry.pop("enabled", None)
        else:
            entry["enabled"] = False

    return _edit(path, selector, change)


def remove_feed(path: Path | str, selector: str) -> Feed:
    """Delete one feed's entry; returns the feed that was removed."""
    return _edit(path, selector, None)


def _edit(path: Path | str, selector: str, change: Any) -> Feed:
    path = Path(path)
    feeds = load_feeds(path)  # a broken file is reported as it is, before any edit
    index = find_feed(feeds, selector)
    yaml = YAML()  # round trip: comments and layout are kept
    yaml.preserve_quotes = True
    yaml.width = 4096
    # `  - url: …`, as the shipped list and OPML import write
    yaml.indent(mapping=2, sequence=4, offset=2)
    document = yaml.load(path.read_text(encoding="utf-8"))
    entries = document["feeds"]
    feed = feeds.feeds[index]
    if change is None:
        del entries[index]
    else:
        change(entries[index])
    out = io.StringIO()
    yaml.dump(document, out)
    text = out.getvalue()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".feeds-", suffix=".yaml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        edited = load_feeds(tmp)  # never leave a feed list that does not load
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return feed if change is None else edited.feeds[index]
