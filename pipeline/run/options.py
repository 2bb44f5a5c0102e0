"""Pipeline options: ``StorywatchOptions`` and the explicit local runner.

Every flag says its unit in its name, and is spelled kebab-case (``--poll-interval-seconds``)
with the Beam-style underscore form (``--poll_interval_seconds``) accepted as an alias: Beam's
own options, ``PipelineOptions.from_dictionary`` and the Dataflow template parameters use it.
Secrets are never options: webhook URLs, tokens and SMTP passwords are named in the
subscribers file and read from the environment by delivery, so they never reach a command
line, a job graph or a log.

>>> opts = pipeline_options(["--poll-interval-seconds=30"])
>>> opts.view_as(StorywatchOptions).poll_interval_seconds, runner_name(opts)
(30.0, 'FnApiRunner')
"""

from __future__ import annotations

import math
import re
from typing import Any, Protocol
from urllib.parse import urlsplit

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.errors import UserError
from pipeline.ingest.websub.client import WebSubConfig
from pipeline.ingest.websub.subscriptions import DEFAULT_LEASE_SECONDS
from pipeline.run.secrets import SecretEnv

# The default DirectRunner first tries Prism, which downloads a binary (and fails offline).
DEFAULT_RUNNER = "FnApiRunner"
# Live: items in a feed for longer than three days are backlog, not news to alert on.
DEFAULT_LIVE_MAX_ARTICLE_AGE_HOURS = 72.0


class ArgumentAdder(Protocol):
    """An argparse parser or argument group: what the options are declared on."""

    def add_argument(self, *name_or_flags: str, **kwargs: Any) -> Any: ...


def flag_spellings(dest: str) -> list[str]:
    """``["--poll-interval-seconds", "--poll_interval_seconds"]``: kebab-case, then Beam's form.

    >>> flag_spellings("ledger")
    ['--ledger']
    """
    return list(dict.fromkeys([f"--{dest.replace('_', '-')}", f"--{dest}"]))


