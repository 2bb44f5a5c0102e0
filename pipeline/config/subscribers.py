"""Subscribers: who receives which alerts, how often, and through which channels.

``watchlists/subscribers.yaml`` holds one ``subscribers:`` list. Secrets are never
written in the file: a channel names the *environment variable* that holds its webhook
URL, bot token or SMTP password, and ``resolve_secrets`` reads them at startup. A
missing variable is a startup error naming the variable (never its value).
``unsubscribe`` (List-Unsubscribe: an https: page, a mailto: URL or a mailbox) is set for
the file and/or per email channel; without one it is a mailto: to the sender, which
``storywatch validate`` notes as a placeholder::

    unsubscribe: https://desk.example.org/unsubscribe      # or a mailbox someone reads
    subscribers:
      - name: desk
        storylines: [musk-kremlin-contacts]     # ids, or ["*"] for every storyline
        min_score: 0.6
        kinds: [new_development, burst]         # and/or coverage
        mode: digest                            # or immediate
        digest: daily                           # hourly | daily
        digest_at: "08:00"                      # local time of the daily digest
        timezone: Europe/Berlin
        quiet_hours: {start: "22:00", end: "07:00"}
        channels:
          slack: {webhook_url_env: STORYWATCH_DESK_WEBHOOK}   # or bot_token_env + channel ID
          email:
            to: [analyst@example.org]
            from: storywatch@example.org
            smtp: {host: smtp.example.org, security: starttls,
                   username_env: STORYWATCH_SMTP_USER, password_env: STORYWATCH_SMTP_PASSWORD}
"""

from __future__ import annotations

import datetime as dt
import os
import re
import ssl
import zoneinfo
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from pipeline.config import LineMap, load_model
from pipeline.errors import ConfigError

KINDS = ("new_development", "burst", "coverage")
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_ADDRESS = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _clock_time(value: str) -> str:
    if not _CLOCK.match(value):
        raise ValueError('expected a 24-hour local time like "07:30" (quote it in YAML)')
    return value


def _unquoted_clock(value: object, info: ValidationInfo) -> object:
    """YAML 1.1 reads an unquoted ``22:00`` as the base-60 number 1320: say so, with the fix."""
    if isinstance(value, bool) or not isinstance(value, int):
        return value
    if 60 <= value < 24 * 60:  # only H:MM with H >= 1 reads as a number
        hours, minutes = divmod(value, 60)
        raise ValueError(
            f'write the time in quotes: {info.field_name}: "{hours:02d}:{minutes:02d}" '
            f"(unquoted, YAML reads {hours}:{minutes:02d} as the number {value})"
        )
    if 0 <= value < 24:
        raise ValueError(
            f"expected a 24-hour time in quotes, found the number {value}; "
            f'write {info.field_name}: "{value:02d}:00"'
        )
    return value


def parse_clock(value: str) -> dt.time:
    """``"07:30"`` → ``time(7, 30)`` (the value was validated by the model)."""
    hours, minutes = value.split(":")
    return dt.time(int(hours), int(minutes))


def valid_address(address: str) -> bool:
    """True for a plain ``local@domain.tld`` address (no display name, no spaces)."""
    name, parsed = parseaddr(address)
    return not name and parsed == address and bool(_ADDRESS.match(address))


class SmtpServer(_Strict):
    """How to reach the mail server; credentials come from the named environment variables."""

    host: str = Field(min_length=1)
    port: int | None = Field(
        None, ge=1, le=65535, description="default: 587 starttls, 465 ssl, 25 none"
    )
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username_env: str | None = Field(None, pattern=ENV_NAME)
    password_env: str | None = Field(None, pattern=ENV_NAME)
    ca_file: Path | None = Field(
        None, description="PEM file of a private CA to trust (default: system CAs)"
    )
    timeout_seconds: float = Field(30.0, gt=0)

    @model_validator(mode="after")
    def _credentials_in_pairs(self) -> SmtpServer:
        if (self.username_env is None) != (self.password_env is None):
            raise ValueError("give both username_env and password_env, or neither")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or {"starttls": 587, "ssl": 465, "none": 25}[self.security]


