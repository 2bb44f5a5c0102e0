"""The storyline tracker: duplicates, coverage, new developments, bursts, bounds, order.

Pure tests of ``StorylineTracker``; the Beam adapter is tested in test_transform.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import tracemalloc

import pytest

from pipeline.alert_json import alert_to_json
from pipeline.alerts.decide import decide_alerts
from pipeline.jsonl_io import article_from_json
from pipeline.records import Match
from pipeline.storylines.decision import shipped_model
from pipeline.storylines.headlines import content_words, word_overlap
from pipeline.storylines.timing import published_range
from pipeline.storylines.tracker import (
    BURST,
    COVERAGE,
    DUPLICATE,
    NEW_DEVELOPMENT,
    STALE,
    StorylineState,
    StorylineTracker,
    development_id_for,
    event_time_order,
    track_in_order,
)
from tests.paths import LABELED

T0 = dt.datetime(2023, 6, 1, 9, 0, tzinfo=dt.UTC)


def match(
    aid: str,
    title: str,
    hours: float = 0.0,
    *,
    storyline: str = "s",
    outlet: str = "",
    summary: str = "",
) -> Match:
    when = (T0 + dt.timedelta(hours=hours)).isoformat()
    article = article_from_json(
        {
            "id": aid,
            "title": title,
            "published": when,
            "outlet": outlet,
            "summary": summary,
            "url": f"https://news.test/{aid}",
        }
    )
    return Match(article, storyline, 0.9, ())


def kinds(tracker: StorylineTracker, *matches: Match) -> list[str]:
    return [e.kind for m in matches for e in tracker.observe(m)]


def test_syndicated_copy_and_headline_edit_are_duplicates_without_alert():
    t = StorylineTracker()
    assert kinds(
        t,
        match("a", "Pentagon buys Starlink for Ukraine", 0, outlet="Reuters"),
        match("b", "UPDATE 2-Pentagon buys Starlink for Ukraine - Reuters", 0.5),
        match("c", "Pentagon buys Musk's Starlink for Ukraine", 3),
    ) == [NEW_DEVELOPMENT, DUPLICATE, DUPLICATE]


def test_other_coverage_joins_the_development_and_lists_sources():
    t = StorylineTracker()
    t.observe(match("a", "Pentagon buys Starlink for Ukraine", 0, outlet="Reuters"))
    [event] = t.observe(
        match("b", "US military will fund Starlink terminals for Ukraine", 1, outlet="FT")
    )
    assert event.kind == COVERAGE
    assert event.lead.article.article_id == "a"
    assert event.articles == ("a", "b")
    assert event.sources == (
        ("Reuters", "Pentagon buys Starlink for Ukraine", "https://news.test/a"),
    )
    assert event.article.article.article_id == "b"


def test_a_second_report_from_the_same_outlet_is_a_new_development():
    """Another outlet's report an hour later in other words is coverage (above); the same
    outlet's is its next story, a new development, and "why new" says so."""
    t = StorylineTracker()
    t.observe(match("a", "Pentagon buys Starlink for Ukraine", 0, outlet="Reuters"))
    [event] = t.observe(
        match(
            "b",
            "US military will fund Starlink terminals for Ukraine",
            1,
            outlet="Reuters",
        )
    )
    assert event.kind == NEW_DEVELOPMENT
    assert "another report from Reuters, which reported the nearest known development too" in (
        event.reason
    )
    # A copy is still a copy, whoever publishes it.
    assert kinds(t, match("c", "Pentagon buys Starlink for Ukraine", 2, outlet="Reuters")) == [
        DUPLICATE
    ]


def test_unrelated_story_in_the_window_is_a_new_development():
    t = StorylineTracker()
    first = t.observe(match("a", "Department of government efficiency begins work", 0))[0]
    second = t.observe(
        match("b", "'We are terrified': Musk puts USAID through 'wood chipper'", 47)
    )[0]
    assert second.kind == NEW_DEVELOPMENT
    assert second.development_id != first.development_id


