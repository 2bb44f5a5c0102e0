"""The status page's guards: the access token, the CSRF check and the response headers.

- Token: when ``STORYWATCH_SERVE_TOKEN`` is set (required to bind a non-loopback address),
  every request must carry it: ``Authorization: Bearer TOKEN``, or the cookie a first
  visit to ``/?token=TOKEN`` sets (the URL is then redirected without it). Compared in
  constant time (``hmac.compare_digest``).
- CSRF: every page sets a random ``storywatch_csrf`` cookie (SameSite=Strict, HttpOnly);
  every form carries the same value, and a POST whose form field (or ``X-CSRF-Token``
  header) differs from the cookie is refused with 403 before anything is done.
- Headers: a Content-Security-Policy allowing only this server's own scripts and styles
  (no inline script), no framing, no referrer, no MIME sniffing.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets

TOKEN_ENV = "STORYWATCH_SERVE_TOKEN"
TOKEN_COOKIE = "storywatch_token"
CSRF_COOKIE = "storywatch_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a presented token with the expected one.

    >>> same_secret("abc", "abc"), same_secret("abd", "abc"), same_secret(None, "abc")
    (True, False, False)
    """
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header."""
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    """Is ``host`` a loopback address (or ``localhost``)?

    >>> [is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "192.168.1.5")]
    [True, True, True, False, False]
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
