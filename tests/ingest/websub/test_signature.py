"""X-Hub-Signature: every method the spec names, and what must be refused."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from pipeline.ingest.websub.signature import METHODS, sign, verify_signature

BODY = b"<feed>pushed</feed>"


@pytest.mark.parametrize("method", METHODS)
def test_each_method_verifies_and_matches_an_independent_hmac(method):
    header = sign(BODY, "s3cret", method=method)
    assert header == f"{method}={hmac.new(b's3cret', BODY, getattr(hashlib, method)).hexdigest()}"
    assert verify_signature(header, BODY, "s3cret")
    assert verify_signature(header.upper().replace("SHA", "sha"), BODY, "s3cret")  # hex case


@pytest.mark.parametrize(
    "header,body,secret",
    [
        (sign(BODY, "s3cret"), BODY + b" ", "s3cret"),  # body changed
        (sign(BODY, "other"), BODY, "s3cret"),  # another secret
        ("md5=" + hashlib.md5(BODY).hexdigest(), BODY, "s3cret"),  # not a WebSub method
        ("sha256=", BODY, "s3cret"),
        ("sha256", BODY, "s3cret"),
        ("", BODY, "s3cret"),
        ("sha256=zz\u00e9", BODY, "s3cret"),  # not hex, not even ASCII
        (sign(BODY, ""), BODY, ""),  # no secret: nothing can verify
    ],
)
def test_bad_signatures_are_refused(header, body, secret):
    assert not verify_signature(header, body, secret)


def test_sign_refuses_an_unknown_method():
    with pytest.raises(ValueError, match="unknown signature method"):
        sign(BODY, "k", method="md5")
