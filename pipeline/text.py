"""Text safety shared by every way an article enters: feeds (normalize) and JSONL (jsonl).

A hostile title must not reach a terminal, Slack or a mail client with control codes
(ANSI escapes, NUL) or bidi overrides that display text in another order than it reads.

>>> safe_text("\\x1b[31mRED\\x1b[0m\\u202e  title\\n")
'[31mRED [0m title'
"""

from __future__ import annotations

import re

UNSAFE_CHARS = {c: " " for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)]}
UNSAFE_CHARS.update(
    {c: None for c in [0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]}
)
# Invisible format characters inside words (soft hyphens, zero-width spaces and joiners, the
# BOM; some feeds put a zero-width space between all words) would split "Ukra\u00adine" for
# every later step: dropped from feed text. (safe_chars keeps them: the matcher drops them.)
INVISIBLE = (0x00AD, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF)  # the matcher drops them too
_SAME_LENGTH = {c: " " for c in UNSAFE_CHARS}
# A JSON "\ud800" escape decodes to a lone surrogate, which no UTF-8 writer (hash, stdout,
# Slack) can encode: it becomes the replacement character, one for one.
_SURROGATES = {c: "\ufffd" for c in range(0xD800, 0xE000)}
UNSAFE_CHARS.update(_SURROGATES)
_SAME_LENGTH.update(_SURROGATES)
_FEED_TEXT = {**UNSAFE_CHARS, **dict.fromkeys(INVISIBLE)}
_SPACE = re.compile(r"\s+")


def safe_text(text: str) -> str:
    """``text`` without control characters, bidi overrides or invisible format characters,
    whitespace folded.

    >>> safe_text("Ukra\u00adine\u200b and \ufeffKyiv")
    'Ukraine and Kyiv'
    """
    return _SPACE.sub(" ", text.translate(_FEED_TEXT)).strip()


def safe_chars(text: str) -> str:
    """``text`` with each unsafe character replaced by a space: same length, so character
    offsets into it (the matcher's evidence spans) still point at the text as given."""
    return text.translate(_SAME_LENGTH)
