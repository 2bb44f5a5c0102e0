"""Secrets by reference: an environment variable locally, Secret Manager on Google Cloud.

Configuration and pipeline options carry the *name* of a secret, never its value. A
reference is one of:

- ``SLACK_WEBHOOK_DESK`` or ``env:SLACK_WEBHOOK_DESK``: an environment variable (local runs);
- ``projects/P/secrets/S/versions/V`` (``/versions/V`` defaults to ``latest``), or the
  regional form ``projects/P/locations/L/secrets/S/versions/V``: a Secret Manager secret
  version, read with the worker's service account (``roles/secretmanager.secretAccessor``).

The subscribers file names environment variables (``webhook_url_env: SLACK_WEBHOOK_DESK``).
On Dataflow no one sets those variables on the workers, so a ``secret_env`` mapping names
a Secret Manager secret for each variable (``DeliverAlerts(secret_env=...)``), and the
delivery step calls ``SecretEnv.install()`` in ``DoFn.setup()``: the values land in the
worker's ``os.environ`` under the names the subscribers file already uses. Nothing else
changes::

    secret_env = "SLACK_WEBHOOK_DESK=projects/acme/secrets/slack-desk,SMTP_PASSWORD=projects/acme/secrets/smtp"

    SecretEnv.parse(secret_env).install()            # in DoFn.setup(), on each worker
    os.environ["SLACK_WEBHOOK_DESK"]   # -> "https://hooks.slack.com/services/..." on this worker only

Errors name the reference, never the value. A reference that looks like a value (a URL,
a token) is refused without echoing it, because that is a secret pasted in the wrong place.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pipeline.errors import UserError

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SECRET_MANAGER = re.compile(
    r"projects/(?P<project>[^/\s]+)(?:/locations/(?P<location>[^/\s]+))?"
    r"/secrets/(?P<secret>[^/\s]+)(?:/versions/(?P<version>[^/\s]+))?"
)
# Prefixes of values that must never be used as a reference (they are the secret itself).
_VALUE_LIKE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|xox[abpr]-|-----BEGIN)", re.IGNORECASE)

#: Pattern for one ``NAME=REFERENCE`` pair of ``--secret_env`` (also used in deploy/metadata.json).
SECRET_ENV_PAIR = (
    r"[A-Za-z_][A-Za-z0-9_]*=(?:env:)?(?:[A-Za-z_][A-Za-z0-9_]*"
    r"|projects/[^/,\s]+(?:/locations/[^/,\s]+)?/secrets/[^/,\s]+(?:/versions/[^/,\s]+)?)"
)


class SecretSource(Protocol):
    """Where secret values come from; ``get`` raises ``UserError`` for a missing secret."""

    def get(self, ref: str) -> str: ...


def _describe(ref: str) -> str:
    """The reference as it may appear in an error message (never a value)."""
    if _VALUE_LIKE.search(ref.strip()) or len(ref) > 300:
        return "<a value that looks like a secret itself, not shown>"
    return repr(ref)


def secret_manager_name(ref: str) -> str | None:
    """The full secret-version resource name for a Secret Manager reference, else None.

    >>> secret_manager_name("projects/acme/secrets/slack-desk")
    'projects/acme/secrets/slack-desk/versions/latest'
    >>> secret_manager_name("SLACK_WEBHOOK") is None
    True
    """
    m = _SECRET_MANAGER.fullmatch(ref.strip())
    if m is None:
        return None
    name = ref.strip()
    return name if m.group("version") else f"{name}/versions/latest"


def check_reference(ref: str) -> str:
    """Return the reference stripped, or raise ``UserError`` saying what a reference looks like."""
    text = ref.strip() if isinstance(ref, str) else ""
    if not text:
        raise UserError(
            "secret reference is empty: give an environment variable name "
            "(SLACK_WEBHOOK) or a Secret Manager name (projects/P/secrets/S)"
        )
    if _VALUE_LIKE.search(text):
        raise UserError(
            "a secret reference looks like the secret value itself (a URL or token); "
            "put the value in an environment variable or Secret Manager and give its name"
        )
    bare = text[4:] if text.startswith("env:") else text
    if _ENV_NAME.fullmatch(bare) or secret_manager_name(text):
        return text
    raise UserError(
        f"secret reference {_describe(text)}: not an environment variable name "
        "(letters, digits, _) nor a Secret Manager name (projects/P/secrets/S[/versions/V])"
    )


@dataclass
class EnvSecrets:
    """Secrets from environment variables (the local default)."""

    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    def get(self, ref: str) -> str:
        name = ref[4:] if ref.startswith("env:") else ref
        value = self.environ.get(name)
        if not value:
            raise UserError(
                f"secret {name}: environment variable {name} is not set; "
                f"export {name}=... before starting, or map it with --secret_env on Dataflow"
            )
        return value


class SecretManagerSecrets:
    """Secrets from Google Secret Manager; one client per location, created on first use.

    Permanent errors (no such secret, no permission, disabled version) become ``UserError``
    naming the secret; transient ones (unavailable, deadline) propagate so Beam retries.
    ``client_factory(location)`` exists for tests; by default it builds a real client.
    """

    def __init__(self, *, client_factory: Any = None) -> None:
        self._client_factory = client_factory or self._real_client
        self._clients: dict[str | None, Any] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _real_client(location: str | None) -> Any:
        from google.cloud import secretmanager  # lazy: google-cloud-secret-manager is the gcp extra

        if location:
            return secretmanager.SecretManagerServiceClient(
                client_options={"api_endpoint": f"secretmanager.{location}.rep.googleapis.com"}
            )
        return secretmanager.SecretManagerServiceClient()

    def _client(self, location: str | None) -> Any:
        with self._lock:
            if location not in self._clients:
                self._clients[location] = self._client_factory(location)
            return self._clients[location]

    def get(self, ref: str) -> str:
        name = secret_manager_name(ref)
        if name is None:
            raise UserError(f"secret reference {_describe(ref)} is not a Secret Manager name")
        location = _SECRET_MANAGER.fullmatch(name).group("location")
        from google.api_core import exceptions as gexc  # lazy: the gcp extra

        try:
            response = self._client(location).access_secret_version(name=name)
        except (
            gexc.NotFound,
            gexc.PermissionDenied,
            gexc.FailedPrecondition,
            gexc.InvalidArgument,
            gexc.Unauthenticated,
        ) as exc:
            raise UserError(
                f"secret {name}: {type(exc).__name__}; check that the secret version exists "
                "and is enabled, and that the worker service account has "
                "roles/secretmanager.secretAccessor on it"
            ) from None
        try:
            return response.payload.data.decode("utf-8")
        except UnicodeDecodeError:
            raise UserError(f"secret {name}: the value is not UTF-8 text") from None

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                transport = getattr(client, "transport", None)
                if transport is not None and hasattr(transport, "close"):
                    transport.close()
            self._clients.clear()


class SecretResolver:
    """Routes each reference to the environment or Secret Manager and caches values per process.

    >>> SecretResolver(env=EnvSecrets({"TOKEN": "s3cret"})).resolve("env:TOKEN")
    's3cret'
    """

    def __init__(
        self, *, env: SecretSource | None = None, secret_manager: SecretSource | None = None
    ) -> None:
        self._env = env or EnvSecrets()
        self._secret_manager = secret_manager
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()

    def resolve(self, ref: str) -> str:
        ref = check_reference(ref)
        with self._lock:
            if ref in self._cache:
                return self._cache[ref]
        if secret_manager_name(ref):
            if self._secret_manager is None:
                self._secret_manager = SecretManagerSecrets()
            value = self._secret_manager.get(ref)
        else:
            value = self._env.get(ref)
        with self._lock:
            self._cache[ref] = value
        return value


@dataclass(frozen=True)
class SecretEnv:
    """Environment variables to fill from secret references on a worker (picklable).

    >>> env = {}
    >>> SecretEnv.parse("HOOK=env:LOCAL_HOOK").install(environ=env,
    ...     resolver=SecretResolver(env=EnvSecrets({"LOCAL_HOOK": "https://x"})))
    ['HOOK']
    >>> env["HOOK"]
    'https://x'
    """

    mapping: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, spec: str | None) -> SecretEnv:
        """Parse ``NAME=REF[,NAME=REF...]``; raise ``UserError`` listing every bad pair."""
        if not spec or not spec.strip():
            return cls(())
        pairs: list[tuple[str, str]] = []
        problems: list[str] = []
        for i, part in enumerate(p.strip() for p in spec.split(",")):
            name, sep, ref = part.partition("=")
            name, ref = name.strip(), ref.strip()
            if not sep or not _ENV_NAME.fullmatch(name):
                problems.append(
                    f"--secret_env pair {i + 1}: expected NAME=REFERENCE "
                    "(e.g. SLACK_WEBHOOK_DESK=projects/P/secrets/slack-desk)"
                )
                continue
            try:
                pairs.append((name, check_reference(ref)))
            except UserError as exc:
                problems.extend(f"--secret_env {name}: {p}" for p in exc.problems)
        names = [n for n, _ in pairs]
        problems.extend(
            f"--secret_env {n}: given more than once"
            for n in sorted({n for n in names if names.count(n) > 1})
        )
        if problems:
            raise UserError(*problems)
        return cls(tuple(pairs))

    def names(self) -> list[str]:
        return [name for name, _ in self.mapping]

    def install(
        self,
        *,
        environ: MutableMapping[str, str] | None = None,
        resolver: SecretResolver | None = None,
    ) -> list[str]:
        """Resolve every reference and set it in ``environ``; return the names set.

        Idempotent, so every DoFn instance may call it from ``setup()``. All references are
        resolved before any variable is set, and every missing one is reported at once.
        """
        environ = os.environ if environ is None else environ
        resolver = resolver or _default_resolver()
        values: dict[str, str] = {}
        problems: list[str] = []
        for name, ref in self.mapping:
            try:
                values[name] = resolver.resolve(ref)
            except UserError as exc:
                problems.extend(exc.problems)
        if problems:
            raise UserError(*problems)
        environ.update(values)
        return list(values)

    def __repr__(self) -> str:  # references are not secret, but keep logs short and value-free
        return f"SecretEnv({', '.join(f'{n}={r}' for n, r in self.mapping)})"


_RESOLVER: SecretResolver | None = None
_RESOLVER_LOCK = threading.Lock()


def _default_resolver() -> SecretResolver:
    """One resolver per worker process, so each secret is fetched once, not once per DoFn."""
    global _RESOLVER
    with _RESOLVER_LOCK:
        if _RESOLVER is None:
            _RESOLVER = SecretResolver()
        return _RESOLVER


def resolve_secret(ref: str) -> str:
    """Resolve one reference with the process-wide resolver."""
    return _default_resolver().resolve(ref)
