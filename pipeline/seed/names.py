"""Comparable and id forms of a name (one definition for the seed stage)."""

from __future__ import annotations

import re

from anyascii import anyascii

_POSSESSIVE = re.compile(r"['’]s?$")


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", anyascii(text).lower()).strip("-")
    return slug or "entity"


def normalise_name(text: str) -> str:
    """Comparable form of a name: ASCII, case-folded, no leading "the", no possessive."""
    text = anyascii(text).casefold().strip()
    text = _POSSESSIVE.sub("", text)
    text = re.sub(r"^the\s+", "", text)
    return re.sub(r"[^a-z0-9]+", " ", text).strip()
