"""Hits: one mention of a watched ref in a field's skeleton, and what is done with many.

A ``Hit`` is a span ``[start, end)`` of a field's skeleton (``pipeline.match.folding``)
with its word positions counted through title, summary and body; ``evidence()`` maps it
back to the original text once, on first use (a hit may explain several storylines).

- ``near(group_hits, within)``: the hits that lie, one per group, within ``within`` words.
- ``drop_contained(hits)``: without hits inside a longer exact hit of the same ref.
- ``evidence_of(hits)``: the evidence of hits in field and text order, without repeats.
- ``depth_weight(field, start)`` / ``is_deep(evidence)``: a mention past the lede weighs less.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import accumulate
from operator import attrgetter

from pipeline.match.folding import NormalizedText
from pipeline.records import Evidence

FIELDS = ("title", "summary", "body")
_FIELD_ORDER = {f: i for i, f in enumerate(FIELDS)}
# A mention past the lede of a long summary or body is rarely what the article is about:
# it weighs less, linearly down to DEEP_MENTION_FLOOR at DEEP_MENTION_FLOOR_CHARS
# (docs/match.md, "Weak mentions").
LEDE_CHARS = 1500
DEEP_MENTION_FLOOR = 0.6
DEEP_MENTION_FLOOR_CHARS = 4000


def depth_weight(field: str, start: int) -> float:
    """How much a mention starting at character ``start`` of ``field`` counts, in [0.6, 1].

    >>> [depth_weight(f, s) for f, s in (("title", 9000), ("summary", 1499), ("summary", 2750),
    ...                                   ("body", 4000), ("body", 90000))]
    [1.0, 1.0, 0.8, 0.6, 0.6]
    """
    if in_lede(field, start):
        return 1.0
    depth = min(1.0, (start - LEDE_CHARS) / (DEEP_MENTION_FLOOR_CHARS - LEDE_CHARS))
    return round(1.0 - (1.0 - DEEP_MENTION_FLOOR) * depth, 4)


def in_lede(field: str, start: int) -> bool:
    """Is character ``start`` of ``field`` in the title or the lede (where an article says
    what it is about)?"""
    return field == "title" or start < LEDE_CHARS


def is_deep(evidence: Evidence) -> bool:
    """A mention past the lede (it weighed less in the score)."""
    return not in_lede(evidence.field, evidence.start)


@dataclass(slots=True)
class Hit:
    ref: str
    alias: str
    field: str
    start: int  # span [start, end) in the field's skeleton
    end: int
    kind: str
    similarity: float
    multiword: bool
    norm: NormalizedText
    # Word positions of the first and last word, counted through title, summary and body
    # (within the field until _hits shifts them).
    first_word: int = -1
    last_word: int = -1
    found: Evidence | None = None  # once worked out (a hit may explain several storylines)

    def evidence(self) -> Evidence:
        if self.found is None:
            start, end = self.norm.original(self.start, self.end)
            self.found = Evidence(
                self.ref,
                self.alias,
                self.field,
                start,
                end,
                self.norm.text[start:end],
                self.kind,
                round(self.similarity, 1),
            )
        return self.found


POSITION = attrgetter("first_word", "start")
_START = attrgetter("first_word")


def near(group_hits: list[list[Hit]], within: int) -> list[list[Hit]] | None:
    """Keep the hits that lie, one per group, within ``within`` words (through the fields).

    A window is ``[x, x + within]`` words from the start ``x`` of any hit; it is complete
    when every group has a hit inside it. A hit is kept when some complete window holds
    it. O(n log n) in the number of hits: a hostile 1 MB title naming Musk and Putin
    50,000 times takes a moment, not hours.
    """
    tables: list[tuple[list[int], list[int]]] = []
    for found in group_hits:
        ordered = sorted(found, key=_START)
        # From the i-th hit in start order on, the earliest end: a window starting at x
        # holds a hit of this group iff that minimum, from the first start >= x, fits.
        ends = list(accumulate(reversed([h.last_word for h in ordered]), min))
        ends.reverse()
        tables.append(([h.first_word for h in ordered], ends))
    complete: list[int] = []
    for x in sorted({h.first_word for found in group_hits for h in found}):
        for starts, ends in tables:
            i = bisect_left(starts, x)
            if i == len(starts) or ends[i] > x + within:
                break
        else:
            complete.append(x)
    if not complete:
        return None
    # Kept: the latest complete window starting at or before the hit reaches its end.
    return [
        [
            h
            for h in found
            if (j := bisect_right(complete, h.first_word))
            and complete[j - 1] >= h.last_word - within
        ]
        for found in group_hits
    ]


def drop_contained(hits: list[Hit]) -> list[Hit]:
    """Drop a hit inside a longer exact hit of the same ref ("Musk" inside "Elon Musk")."""
    outer: dict[str, list[Hit]] = {}
    for hit in hits:
        if hit.multiword and hit.kind != "fuzzy":
            outer.setdefault(hit.ref, []).append(hit)
    if not outer:
        return hits
    return [
        h
        for h in hits
        if h.ref not in outer
        or not any(
            g is not h
            and g.start <= h.start
            and h.end <= g.end
            and (g.end - g.start) > (h.end - h.start)
            for g in outer[h.ref]
        )
    ]


def evidence_of(hits: list[Hit]) -> list[Evidence]:
    """The hits' evidence in field and text order, each span of a ref once."""
    order = _FIELD_ORDER
    seen: set[tuple[str, str, int, int]] = set()
    out: list[Evidence] = []
    for hit in sorted(hits, key=lambda h: (order.get(h.field, 9), h.start, -h.end, h.ref)):
        key = (hit.ref, hit.field, hit.start, hit.end)
        if key not in seen:
            seen.add(key)
            out.append(hit.evidence())
    return out
