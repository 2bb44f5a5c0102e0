"""``storywatch validate``, ``match`` and ``eval``: the watchlists and the matcher, without Beam."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import sys

from pipeline.config.feeds import load_feeds
from pipeline.config.subscribers import (
    load_subscribers,
    missing_secrets,
    secret_shape_problems,
    unsubscribe_notes,
)
from pipeline.config.watchlists import ended_span_notes, load_watchlists
from pipeline.errors import UserError
from pipeline.jsonl_io import read_articles
from pipeline.match.evaluate import evaluate_matcher
from pipeline.match.matcher import Matcher, matches_to_json


def validate(args: argparse.Namespace) -> int:
    watchlists = load_watchlists(args.watchlists)
    print(
        f"{args.watchlists}: ok: {len(watchlists.entities)} entities, {len(watchlists.topics)} topics, "
        f"{len(watchlists.storylines)} storylines"
    )
    for note in ended_span_notes(watchlists, dt.datetime.now(dt.UTC).date()):
        print(f"note: {note}")
    if (feeds_file := args.watchlists / "feeds.yaml").exists():
        print(f"{feeds_file}: ok: {len(load_feeds(feeds_file).feeds)} feeds")
    if (subscribers_file := args.watchlists / "subscribers.yaml").exists():
        subscribers = load_subscribers(
            subscribers_file, storyline_ids={s.id for s in watchlists.storylines}
        )
        print(f"{subscribers_file}: ok: {len(subscribers.subscribers)} subscribers")
        notes = missing_secrets(subscribers) + secret_shape_problems(subscribers)
        for note in notes + unsubscribe_notes(subscribers):
            print(f"note: {note}")
    return 0


def match(args: argparse.Namespace) -> int:
    matcher = Matcher.from_dir(args.watchlists)
    bad = lines = 0
    if (
        args.output
        and args.output.exists()
        and args.input.exists()
        and args.output.samefile(args.input)
    ):
        raise UserError(
            f"{args.output}:1: --output is the --input file; writing it would erase the articles "
            "before they are read; pass another --output"
        )
    try:
        out = args.output.open("w", encoding="utf-8") if args.output else sys.stdout
    except OSError as exc:
        raise UserError(
            f"{args.output}:1: cannot write output ({exc.strerror}); check the path"
        ) from None
    try:
        for lineno, _, article in read_articles(args.input):
            lines += 1
            if isinstance(article, Exception):
                bad += 1
                print(f"{args.input}:{lineno}: {article}; line skipped", file=sys.stderr)
                continue
            out.write(
                json.dumps(
                    matches_to_json(article.article_id, matcher.match(article)), ensure_ascii=False
                )
                + "\n"
            )
        if out is not sys.stdout:
            out.close()
    except BrokenPipeError:  # `storywatch match ... | head`: the reader is done, not a disk problem
        raise
    except OSError as exc:  # a full disk or a vanished mount, while writing
        if out is not sys.stdout:
            with contextlib.suppress(OSError):  # the unwritten buffer fails again on close
                out.close()
        raise UserError(
            f"{args.output or '<stdout>'}:1: cannot write output ({exc.strerror}); "
            "free space or pass another --output"
        ) from None
    if not lines:  # an empty file is more likely the wrong file than a day without news
        raise UserError(
            f"{args.input}:1: no articles: the file is empty; each line must be a JSON object "
            'with at least "id" and "title"'
        )
    if bad:
        print(f"{args.input}: {bad} malformed line(s) skipped", file=sys.stderr)
    return 1 if bad else 0


def evaluate(args: argparse.Namespace) -> int:
    report = evaluate_matcher(Matcher.from_dir(args.watchlists), args.input)
    for problem in report.bad_lines:
        print(problem, file=sys.stderr)
    if not report.items:
        raise UserError(
            f"{args.input}:1: no usable labeled items; each line needs id, title and labels"
        )
    print(report.format(show_mistakes=not args.quiet))
    return 1 if report.bad_lines else 0