def test_similar_story_after_the_window_is_a_new_development_but_a_copy_is_not():
    t = StorylineTracker()
    t.observe(match("a", "Musk to seek Starlink donations for Ukraine", 0))
    assert kinds(
        t, match("b", "Musk seeks more Starlink donations as Ukraine funding stalls", 24 * 5)
    ) == [NEW_DEVELOPMENT]
    assert kinds(
        t, match("c", "Musk to seek Starlink donations for Ukraine - Reuters", 24 * 10)
    ) == [DUPLICATE]


def test_same_article_again_is_a_duplicate():
    t = StorylineTracker()
    assert kinds(
        t, match("a", "Pentagon buys Starlink", 0), match("a", "Pentagon buys Starlink", 0)
    ) == [NEW_DEVELOPMENT, DUPLICATE]


def test_storylines_are_independent():
    t = StorylineTracker()
    assert kinds(
        t,
        match("a", "Pentagon buys Starlink for Ukraine", 0, storyline="s1"),
        match("a", "Pentagon buys Starlink for Ukraine", 0, storyline="s2"),
    ) == [NEW_DEVELOPMENT, NEW_DEVELOPMENT]


def test_development_id_is_stable_across_trackers():
    one = StorylineTracker().observe(match("a", "Pentagon buys Starlink", 0))[0]
    two = StorylineTracker().observe(match("a", "Pentagon buys Starlink", 0))[0]
    assert one.development_id == two.development_id


def test_expired_development_does_not_absorb_a_copy_and_very_late_article_is_stale():
    t = StorylineTracker(duplicate_horizon_hours=72, coverage_window_hours=48)
    t.observe(match("a", "Pentagon buys Starlink for Ukraine", 0))
    t.observe(match("b", "Zelensky meets Macron in Paris", 100))
    assert kinds(t, match("c", "Pentagon buys Starlink for Ukraine - Reuters", 101)) == [
        NEW_DEVELOPMENT
    ]
    assert kinds(t, match("d", "Old story resurfaces about Pentagon and Musk", 1)) == [STALE]


def test_out_of_order_article_within_the_window_joins_its_development():
    t = StorylineTracker()
    t.observe(match("b", "US military will fund Starlink terminals for Ukraine", 6))
    assert kinds(t, match("a", "Pentagon buys Starlink for Ukraine", 0)) == [COVERAGE]


def test_burst_when_rate_jumps_above_baseline_with_baseline_in_event():
    t = StorylineTracker(
        burst_window_hours=1,
        burst_baseline_hours=24,
        burst_min_articles=4,
        burst_factor=4,
        burst_cooldown_hours=12,
    )
    t.observe(match("base", "Musk comments on Starlink in Ukraine", -12))
    titles = [
        "Russia says Starlink terminals used by its troops",
        "Kyiv asks SpaceX to block Russian use",
        "Pentagon reviews Starlink in occupied areas",
        "Lawmakers demand answers on Starlink leak",
        "SpaceX denies selling terminals to Russia",
    ]
    feeds = ["reuters", "ap", "reuters", "kyiv-independent", "ap"]

    def from_feed(m: Match, feed_id: str) -> Match:
        return dataclasses.replace(m, article=dataclasses.replace(m.article, feed_id=feed_id))

    t.observe(from_feed(match("old", "Musk on Starlink", -6), "quiet-blog"))
    events = [
        e
        for i, title in enumerate(titles)
        for e in t.observe(from_feed(match(f"x{i}", title, i * 0.1), feeds[i]))
    ]
    bursts = [e for e in events if e.kind == BURST]
    assert len(bursts) == 1  # cooldown: one burst alert, not one per article
    # The feeds that carry the burst (within its window), for polling to tighten on them.
    assert bursts[0].feed_ids == ("ap", "kyiv-independent", "reuters")
    assert bursts[0].baseline_per_hour == pytest.approx(2 / 24, abs=1e-3)
    assert bursts[0].rate_per_hour == 4.0
    assert "baseline" in bursts[0].reason