class EmailChannel(_Strict):
    """Email to one or more addresses, as multipart text + HTML."""

    to: list[str] = Field(min_length=1)
    from_address: str = Field(alias="from")
    smtp: SmtpServer
    unsubscribe: str | None = Field(
        None,
        description="List-Unsubscribe target: https: URL, mailto: URL or a mailbox "
        "(default: the file's unsubscribe, else a mailto: to the sender)",
    )

    @field_validator("to")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        for value in values:
            if not valid_address(value):
                raise ValueError(f"invalid email address {value!r}; write it as name@example.org")
        return values

    @field_validator("from_address")
    @classmethod
    def _from(cls, value: str) -> str:
        if not valid_address(value):
            raise ValueError(f"invalid email address {value!r}; write it as name@example.org")
        return value

    _unsubscribe = field_validator("unsubscribe")(classmethod(lambda cls, v: unsubscribe_target(v)))


class SlackChannel(_Strict):
    """Slack through an incoming webhook, or through a bot token and a channel (threads)."""

    webhook_url_env: str | None = Field(None, pattern=ENV_NAME)
    bot_token_env: str | None = Field(None, pattern=ENV_NAME)
    channel: str | None = Field(
        None,
        pattern=r"^[CGD][A-Z0-9]{6,}$",
        description="channel ID, e.g. C0123456789 (bot token only)",
    )
    api_url: str | None = Field(
        None, description="Slack Web API base URL (default https://slack.com/api/)"
    )
    max_messages_per_second: float = Field(1.0, gt=0, description="Slack allows about 1 per second")
    timeout_seconds: float = Field(10.0, gt=0)

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str | None) -> str | None:
        parts = urlsplit(value) if value is not None else None
        if parts is not None and (parts.scheme not in ("https", "http") or not parts.netloc):
            raise ValueError(
                f"{value!r} is not an http(s) URL; write it like https://slack.com/api/ "
                "or remove api_url"
            )
        return value

    @model_validator(mode="after")
    def _one_way(self) -> SlackChannel:
        if (self.webhook_url_env is None) == (self.bot_token_env is None):
            raise ValueError("give either webhook_url_env or bot_token_env (and channel)")
        if self.bot_token_env and not self.channel:
            raise ValueError(
                "a bot token needs a channel: add channel: C0123456789 (the channel ID)"
            )
        if self.webhook_url_env and self.channel:
            raise ValueError(
                "channel is only used with bot_token_env; an incoming webhook posts to its own channel"
            )
        return self

    @property
    def threaded(self) -> bool:
        return self.bot_token_env is not None


class Channels(_Strict):
    slack: SlackChannel | None = None
    email: EmailChannel | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> Channels:
        if self.slack is None and self.email is None:
            raise ValueError("no channel: add slack: or email:")
        return self

    def names(self) -> list[str]:
        return [name for name in ("slack", "email") if getattr(self, name) is not None]


class QuietHours(_Strict):
    """Local hours with no immediate messages; what arrives then waits until ``end``."""

    start: str
    end: str

    _unquoted = field_validator("start", "end", mode="before")(
        classmethod(lambda cls, v, info: _unquoted_clock(v, info))
    )
    _check = field_validator("start", "end")(classmethod(lambda cls, v: _clock_time(v)))

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError(
                "quiet hours start and end at the same time; remove quiet_hours or change one"
            )
        return self


