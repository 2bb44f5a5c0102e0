"""The ``storywatch`` command line.

Each sub-command parses its flags here and calls into the module that owns the work;
imports are lazy so that ``storywatch validate`` does not pay for importing Beam.
User mistakes raise ``UserError`` and are printed without a traceback (exit 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.errors import UserError

DEFAULT_WATCHLISTS = Path("watchlists")


def _add_watchlists(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--watchlists",
        type=Path,
        default=DEFAULT_WATCHLISTS,
        metavar="DIR",
        help="directory of watchlist YAML files (default: %(default)s)",
    )


# --- watchlists ----------------------------------------------------------------------


def _cmd_validate(args: argparse.Namespace) -> int:
    from pipeline.config.watchlists import load_watchlists

    watchlists = load_watchlists(args.watchlists)
    print(
        f"{args.watchlists}: ok: {len(watchlists.entities)} entities, {len(watchlists.topics)} topics, "
        f"{len(watchlists.storylines)} storylines"
    )
    if (feeds_file := args.watchlists / "feeds.yaml").exists():
        from pipeline.config.feeds import load_feeds

        print(f"{feeds_file}: ok: {len(load_feeds(feeds_file).feeds)} feeds")
    if (subscribers_file := args.watchlists / "subscribers.yaml").exists():
        from pipeline.config.subscribers import load_subscribers, missing_secrets

        subscribers = load_subscribers(
            subscribers_file, storyline_ids={s.id for s in watchlists.storylines}
        )
        print(f"{subscribers_file}: ok: {len(subscribers.subscribers)} subscribers")
        for note in missing_secrets(subscribers):
            print(f"note: {note}")
    return 0


def _cmd_match(args: argparse.Namespace) -> int:
    import contextlib
    import json

    from pipeline.jsonl_io import read_articles
    from pipeline.match.matcher import Matcher, matches_to_json

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


def _cmd_eval(args: argparse.Namespace) -> int:
    from pipeline.match.evaluate import evaluate_matcher
    from pipeline.match.matcher import Matcher

    report = evaluate_matcher(Matcher.from_dir(args.watchlists), args.input)
    for problem in report.bad_lines:
        print(problem, file=sys.stderr)
    if not report.items:
        raise UserError(
            f"{args.input}:1: no usable labeled items; each line needs id, title and labels"
        )
    print(report.format(show_mistakes=not args.quiet))
    return 1 if report.bad_lines else 0


# --- pipeline ------------------------------------------------------------------------

PIPELINE_OPTIONS_HELP = """pipeline options (pipeline/run/options.py; also any Beam option, e.g. --runner):
  --feeds_file=watchlists/feeds.yaml   --poll_interval_seconds=60   --run_duration_seconds=N
  --ledger=build/ledger.sqlite   --alerts_out=build/alerts.jsonl   --subscribers=FILE.yaml
  --dead_letter_out=build/dead-letters.jsonl   --console_alerts=true   --coverage_alerts=false
  --coverage_window_hours=48   --duplicate_horizon_hours=720   --burst_window_hours=2
  --burst_min_articles=5   --burst_factor=4   --host_gap_seconds=5
  --feed_health_out=build/feed-health.jsonl   --failing_feed_after_failures=3
  --max_article_age_hours=H (default 72 for run, off for replay; 0 = off)
  --secret_env=VAR=projects/P/secrets/S,... (subscriber secrets from Secret Manager, by reference)"""


def _cmd_run(args: argparse.Namespace, beam_args: list[str]) -> int:
    from pipeline.run.runner import run_live

    return run_live(beam_args, watchlists_dir=str(args.watchlists))


def _cmd_replay(args: argparse.Namespace, beam_args: list[str]) -> int:
    from pipeline.run.runner import run_replay

    run_replay(
        beam_args,
        feeds=args.feeds,
        articles=args.input,
        alerts_out=args.alerts_out,
        watchlists_dir=str(args.watchlists),
    )
    return 0


def _cmd_eval_alerts(args: argparse.Namespace) -> int:
    from pipeline.storylines.evaluate import evaluate_file

    print(evaluate_file(args.input, watchlists_dir=args.watchlists))
    return 0


# --- feeds and seeds -----------------------------------------------------------------


def _cmd_feeds_import(args: argparse.Namespace) -> int:
    from pipeline.config.feeds import import_opml

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


def _cmd_seed(args: argparse.Namespace) -> int:
    from pipeline.seed.draft import check_corpus, format_check, seed, write_draft

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


def _cmd_deliver(args: argparse.Namespace) -> int:
    from pipeline.deliver.command import DEFAULT_SUBSCRIBERS, deliver_file

    subscribers = args.subscribers
    if subscribers is None and DEFAULT_SUBSCRIBERS.exists():
        subscribers = DEFAULT_SUBSCRIBERS
    return deliver_file(
        args.alerts,
        subscribers_file=subscribers,
        ledger_url=args.ledger,
        alerts_out=args.alerts_out,
        dead_letter_out=args.dead_letter,
        console=args.console,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="storywatch", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check watchlist files; exit 2 with FILE:LINE problems")
    _add_watchlists(p)
    p.set_defaults(handler=_cmd_validate)

    p = sub.add_parser(
        "deliver", help="deliver an alerts JSONL file to the subscribers (once each)"
    )
    p.add_argument("--alerts", type=Path, required=True, metavar="ALERTS.jsonl")
    p.add_argument(
        "--subscribers",
        type=Path,
        metavar="FILE",
        help="subscribers YAML (default: watchlists/subscribers.yaml if present)",
    )
    p.add_argument(
        "--ledger",
        default="build/ledger.sqlite",
        metavar="PATH",
        help="delivery ledger, a SQLite file (default: %(default)s)",
    )
    p.add_argument(
        "--alerts-out", type=Path, metavar="OUT.jsonl", help="also write each alert here, once"
    )
    p.add_argument(
        "--dead-letter",
        type=Path,
        metavar="DEAD.jsonl",
        help="permanent failures (default: delivery-dead-letters.jsonl next to the ledger)",
    )
    p.add_argument("--console", action="store_true", help="print each alert on standard output")
    p.set_defaults(handler=_cmd_deliver)

    p = sub.add_parser("match", help="match articles (JSONL) against the watchlists")
    p.add_argument("--input", type=Path, required=True, metavar="ARTICLES.jsonl")
    p.add_argument("--output", type=Path, metavar="OUT.jsonl", help="default: standard output")
    _add_watchlists(p)
    p.set_defaults(handler=_cmd_match)

    p = sub.add_parser("eval", help="precision/recall/F1 of the matcher on labeled JSONL")
    p.add_argument("--input", type=Path, required=True, metavar="LABELED.jsonl")
    p.add_argument("--quiet", action="store_true", help="print only the scores, not the mistakes")
    _add_watchlists(p)
    p.set_defaults(handler=_cmd_eval)

    p = sub.add_parser(
        "run",
        help="poll the feed list live and alert until interrupted",
        epilog=PIPELINE_OPTIONS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_watchlists(p)
    p.set_defaults(handler=_cmd_run, beam=True)

    p = sub.add_parser(
        "replay",
        help="run the pipeline over recorded feeds or articles",
        epilog=PIPELINE_OPTIONS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--feeds", type=Path, metavar="DIR", help="folder of recorded feed files")
    source.add_argument("--input", type=Path, metavar="ARTICLES.jsonl", help="recorded articles")
    p.add_argument("--alerts-out", type=Path, metavar="ALERTS.jsonl")
    _add_watchlists(p)
    p.set_defaults(handler=_cmd_replay, beam=True)

    p = sub.add_parser(
        "eval-alerts", help="alert precision, development recall and duplicate alerts"
    )
    p.add_argument("--input", type=Path, required=True, metavar="LABELED.jsonl")
    _add_watchlists(p)
    p.set_defaults(handler=_cmd_eval_alerts)

    p = sub.add_parser("feeds", help="manage the feed list")
    feeds_sub = p.add_subparsers(dest="feeds_command", required=True, metavar="ACTION")
    q = feeds_sub.add_parser("import", help="import an OPML file into the feed list")
    q.add_argument("opml", type=Path, metavar="FILE.opml")
    q.add_argument("--feeds-file", type=Path, default=DEFAULT_WATCHLISTS / "feeds.yaml")
    q.set_defaults(handler=_cmd_feeds_import)

    p = sub.add_parser("seed", help="draft a watchlist from one seed article")
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--out", type=Path, metavar="DRAFT.yaml")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--check", type=Path, metavar="LABELED.jsonl")
    p.add_argument("--check-feeds", type=Path, metavar="DIR")
    p.add_argument(
        "--background",
        type=Path,
        metavar="DIR",
        help="recorded feeds used as ordinary-news background (default: the bundled feeds)",
    )
    _add_watchlists(p)
    p.set_defaults(handler=_cmd_seed)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "beam", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if getattr(args, "beam", False):
            return args.handler(args, extra)
        return args.handler(args)
    except UserError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (`| head`): stop quietly, and point stdout
        # at /dev/null so the interpreter's final flush does not complain about it.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
