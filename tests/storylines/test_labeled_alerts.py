"""Alert-level figures on the real labeled sets, with the real matcher and tracker (in process).

dev.jsonl with the shipped watchlists: precision 0.952 (20/21), recall 1.000 (19/19),
duplicates 0.000 (0/19) with the fitted join model, as with the overlap rule
(docs/storylines.md, "The join model"). The development streams (STREAM.md) with their own
watchlists have floors a little below their in-sample figures. The answers to a report (a
denial, an admission, "hits back") that the labels make developments of their own are
alerted, each led by an answer; and an article with no comparable words (Chinese) joins the
development nearest in time instead of alerting again (a constructed stream: unit inputs,
not labeled data, since no real labeled item has no content words).
"""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.jsonl_io import article_from_json
from pipeline.match.matcher import Matcher
from pipeline.storylines.evaluate import (
    AlertScores,
    alerts_for,
    developments_of,
    events_for,
    load_labeled,
    score_alerts,
)
from pipeline.storylines.headlines import content_words, headline_key, responds
from pipeline.storylines.tracker import NEW_DEVELOPMENT, StorylineTracker
from tests.paths import DATA, LABELED, WATCHLISTS

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


def test_dev_alert_figures_keep_every_development(matcher):
    s = scores(LABELED, matcher)
    assert (s.recalled, s.developments, s.duplicated) == (19, 19, 0), (s.missed, s.repeated)
    assert s.precision >= 0.95


# The labeled developments that are an answer to an earlier report of their storyline
# (items whose headline ``responds``), in the real files: each is alerted today. Left out:
# stream_valid's V136 ("... were denied emergency funding"), which ``responds`` but reports
# an event (alerted too, as a development of its own).
ANSWERS = [
    # dev: Musk acknowledges he withheld Starlink (NYT H144, The Hill H147 ...), a day after
    # the book excerpt's reports (D18).
    ("dev.jsonl", WATCHLISTS, {("starlink-ukraine-war", "D19_musk_acknowledges_sep2023")}),
    # Keegan admits there could be hundreds of schools (V083, V092); Sunak hits back at the
    # former civil servant (V105, V107).
    (
        "stream_valid.jsonl",
        LABELED_DIR / "stream_valid_watchlists",
        {("raac-school-concrete", "RAAC#2"), ("raac-school-concrete", "RAAC#4")},
    ),
    # "This is difficult, PM admits on day of sacking chancellor" (S035); Musk admits
    # scuppering the Ukrainian attack (S185).
    (
        "stream_test.jsonl",
        LABELED_DIR / "stream_watchlists",
        {("uk-truss-government-crisis", "TRUSS#5"), ("starlink-ukraine-war", "STK23#2")},
    ),
]


@pytest.mark.parametrize(("name", "watchlists", "answers"), ANSWERS, ids=[a[0] for a in ANSWERS])
def test_answers_are_their_own_developments(name, watchlists, answers):
    """An answer is alerted as a development of its own: an alert of it leads with an answer."""
    items = load_labeled(LABELED_DIR / name)
    alerts = alerts_for(
        [i.article for i in items], Matcher.from_dir(watchlists).match, tracker=StorylineTracker()
    )
    s = score_alerts(items, alerts)
    assert answers.isdisjoint(s.missed), s.missed
    development_of = developments_of(items)
    title = {i.article.article_id: i.article.title for i in items}
    led_by_an_answer = {
        (a.storyline_id, development_of.get((a.storyline_id, a.article_ids[0])))
        for a in alerts
        if a.kind == NEW_DEVELOPMENT and responds(headline_key(title[a.article_ids[0]]))
    }
    assert answers <= led_by_an_answer, answers - led_by_an_answer


def test_wordless_articles_join_the_development_nearest_in_time(matcher):
    """Chinese rewrites of a report have no comparable words: each joins the development
    nearest in time (within 48 h), so none opens one while another is in reach; one with
    nothing in reach is a development of its own. Made-up headlines (unit inputs, not
    labeled data) that the shipped watchlists match."""
    t0 = dt.datetime(2025, 2, 3, 9, tzinfo=dt.UTC)
    stream = [
        ("e1", "Pentagon buys Starlink for Ukraine", 0),
        ("z1", "五角大楼为乌克兰购买星链", 5),
        ("e2", "Trump taps Musk to lead the Department of Government Efficiency", 1),
        ("z2", "特朗普任命马斯克领导政府效率部", 3),
        ("e3", "Musk puts USAID through the wood chipper", 30),
        ("z3", "马斯克让政府效率部关闭美国国际开发署", 31),  # nearest is e3 (1 h), not e2 (28 h)
        ("z4", "星链在俄乌战争中的作用", 200),  # nothing within 48 h
    ]
    articles = [
        article_from_json(
            {
                "id": aid,
                "title": title,
                "published": (t0 + dt.timedelta(hours=h)).isoformat(),
                "url": f"https://news.test/{aid}",
            }
        )
        for aid, title, h in stream
    ]
    events = events_for(articles, matcher.match)
    assert {(e.article or e.lead).article.article_id for e in events} == {s[0] for s in stream}
    seen: dict[str, list] = {}
    wordless = 0
    for e in events:
        article = (e.article or e.lead).article
        earlier = seen.setdefault(e.storyline_id, [])
        if not content_words(f"{article.title} {article.summary[:300]}"):
            in_reach = any(abs(article.published_at - t) <= dt.timedelta(hours=48) for t in earlier)
            wordless += in_reach
            assert (e.kind != NEW_DEVELOPMENT) == in_reach, (article.article_id, e.kind)
        earlier.append(article.published_at)
    assert wordless == 3  # z1, z2, z3
    by_id = {e.article.article.article_id: e for e in events if e.article is not None}
    assert by_id["z3"].development_id == by_id["e3"].development_id


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