def test_steady_rate_is_not_a_burst():
    t = StorylineTracker(burst_window_hours=1, burst_baseline_hours=24, burst_min_articles=4)
    events = [
        e
        for i in range(200)
        for e in t.observe(
            match(f"x{i}", f"Storyline item number {i} about topic {i * 7919 % 1000}", i * 0.3)
        )
    ]
    assert not [e for e in events if e.kind == BURST]


def test_state_stays_bounded_over_a_long_run():
    rng = random.Random(7)
    words = [f"w{i}" for i in range(5000)]
    t = StorylineTracker(
        max_developments=50,
        max_articles_per_development=5,
        max_rate_samples=100,
        coverage_window_hours=0.01,
    )
    tracemalloc.start()
    for i in range(3000):
        t.observe(match(f"x{i}", " ".join(rng.sample(words, 7)), i * 0.05))
        if i == 1000:
            size_early, mem_early = t.states["s"].size(), tracemalloc.get_traced_memory()[0]
    size_late, mem_late = t.states["s"].size(), tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert 40 <= len(t.states["s"].developments) <= 50
    assert size_late <= 50 * 5 + 100
    assert size_late <= size_early + 10
    assert mem_late < mem_early * 1.2 + 100_000


def test_replay_order_is_deterministic_whatever_the_input_order():
    ms = [
        match("a", "Pentagon buys Starlink for Ukraine", 0),
        match("b", "Pentagon buys Starlink for Ukraine", 0),
        match("c", "Ukraine says Russian forces use Starlink", 50),
        match("d", "Zelensky thanks Musk", 50),
    ]
    forward = [(e.kind, e.article.article.article_id) for e in track_in_order(ms)]
    backward = [(e.kind, e.article.article.article_id) for e in track_in_order(reversed(ms))]
    assert forward == backward
    assert forward[0] == (NEW_DEVELOPMENT, "a")


def dated(aid: str, title: str, published, *, summary: str = "", storyline: str = "s") -> Match:
    """A match whose ``published`` is given as written in a labeled file (may be coarse or null)."""
    return Match(
        article_from_json({"id": aid, "title": title, "published": published, "summary": summary}),
        storyline,
        0.9,
        (),
    )


def overlap(a: Match, b: Match) -> float:
    words = [content_words(f"{m.article.title} {m.article.summary}") for m in (a, b)]
    return word_overlap(*words)


def test_month_dated_first_report_is_joined_by_the_same_event_weeks_into_the_month():
    # Only "2025-02" is known of the first report; the others are dated the 23rd and 24th.
    first = dated(
        "m",
        "DOGE begins work on federal efficiency",
        "2025-02",
        summary="Musk emails federal employees asking them to list last week's accomplishments",
    )
    later = [
        dated("d1", "Federal employees told to list accomplishments in DOGE email", "2025-02-23"),
        dated("d2", "Musk DOGE accomplishments email divides agencies", "2025-02-24"),
    ]
    assert kinds(StorylineTracker(), first, *later) == [NEW_DEVELOPMENT, COVERAGE, COVERAGE]
    # Arriving after them (live order), it joins them the same way: the month is near their span.
    assert kinds(StorylineTracker(), *later, first) == [NEW_DEVELOPMENT, COVERAGE, COVERAGE]
    # The same first report with its date read as midnight on the 1st (a timestamp) stays apart.
    exact = Match(dataclasses.replace(first.article, published_precision="instant"), "s", 0.9, ())
    assert kinds(StorylineTracker(), exact, *later)[:2] == [NEW_DEVELOPMENT, NEW_DEVELOPMENT]


def test_month_dated_report_is_further_away_than_a_same_moment_report():
    # A month-dated article is "some time in February": a report on the 3rd is taken as
    # about 24 h from it, not 0, and the join model asks more of a pair further apart.
    first = dated(
        "m",
        "Efficiency office begins work",
        "2025-02",
        summary="The new department starts reviewing federal spending",
    )
    other = dated(
        "u", "Musk says USAID will be shut", "2025-02-03", summary="Federal aid agency staff home"
    )
    assert 6 <= overlap(first, other) < 10.5
    assert kinds(StorylineTracker(), first, other) == [NEW_DEVELOPMENT, NEW_DEVELOPMENT]
    t = StorylineTracker()
    month = published_range(first.article)
    day = published_range(other.article)
    assert t._separation_hours(day, month) > 20
    assert t._separation_hours(day, day) < 10
    model = shipped_model()
    near, far = (  # the article is dated to the day: a coarse-date pair
        [0.1, 0.1, 0.1, hours / 48, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0]
        for hours in (0, 24)
    )
    assert model.probability(near) > model.probability(far)


