"""Unsafe characters never survive into article text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipeline.text import UNSAFE_CHARS, safe_chars, safe_text


@given(st.text())
def test_no_unsafe_character_survives(text):
    for cleaned in (safe_text(text), safe_chars(text)):
        assert not any(ord(c) in UNSAFE_CHARS for c in cleaned)


@given(st.text())
def test_safe_chars_keeps_length_and_safe_text_is_idempotent(text):
    assert len(safe_chars(text)) == len(text)
    assert safe_text(safe_text(text)) == safe_text(text)


def test_readable_text_is_untouched():
    for text in ("Musk met Putin", "Маск і Путін", "马斯克 星链", "Zelensky’s “peace plan” — 2024"):
        assert safe_text(text) == text == safe_chars(text)


@given(st.text(st.characters(categories=["Cs", "Ll", "Zs"])))
def test_lone_surrogates_are_replaced_so_text_encodes_as_utf8(text):
    for cleaned in (safe_text(text), safe_chars(text)):
        cleaned.encode("utf-8")
    assert len(safe_chars(text)) == len(text)
