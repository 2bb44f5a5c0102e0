"""The sentence that matched: where in an article's text its evidence sits, for people.

``matched_sentence(article, evidence)`` is the sentence of the summary or body that holds
the most distinct watched names and terms (then the earliest), clipped to
``max_chars`` around its first mention. The title is shown anyway, so evidence found
only in the title gives "". Evidence whose offsets do not point at its text in the
article (a field edited since) is left out, never guessed at.

>>> from pipeline.records import Article, Evidence, UTC
>>> import datetime as dt
>>> at = dt.datetime(2023, 9, 7, tzinfo=UTC)
>>> summary = "A new biography is out. Musk ordered Starlink off near Crimea. More later."
>>> article = Article("a", "f", "u", "u", "Musk biography", summary, at, at)
>>> evidence = [Evidence("musk", "Musk", "summary", 24, 28, "Musk", "exact"),
...     Evidence("starlink", "Starlink", "summary", 37, 45, "Starlink", "exact")]
>>> matched_sentence(article, evidence)
'Musk ordered Starlink off near Crimea.'
>>> matched_sentence(article, [Evidence("musk", "Musk", "title", 0, 4, "Musk", "exact")])
''
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pipeline.records import Article, Evidence

# A sentence ends at . ! ? (and their CJK forms) followed by space, or at a line break;
# not after an initial or a title ("U.S. troops", "Mr. Musk").
_TITLES = ("[A-Z]", "Mr", "Ms", "Dr", "St", "Mrs", "Gen", "Sen")
_NOT_AFTER = "".join(rf"(?<!\b{title}\.)" for title in _TITLES)
_SENTENCE_END = re.compile(rf"(?<=[.!?…]){_NOT_AFTER}\s+(?=\S)|(?<=[。！？])|\n+")
_FIELDS = ("summary", "body")


def _sentences(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for boundary in _SENTENCE_END.finditer(text):
        spans.append((start, boundary.start()))
        start = boundary.end()
    spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def matched_sentence(
    article: Article, evidence: Iterable[Evidence], *, max_chars: int = 300
) -> str:
    """The sentence of the summary or body with the most distinct matched refs, or ""."""
    best: tuple[int, int, int, str, int] | None = None  # (-refs, field, start, text, first)
    for rank, field in enumerate(_FIELDS):
        text = getattr(article, field)
        hits = [
            e
            for e in evidence
            if e.field == field
            and 0 <= e.start < e.end <= len(text)
            and text[e.start : e.end] == e.text
        ]
        if not hits:
            continue
        for start, end in _sentences(text):
            inside = [e for e in hits if start <= e.start and e.end <= end]
            if not inside:
                continue
            key = (-len({e.ref for e in inside}), rank, start)
            if best is None or key < best[:3]:
                first = min(e.start for e in inside) - start
                best = (*key, text[start:end], first)
    if best is None:
        return ""
    sentence, first = " ".join(best[3].split()), best[4]
    if len(sentence) <= max_chars:
        return sentence
    # A long sentence: a window that starts a little before its first mention.
    begin = max(0, min(first - max_chars // 4, len(sentence) - max_chars))
    cut = sentence[begin : begin + max_chars - 2].strip()
    return ("…" if begin else "") + cut + "…"