def test_two_reports_dated_the_same_day_count_as_hours_apart():
    t = StorylineTracker()
    day = dt.datetime(2025, 2, 3, tzinfo=dt.UTC)
    one_day = (day, day + dt.timedelta(days=1))
    assert 7.0 < t._separation_hours(one_day, one_day) < 9.0  # about 8 h apart
    assert t._separation_hours(one_day, (day + dt.timedelta(days=1),) * 2) == pytest.approx(
        12, abs=1
    )


def test_undated_article_joins_only_as_a_near_copy_and_is_replayed_last():
    ms = [
        dated(
            "x",
            "Defense department renews SpaceX deal",
            None,
            summary="The Pentagon keeps paying for Starlink terminals in Ukraine",
        ),
        dated("a", "Pentagon buys Starlink for Ukraine", "2023-06-01T09:00Z"),
        dated("y", "UPDATE 1-Pentagon buys Starlink for Ukraine - Reuters", None),
    ]
    assert overlap(ms[0], ms[1]) >= 15  # enough shared words for a dated report within the window
    events = track_in_order(ms)
    assert [(e.article.article.article_id, e.kind) for e in events] == [
        ("a", NEW_DEVELOPMENT),
        ("x", NEW_DEVELOPMENT),
        ("y", DUPLICATE),
    ]


def test_undated_development_expires_like_one_seen_at_arrival():
    t = StorylineTracker(duplicate_horizon_hours=720)
    kinds(
        t,
        dated("a", "Pentagon buys Starlink for Ukraine", "2023-06-01T09:00Z"),
        dated("x", "Ukraine says Russian forces use Starlink", None),
    )
    assert len(t.states["s"].developments) == 2
    kinds(t, dated("b", "Zelensky thanks Musk for terminals", "2023-08-01T09:00Z"))
    assert [d.lead.article.article_id for d in t.states["s"].developments] == ["b"]


def test_coarse_and_undated_articles_are_never_stale_by_their_fallback_time():
    t = StorylineTracker()
    kinds(t, dated("a", "Pentagon buys Starlink for Ukraine", "2023-06-20T09:00Z"))
    assert kinds(t, dated("m", "Zelensky thanks Musk for terminals", "2023-05")) == [
        NEW_DEVELOPMENT
    ]
    assert kinds(t, dated("y", "SpaceX limits drone use of Starlink", "2023")) == [NEW_DEVELOPMENT]
    assert kinds(t, dated("x", "Ukraine says Russian forces use Starlink", None)) == [
        NEW_DEVELOPMENT
    ]
    assert kinds(t, dated("o", "Musk tweets peace plan", "2023-04-01")) == [STALE]


def test_a_long_running_development_keeps_its_coverage_beyond_the_kept_articles():
    # Only 3 articles are kept, but the distance is to the development's latest timestamp,
    # so reports 20 h apart keep joining for days.
    t = StorylineTracker(max_articles_per_development=3)
    titles = [
        "Pentagon signs deal",
        "Kyiv receives terminals",
        "Officials praise contract",
        "Army units connect",
        "Budget questions follow",
        "Drone teams rely on links",
        "Analysts weigh costs",
        "Deal extended again",
    ]
    ms = [
        match(str(i), title, 20 * i, summary="Pentagon Starlink contract Ukraine terminals SpaceX")
        for i, title in enumerate(titles)
    ]
    assert kinds(t, *ms) == [NEW_DEVELOPMENT] + [COVERAGE] * 7


