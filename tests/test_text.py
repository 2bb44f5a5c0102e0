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


def test_invisible_format_characters_leave_feed_text_but_keep_their_place_in_jsonl_text():
    # Reuters-style copy carries a zero-width space after every few spaces: it must not
    # glue to or split the word ("\u200band Iran"), nor a soft hyphen split "Ukra-ine".
    assert safe_text("the United States \u200band Iran, Ukra\u00adine, \ufeffKyiv\u2060") == (
        "the United States and Iran, Ukraine, Kyiv"
    )
    assert safe_chars("Ukra\u00adine") == "Ukra\u00adine"  # offsets into JSONL input hold
