"""Headline text: cleaning, near-copies (short headlines), answers, contradictions."""

from __future__ import annotations

import pytest

from pipeline.storylines.headlines import contradicts, headline_key, near_copies, responds


@pytest.mark.parametrize(
    "title, key",
    [
        (
            "UPDATE 2-Musk's Starlink wins Pentagon deal - Reuters",
            "musk s starlink wins pentagon deal",
        ),
        ("EXCLUSIVE-Pentagon buys Starlink | Reuters", "pentagon buys starlink"),
        ("Refile-Update 1-Pentagon buys Starlink", "pentagon buys starlink"),
        ("Путин и Маск", "putin i mask"),
        (
            "Zelensky and Musk in row over Ukraine 'peace plan poll'",
            "zelensky and musk in row over ukraine peace plan poll",
        ),
    ],
)
def test_headline_key_strips_wire_decorations(title, key):
    assert headline_key(title) == key


def test_short_headlines_are_not_subsets_of_everything():
    # token_set_ratio would call "elon musk" a 100 match of any headline holding both words
    assert near_copies("elon musk", [["elon musk meets putin in secret talks"]], 60) == []
    assert near_copies("elon musk meets putin in secret talks", [["elon musk"]], 60) == []
    assert near_copies(
        "pentagon buys starlink for ukraine", [["pentagon buys starlink for ukraine"]], 85
    ) == [(100.0, 0, "pentagon buys starlink for ukraine")]


def test_near_copies_are_best_first_with_ties_to_the_earlier_group():
    key = "pentagon buys starlink for ukraine"
    found = near_copies(key, [[key], ["pentagon purchases starlink for ukraine"], [key]], 85)
    assert [i for _, i, _ in found] == [0, 2, 1]


def test_an_answer_contradicts_the_report_it_answers_but_not_another_answer():
    report = headline_key("Musk has been in regular contact with Putin, WSJ says")
    denial = headline_key("Kremlin denies Musk has been in regular contact with Putin")
    assert responds(denial) and not responds(report)
    assert contradicts(denial, report)
    assert not contradicts(headline_key("UPDATE 1-" + denial), denial)


def _all_pairs_near_copies(key, groups, threshold):
    """near_copies as it was before the score bound: rapidfuzz over every kept headline."""
    import numpy as np
    from rapidfuzz import fuzz, process

    keys = [k for g in groups for k in g]
    owners = [i for i, g in enumerate(groups) for _ in g]
    if not keys or not key:
        return []
    scores = process.cdist([key], keys, scorer=fuzz.token_set_ratio, dtype=np.float64)[0]
    for j, k in enumerate(keys):
        if key.count(" ") < 3 or k.count(" ") < 3:
            scores[j] = fuzz.token_sort_ratio(key, k)
    hits = [j for j in range(len(keys)) if scores[j] >= threshold]
    return sorted(
        ((float(scores[j]), owners[j], keys[j]) for j in hits), key=lambda h: (-h[0], h[1])
    )


def test_the_score_bound_keeps_every_near_copy_of_real_headlines():
    """The bound that spares rapidfuzz most pairs never drops one that reaches the
    threshold: real headlines (keys and raw titles, several scripts) with the copies a
    wire makes of them (words dropped, repeated, reordered, other whitespace)."""
    import json
    import random

    from tests.paths import DATA

    titles = []
    for name in ("dev.jsonl", "stream_tune.jsonl", "stream_valid.jsonl"):
        with (DATA / "labeled" / name).open(encoding="utf-8") as f:
            titles += [json.loads(line)["title"] for line in f if line.strip()]
    rng = random.Random(13)
    texts = [headline_key(t) for t in titles] + titles[::5]
    variants = []
    for text in texts[::3]:
        words = text.split()
        if len(words) > 2:
            variants.append(" ".join(w for w in words if rng.random() > 0.2))
            variants.append(" ".join(words + words[:2]))
            variants.append(" ".join(rng.sample(words, len(words))))
            variants.append("\t".join(words[:4]) + "\u00a0" + " ".join(words[4:]))
    kept = texts + variants + ["", "   ", "a"]
    groups = [kept[i : i + 3] for i in range(0, len(kept), 3)]
    queries = rng.sample(texts + variants, 60) + ["a b", "x"]
    hits = 0
    for threshold in (50, 85, 97):
        for query in queries:
            expected = _all_pairs_near_copies(query, groups, threshold)
            assert near_copies(query, groups, threshold) == expected, (query, threshold)
            hits += len(expected)
    assert hits > 200  # near copies are really found, not an empty list twice


def test_kept_profiles_are_the_fresh_ones_and_stay_bounded(monkeypatch):
    """The bound reads kept headline profiles from a bounded table: what it returns for
    real headlines is what ``_profile`` computes fresh, also once the table is full and
    drops the oldest, and the table never holds more than its bound."""
    import json

    from pipeline.storylines import headlines
    from tests.paths import DATA

    with (DATA / "labeled" / "dev.jsonl").open(encoding="utf-8") as f:
        keys = [headline_key(json.loads(line)["title"]) for line in f if line.strip()]
    monkeypatch.setattr(headlines, "_PROFILES", {})
    monkeypatch.setattr(headlines, "_PROFILES_KEPT", 16)
    for start in range(0, len(keys), 7):
        window = keys[start : start + 30]
        assert headlines._profiles(window) == b"".join(map(headlines._profile, window))
        assert len(headlines._PROFILES) <= 16
    assert headlines._profiles(keys[:5]) == b"".join(map(headlines._profile, keys[:5]))