def test_a_reversal_in_the_same_words_is_a_new_development_and_its_copies_join_it():
    t = StorylineTracker()
    events = [
        e
        for m in (
            match("a", "Musk says SpaceX cannot keep funding Starlink in Ukraine", 0),
            match(
                "b", "UPDATE 1-Musk says SpaceX can't keep funding Starlink in Ukraine - Reuters", 1
            ),
            match("c", "Musk backtracks, says SpaceX will keep funding Starlink in Ukraine", 20),
            match("d", "Musk says SpaceX will keep funding Starlink in Ukraine", 21),
        )
        for e in t.observe(m)
    ]
    assert [e.kind for e in events] == [NEW_DEVELOPMENT, DUPLICATE, NEW_DEVELOPMENT, DUPLICATE]
    assert "says the opposite" in events[2].reason
    assert events[3].development_id == events[2].development_id != events[0].development_id
    assert (
        kinds(
            StorylineTracker(),
            match("f", "Musk says he will turn off Starlink over Crimea", 0),
            match("g", "Musk says he will not turn off Starlink over Crimea", 1),
        )
        == [NEW_DEVELOPMENT] * 2
    )


def test_labeled_dup_groups_give_one_development_each():
    """With the labels as a perfect matcher, every dup_group opens exactly one development.

    D19 (Musk acknowledges, the morning after the biography report D18, in its words) used
    to join D18; its headline answers the report, so it is a development of its own. D23,
    whose first item is dated only "2025-02", and D25 (two items dated "2024-03") each
    open one development because coarse dates are compared as ranges.
    """
    items = [json.loads(line) for line in LABELED.read_text().splitlines() if line.strip()]
    matches = [Match(article_from_json(o), s, 1.0, ()) for o in items for s in o["labels"]]
    group = {o["id"]: o["dup_group"] for o in items}
    opened: dict[tuple[str, str], int] = {}
    for e in track_in_order(matches):
        if e.kind == NEW_DEVELOPMENT and group[e.lead.article.article_id]:
            key = (e.storyline_id, group[e.lead.article.article_id])
            opened[key] = opened.get(key, 0) + 1
    all_groups = {(s, o["dup_group"]) for o in items for s in o["labels"] if o["dup_group"]}
    assert set(opened) == all_groups
    # The one group opened twice: the Kremlin's praise of Musk's peace plan (a new actor
    # doing a new thing, labeled with the plan) in the Starlink-Ukraine storyline.
    assert {k for k, n in opened.items() if n > 1} <= {
        ("starlink-ukraine-war", "D12_peace_plan_oct2022")
    }


def test_a_denial_of_a_report_is_a_new_development_that_its_other_reports_join():
    report = (
        "Elon Musk has been in regular contact with Vladimir Putin since late 2022, WSJ reports"
    )
    t = StorylineTracker()
    events = [
        e
        for m in (
            match(
                "r1",
                report,
                0,
                summary="The two men discussed business and geopolitics, officials said.",
            ),
            match("r2", "Musk and Putin have talked regularly since 2022, report says", 2),
            match(
                "d1",
                "Kremlin denies Musk has been in regular contact with Putin since late 2022",
                11,
                summary="The only contact was one phone call about space, the Kremlin said.",
            ),
            match("d2", "Kremlin denies report of regular Putin-Musk contacts", 12),
            match("d3", "Putin and Musk had only one phone call, about space, Kremlin says", 12.5),
            match(
                "r3",
                "What we know about Musk's regular contact with Putin, as reported by the WSJ",
                30,
            ),
        )
        for e in t.observe(m)
    ]
    assert [e.kind for e in events] == [
        NEW_DEVELOPMENT,
        COVERAGE,
        NEW_DEVELOPMENT,
        COVERAGE,
        COVERAGE,
        COVERAGE,
    ]
    report_dev, denial_dev = events[0].development_id, events[2].development_id
    assert report_dev != denial_dev
    assert [e.development_id for e in events[3:5]] == [denial_dev] * 2
    assert (
        "says the opposite" in events[2].reason
    )  # as a near-copy of the report (token subset) it contradicts it
    # A later rehash in the words of both is coverage of one of them, not a third alert.
    assert events[5].development_id in (report_dev, denial_dev)
    # Before answers were told apart the denial was coverage (or a duplicate) of the report.
    assert (
        kinds(
            StorylineTracker(),
            match("a", "Pentagon buys Starlink for Ukraine", 0),
            match("b", "SpaceX says report it sold Starlink to Pentagon for Ukraine is false", 5),
        )
        == [NEW_DEVELOPMENT] * 2
    )
    # "Confirms" is the event itself, not an answer (dev's D26).
    assert kinds(
        StorylineTracker(),
        match("a", "Musk puts USAID through the wood chipper", 0),
        match("b", "Musk confirms USAID is getting shut down", 2),
    ) == [NEW_DEVELOPMENT, COVERAGE]