class Subscriber(_Strict):
    """One person or team: what they want, when, and where."""

    name: str = Field(pattern=NAME, description="unique; used as the key in the delivery ledger")
    storylines: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    min_score: float = Field(0.0, ge=0.0, le=1.0)
    kinds: list[Literal["new_development", "burst", "coverage"]] = Field(
        default_factory=lambda: ["new_development", "burst"], min_length=1
    )
    mode: Literal["immediate", "digest"] = "immediate"
    digest: Literal["hourly", "daily"] | None = None
    digest_at: str = "08:00"
    timezone: str = "UTC"
    quiet_hours: QuietHours | None = None
    channels: Channels

    _unquoted_at = field_validator("digest_at", mode="before")(
        classmethod(lambda cls, v, info: _unquoted_clock(v, info))
    )
    _check_at = field_validator("digest_at")(classmethod(lambda cls, v: _clock_time(v)))

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name like Europe/Berlin or UTC"
            ) from None
        return value

    @model_validator(mode="after")
    def _digest_needs_period(self) -> Subscriber:
        if self.mode == "digest" and self.digest is None:
            raise ValueError("mode digest needs digest: hourly or digest: daily")
        if self.mode == "immediate" and self.digest is not None:
            raise ValueError(
                "digest is set but mode is immediate; set mode: digest or remove digest"
            )
        return self

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def wants(self, storyline_id: str, kind: str, score: float) -> bool:
        """Does this subscriber want an alert of ``kind`` on ``storyline_id`` with ``score``?"""
        return (
            ("*" in self.storylines or storyline_id in self.storylines)
            and kind in self.kinds
            and score >= self.min_score
        )


class SubscribersFile(_Strict):
    unsubscribe: str | None = Field(
        None, description="List-Unsubscribe target of every email channel that sets none"
    )
    subscribers: list[Subscriber] = Field(default_factory=list)

    _unsubscribe = field_validator("unsubscribe")(classmethod(lambda cls, v: unsubscribe_target(v)))


def unsubscribe_target(value: str | None) -> str | None:
    """A List-Unsubscribe target: an https:/http:/mailto: URL, or a bare mailbox as mailto:.

    >>> unsubscribe_target("leave@desk.example.net"), unsubscribe_target("https://d.test/u")
    ('mailto:leave@desk.example.net', 'https://d.test/u')
    """
    if value is None:
        return None
    value = value.strip()
    if valid_address(value):
        return "mailto:" + value
    parts = urlsplit(value)
    if parts.scheme == "mailto" and valid_address(parts.path):
        return value
    if parts.scheme in ("https", "http") and parts.netloc and " " not in value:
        return value
    raise ValueError(
        "unsubscribe must be an https: URL (one-click), a mailto: URL or a mailbox, "
        "e.g. https://desk.example.org/unsubscribe or unsubscribe@desk.example.org"
    )


# Domains reserved for examples and tests (RFC 2606, RFC 6761): nobody reads mail there.
_PLACEHOLDER_DOMAIN = re.compile(
    r"(^|\.)(example\.(com|org|net)|example|invalid|test|localhost)$", re.IGNORECASE
)


def unsubscribe_notes(subscribers: Subscribers) -> list[str]:
    """``FILE:LINE: ...`` for each email channel whose List-Unsubscribe is a placeholder:
    none set (a mailto: to the sender, which may be read by nobody) or a reserved domain."""
    notes = []
    for index, sub in enumerate(subscribers.subscribers):
        email = sub.channels.email
        if email is None:
            continue
        if email.unsubscribe is None:
            notes.append(
                f"{subscribers.where(index, 'channels', 'email')}: {sub.name}.email: no "
                f"unsubscribe set, so List-Unsubscribe is the placeholder mailto:{email.from_address}"
                " (Gmail's Unsubscribe button writes there); set unsubscribe: to a page or a "
                "mailbox someone reads, for the file or this channel"
            )
            continue
        parts = urlsplit(email.unsubscribe)
        host = (parts.path.rpartition("@")[2] if parts.scheme == "mailto" else parts.hostname) or ""
        if _PLACEHOLDER_DOMAIN.search(host):
            notes.append(
                f"{subscribers.where(index, 'channels', 'email', 'unsubscribe')}: {sub.name}.email: "
                f"unsubscribe {email.unsubscribe} is a placeholder ({host} is reserved for "
                "examples); set it to a page or a mailbox someone reads"
            )
    return notes


