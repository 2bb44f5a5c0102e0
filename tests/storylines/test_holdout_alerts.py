"""Alert-level figures on the labeled sets, with the shipped matcher and tracker (in process).

``tests/data/labeled/holdout_alerts.jsonl`` is a hand-written stream of the four
storylines (HOLDOUT.md, last section): wire copies, other outlets' coverage in seven
languages, denials and inquiries hours after a report, rehash pieces, date-only and
undated items. Measured with the fitted join model when these floors were set
(``storywatch eval-alerts --input ...``): holdout precision 0.913 (42/46), recall 0.947
(36/38), duplicates 0.139 (5/36), from 0.878 / 0.842 / 0.094 with the overlap rule; dev
precision 0.952 (20/21), recall 1.000 (19/19), duplicates 0.000 (0/19), as with the overlap
rule (docs/storylines.md, "The join model"). The holdout precision is the
matcher's: every wrong alert leads with an item the matcher gives a storyline the labels
do not.
"""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.match.matcher import Matcher
from pipeline.storylines.evaluate import (
    AlertScores,
    alerts_for,
    events_for,
    load_labeled,
    score_alerts,
)
from pipeline.storylines.headlines import content_words
from pipeline.storylines.tracker import NEW_DEVELOPMENT, StorylineTracker
from tests.paths import DATA, LABELED, WATCHLISTS

HOLDOUT_ALERTS = DATA / "labeled" / "holdout_alerts.jsonl"
LABELED_DIR = DATA / "labeled"


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher.from_dir(WATCHLISTS)


def scores(path, matcher: Matcher, **tunables) -> AlertScores:
    items = load_labeled(path)
    return score_alerts(
        items,
        alerts_for([i.article for i in items], matcher.match, tracker=StorylineTracker(**tunables)),
    )


def test_holdout_alert_figures_do_not_fall_below_their_floor(matcher):
    s = scores(HOLDOUT_ALERTS, matcher)
    assert s.developments == 38
    assert s.recall >= 0.94, s.missed
    assert s.duplicate_rate <= 0.17, s.repeated
    assert s.precision >= 0.89, [a.article_ids[0] for a in s.wrong]


def test_dev_alert_figures_keep_every_development(matcher):
    s = scores(LABELED, matcher)
    assert (s.recalled, s.developments, s.duplicated) == (19, 19, 0), (s.missed, s.repeated)
    assert s.precision >= 0.95


def test_holdout_denials_are_their_own_developments(matcher):
    """The answers to a report that used to be merged into it are alerted (none was before)."""
    s = scores(HOLDOUT_ALERTS, matcher)
    answers = {
        ("musk-kremlin-contacts", "B2_denial"),
        ("musk-kremlin-contacts", "K2_wire"),
        ("starlink-taiwan", "T2_denial"),
        ("starlink-ukraine-war", "U11_denial"),
        ("starlink-ukraine-war", "U14_denial"),
        ("musk-government-role", "G8_denial"),
    }
    assert answers.isdisjoint(s.missed)


def test_wordless_articles_no_longer_repeat_alerts_on_the_holdout(matcher):
    """Chinese rewrites of a report alerted once each when compared by (no) words: each now
    joins the development nearest in time, so none opens one while another is in reach."""
    items = load_labeled(HOLDOUT_ALERTS)
    events = events_for([i.article for i in items], matcher.match)
    seen: dict[str, list] = {}
    wordless = 0
    for e in events:
        article = (e.article or e.lead).article
        earlier = seen.setdefault(e.storyline_id, [])
        if not content_words(f"{article.title} {article.summary[:300]}") and earlier:
            in_reach = any(abs(article.published_at - t) <= dt.timedelta(hours=48) for t in earlier)
            if in_reach:
                wordless += 1
                assert e.kind != NEW_DEVELOPMENT, article.title
        earlier.append(article.published_at)
    assert wordless >= 4  # the holdout's Chinese rewrites with a report in reach (HOLDOUT.md)


@pytest.mark.parametrize(
    ("name", "recall_floor", "precision_floor"),
    [("stream_tune", 0.54, 0.86), ("stream_valid", 0.65, 0.87)],
)
def test_development_stream_figures_do_not_fall_below_their_floor(
    name, recall_floor, precision_floor
):
    """The labeled development streams (STREAM.md) with their own watchlists: the join model
    in-sample found 33/61 and 39/60 developments (the overlap rule 17/61 and 17/60)."""
    watchlists = "stream_watchlists" if name == "stream_tune" else "stream_valid_watchlists"
    s = scores(LABELED_DIR / f"{name}.jsonl", Matcher.from_dir(LABELED_DIR / watchlists))
    assert s.recall >= recall_floor, s.missed
    assert s.precision >= precision_floor, [a.article_ids[0] for a in s.wrong]