def test_an_article_with_too_few_words_is_coverage_of_the_development_nearest_in_time():
    t = StorylineTracker()
    events = [
        e
        for m in (
            match("a", "Trump taps Musk, Ramaswamy to lead Department of Government Efficiency", 0),
            match("b", "Judge blocks Musk team from Treasury payment records", 30),
            match("c", "特朗普任命马斯克领导政府效率部", 32),  # Chinese: no comparable words
            match(
                "d", "美国法官阻止DOGE访问财政部支付系统", 29
            ),  # nearest is b (1 h), not a (29 h)
            match("e", "马斯克", 200),
        )  # nothing within 48 h: a development of its own
        for e in t.observe(m)
    ]
    assert [e.kind for e in events] == [
        NEW_DEVELOPMENT,
        NEW_DEVELOPMENT,
        COVERAGE,
        COVERAGE,
        NEW_DEVELOPMENT,
    ]
    assert events[2].development_id == events[1].development_id
    # d (29 h) is published before b (30 h), so it is the development's original now.
    assert events[3].development_id == development_id_for("s", "d")
    assert events[3].articles == ("b", "c", "d")
    assert "too few words to compare" in events[2].reason and "(2 h away)" in events[2].reason
    assert content_words("特朗普任命马斯克领导政府效率部") == frozenset()
    # An undated wordless article can only be a near-copy, as before.
    undated = Match(article_from_json({"id": "u", "title": "马斯克领导政府效率部"}), "s", 0.9, ())
    assert kinds(t, undated) == [NEW_DEVELOPMENT]
    # min_comparable_words=0 sends every article to the join model, words or not.
    by_words = StorylineTracker(min_comparable_words=0)
    by_words.observe(match("a", "Trump taps Musk for DOGE", 0))
    (event,) = by_words.observe(match("c", "特朗普任命马斯克领导政府效率部", 2))
    assert "too few words" not in event.reason


def test_restore_from_alerted_developments_stops_a_restart_from_alerting_again():
    before = StorylineTracker()
    alerts = decide_alerts(
        before.observe(match("a", "Pentagon buys Starlink for Ukraine", 0, outlet="Reuters"))
    )
    payloads = [alert_to_json(a) for a in alerts]

    after = StorylineTracker()  # the process restarted: Beam state is gone, the ledger is not
    state = after.states.setdefault("s", StorylineState("s"))
    assert after.restore(state, payloads + [dict(payloads[0], storyline="other")]) == 1
    [copy] = after.observe(match("b", "UPDATE 1-Pentagon buys Starlink for Ukraine - Reuters", 5))
    assert copy.kind == DUPLICATE and copy.development_id == alerts[0].development_id
    assert after.observe(match("c", "Zelensky meets Macron in Paris", 6))[0].kind == NEW_DEVELOPMENT


def test_a_restored_denial_still_takes_the_other_reports_of_the_denial():
    before = StorylineTracker()
    alerts = decide_alerts(
        e
        for m in (
            match("a", "Ukraine says Russian troops use Starlink terminals", 0),
            match("b", "SpaceX denies selling Starlink terminals to Russia", 6),
        )
        for e in before.observe(m)
    )
    after = StorylineTracker()
    state = after.states.setdefault("s", StorylineState("s"))
    assert after.restore(state, [alert_to_json(a) for a in alerts]) == 2
    [event] = after.observe(match("c", "Musk denies Starlink terminals are sold to Russia", 8))
    assert event.kind == COVERAGE and event.development_id == alerts[1].development_id


