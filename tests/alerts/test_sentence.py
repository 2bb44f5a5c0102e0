"""The sentence that matched (pipeline/alerts/sentence.py), on real dev.jsonl items and the
shipped watchlists' matcher."""

from __future__ import annotations

import doctest
import json

import pytest

import pipeline.alerts.sentence
from pipeline.alerts.decide import decide_alert, format_alert
from pipeline.alerts.sentence import matched_sentence
from pipeline.config.watchlists import load_watchlists
from pipeline.deliver.email import _alert_html, _alert_text
from pipeline.deliver.slack import alert_blocks
from pipeline.jsonl_io import article_from_json
from pipeline.storylines.tracker import StorylineTracker
from tests.paths import LABELED, WATCHLISTS


@pytest.fixture(scope="module")
def match():
    from pipeline.match.matcher import Matcher

    return Matcher(load_watchlists(WATCHLISTS)).match


def item(article_id: str):
    for line in LABELED.read_text().splitlines():
        if f'"id": "{article_id}"' in line:
            return article_from_json(json.loads(line))
    raise AssertionError(article_id)


def test_the_summary_sentence_with_the_evidence_is_shown(match):
    # H141, Daily Mail, 7 Sep 2023: names, place and warship all in the one-sentence summary
    article = item("H141")
    [found] = match(article)
    assert matched_sentence(article, found.evidence) == article.summary
    assert "Russian warship" in article.summary


def test_evidence_only_in_the_title_gives_no_sentence(match):
    article = item("H139")  # The Washington Post: the summary names none of the terms
    [found] = match(article)
    assert {e.field for e in found.evidence} == {"title"}
    assert matched_sentence(article, found.evidence) == ""


def test_a_long_sentence_is_clipped_around_its_first_mention(match):
    article = item("H141")
    [found] = match(article)
    clipped = matched_sentence(article, found.evidence, max_chars=80)
    assert len(clipped) <= 80 and clipped.endswith("…") and "Elon Musk" in clipped


def test_offsets_that_do_not_point_at_the_text_are_left_out(match):
    article = item("H141")
    [found] = match(article)
    from dataclasses import replace

    moved = [replace(e, start=e.start + 1, end=e.end + 1) for e in found.evidence]
    assert matched_sentence(article, moved) == ""


def test_the_alert_carries_it_to_every_channel(match):
    [found] = match(item("H141"))
    [event] = StorylineTracker().observe(found)
    alert = decide_alert(event)
    sentence = alert.matched_sentence
    assert sentence.startswith("Elon Musk ordered that his Starlink internet service")
    assert f"“{sentence}”" in format_alert(alert)
    assert f"  “{sentence}”" in _alert_text(alert)
    assert f"<blockquote>{sentence}</blockquote>" in _alert_html(alert)
    _, blocks = alert_blocks(alert)
    why = next(
        b for b in blocks if b.get("text", {}).get("text", "").startswith("*Why it matched*")
    )
    assert why["text"]["text"].split("\n")[1] == f"“{sentence}”"


def test_docstring_examples():
    result = doctest.testmod(pipeline.alerts.sentence)
    assert result.attempted > 0 and result.failed == 0


def test_an_initial_or_a_title_does_not_end_a_sentence():
    from pipeline.alerts.sentence import _sentences

    # Reuters, 16 Apr 2026 (seeds/feeds): "U.S." inside the sentence
    text = (
        "In Taiwan, SpaceX faced criticism over concerns it was withholding satellite "
        "communications to U.S. service members based there. Next."
    )
    assert [text[a:b] for a, b in _sentences(text)] == [text[: text.index(" Next")], "Next."]
    text = "Mr. Musk spoke. Then he left."
    assert [text[a:b] for a, b in _sentences(text)] == ["Mr. Musk spoke.", "Then he left."]