@dataclass(frozen=True)
class Subscribers:
    """A loaded subscribers file, with the lines of its fields for later error messages."""

    path: Path
    subscribers: tuple[Subscriber, ...]
    lines: LineMap = field(repr=False, compare=False)

    def where(self, index: int, *keys: str | int) -> str:
        return f"{self.path}:{self.lines.line_of(('subscribers', index) + keys)}"

    def env_names(self) -> list[tuple[str, str, str]]:
        """(FILE:LINE, field, variable) for every secret the file names."""
        out = []
        for index, sub in enumerate(self.subscribers):
            slack, email = sub.channels.slack, sub.channels.email
            if slack is not None:
                for key in ("webhook_url_env", "bot_token_env"):
                    if getattr(slack, key):
                        out.append(
                            (
                                self.where(index, "channels", "slack", key),
                                f"{sub.name}.slack.{key}",
                                getattr(slack, key),
                            )
                        )
            if email is not None:
                for key in ("username_env", "password_env"):
                    if getattr(email.smtp, key):
                        out.append(
                            (
                                self.where(index, "channels", "email", "smtp", key),
                                f"{sub.name}.email.smtp.{key}",
                                getattr(email.smtp, key),
                            )
                        )
        return out


@dataclass(frozen=True)
class Secrets:
    """Secret values by variable name; ``SecretStr`` keeps them out of repr and logs."""

    values: Mapping[str, SecretStr]

    def get(self, env_name: str | None) -> str | None:
        return self.values[env_name].get_secret_value() if env_name else None

    def all_values(self) -> list[str]:
        return [v.get_secret_value() for v in self.values.values() if v.get_secret_value()]


def _ca_file_problem(path: Path) -> str | None:
    """Why ``ca_file`` cannot be used, or None. Checked at startup: at send time a missing
    file looked like a passing SMTP failure and was retried for ever."""
    if not path.is_file():
        return (
            f"ca_file {path}: {'is a folder' if path.is_dir() else 'file not found'}; give the PEM file of "
            "the private CA, or remove ca_file to trust the system CAs"
        )
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, ValueError, OSError) as exc:
        return f"ca_file {path}: not a PEM certificate file ({getattr(exc, 'reason', None) or exc})"
    return None


def _with_unsubscribe(model: SubscribersFile) -> list[Subscriber]:
    """The subscribers, each email channel without its own unsubscribe given the file's."""
    if model.unsubscribe is None:
        return list(model.subscribers)
    out = []
    for sub in model.subscribers:
        email = sub.channels.email
        if email is not None and email.unsubscribe is None:
            email = email.model_copy(update={"unsubscribe": model.unsubscribe})
            sub = sub.model_copy(
                update={"channels": sub.channels.model_copy(update={"email": email})}
            )
        out.append(sub)
    return out


def load_subscribers(path: Path | str, *, storyline_ids: set[str] | None = None) -> Subscribers:
    """Load and check a subscribers file; every problem is raised together as ConfigError.

    With ``storyline_ids`` (from the loaded watchlists), unknown storyline ids are errors.
    """
    path = Path(path)
    model, lines = load_model(path, SubscribersFile, empty_ok=True)
    loaded = Subscribers(path=path, subscribers=tuple(_with_unsubscribe(model)), lines=lines)
    problems: list[str] = []
    seen: dict[str, str] = {}
    for index, sub in enumerate(loaded.subscribers):
        where = loaded.where(index, "name")
        if sub.name in seen:
            problems.append(
                f"{where}: duplicate subscriber name '{sub.name}' (first at {seen[sub.name]}); "
                "rename one of them"
            )
        seen.setdefault(sub.name, where)
        email = sub.channels.email
        if email is not None and email.smtp.ca_file is not None:
            if problem := _ca_file_problem(email.smtp.ca_file):
                problems.append(
                    f"{loaded.where(index, 'channels', 'email', 'smtp', 'ca_file')}: {problem}"
                )
        if storyline_ids is not None:
            for position, storyline in enumerate(sub.storylines):
                if storyline != "*" and storyline not in storyline_ids:
                    problems.append(
                        f"{loaded.where(index, 'storylines', position)}: unknown storyline "
                        f"'{storyline}'; known: {', '.join(sorted(storyline_ids)) or 'none'}"
                    )
    if problems:
        raise ConfigError(*problems)
    return loaded


