"""``storywatch feeds import|list|disable|enable|remove`` and ``storywatch seed``: the feed list and
new watchlist drafts."""

from __future__ import annotations

import argparse
import sys

from pipeline.config.feed_edit import remove_feed, set_enabled
from pipeline.config.feeds import Feed, load_feeds
from pipeline.config.opml import import_opml
from pipeline.ingest.feed_status import feed_rows, format_feed_rows, latest_feed_health
from pipeline.seed.draft import check_corpus, format_check, seed, write_draft


def feeds_import(args: argparse.Namespace) -> int:
    report = import_opml(args.opml, args.feeds_file)
    for feed in report.added:
        print(f"added {feed.url}" + (f" ({feed.name})" if feed.name else ""))
    for url in report.duplicates:
        print(f"already listed {url}")
    for note in report.skipped:
        print(f"skipped {note}", file=sys.stderr)
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    print(
        f"{args.feeds_file}: {len(report.added)} added, {len(report.duplicates)} already listed, "
        f"{len(report.skipped)} skipped"
    )
    return 0


def draft_watchlist(args: argparse.Namespace) -> int:
    draft, text, out = seed(
        args.file,
        watchlists_dir=args.watchlists,
        out=args.out,
        background_dir=args.background,
        language=args.language,
        date=args.date,
    )
    if not args.date and not draft.article.date:
        print(
            f"note: {args.file} shows no date, so its storylines follow the story from today "
            "(published_from/published_until in the draft); pass --date YYYY-MM-DD for an "
            "older story",
            file=sys.stderr,
        )
    check = None
    if args.check or args.check_feeds:
        result = check_corpus(
            text, draft, args.watchlists, labeled=args.check, feeds=args.check_feeds
        )
        check = format_check(result, draft, labeled=args.check, feeds=args.check_feeds)
    if args.dry_run:
        sys.stdout.write(text)
        if check:  # as YAML comments, so the output stays a loadable draft
            print("\n".join(f"# {line}".rstrip() for line in ["", *check.splitlines()]))
        return 0
    write_draft(out, text)
    print(
        f"{out}: {len(draft.entities)} entities ({len(draft.new_entities)} new), "
        f"{sum(1 for s in draft.storylines if s.topic_id)} topics, {len(draft.storylines)} storylines; "
        f"review it, then move it into {args.watchlists}/ to keep it"
    )
    if check:
        print(check)
    return 0


def feeds_list(args: argparse.Namespace) -> int:
    feeds = load_feeds(args.feeds_file)
    health = latest_feed_health(args.feed_health)
    rows = feed_rows(feeds, health)
    print(format_feed_rows(rows))
    failing = sum(1 for r in rows if r.status == "failing")
    disabled = sum(1 for r in rows if not r.enabled)
    print(
        f"{args.feeds_file}: {len(rows)} feeds, {disabled} disabled"
        + (f", {failing} failing (from {args.feed_health})" if health else "")
    )
    return 0


def _edited(args: argparse.Namespace, what: str, feed: Feed) -> int:
    print(f"{args.feeds_file}: {what} {feed.feed_id} ({feed.url})")
    return 0


def feeds_disable(args: argparse.Namespace) -> int:
    return _edited(args, "disabled", set_enabled(args.feeds_file, args.feed, enabled=False))


def feeds_enable(args: argparse.Namespace) -> int:
    return _edited(args, "enabled", set_enabled(args.feeds_file, args.feed, enabled=True))


def feeds_remove(args: argparse.Namespace) -> int:
    return _edited(args, "removed", remove_feed(args.feeds_file, args.feed))