def test_a_future_date_does_not_make_the_storyline_stale():
    t = StorylineTracker(duplicate_horizon_hours=72)
    future = article_from_json(
        {
            "id": "f",
            "title": "Volcano erupts near Icelandic fishing town",
            "published": "2031-01-01T00:00:00Z",
            "first_seen_at": T0.isoformat(),
        }
    )
    assert [e.kind for e in t.observe(Match(future, "s", 0.9, ()))] == [NEW_DEVELOPMENT]
    assert kinds(t, match("a", "Pentagon buys Starlink for Ukraine", 2)) == [NEW_DEVELOPMENT]


# -- order-independent leads: the original, not the first copy seen -------------------------

# Real copies of one report in the labeled files, each group one labeled development:
# Reuters copies (dev D9: BusinessLIVE, Devdiscourse), a machine-translated copy of the NYT
# report and the NYT copy on another site (dev D25), one article of The National at two
# addresses (stream_tune NAT-SUNAK), PA copies (stream_valid raac_pa_keegan), one Sky News
# text on three Yahoo hosts (raac_sky_pmqs, two days later in the same storyline) and Sky's
# text on two sites (rub_sky_futpro).
WIRE_COPY_GROUPS = (
    ("H185", "H186"),
    ("H196", "H198"),
    ("S102", "S107"),
    ("V093", "V096"),
    ("V115", "V116", "V120"),
    ("V032", "V034"),
)
WIRE_COPY_FILES = ("dev.jsonl", "stream_tune.jsonl", "stream_valid.jsonl")


def wire_copy_groups() -> list[list[Match]]:
    """The matches of each group, in replay order, groups in the order of their originals."""
    wanted = {aid for group in WIRE_COPY_GROUPS for aid in group}
    rows = {}
    for name in WIRE_COPY_FILES:
        for line in (LABELED.parent / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line) if line.strip() else {}
            if row.get("id") in wanted:
                rows[row["id"]] = row
    groups = []
    for group in WIRE_COPY_GROUPS:
        assert len({rows[aid]["dup_group"] for aid in group}) == 1  # one labeled copy group
        articles = [article_from_json(rows[aid]) for aid in group]
        groups.append(
            event_time_order(Match(a, rows[a.article_id]["labels"][0], 1.0, ()) for a in articles)
        )
    return sorted(groups, key=lambda g: event_time_order(g)[0].article.published_at)


def _outcome(order: list[Match]) -> tuple[dict[frozenset[str], tuple[str, str]], list[str]]:
    """Per group: (development id, lead article id) of its last event; alert ids in order."""
    events = StorylineTracker().observe_all(order)
    last = {}
    alert_ids = []
    for event in events:
        group = next(
            frozenset(g) for g in WIRE_COPY_GROUPS if event.article.article.article_id in g
        )
        last[group] = (event.development_id, event.lead.article.article_id)
        alert_ids += [a.alert_id for a in decide_alerts([event])]
    return last, alert_ids


def test_lead_and_id_are_the_originals_whatever_order_the_copies_arrive_in():
    groups = wire_copy_groups()
    replay, replay_alerts = _outcome([m for g in groups for m in g])
    assert len(replay) == len(WIRE_COPY_GROUPS) == len(replay_alerts)
    # The id is the original's: storyline + earliest article (in replay order).
    originals = {g[0].article.article_id: g[0].storyline_id for g in groups}
    assert {lead: development_id_for(originals[lead], lead) for _, lead in replay.values()} == {
        lead: dev_id for dev_id, lead in replay.values()
    }
    rng = random.Random(12)
    for name, arrange in (
        ("copies first", lambda g: g[::-1]),
        ("shuffled", lambda g: rng.sample(g, len(g))),
    ):
        live, live_alerts = _outcome([m for g in groups for m in arrange(g)])
        assert live == replay, name  # the same lead and id for every development
        # an original arriving late is not alerted again
        assert len(live_alerts) == len(WIRE_COPY_GROUPS), name


