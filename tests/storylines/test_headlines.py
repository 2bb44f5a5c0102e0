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
