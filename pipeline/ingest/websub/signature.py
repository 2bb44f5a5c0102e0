"""X-Hub-Signature: the HMAC a hub puts on each content distribution (WebSub section 8).

    sign(body, secret, *, method="sha256") -> "sha256=<hex>"    (what a hub sends)
    verify_signature(header, body, secret) -> bool

The header is ``method=hexdigest`` with method one of sha1, sha256, sha384, sha512, the
HMAC of the raw body keyed by the subscription's ``hub.secret``. Anything else (no header,
an unknown method, a digest that is not hex or not ours) is refused. The comparison is
``hmac.compare_digest``, constant-time, so the digest cannot be found byte by byte.
"""

from __future__ import annotations

import hashlib
import hmac

METHODS = ("sha1", "sha256", "sha384", "sha512")


def sign(body: bytes, secret: str, *, method: str = "sha256") -> str:
    """The X-Hub-Signature value for ``body``.

    >>> sign(b"x", "k", method="sha1")
    'sha1=cb00131fcec602a8fc84413a2a70154d8c06a0d2'
    """
    if method not in METHODS:
        raise ValueError(f"unknown signature method {method!r}; one of {', '.join(METHODS)}")
    return f"{method}={hmac.new(secret.encode(), body, method).hexdigest()}"


def verify_signature(header: str, body: bytes, secret: str) -> bool:
    """Whether ``header`` is a valid X-Hub-Signature of ``body`` under ``secret``.

    >>> verify_signature(sign(b"x", "k"), b"x", "k"), verify_signature(sign(b"x", "k"), b"y", "k")
    (True, False)
    >>> verify_signature("md5=00", b"x", "k"), verify_signature("", b"x", "k")
    (False, False)
    """
    method, _, digest = header.strip().partition("=")
    method = method.strip().lower()
    if method not in METHODS or not digest or not secret:
        return False
    expected = hmac.new(secret.encode(), body, getattr(hashlib, method)).hexdigest()
    return hmac.compare_digest(expected.encode(), digest.strip().lower().encode())