def test_an_original_arriving_after_its_copy_becomes_the_lead_and_takes_its_id():
    t = StorylineTracker()
    copy = dated(
        "copy", "UPDATE 1-Pentagon buys Starlink for Ukraine - Reuters", "2023-06-01T09:20"
    )
    original = dated("orig", "Pentagon buys Starlink for Ukraine", "2023-06-01T09:00")
    [alerted] = t.observe(copy)
    [update] = t.observe(original)
    assert alerted.kind == NEW_DEVELOPMENT
    assert alerted.development_id == development_id_for("s", "copy")
    assert update.kind == DUPLICATE
    assert update.lead.article.article_id == "orig"
    assert update.development_id == development_id_for("s", "orig")
    assert "the lead now" in update.reason
    assert decide_alerts([update]) == []
    # Restarted from the ledger (the alert of the copy), the copy's development is known.
    [dev] = t.states["s"].developments
    assert dev.aliases == [alerted.development_id]
    payloads = [alert_to_json(a) for a in decide_alerts([alerted])]
    assert t.restore(t.states["s"], payloads) == 0


def _expire_by_sorting(tracker: StorylineTracker, state: StorylineState, newest_at) -> None:
    """``_expire``'s developments as a fresh filter and sort give them (its first form)."""
    cutoff = newest_at - tracker.horizon
    devs = [d for d in state.developments if d.last_at >= cutoff]
    if len(devs) >= tracker.max_developments:
        devs.sort(key=lambda d: d.last_at)
        devs = devs[len(devs) - tracker.max_developments + 1 :]
    live = {id(d) for d in devs}
    for d in state.developments:
        if id(d) not in live:
            state.forget_terms(d)
    state.developments = devs


def test_expiry_keeps_and_drops_what_a_fresh_sort_would_after_random_changes():
    """The developments ``_expire`` keeps, their order (ties included) and the counts it
    leaves equal a fresh filter-and-sort after random new developments, reports moving a
    development's last time (out of order too) and jumps past the horizon."""
    from pipeline.storylines.state import _Development

    rng = random.Random(5)
    tracker = StorylineTracker(max_developments=12, duplicate_horizon_hours=60)
    states = StorylineState("s"), StorylineState("s")
    newest, evictions, expiries = T0, 0, 0
    for step in range(3000):
        if rng.random() < 0.5 or not states[0].developments:
            at = newest - dt.timedelta(hours=rng.choice([0, 0, 1, 5, 30]))
            words = frozenset(rng.sample(["iran", "talks", "oil", "ships", "vance", "musk"], 3))
            for state in states:
                dev = _Development(f"d{step}", None, at, at, [], [], [])  # type: ignore[arg-type]
                state.count_terms(words, kept_by=dev)
                state.add_actors(dev, [f"entity:{w}" for w in words])
                state.developments.append(dev)
        else:
            i = rng.randrange(len(states[0].developments))
            bump = dt.timedelta(hours=rng.choice([0, 1, 2, 10]))
            for state in states:
                dev = state.developments[i]
                dev.last_at = max(dev.last_at, newest - bump)
        jump = rng.uniform(50, 62) if step % 37 == 36 else rng.choice([0, 0, 0.5, 1, 2])
        newest += dt.timedelta(hours=jump)
        before = len(states[0].developments)
        cutoff = newest - tracker.horizon
        expiries += any(d.last_at < cutoff for d in states[0].developments)
        tracker._expire(states[0], newest)
        _expire_by_sorting(tracker, states[1], newest)
        mine, fresh = states
        assert [d.development_id for d in mine.developments] == [
            d.development_id for d in fresh.developments
        ]
        assert mine.term_articles == fresh.term_articles and list(mine.term_articles) == list(
            fresh.term_articles
        )
        assert mine.actor_developments == fresh.actor_developments
        assert mine.kept_articles == fresh.kept_articles
        evictions += before == tracker.max_developments
    assert evictions > 300 and expiries > 20  # both paths really taken
