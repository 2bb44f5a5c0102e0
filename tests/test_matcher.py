"""The matcher: normalisation, alias finding, transliteration, fuzzy rescue, negatives, rules, scores."""

from __future__ import annotations

import doctest

from pipeline import matcher as matcher_module


def test_doctests() -> None:
    assert doctest.testmod(matcher_module).failed == 0
