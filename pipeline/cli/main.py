"""The storywatch command line: the parser of every command, dispatch and error handling.

The commands live in one module per group (``watchlists``, ``feeds``, ``deliver``,
``pipeline``); this module declares their flags and imports a group only when one of its
commands runs, so ``--help``, ``--version`` and ``validate`` never import Beam (the
``pipeline`` group and, through the feed parser, ``seed`` do). ``run --help`` and
``replay --help`` list the pipeline options from ``StorywatchOptions`` itself.

User mistakes raise ``UserError`` and are printed without a traceback (exit 2); Ctrl-C
exits 130; a closed output pipe (``| head``) exits 1 quietly.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from pipeline.errors import UserError

DESCRIPTION = (
    "Watch news feeds for storylines: match articles against watchlists, group syndicated "
    "copies into developments and alert subscribers once per development."
)
DEFAULT_WATCHLISTS = Path("watchlists")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Shown above the pipeline options in `run --help` and `replay --help`.
PIPELINE_OPTIONS_DESCRIPTION = (
    "Options of the Beam pipeline (pipeline/run/options.py), as --name=value; each is also "
    "accepted in Beam's underscore spelling. Any Beam option is accepted too, in Beam's "
    "spelling, e.g. --runner=DataflowRunner (default: FnApiRunner)."
)


def _group(module: str) -> ModuleType:
    """``pipeline.cli.<module>``, the commands of one group."""
    # lazy: a group imports its stages when one of its commands runs (Beam takes ~2 s)
    return importlib.import_module(f"pipeline.cli.{module}")


def _add_ledger_argument(
    parser: argparse.ArgumentParser,
    *,
    help_text: str = "alert/delivery ledger: a SQLite file or postgresql://… (docs/ledger.md)",
) -> None:
    """The one --ledger option of the commands that open the ledger themselves."""
    parser.add_argument(
        "--ledger", default="build/ledger.sqlite", metavar="PATH|URL", help=help_text
    )


def _command(module: str, function: str) -> Callable[..., int]:
    """The handler ``function`` of group ``module``, imported when the command runs."""

    def handler(*args: object) -> int:
        exit_code: int = getattr(_group(module), function)(*args)
        return exit_code

    return handler


class HelpFormatter(argparse.HelpFormatter):
    """``--poll-interval-seconds, --poll_interval_seconds N``: the metavar once, and defaults."""

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if not action.option_strings or action.nargs == 0:
            return super()._format_action_invocation(action)
        metavar = self._format_args(action, self._get_default_metavar_for_optional(action))
        return f"{', '.join(action.option_strings)} {metavar}"

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            or not action.option_strings
            or action.nargs == 0
            or action.default in (None, argparse.SUPPRESS)
        ):
            return text
        return f"{text} (default: %(default)s)"


class PipelineHelp(argparse.Action):
    """``-h/--help`` of ``run`` and ``replay``: the command's flags, then every pipeline option."""

    def __init__(
        self, option_strings: list[str], dest: str, *, skip: frozenset[str], note: str = ""
    ) -> None:
        super().__init__(
            option_strings,
            dest=argparse.SUPPRESS,
            default=argparse.SUPPRESS,
            nargs=0,
            help="show this help, with every pipeline option, and exit",
        )
        self.skip = skip
        self.note = note

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        description = f"{PIPELINE_OPTIONS_DESCRIPTION} {self.note}".strip()
        group = parser.add_argument_group("pipeline options", description)
        _group("pipeline").add_pipeline_options(group, skip=self.skip)
        parser.print_help()
        parser.exit()


def _version() -> str:
    try:
        return importlib.metadata.version("storywatch")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        return "unknown (not installed)"


def _logging_flags() -> argparse.ArgumentParser:
    """-v and --log-level, accepted before the command and after it."""
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="log more: -v logs INFO, -vv DEBUG (the default level is WARNING)",
    )
    flags.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default=argparse.SUPPRESS,
        metavar="LEVEL",
        help=f"log level, one of {', '.join(LOG_LEVELS)} (overrides -v; default: WARNING)",
    )
    flags.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=argparse.SUPPRESS,
        help="text (the default), or json: one JSON object per log record on standard error "
        "(time, level, logger, message), for a log collector",
    )
    return flags


def _add_feeds_file(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--feeds-file",
        type=Path,
        default=DEFAULT_WATCHLISTS / "feeds.yaml",
        metavar="FEEDS.yaml",
        help="the feed list",
    )


def _add_watchlists(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--watchlists",
        type=Path,
        default=DEFAULT_WATCHLISTS,
        metavar="DIR",
        help="directory of watchlist YAML files",
    )


