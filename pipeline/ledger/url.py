"""Ledger URLs: which backend a URL names, and the URL as it may be shown (no password).

``redact_url`` is the only form of a ledger URL that goes into a message, log line or
banner: a PostgreSQL URL's password (``user:PASSWORD@`` or ``?password=``) becomes
``***``, and nothing else changes (the result can be pasted back once the password is
filled in). It works on the text, so it never raises, even on a URL libpq would refuse.
``url_secrets`` lists the password's spellings so a server message that echoes one can
be cleaned too.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_QUERY_PASSWORD = re.compile(r"([?&]password=)([^&#]*)")


def is_postgres_url(url: str) -> bool:
    """
    >>> is_postgres_url("postgres://db/sw"), is_postgres_url("build/ledger.sqlite")
    (True, False)
    """
    return url.startswith(POSTGRES_SCHEMES)


def _authority(url: str) -> tuple[str, str, str]:
    """``url`` split as (``scheme://``, user info and host, the rest); ("", "", url) if no scheme."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "", "", url
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    return scheme + sep, rest[:end], rest[end:]


def redact_url(url: str) -> str:
    """``url`` with its password (in the user part or a ``password=`` parameter) as ``***``.

    >>> redact_url("postgresql://sw:s3cret@db.internal:5432/ledger?password=x&sslmode=require")
    'postgresql://sw:***@db.internal:5432/ledger?password=***&sslmode=require'
    >>> redact_url("postgresql:///ledger?host=/tmp/pg")
    'postgresql:///ledger?host=/tmp/pg'
    >>> redact_url("postgres://sw:p@ss@[::1:5432/db")
    'postgres://sw:***@[::1:5432/db'
    >>> redact_url("build/ledger.sqlite")
    'build/ledger.sqlite'
    """
    scheme, authority, rest = _authority(url)
    if "@" in authority:
        user, _, host = authority.rpartition("@")  # a raw "@" in the password: hide up to the last
        if ":" in user:
            user = user.split(":", 1)[0] + ":***"
        authority = f"{user}@{host}"
    return scheme + authority + _QUERY_PASSWORD.sub(r"\1***", rest)


def url_secrets(url: str) -> list[str]:
    """The passwords in ``url``, as written, decoded and encoded; longest first.

    >>> url_secrets("postgresql://sw:p%40ss@db/sw")
    ['p%40ss', 'p@ss']
    """
    _, authority, rest = _authority(url)
    found = [m[2] for m in _QUERY_PASSWORD.finditer(rest) if m[2]]
    user = authority.rpartition("@")[0]
    if ":" in user:
        found.append(user.split(":", 1)[1])
    spellings = {s for raw in found for s in (raw, unquote(raw), quote(unquote(raw), safe="")) if s}
    return sorted(spellings, key=lambda s: (-len(s), s))
