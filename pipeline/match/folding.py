"""Text folding: a field's text as its padded Latin skeleton, with the way back to offsets.

Each character is folded to a skeleton piece (ASCII through one ``bytes.translate``,
common punctuation blanked as UTF-8 bytes, the rest through a cached per-character table):
NFKC, diacritics stripped, ``anyascii`` transliteration, lower case for Latin letters and
UPPER case for letters of other scripts, so the skeleton still says which script a word
was in (Путин → PUTIN, Кирієнко → KIRIIENKO). Han, kana and hangul characters stay
themselves, one word each (马斯克 → 马 斯 克). Anything that is not a letter or digit
becomes a space and runs of spaces collapse: ``Elon Musk’s`` becomes `` elon musk s ``.
Soft hyphens and zero-width characters are dropped; mojibake quotes and dashes blanked.

Contract:

- ``fold_text(text)`` → ``NormalizedText``: ``.skeleton`` is the words separated by
  single spaces, one space at each end (so a key with a leading space starts on a word
  boundary); ``.original(start, end)`` maps a skeleton span that starts and ends on word
  edges back to the span of ``text``. The mapping is built on first use only.
- ``skeleton(text)``: the skeleton of an alias or term, without the padding.
- ``fold(text)``: every character replaced by its piece, no collapsing
  (``text.translate(_FOLD)``, only faster).

State: ``_FOLD`` and ``_ODD`` grow with every new character seen (one entry per code
point, never expiring: bounded by the code points in use).

>>> n = fold_text("Elon Musk’s «Старлинк»")
>>> n.skeleton
' elon musk s STARLINK '
>>> start = n.skeleton.index("STARLINK"); n.original(start, start + 8)
(13, 21)
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Iterator

from anyascii import anyascii

from pipeline.text import INVISIBLE

# Curly quotes and dashes decoded with the wrong code page (UTF-8 read as cp1252 or TIS-620)
# glue words together ("Muskâ€™s", "Trumpโs"); they are blanked, keeping the length.
_MOJIBAKE = re.compile(r"â€.?|(?<=[A-Za-z])[\u0e00-\u0e7f\u0080-\u009f]+(?=[A-Za-z]|\s|$)")


# Letters of scripts other than Latin (Greek, Cyrillic, ..., CJK; fullwidth forms count as other).
_NON_LATIN = re.compile("[\u0370-\u1dff\u1f00-\u1fff\u2c00-\U0010ffff]")


def _is_wide(ch: str) -> bool:
    """Han, kana, hangul and friends: each character is a word of its own."""
    return ord(ch) >= 0x2E80 and unicodedata.category(ch).startswith("L")


class _FoldTable(dict[int, str]):
    """Code point → skeleton piece for ``str.translate``, computed on first use and cached.

    Pieces are letters, digits and spaces: lower-case ASCII for Latin letters, upper-case
    ASCII for other alphabets, the character itself (space-padded) for Han, kana and
    hangul. ``str.translate`` and ``_fold_run`` look characters up here; ``__missing__``
    runs once per character ever seen.
    """

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        if code in _INVISIBLE:
            self[code] = ""
            _ODD.add(ch)
            return ""
        folded = unicodedata.normalize("NFKC", ch)
        folded = "".join(
            c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c)
        )
        if not folded:  # a lone combining mark: part of the previous letter
            piece = ""
        else:
            latin = anyascii(folded).lower()
            if _is_wide(folded[0]):
                # Han, kana, hangul stay themselves, one word each: their romanisation is too
                # lossy (星链 Starlink and 性恋 are both "xing lian").
                piece = f" {folded} "
            elif unicodedata.category(ch).startswith(("L", "N")):
                # Letters keep only their letters: the soft sign (ь → ') must not split a word.
                piece = "".join(c for c in latin if c.isascii() and c.isalnum())
                if _NON_LATIN.match(folded[0]):
                    piece = piece.upper()  # the script survives folding, as case
            else:
                piece = "".join(c if c.isascii() and c.isalnum() else " " for c in latin) or " "
        self[code] = piece
        if len(piece) != 1:
            _ODD.add(ch)
        return piece


# Soft hyphens and zero-width characters sit inside words ("Ukra\u00adine", "Mus\u200bk"):
# they are dropped, not made spaces (feed text has lost them already, JSONL input not).
_INVISIBLE = frozenset(INVISIBLE)
# Characters seen so far whose piece is not one character long (they shift offsets).
_ODD: set[str] = set()
_FOLD = _FoldTable()
for _code in range(128):
    _FOLD[_code] = chr(_code).lower() if chr(_code).isalnum() else " "


# ASCII bytes fold in one bytes.translate; bytes of other characters (>= 0x80) pass through.
_ASCII_BYTES = bytes(ord(_FOLD[i]) for i in range(128)) + bytes(range(128, 256))
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")


def _demojibake(text: str) -> str:
    if "â€" in text or "\u0e42" in text:
        return _MOJIBAKE.sub(lambda m: " " * len(m.group()), text)
    return text


def _fold_run(m: re.Match[str]) -> str:
    return "".join(map(_FOLD.__getitem__, map(ord, m.group())))


def _blank_bytes_pattern(code_points: Iterable[int]) -> re.Pattern[bytes]:
    """A bytes pattern for the UTF-8 of those code points whose piece is one space; they
    must share their first byte, so that the pattern starts with a literal the regex
    engine skips ahead to (a pattern starting with a choice is tried at every byte)."""
    lasts: dict[bytes, list[int]] = {}
    for code in code_points:
        if _FOLD[code] == " ":
            raw = chr(code).encode("utf-8")
            lasts.setdefault(raw[:-1], []).append(raw[-1])
    first = {lead[:1] for lead in lasts}
    assert len(first) == 1, "code points with different first bytes"
    return re.compile(
        re.escape(first.pop())
        + b"(?:"
        + b"|".join(
            re.escape(lead[1:])
            + b"["
            + b"".join(re.escape(bytes([t])) for t in sorted(tails))
            + b"]"
            for lead, tails in sorted(lasts.items())
        )
        + b")"
    )


# UTF-8 of the punctuation most common in Latin-script news (U+2000-U+206F: ’ “ ” – —,
# zero-width spaces and friends) whose piece is one space: blanked as bytes, keeping the
# length, in one pass without a callback; the same for the no-break space. (… « » fold
# to several spaces, ‰ ‱ ⁋ to "0", "00" and "p": they take the slow way.)
_SPACE_BYTES = _blank_bytes_pattern(range(0x2000, 0x2070))
# The zero-width characters, frequent in some feeds, are dropped as bytes in the same way
# (soft hyphen and BOM, rare, take the slow way); they count among the odd characters from
# the start.
_ZERO_WIDTH_BYTES = re.compile(b"\xe2(?:\x80[\x8b-\x8d]|\x81\xa0)")  # U+200B-U+200D, U+2060
for _code in _INVISIBLE:
    _FOLD[_code]
_NO_BREAK_SPACE = "\xa0".encode()


def fold(text: str) -> str:
    """Every character of ``text`` replaced by its skeleton piece (no collapsing).

    Equal to ``text.translate(_FOLD)``, but ASCII goes through ``bytes.translate``, common
    punctuation is blanked as bytes, and only runs of other characters pay for a table
    lookup each.
    """
    return _fold_tracking_lengths(text)[0]


def _fold_tracking_lengths(text: str) -> tuple[str, bool]:
    """``fold(text)``, and whether every character's piece was one character long (only
    characters that take the slow way can have longer or empty pieces)."""
    raw = text.encode("utf-8", "surrogatepass")
    dropped = 0
    if not raw.isascii():
        if b"\xe2" in raw:
            raw, dropped = _ZERO_WIDTH_BYTES.subn(b"", raw)
            raw = _SPACE_BYTES.sub(b" ", raw)
        if _NO_BREAK_SPACE in raw:
            raw = raw.replace(_NO_BREAK_SPACE, b" ")
    folded = raw.translate(_ASCII_BYTES).decode("utf-8", "surrogatepass")
    if folded.isascii():
        return folded, not dropped
    return _NON_ASCII_RUN.sub(_fold_run, folded), False


_odd_pattern: tuple[int, re.Pattern[str] | None] = (0, None)


def _odd_characters() -> re.Pattern[str] | None:
    """A pattern for the characters in _ODD (recompiled when _ODD has grown), None if none."""
    global _odd_pattern
    if _odd_pattern[0] != len(_ODD):
        _odd_pattern = (len(_ODD), re.compile("[" + "".join(map(re.escape, sorted(_ODD))) + "]"))
    return _odd_pattern[1]


class NormalizedText:
    """A field's ``text`` and its ``skeleton`` (words separated by single spaces, one space
    at each end).

    ``original(start, end)`` maps a span of the skeleton that starts and ends on word edges
    back to the span of ``text``; the offset map it goes through is built on first use only,
    since most text has nothing worth pointing at.
    """

    __slots__ = ("text", "skeleton", "_folded", "_one_to_one", "_offsets")

    def __init__(
        self, text: str, skeleton: str, folded: str | None = None, one_to_one: bool = False
    ) -> None:
        self.text = text
        self.skeleton = skeleton
        self._folded = folded  # fold(_demojibake(text)), if at hand
        self._one_to_one = one_to_one  # known: every piece of it is one character
        self._offsets: _Offsets | None = None

    def original(self, start: int, end: int) -> tuple[int, int]:
        """The span of ``text`` behind the skeleton span ``[start, end)``."""
        offsets = self._offsets
        if offsets is None:
            source = _demojibake(self.text)
            folded = self._folded if self._folded is not None else fold(source)
            offsets = self._offsets = _Offsets(source, folded, self._one_to_one)
        skeleton = self.skeleton
        folded_start = offsets.unfold(skeleton, start)
        # Within one word the folded text is the word itself: no second lookup.
        folded_last = (
            folded_start + (end - 1 - start)
            if skeleton.find(" ", start, end) < 0
            else offsets.unfold(skeleton, end - 1)
        )
        if offsets.odd is None and not offsets.shift_at:
            return folded_start, folded_last + 1
        return offsets.original(folded_start), offsets.original(folded_last) + 1

    def word_index(self, position: int) -> int:
        """Index of the word at ``position`` of the skeleton."""
        return self.skeleton.count(" ", 0, position + 1) - 1


class _Offsets:
    """The way from skeleton positions back to the original text's, built on first use.

    The skeleton and the folded text have the same words, only the spacing differs.
    Characters whose piece is not one character long (…, €, 马) shift later positions; they
    are few, so only their places are recorded: after folded position ``shift_at[k]``,
    folded positions run ``shift[k]`` ahead of the original ones.
    """

    __slots__ = ("folded", "shift_at", "shift", "shift_total", "anchor", "odd")

    def __init__(self, source: str, folded: str, one_to_one: bool) -> None:
        self.folded = " " + folded + " "  # padded like the skeleton
        self.shift_at: list[int] = []
        self.shift: list[int] = []
        self.shift_total = 0
        self.anchor = (0, 0)  # a word's space in the skeleton and in the folded text
        # Read only as far as a position asked for (see extend): evidence is mostly near
        # the start of a long text, and Russian has a multi-letter piece every few letters.
        self.odd: Iterator[re.Match[str]] | None = None
        if not source.isascii() and not one_to_one:
            odd = _odd_characters()  # fold(source) has put all its characters in _FOLD
            if odd is not None:
                self.odd = odd.finditer(source)

    def extend(self, odd: Iterator[re.Match[str]], position: int) -> None:
        """Record the odd characters up to the first one past folded ``position``."""
        shift_at, shifts, shift = self.shift_at, self.shift, self.shift_total
        while not shift_at or shift_at[-1] <= position:
            m = next(odd, None)
            if m is None:
                self.odd = None
                break
            piece = len(_FOLD[ord(m.group())])
            # The piece covers folded [start+shift, start+shift+piece): map it all to the char.
            shift_at.append(m.start() + shift)
            shifts.append(shift)
            shift += piece - 1
            shift_at.append(m.start() + shift + 1)
            shifts.append(shift)
        self.shift_total = shift

    def unfold(self, skeleton: str, position: int) -> int:
        """Position in the skeleton (inside a word) → position in the folded text.

        The word is found by what it is rather than by counting all words before it: if it
        is the j-th occurrence of that word in the skeleton after the last word looked up
        (or the start), it is the j-th in the folded text after that word too. Evidence
        comes in text order, so a long text is read about once, not once per mention.
        """
        folded = self.folded
        space = skeleton.rfind(" ", 0, position + 1)  # the space before the word
        key = skeleton[space : skeleton.index(" ", position) + 1]  # " word "
        at, f = self.anchor if self.anchor[0] <= space else (0, 0)
        at = skeleton.find(key, at)
        f = folded.find(key, f)
        while at < space:  # earlier occurrences (they may share spaces)
            at = skeleton.find(key, at + 1)
            f = folded.find(key, f + 1)
        self.anchor = (space, f)
        return f + (position - space) - 1  # -1: the folded text's padding

    def original(self, position: int) -> int:
        """Position in the folded text → position in the original text."""
        if self.odd is not None:
            self.extend(self.odd, position)
        k = bisect_right(self.shift_at, position) - 1
        if k < 0:
            return position
        if k % 2 == 0:  # inside a multi-character piece
            return self.shift_at[k] - self.shift[k]
        return position - self.shift[k]


def fold_text(text: str) -> NormalizedText:
    """Fold ``text`` to its padded Latin skeleton, keeping the way back to the offsets."""
    folded, one_to_one = _fold_tracking_lengths(_demojibake(text))
    return NormalizedText(text, " " + " ".join(folded.split()) + " ", folded, one_to_one)


def skeleton(text: str) -> str:
    """The skeleton of an alias or term, without padding (``"Elon Musk's"`` → ``"elon musk s"``)."""
    return fold_text(text).skeleton.strip()
