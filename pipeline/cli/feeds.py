"""``storywatch feeds import`` and ``storywatch seed``: the feed list and new watchlist drafts."""

from __future__ import annotations

import argparse
import sys

from pipeline.config.feeds import import_opml
from pipeline.seed.draft import check_corpus, format_check, seed, write_draft


def feeds_import(args: argparse.Namespace) -> int:
    report = import_opml(args.opml, args.feeds_file)
    for feed in report.added:
        print(f"added {feed.url}" + (f" ({feed.name})" if feed.name else ""))
    for url in report.duplicates:
        print(f"already listed {url}")
    for note in report.skipped:
        print(f"skipped {note}", file=sys.stderr)
    print(
        f"{args.feeds_file}: {len(report.added)} added, {len(report.duplicates)} already listed, "
        f"{len(report.skipped)} skipped"
    )
    return 0


def draft_watchlist(args: argparse.Namespace) -> int:
    draft, text, out = seed(
        args.file, watchlists_dir=args.watchlists, out=args.out, background_dir=args.background
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