def resolve_secrets(
    subscribers: Subscribers,
    environ: Mapping[str, str] | None = None,
    *,
    deferred: Collection[str] = (),
) -> Secrets:
    """Read every secret the file names from the environment, or fail naming each missing variable.

    Names in ``deferred`` are only checked for presence on the workers (``--secret_env``)
    and are left out of the result.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, SecretStr] = {}
    problems: list[str] = []
    for where, what, name in subscribers.env_names():
        if name in deferred:
            continue
        value = environ.get(name, "")
        if not value.strip():
            problems.append(
                f"{where}: {what}: environment variable {name} is not set; "
                f"export {name}=... before starting (the value is a secret and stays out of files)"
            )
            continue
        values[name] = SecretStr(value.strip())
    problems += secret_shape_problems(
        subscribers, {k: v.get_secret_value() for k, v in values.items()}
    )
    if problems:
        raise ConfigError(*problems)
    from pipeline.deliver.log_guard import guard_logs  # here: config loads before delivery

    guard_logs(v.get_secret_value() for v in values.values())
    return Secrets(values=values)


def _webhook_url_problem(url: str) -> str | None:
    """What is wrong with a webhook URL, in words that never quote it (it is a secret)."""
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        return "holds a space or a control character; copy the webhook URL again"
    if not url.isascii():
        return "holds a non-ASCII character; copy the webhook URL again"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        return "is not a valid URL; copy the webhook URL again"
    if parts.scheme not in ("https", "http") or not parts.netloc:
        return "does not hold a webhook URL (expected https://hooks.slack.com/services/...)"
    if len(parts.path) <= 1:
        return "holds a URL without a path; a webhook URL ends in /services/T.../B.../..."
    return None


def _token_problem(token: str) -> str | None:
    if any(ch.isspace() or not ch.isprintable() for ch in token):
        return "holds a space or a control character; copy the bot token again"
    return None


def secret_shape_problems(
    subscribers: Subscribers, environ: Mapping[str, str] | None = None
) -> list[str]:
    """``FILE:LINE: ...`` for each Slack secret that is set but cannot work (a webhook URL
    with a space, another scheme, no path; a token with a space), never quoting the value.
    An error at startup (``resolve_secrets``), a note in ``validate``."""
    environ = os.environ if environ is None else environ
    problems = []
    for index, sub in enumerate(subscribers.subscribers):
        slack = sub.channels.slack
        if slack is None:
            continue
        for key in ("webhook_url_env", "bot_token_env"):
            name = getattr(slack, key)
            value = environ.get(name, "").strip() if name else ""
            if not value:
                continue
            check = _webhook_url_problem if key == "webhook_url_env" else _token_problem
            if problem := check(value):
                problems.append(
                    f"{subscribers.where(index, 'channels', 'slack', key)}: {sub.name}.slack: "
                    f"environment variable {name} {problem} (its value is not shown: it is a secret)"
                )
    return problems


def missing_secrets(
    subscribers: Subscribers, environ: Mapping[str, str] | None = None
) -> list[str]:
    """``FILE:LINE: ...`` for each secret variable not set now (for ``validate``: a note, not an error)."""
    environ = os.environ if environ is None else environ
    return [
        f"{where}: {what}: environment variable {name} is not set (needed to deliver)"
        for where, what, name in subscribers.env_names()
        if not environ.get(name, "").strip()
    ]