def build_parser() -> argparse.ArgumentParser:
    logging_flags = _logging_flags()
    parser = argparse.ArgumentParser(
        prog="storywatch",
        description=DESCRIPTION,
        epilog="`storywatch COMMAND --help` lists the flags of a command.",
        formatter_class=HelpFormatter,
        parents=[logging_flags],
    )
    parser.add_argument("--version", action="version", version=f"storywatch {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add_command(name: str, help_text: str, **kwargs: Any) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help_text,
            description=help_text[0].upper() + help_text[1:] + ".",
            formatter_class=HelpFormatter,
            parents=[logging_flags],
            **kwargs,
        )

    # --- watchlists ------------------------------------------------------------------
    p = add_command("validate", "check watchlist files; exit 2 with FILE:LINE problems")
    _add_watchlists(p)
    p.set_defaults(handler=_command("watchlists", "validate"))

    p = add_command("match", "match articles (JSONL) against the watchlists")
    p.add_argument(
        "--input", type=Path, required=True, metavar="ARTICLES.jsonl", help="articles to match"
    )
    p.add_argument(
        "--output",
        type=Path,
        metavar="OUT.jsonl",
        help="where to write one line of matches per article (default: standard output)",
    )
    _add_watchlists(p)
    p.set_defaults(handler=_command("watchlists", "match"))

    p = add_command("eval", "precision/recall/F1 of the matcher on labeled JSONL")
    p.add_argument(
        "--input", type=Path, required=True, metavar="LABELED.jsonl", help="labeled articles"
    )
    p.add_argument("--quiet", action="store_true", help="print only the scores, not the mistakes")
    _add_watchlists(p)
    p.set_defaults(handler=_command("watchlists", "evaluate"))

    # --- pipeline (Beam) -------------------------------------------------------------
    p = add_command(
        "run",
        "poll the feed list live and alert until interrupted",
        add_help=False,
    )
    p.add_argument("-h", "--help", action=PipelineHelp, skip=frozenset({"watchlists"}))
    _add_watchlists(p)
    p.add_argument(
        "--metrics-port",
        "--metrics_port",
        dest="metrics_port",
        type=int,
        metavar="PORT",
        help="serve Prometheus metrics at http://HOST:PORT/metrics (0: a free port, named at "
        "start); local runner only",
    )
    p.add_argument(
        "--metrics-bind-host",
        "--metrics_bind_host",
        dest="metrics_bind_host",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="address the metrics server binds to (default 127.0.0.1: loopback only)",
    )
    p.add_argument(
        "--stop-timeout-seconds",
        "--stop_timeout_seconds",
        dest="stop_timeout_seconds",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="on Ctrl-C or SIGTERM, how long sends in progress get to finish before the run "
        "exits (default 5; a second Ctrl-C stops at once; unsent alerts stay in the ledger)",
    )
    p.set_defaults(handler=_command("pipeline", "run"), beam=True)

    p = add_command(
        "replay",
        "run the pipeline over recorded feeds or articles",
        add_help=False,
    )
    p.add_argument(
        "-h",
        "--help",
        action=PipelineHelp,
        # replay sets these from its own flags
        skip=frozenset({"watchlists", "alerts_out", "replay_feeds", "replay_articles"}),
        note="A replay starts from a new temporary ledger unless --ledger is given, writes "
        "dead letters beside the alerts file and prints no console alerts by default.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--feeds", type=Path, metavar="DIR", help="folder of recorded feed files")
    source.add_argument("--input", type=Path, metavar="ARTICLES.jsonl", help="recorded articles")
    p.add_argument(
        "--alerts-out",
        "--alerts_out",
        dest="alerts_out",
        type=Path,
        metavar="ALERTS.jsonl",
        help="also write the alerts here, sorted (default: a temporary file)",
    )
    _add_watchlists(p)
    p.set_defaults(handler=_command("pipeline", "replay"), beam=True)

    p = add_command("eval-alerts", "alert precision, development recall and duplicate alerts")
    p.add_argument(
        "--input", type=Path, required=True, metavar="LABELED.jsonl", help="labeled articles"
    )
    _add_watchlists(p)
    p.set_defaults(handler=_command("pipeline", "eval_alerts"))

    # --- feeds and seeds -------------------------------------------------------------
    p = add_command("feeds", "manage the feed list")
    feeds_sub = p.add_subparsers(dest="feeds_command", required=True, metavar="ACTION")
    q = feeds_sub.add_parser(
        "import",
        help="import an OPML file into the feed list",
        description="Import an OPML file into the feed list.",
        formatter_class=HelpFormatter,
        parents=[logging_flags],
    )
    q.add_argument("opml", type=Path, metavar="FILE.opml", help="OPML export of a feed reader")
    q.add_argument(
        "--feeds-file",
        type=Path,
        default=DEFAULT_WATCHLISTS / "feeds.yaml",
        metavar="FEEDS.yaml",
        help="feed list to add the feeds to",
    )
    q.set_defaults(handler=_command("feeds", "feeds_import"))
    q = feeds_sub.add_parser(
        "list",
        help="every feed with its poll bounds, tags and, from the feed-health file, its state",
        description="List the feed list's feeds: id, enabled, poll bounds, tags, name and URL; "
        "with a feed-health file (what `storywatch run` writes), also status, failures in a "
        "row, last error and next poll. Failing feeds first.",
        formatter_class=HelpFormatter,
        parents=[logging_flags],
    )
    _add_feeds_file(q)
    q.add_argument(
        "--feed-health",
        type=Path,
        default=Path("build/feed-health.jsonl"),
        metavar="HEALTH.jsonl",
        help="feed-health lines written by `storywatch run` (skipped when the file is missing)",
    )
    q.set_defaults(handler=_command("feeds", "feeds_list"))
    for action, verb in (
        ("disable", "keep a feed in the list but stop polling it"),
        ("enable", "poll a disabled feed again"),
        ("remove", "delete a feed from the list"),
    ):
        q = feeds_sub.add_parser(
            action,
            help=verb,
            description=f"{verb[0].upper()}{verb[1:]}. The file keeps its comments and layout; "
            "a running `storywatch run` applies it within --reload-interval-seconds.",
            formatter_class=HelpFormatter,
            parents=[logging_flags],
        )
        q.add_argument(
            "feed", metavar="ID|URL", help="the feed's id (as `feeds list` shows) or URL"
        )
        _add_feeds_file(q)
        q.set_defaults(handler=_command("feeds", f"feeds_{action}"))

    p = add_command("seed", "draft a watchlist from one seed article")
    p.add_argument("file", type=Path, metavar="FILE", help="the seed article, as plain text")
    p.add_argument(
        "--out",
        type=Path,
        metavar="DRAFT.yaml",
        help="where to write the draft (default: a new file named after the article)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the draft instead of writing it")
    p.add_argument(
        "--check",
        type=Path,
        metavar="LABELED.jsonl",
        help="also score the draft on these labeled articles",
    )
    p.add_argument(
        "--check-feeds",
        type=Path,
        metavar="DIR",
        help="also report what the draft matches in this folder of recorded feeds",
    )
    p.add_argument(
        "--background",
        type=Path,
        metavar="DIR",
        help="recorded feeds used as ordinary-news background (default: the bundled feeds)",
    )
    p.add_argument(
        "--language",
        choices=("en", "de", "fr", "es"),
        help="the article's language (default: detected from its text)",
    )
    p.add_argument(
        "--date",
        metavar="YYYY-MM-DD",
        help="when the story is news (YYYY-MM-DD or YYYY-MM); the draft follows it for a year, "
        "two for a takeover, talks or a war (default: the article's date, else today)",
    )
    _add_watchlists(p)
    p.set_defaults(handler=_command("feeds", "draft_watchlist"))

    # --- delivery --------------------------------------------------------------------
    p = add_command("deliver", "deliver an alerts JSONL file to the subscribers (once each)")
    p.add_argument(
        "--alerts",
        type=Path,
        metavar="ALERTS.jsonl",
        help="alerts to deliver (required unless --retry-dead)",
    )
    p.add_argument(
        "--retry-dead",
        action="store_true",
        help="queue every dead delivery of the ledger again and send it (after fixing a webhook)",
    )
    p.add_argument(
        "--subscribers",
        type=Path,
        metavar="FILE",
        help="subscribers YAML (default: watchlists/subscribers.yaml if present)",
    )
    _add_ledger_argument(
        p,
        help_text="delivery ledger: a SQLite file, or postgresql://USER:PASSWORD@HOST:PORT/DB "
        "shared by several workers (docs/ledger.md)",
    )
    p.add_argument(
        "--alerts-out", type=Path, metavar="OUT.jsonl", help="also write each alert here, once"
    )
    p.add_argument(
        "--dead-letter-out",
        "--dead-letter",
        dest="dead_letter_out",
        type=Path,
        metavar="DEAD.jsonl",
        help="permanent failures (default: delivery-dead-letters.jsonl next to the ledger)",
    )
    p.add_argument("--console", action="store_true", help="print each alert on standard output")
    p.set_defaults(handler=_command("deliver", "deliver"))

    p = add_command("subscribers", "subscriber commands: test NAME")
    subscribers_sub = p.add_subparsers(dest="subscribers_command", required=True, metavar="ACTION")
    q = subscribers_sub.add_parser(
        "test",
        help="send one test message on each channel of subscriber NAME and say what happened",
        description="Send one test message on each channel (Slack webhook or bot, email) of "
        "one subscriber and report per channel what happened. Nothing is recorded in the ledger.",
        formatter_class=HelpFormatter,
        parents=[logging_flags],
    )
    q.add_argument("name", metavar="NAME", help="the subscriber's name in the subscribers file")
    q.add_argument(
        "--subscribers",
        type=Path,
        metavar="FILE",
        help="subscribers YAML (default: watchlists/subscribers.yaml)",
    )
    q.set_defaults(handler=_command("deliver", "subscribers_test"))

    p = add_command("mute", "mute a storyline's or development's alerts (kept in the ledger)")
    p.add_argument("target", nargs="?", metavar="STORYLINE|DEVELOPMENT", help="the id to mute")
    p.add_argument(
        "--for",
        dest="duration",
        metavar="DURATION",
        help="how long, e.g. 30m, 24h, 7d (default: until `storywatch unmute`)",
    )
    p.add_argument("--list", action="store_true", help="list the active mutes")
    _add_ledger_argument(p)
    p.set_defaults(handler=_command("deliver", "mute"))

    p = add_command("unmute", "deliver a muted storyline's or development's alerts again")
    p.add_argument("target", metavar="STORYLINE|DEVELOPMENT", help="the id to unmute")
    _add_ledger_argument(p)
    p.set_defaults(handler=_command("deliver", "unmute"))

    # --- status page -----------------------------------------------------------------
    p = add_command("serve", "serve the status page: storylines, feeds, deliveries, preview")
    _add_ledger_argument(p)
    p.add_argument(
        "--alerts",
        type=Path,
        default=Path("build/alerts.jsonl"),
        metavar="ALERTS.jsonl",
        help="alerts file (the ledger's alerts are shown too)",
    )
    p.add_argument(
        "--feed-health",
        type=Path,
        default=Path("build/feed-health.jsonl"),
        metavar="HEALTH.jsonl",
        help="feed-health lines written by `storywatch run`",
    )
    p.add_argument(
        "--dead-letters",
        type=Path,
        default=Path("build/dead-letters.jsonl"),
        metavar="DEAD.jsonl",
        help="the run's dead letters (every stage's permanent failures)",
    )
    p.add_argument(
        "--delivery-dead-letters",
        type=Path,
        metavar="DEAD.jsonl",
        help="failed deliveries' file (default: delivery-dead-letters.jsonl beside the ledger)",
    )
    _add_feeds_file(p)
    p.add_argument(
        "--subscribers",
        type=Path,
        metavar="FILE",
        help="subscribers YAML: with it, Retry sends a dead delivery at once (default: it is "
        "queued for the running pipeline)",
    )
    p.add_argument(
        "--preview-feeds",
        type=Path,
        action="append",
        default=None,
        metavar="DIR",
        help="recorded feeds the preview matches a draft against (repeatable; default: seeds/feeds)",
    )
    _add_watchlists(p)
    p.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="address to listen on; anything but loopback needs STORYWATCH_SERVE_TOKEN",
    )
    p.add_argument("--port", type=int, default=8080, help="port to listen on (0: a free port)")
    p.set_defaults(handler=_command("serve", "serve"), preview_feeds_default=[Path("seeds/feeds")])
    return parser


def _configure_logging(args: argparse.Namespace) -> None:
    """Only when asked: without -v, --log-level or --log-format, logging stays as it always was."""
    verbose = getattr(args, "verbose", 0)
    level = getattr(args, "log_level", None)
    json_format = getattr(args, "log_format", "text") == "json"
    if level is None and not verbose and not json_format:
        return
    if level is None:
        level = {0: "WARNING", 1: "INFO"}.get(verbose, "DEBUG")
    root = logging.getLogger()
    if json_format:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            JsonFormatter(
                "%(levelname)s %(name)s %(message)s",
                rename_fields={"levelname": "level", "name": "logger"},
                timestamp="time",
            )
        )
        root.handlers[:] = [handler]
    else:
        logging.basicConfig()
    root.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra and not getattr(args, "beam", False):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        _configure_logging(args)
        handler: Callable[..., int] = args.handler
        return handler(args, extra) if getattr(args, "beam", False) else handler(args)
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
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
