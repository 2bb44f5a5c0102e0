"""The tracker's state: the one-pass overlaps with a development, the term counts."""

from __future__ import annotations

import datetime as dt
import json
import random

from pipeline.storylines.headlines import content_words, word_overlap
from pipeline.storylines.state import StorylineState, _Development, keep_words, span_overlaps
from tests.paths import DATA

_T = dt.datetime(2024, 10, 25, tzinfo=dt.UTC)


def _development(word_sets: list[frozenset[str]]) -> _Development:
    dev = _Development("d", None, _T, _T, [], [], [])  # type: ignore[arg-type]
    for words in word_sets:
        keep_words(dev, words, (_T, _T))
    return dev


def test_span_overlaps_are_word_overlap_exactly_on_real_articles():
    """The one-pass overlaps the tracker uses for timestamped developments give the very
    floats the general path computes with ``word_overlap`` (best, best residual without
    the storyline's own words, mean), so the join model sees the same features."""
    items = []
    for name in ("dev.jsonl", "stream_tune.jsonl"):
        with (DATA / "labeled" / name).open(encoding="utf-8") as f:
            items += [json.loads(line) for line in f if line.strip()]
    texts = [content_words(f"{i['title']} {i.get('summary', '')[:300]}") for i in items]
    rng = random.Random(13)
    checked = shared = 0
    for words in rng.sample(texts, 80) + [frozenset(), frozenset({"iran"})]:
        kept = rng.sample(texts, rng.randint(1, 12)) + [frozenset()] * rng.randint(0, 1)
        dev = _development(kept)
        vocabulary = [w for w in words if rng.random() < 0.3]
        for common in (frozenset(), frozenset(vocabulary), frozenset(words)):
            residual = words - common
            overlaps = [word_overlap(words, v) for v in kept]
            expected = (
                max(overlaps),
                max(word_overlap(residual, v, ignore=common) for v in kept),
                sum(overlaps) / len(overlaps),
            )
            assert span_overlaps(dev, words, residual, common) == expected
            checked += 1
            shared += expected[0] > 0 and expected[1] > 0
    assert checked == 246 and shared > 30  # overlaps really found, not zeros alone


def test_forget_terms_uncounts_what_count_terms_and_add_actors_counted():
    state = StorylineState("s")
    a, b = _development([]), _development([])
    state.count_terms(frozenset({"iran", "talks"}), kept_by=a)
    state.count_terms(frozenset({"iran", "oil"}), kept_by=b)
    state.add_actors(a, ["entity:iran", "name:vance"])
    state.add_actors(b, ["entity:iran"])
    state.forget_terms(a)
    assert state.term_articles == {"iran": 1, "oil": 1}
    assert state.kept_articles == 1
    assert state.actor_developments == {"entity:iran": 1}
    state.forget_terms(b)
    assert state.term_articles == {} and state.actor_developments == {}
    assert state.kept_articles == 0
