"""The common-affix list that keeps fuzzy probes off ordinary words (tools/affixes.py)."""

import doctest

from pipeline.config.watchlists import load_watchlists
from pipeline.match.common_affixes import COMMON_PREFIXES, COMMON_SUFFIXES
from pipeline.match.matcher import Matcher
from tests.paths import WATCHLISTS
from tools import affixes


def test_doctests() -> None:
    assert doctest.testmod(affixes).failed == 0


def test_an_affix_is_common_in_any_one_language() -> None:
    shares = {"en": {"station": 0.001}, "de": {"stadt": 0.001, "stelle": 0.00001}}
    prefixes, suffixes = affixes.common_affixes(
        ("en", "de"), min_share=0.0005, frequencies=shares.__getitem__
    )
    assert prefixes == ["stad", "stadt", "stat", "stati"]  # not "stel": "stelle" is too rare
    assert suffixes == ["ation", "stadt", "tadt", "tion"]


def test_affixes_are_folded_like_the_matcher_folds_names() -> None:
    starts, ends = affixes._affix_shares({"Über": 0.1, "façade": 0.1, "co-op": 0.1, "ab": 0.1})
    assert set(starts) == {"uber", "faca", "facad"} and set(ends) == {"uber", "acade", "cade"}


def test_shipped_list_is_short_lowercase_words_and_spares_the_watchlist_names() -> None:
    for affix in COMMON_PREFIXES | COMMON_SUFFIXES:
        assert len(affix) in (4, 5) and affix.isascii() and affix.isalpha() and affix.islower(), (
            affix
        )
    assert {"tion", "ment", "ions", "ation"} <= COMMON_SUFFIXES
    assert {"inte", "comp", "gove", "star"} <= COMMON_PREFIXES
    # The probes of the seeded names survive, longer where four letters are too common:
    # their misspellings can still be rescued.
    probes = {p.key for p in Matcher(load_watchlists(WATCHLISTS))._index.probes}
    assert {"vlad", "\0utin", "\0musk", "krem", "kiri", "\0link", "zele", "starl"} <= probes
