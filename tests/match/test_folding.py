"""Folding text to the Latin skeleton, and the way back to the original offsets."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.match import folding
from pipeline.match.folding import fold_text, skeleton


def test_doctests() -> None:
    assert doctest.testmod(folding).failed == 0


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Elon Musk's", "elon musk s"),
        ("ELON  MUSK’S", "elon musk s"),
        ("Pentagon-Musk deal", "pentagon musk deal"),
        ("Zelenskyy, Kyiv.", "zelenskyy kyiv"),
        ("Kirijenkó", "kirijenko"),
        ("Путин", "PUTIN"),  # other scripts fold to upper case
        ("Зеленський", "ZELENSKII"),  # the soft sign does not split the word
        ("马斯克", "马 斯 克"),  # each Han character is a word of its own
        ("Kirijenkó Кириенко", "kirijenko KIRIENKO"),
        ("Ｍｕｓｋ", "musk"),  # full-width forms
        ("Muskâ€™s", "musk s"),  # cp1252 mojibake of ’
        ("Trumpโs", "trump s"),  # TIS-620 mojibake of ’
    ],
)
def test_skeleton(text: str, expected: str) -> None:
    assert skeleton(text) == expected


@pytest.mark.parametrize(
    "text", ["Elon Musk’s «Старлинк» in 马斯克  land", "a  ,, b", "Muskâ€™s Путина"]
)
def test_offsets_map_every_word_back(text: str) -> None:
    norm = fold_text(text)
    for word in norm.skeleton.split():
        a = norm.skeleton.index(f" {word} ") + 1
        start, end = norm.original(a, a + len(word))
        assert skeleton(text[start:end]) == word


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_fast_fold_equals_the_per_character_table(text: str) -> None:
    assert folding.fold(text) == text.translate(folding._FOLD)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x2100)) | st.text())
def test_skeleton_has_the_words_of_the_exact_fold(text: str) -> None:
    assert fold_text(text).skeleton.split() == folding.fold(folding._demojibake(text)).split()


def test_punctuation_blanked_as_bytes_folds_to_one_space() -> None:
    blanked = [
        chr(c)
        for c in range(0x80, 0x2070)
        if folding._SPACE_BYTES.fullmatch(chr(c).encode())
        or chr(c).encode() == folding._NO_BREAK_SPACE
    ]
    assert set("\u2019\u201c\u201d\u2013\u2014\xa0") <= set(blanked)
    assert "\u2026" not in blanked  # … folds to three spaces
    assert not set("\u200b\u2060") & set(blanked)  # zero-width: dropped, not blanked
    assert all(folding._FOLD[ord(c)] == " " for c in blanked)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "Musk",
                "Путина",
                "马斯克",
                "é",
                "e\u0301",
                "…",
                "€",
                "ß",
                "ﬁ",
                "  ",
                ", ",
                "’s",
                "Ｍｕｓｋ",
                "Trumpโs",
                "Muskâ€™s",
                "\u200b",
                "Mus\u00adk",
                "\u2060",
            ]
        )
        | st.text(),
        max_size=12,
    ).map("".join),
    st.randoms(use_true_random=False),
)
def test_every_skeleton_word_maps_back_to_its_text(text: str, rng) -> None:
    s = fold_text(text).skeleton
    spans, position = [], 1
    for word in s.split():
        spans.append((word, position))
        position += len(word) + 1
    # In text order, and in any order (the lookup resumes from the last word it found).
    for order in (spans, rng.sample(spans, len(spans))):
        norm = fold_text(text)
        for word, position in order:
            start, end = norm.original(position, position + len(word))
            piece = text[start:end]
            # One character may fold to several words (🍏 → "green apple", ℀ → "a c"): each
            # maps to it, and the first may join a neighbour ("0℀" → "0a c"); the word is then
            # one of the words of the text it maps back to.
            assert skeleton(piece) == word or word in skeleton(piece).split(), (word, piece)