def add_storywatch_arguments(parser: ArgumentAdder) -> None:
    """Declare every StorywatchOptions flag on ``parser``; ``storywatch run --help`` shows these."""

    def add(dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("metavar", _metavar(dest, kwargs.get("type")))
        parser.add_argument(*flag_spellings(dest), dest=dest, **kwargs)

    add("watchlists", default="watchlists", help="directory of watchlist YAML files")
    add(
        "feeds_file",
        default="watchlists/feeds.yaml",
        help="feed list polled by the live run (YAML)",
    )
    add(
        "poll_interval_seconds",
        type=float,
        default=None,
        help="poll floor of every feed that sets no min_poll_seconds of its own, replacing the "
        "feed list's defaults (default: the feed list's, 60 for feeds tagged hot); each feed's "
        "cadence then adapts within its bounds",
    )
    add(
        "tick_seconds",
        type=float,
        default=5.0,
        help="seconds between checks for due feeds; a feed is fetched at the first check "
        "within half a tick of its due time",
    )
    add(
        "reload_interval_seconds",
        type=float,
        default=30.0,
        help="live: seconds between checks of the watchlists, feed list and subscribers for "
        "edits, applied without a restart (a bad edit keeps the last good config); 0 turns "
        "reloading off",
    )
    add(
        "config_uri",
        default=None,
        metavar="URI",
        help="live, Dataflow: a shared folder (gs://BUCKET/PATH) holding watchlists/, feeds.yaml "
        "and subscribers.yaml; each reload first copies them from there over the job's own "
        "copies (deploy/README.md)",
    )
    add(
        "run_duration_seconds",
        type=float,
        default=None,
        help="stop the live run after this many seconds (default: run until interrupted)",
    )
    add(
        "host_gap_seconds",
        type=float,
        default=5.0,
        help="minimum seconds between two requests to the same host",
    )
    add(
        "replay_feeds",
        default=None,
        help="replay this folder of recorded feed files instead of polling",
    )
    add(
        "replay_articles",
        default=None,
        help="replay this articles JSONL file instead of polling",
    )
    add(
        "ledger",
        default="build/ledger.sqlite",
        help="alert and delivery ledger: a SQLite file path or sqlite:///path (one machine), "
        "postgresql://USER:PASSWORD@HOST:PORT/DB (many workers) or firestore://PROJECT/PREFIX "
        "(Dataflow); docs/ledger.md",
    )
    add(
        "alerts_out",
        default="build/alerts.jsonl",
        help="JSONL file every alert is appended to",
    )
    add(
        "subscribers",
        default=None,
        help="subscribers YAML (Slack/email); secrets come from the environment variables it names",
    )
    add(
        "secret_env",
        default=None,
        metavar="NAME=REF,...",
        help="NAME=REFERENCE pairs, comma-separated, filling the environment variables the subscribers "
        "file names on each worker from Secret Manager (projects/P/secrets/S[/versions/V]) or "
        "another variable; references only, never secret values (see pipeline/run/secrets.py)",
    )
    add(
        "dead_letter_out",
        default="build/dead-letters.jsonl",
        help="JSONL file for permanent failures of every stage (bad feeds, items, lines)",
    )
    add(
        "feed_health_out",
        default="build/feed-health.jsonl",
        help="JSONL file a feed-health line is appended to after every fetch attempt (status, "
        "consecutive failures, last error, last success, next attempt); the last line of a feed "
        "is its current health",
    )
    add(
        "failing_feed_after_failures",
        type=int,
        default=3,
        help="consecutive failed fetches after which a feed is reported as failing: a logged warning "
        "and the storywatch/feeds_failing counter (it keeps being retried, more slowly)",
    )
    add(
        "max_article_age_hours",
        type=float,
        default=None,
        help="drop articles published more than this many hours before they were first seen, so a "
        "fresh run does not alert on a feed's month-old backlog (default: 72 for run, off for "
        "replay, which replays old data on purpose; 0 turns it off)",
    )
    add(
        "console_alerts",
        type=_bool,
        default=True,
        help="also print each alert on the console (true/false)",
    )
    add(
        "coverage_alerts",
        type=_bool,
        default=False,
        help="kept for old command lines, changes nothing: more coverage of a known development "
        "is always a few rate-limited follow-ups (docs/deliver.md, Follow-ups)",
    )
    add(
        "coverage_window_hours",
        type=float,
        default=48.0,
        help="hours around a development within which similar articles count as its coverage",
    )
    add(
        "duplicate_horizon_hours",
        type=float,
        default=720.0,
        help="hours a development is remembered (near-copies join it, older articles are stale)",
    )
    add(
        "burst_window_hours",
        type=float,
        default=2.0,
        help="window of the burst rate, in hours",
    )
    add(
        "burst_min_articles",
        type=int,
        default=5,
        help="fewest articles in the window for a burst",
    )
    add(
        "burst_factor",
        type=float,
        default=4.0,
        help="burst when the rate is this many times the baseline",
    )
    add(
        "websub_callback_url",
        default=None,
        metavar="URL",
        help="live, local: subscribe to the WebSub hubs feeds advertise, with this URL (what the "
        "hubs call, e.g. a tunnel to --websub-port) as the callback; pushes alert at once and "
        "polling of a subscribed feed slows to a fallback (docs/websub.md)",
    )
    add(
        "websub_port",
        type=int,
        default=None,
        help="port the WebSub callback server listens on (default: the callback URL's port)",
    )
    add(
        "websub_bind_host",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="address the WebSub callback server binds to (default 127.0.0.1: loopback only)",
    )
    add(
        "websub_lease_seconds",
        type=int,
        default=DEFAULT_LEASE_SECONDS,
        metavar="SECONDS",
        help="WebSub lease asked of hubs; each subscription is renewed after 80%% of the lease "
        "the hub grants",
    )
    add(
        "websub_pubsub_subscription",
        default=None,
        metavar="projects/P/subscriptions/S",
        help="Dataflow: read WebSub pushes from this Pub/Sub subscription, published by the "
        "public callback service after it verified them (deploy/README.md)",
    )


def _metavar(dest: str, value_type: Any) -> str:
    """``SECONDS`` / ``HOURS`` / ``FACTOR`` for numbers (the unit), ``N``, ``true|false``, ``PATH``."""
    if value_type is float:
        return dest.rsplit("_", 1)[-1].upper()
    if value_type is int:
        return "N"
    if value_type is _bool:
        return "true|false"
    return "PATH"


class StorywatchOptions(PipelineOptions):
    """What ``storywatch run`` and ``storywatch replay`` need besides Beam's own options."""

    @classmethod
    def _add_argparse_args(cls, parser: ArgumentAdder) -> None:
        add_storywatch_arguments(parser)

    def max_article_age_seconds(self, *, bounded: bool) -> float | None:
        """The dedupe stage's age cut: ``--max_article_age_hours``, else 72 h live and none
        for a replay; 0 means none.

        >>> o = pipeline_options([]).view_as(StorywatchOptions)
        >>> o.max_article_age_seconds(bounded=False), o.max_article_age_seconds(bounded=True)
        (259200.0, None)
        """
        hours = self.max_article_age_hours
        if hours is None:
            hours = None if bounded else DEFAULT_LIVE_MAX_ARTICLE_AGE_HOURS
        return hours * 3600.0 if hours else None

    def websub_config(self) -> WebSubConfig | None:
        """The local WebSub subscriber's settings, or None without ``--websub_callback_url``."""
        if not self.websub_callback_url:
            return None
        port = self.websub_port or urlsplit(self.websub_callback_url).port
        assert port, "pipeline_options checks the port"
        return WebSubConfig(
            self.websub_callback_url,
            port=port,
            bind_host=self.websub_bind_host,
            lease_seconds=self.websub_lease_seconds,
        )

    def tracker_tunables(self) -> dict[str, float]:
        """The StorylineTracker keyword arguments these options set."""
        return {
            "coverage_window_hours": self.coverage_window_hours,
            "duplicate_horizon_hours": self.duplicate_horizon_hours,
            "burst_window_hours": self.burst_window_hours,
            "burst_min_articles": self.burst_min_articles,
            "burst_factor": self.burst_factor,
        }


def _bool(value: str) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


_bool.__name__ = "true/false"  # argparse says "invalid true/false value: 'maybe'", not "_bool"


# Numeric options and what they must be; a negative duration used to fail deep in Beam
# with a bare AssertionError, a NaN would never tick.
_POSITIVE = (
    "poll_interval_seconds",
    "tick_seconds",
    "run_duration_seconds",
    "coverage_window_hours",
    "duplicate_horizon_hours",
    "burst_window_hours",
    "burst_factor",
)
_NOT_NEGATIVE = ("host_gap_seconds", "reload_interval_seconds")


def _range_problems(sw: StorywatchOptions) -> list[str]:
    """``--name=value: must be ...`` for each numeric option outside its range."""
    problems = []
    for name in _POSITIVE + _NOT_NEGATIVE:
        value = getattr(sw, name)
        if value is None:
            continue
        positive = name in _POSITIVE
        if not math.isfinite(value) or (value <= 0 if positive else value < 0):
            problems.append(
                f"--{name}={value:g}: must be a number {'above 0' if positive else '0 or more'}"
            )
    if sw.burst_min_articles < 1:
        problems.append(f"--burst_min_articles={sw.burst_min_articles}: must be 1 or more")
    return problems


_PUBSUB_SUBSCRIPTION = re.compile(
    r"^projects/[a-z][-a-z0-9]{4,28}[a-z0-9]/subscriptions/[A-Za-z][-\w.~+%]{2,254}$"
)


def _websub_problems(sw: StorywatchOptions) -> list[str]:
    problems = []
    url = sw.websub_callback_url
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(
                f"--websub_callback_url={url}: must be an http(s) URL the hubs can reach, "
                "e.g. http://127.0.0.1:8089/websub"
            )
        elif not (sw.websub_port or parts.port):
            problems.append(
                f"--websub_callback_url={url}: give --websub-port, the port the callback server "
                "listens on (the URL names none)"
            )
    if sw.websub_port is not None and not 0 < sw.websub_port < 65536:
        problems.append(f"--websub_port={sw.websub_port}: must be a port number, 1 to 65535")
    if sw.websub_lease_seconds < 1:
        problems.append(f"--websub_lease_seconds={sw.websub_lease_seconds}: must be 1 or more")
    subscription = sw.websub_pubsub_subscription
    if subscription and not _PUBSUB_SUBSCRIPTION.match(subscription):
        problems.append(
            f"--websub_pubsub_subscription={subscription}: must be "
            "projects/PROJECT/subscriptions/NAME"
        )
    return problems


def pipeline_options(argv: list[str], **overrides: Any) -> PipelineOptions:
    """Options from ``argv`` with FnApiRunner unless ``--runner`` is given.

    A flag no options class knows is a user error (Beam itself would only log a warning
    and carry on with the default, e.g. a mistyped ``--ledgr``, or Beam's ``--job-name``,
    which Beam spells ``--job_name`` only).
    """
    options = PipelineOptions(argv, **overrides)
    unknown: list[str] = []
    # Beam's own parser, with every options class on it, says which flags nothing reads
    # (parsed over no flags itself, so Beam logs no "Discarding unparseable args" warning).
    known = PipelineOptions([]).get_all_options(
        add_extra_args_fn=lambda parser: unknown.extend(parser.parse_known_args(argv)[1])
    )
    unknown_flags = [a.split("=", 1)[0] for a in unknown if a.startswith("--")]
    if unknown_flags:
        raise UserError(*(_unknown_flag_problem(flag, known) for flag in unknown_flags))
    sw = options.view_as(StorywatchOptions)
    problems = []
    if sw.max_article_age_hours is not None and sw.max_article_age_hours < 0:
        problems.append(
            f"--max_article_age_hours={sw.max_article_age_hours:g}: must be 0 (off) or more hours"
        )
    if sw.secret_env:
        SecretEnv.parse(
            sw.secret_env
        )  # refuses a malformed pair or a pasted value, without echoing it
    if sw.failing_feed_after_failures < 1:
        problems.append(
            f"--failing_feed_after_failures={sw.failing_feed_after_failures}: must be 1 or more"
        )
    problems += _range_problems(sw) + _websub_problems(sw)
    if problems:
        raise UserError(*problems)
    standard = options.view_as(StandardOptions)
    if not standard.runner:
        standard.runner = DEFAULT_RUNNER
    return options


def _unknown_flag_problem(flag: str, known: dict[str, Any]) -> str:
    beam_spelling = "--" + flag[2:].replace("-", "_")
    if beam_spelling != flag and beam_spelling[2:] in known:
        return f"unknown pipeline option {flag}; Beam spells it {beam_spelling}"
    return f"unknown pipeline option {flag}; see --help for the options"


def runner_name(options: PipelineOptions) -> str:
    runner = options.view_as(StandardOptions).runner
    return runner if isinstance(runner, str) else type(runner).__name__
