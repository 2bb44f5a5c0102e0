"""Storyline state: near-duplicates grouped into developments, new developments, bursts.

``StorylineTracker`` is the pure core: feed it matches (it keeps one ``StorylineState``
per storyline id) and it says what each article is (docs/storylines.md):

- ``duplicate``: a near-copy (``headlines.near_copies`` >= ``duplicate_similarity``) of a
  headline kept in the storyline that does not contradict it. Attached, no alert.
- ``coverage``: another report of a development within ``coverage_window_hours``: the
  join model (``decision``) scores each such development (shared words with and without
  the storyline's own vocabulary, time, actors, actions, language, outlet) and the likeliest
  joins at its threshold; an explainer joins the likeliest anyway; with fewer than
  ``min_comparable_words``, the development nearest in time. Attached.
- ``new_development``: anything else; what analysts are alerted about. An answer
  (``headlines.responds``) joins only a development that already has one.
- ``stale``: older than ``duplicate_horizon_hours`` before the storyline's newest article.

Lead and id of a development are its original's (earliest by ``order_time``, then id),
whatever the arrival order: the old id stays an alias and an alert made under it is not
repeated (docs/storylines.md, "Order-independent leads").

A ``burst``: the rate over ``burst_window_hours`` reaches ``burst_min_articles`` and
``burst_factor`` times that of the ``burst_baseline_hours`` before (once per cooldown).

Key: storyline id. Bound: per storyline at most ``max_developments`` developments, each
keeping at most ``max_articles_per_development`` headlines, plus ``max_rate_samples``
times (state: ``state.py``). Expiry: lazy, by element time, on the storyline's next
article (a development goes once the newest is ``duplicate_horizon_hours`` past its last),
so no timers. ``restore`` re-seeds a state from the ledger's alerts; ``track_in_order`` is
the deterministic bounded path (replay, eval-alerts, benchmarks).

Timeline (one storyline, defaults)::

    Mon 09:00  "Pentagon buys Starlink for Ukraine"         new_development D1 (alert)
    Mon 09:20  "UPDATE 1-Pentagon buys Starlink for Ukraine" duplicate of D1
    Mon 15:00  "SpaceX wins Pentagon contract for Ukraine"    coverage of D1
    Mon 16:00  "五角大楼为乌克兰购买星链"                       coverage of D1 (nearest in time)
    Thu 10:00  "Ukraine says Russian forces use Starlink"     new_development D2 (alert)
    Thu 19:00  "SpaceX denies selling Starlink to Russia"     new_development D3 (an answer)
    +30 days   next article: D1, D2 and D3 expire (last article older than 720 h)
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import operator
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from pipeline.ingest.outlet import outlet_key
from pipeline.jsonl_io import BadLine, article_from_json
from pipeline.records import Match, StorylineEvent
from pipeline.storylines.candidates import scan, scan_timestamped
from pipeline.storylines.decision import (
    OTHER_LANGUAGE,
    OVERLAP,
    JoinModel,
    pair_feature_rows,
    shipped_model,
)
from pipeline.storylines.headlines import (
    content_words,
    contradicts,
    headline_key,
    near_copies,
    not_an_event,
    responds,
)
from pipeline.storylines.signature import Signature, signature, why_new_sentence
from pipeline.storylines.state import StorylineState, _Development, action_code, keep_words
from pipeline.storylines.timing import TimeRange, order_time, published_range, separation_hours

NEW_DEVELOPMENT, COVERAGE, DUPLICATE, BURST, STALE = (
    "new_development",
    "coverage",
    "duplicate",
    "burst",
    "stale",
)
_LAST_AT = operator.attrgetter("last_at")
# Internal kind: a near-copy that says the opposite (so a new development).
_CONTRADICTION = "contradiction"


def development_id_for(storyline_id: str, article_id: str) -> str:
    """Stable development id: the storyline and the development's original article."""
    return hashlib.sha256(f"{storyline_id}\x1f{article_id}".encode()).hexdigest()[:16]


def _original_order(match: Match) -> tuple[dt.datetime, str]:
    """Which article of a development is its original: earliest-published, then lowest id.

    The key replay sorts by (``event_time_order``), so in replay the first article of a
    development is already its original and the lead never changes.
    """
    return (order_time(match.article), match.article.article_id)


class StorylineTracker:
    """Decide, article by article, what each match means for its storyline.

    >>> from pipeline.jsonl_io import article_from_json
    >>> def m(i, title, when):
    ...     a = article_from_json({"id": i, "title": title, "published": when})
    ...     return Match(a, "s", 0.9, ())
    >>> t = StorylineTracker()
    >>> [e.kind for e in t.observe(m("1", "Pentagon buys Starlink for Ukraine", "2023-06-01T09:00"))]
    ['new_development']
    >>> [e.kind for e in t.observe(m("2", "UPDATE 1-Pentagon buys Starlink for Ukraine - Reuters",
    ...                              "2023-06-01T09:20"))]
    ['duplicate']
    """

    def __init__(
        self,
        *,
        duplicate_similarity: float = 85.0,
        coverage_window_hours: float = 48.0,
        duplicate_horizon_hours: float = 720.0,
        max_developments: int = 200,
        max_articles_per_development: int = 50,
        max_sources: int = 10,
        min_comparable_words: int = 2,
        storyline_vocabulary_share: float = 0.5,
        join_model: JoinModel | None = None,
        record_features: Callable[[str, list[float]], None] | None = None,
        burst_window_hours: float = 2.0,
        burst_baseline_hours: float = 24.0,
        burst_min_articles: int = 5,
        burst_factor: float = 4.0,
        burst_cooldown_hours: float = 12.0,
        max_rate_samples: int = 5000,
    ) -> None:
        self.duplicate_similarity = duplicate_similarity
        self.coverage_window = dt.timedelta(hours=coverage_window_hours)
        self.horizon = dt.timedelta(hours=max(duplicate_horizon_hours, coverage_window_hours))
        self.max_developments = max_developments
        self.max_articles = max_articles_per_development
        self.max_sources = max_sources
        self.min_comparable_words = min_comparable_words
        self.storyline_vocabulary_share = storyline_vocabulary_share
        self.join_model = join_model or shipped_model()
        # Called with (the development's lead article id, features) for every candidate
        # scored: how the fit script sees the pairs exactly as the tracker does.
        self.record_features = record_features
        self.burst_window = dt.timedelta(hours=burst_window_hours)
        self.burst_baseline = dt.timedelta(hours=burst_baseline_hours)
        self.burst_min_articles = burst_min_articles
        self.burst_factor = burst_factor
        self.burst_cooldown = dt.timedelta(hours=burst_cooldown_hours)
        self.max_rate_samples = max_rate_samples
        self.states: dict[str, StorylineState] = {}

    # -- public API --------------------------------------------------------------------

    def observe(self, match: Match) -> list[StorylineEvent]:
        """Events for one match (one classification, plus a burst event if one starts)."""
        state = self.states.get(match.storyline_id)
        if state is None:
            state = self.states[match.storyline_id] = StorylineState(match.storyline_id)
        return self.observe_in(state, match)

    def observe_in(self, state: StorylineState, match: Match) -> list[StorylineEvent]:
        """Like ``observe`` on an explicit state (the Beam adapter keeps one per key)."""
        article = match.article
        at = published_range(article)
        dated = article.published_precision != "unknown"
        if dated and (state.newest_at is None or at[0] > state.newest_at):
            state.newest_at = at[0]
        if state.newest_at is not None:
            self._expire(state, state.newest_at)
            if at[1] < state.newest_at - self.horizon:
                return [
                    StorylineEvent(
                        state.storyline_id,
                        "",
                        STALE,
                        match,
                        (article.article_id,),
                        reason=f"published {at[1].isoformat()} at the latest, more than "
                        f"{self.horizon.total_seconds() / 3600:g} h before the "
                        "newest article of the storyline",
                        article=match,
                    )
                ]
        key = headline_key(article.title) or headline_key(article.summary[:200])
        words = content_words(f"{article.title} {article.summary[:300]}")
        # An undated article is kept alive (expiry, eviction) as if published when it
        # arrived, i.e. at the newest time of the storyline, not for ever.
        clock = at if dated else (state.newest_at or article.published_at,) * 2
        sig = signature(match)
        # The words the matcher found the storyline's entities and topics in: why the
        # article is in the storyline, not which development it reports.
        anchors = content_words(" ".join(e.text for e in match.evidence))
        outlet = outlet_key(article.outlet)
        dev, score, kind, nearest, why = self._classify(
            state, article.article_id, key, words, at, sig, anchors, article.title, outlet
        )
        # What the storyline's vocabulary is counted over: words and actors of each article.
        terms = words | frozenset(sig.actors)
        if kind == _CONTRADICTION:
            dev, kind = None, NEW_DEVELOPMENT
            why_new = self._why_new(state, sig, nearest, None, answer=False, outlet=article.outlet)
            why_new = f"it says the opposite of a known headline; {why_new}"
        elif dev is None:
            why_new = self._why_new(
                state, sig, nearest, score, answer=responds(key), outlet=article.outlet
            )
        if dev is None:
            dev = _Development(
                development_id_for(state.storyline_id, article.article_id),
                match,
                clock[0],
                clock[1],
                [article.article_id],
                [key],
                [_source(match)],
                span=at if at[0] == at[1] else None,
                responds=responds(key),
                action=sig.action,
            )
            keep_words(dev, words, at)
            dev.lead_words = words
            dev.languages.add(sig.language)
            if outlet:
                dev.outlets.add(outlet)
            state.count_terms(terms, kept_by=dev)
            state.add_actors(dev, sig.actors)
            state.add_development(dev)
            event = self._event(state, dev, NEW_DEVELOPMENT, match, why_new)
        else:
            new_words = self._attach(dev, match, key, words, at, clock)
            if outlet and len(dev.outlets) < self.max_articles:
                dev.outlets.add(outlet)
            if new_words is not None:
                state.count_terms(terms, kept_by=dev)
                dev.languages.add(sig.language)
            state.refresh(dev, new_words or frozenset())
            if len(dev.actors) < 4 * self.max_articles:
                state.add_actors(dev, sig.actors)
            earlier_original = score is not None and _original_order(match) < _original_order(
                dev.lead
            )
            if earlier_original:
                # The original arrived after its copy (live order): the development becomes
                # what replay makes of it, lead and id; the copy's id stays an alias.
                if len(dev.aliases) < self.max_articles:
                    dev.aliases.append(dev.development_id)
                dev.development_id = development_id_for(state.storyline_id, article.article_id)
                dev.lead = match
                dev.lead_words = words
            if earlier_original:
                why += "; published before the lead, so it is the lead now (the original)"
            event = self._event(state, dev, kind, match, why)
        events = [event]
        if kind != DUPLICATE and dated:
            burst = self._rate(state, match, at[0])
            if burst is not None:
                events.append(burst)
        return events

    def restore(self, state: StorylineState, alerts: Iterable[dict[str, Any]]) -> int:
        """Re-create the developments already alerted (alert JSON from the ledger).

        After a restart the Beam state is gone but the ledger is not: seeding the state
        with the alerted developments (their headline, id and articles) makes a later
        copy or coverage of one of them attach to it instead of alerting again. Returns
        the number of developments restored; expiry then applies as usual.
        """
        restored = 0
        known = {i for d in state.developments for i in (d.development_id, *d.aliases)}
        for data in alerts:
            if (data.get("storyline") or data.get("storyline_id")) != state.storyline_id:
                continue
            if data.get("kind") != NEW_DEVELOPMENT or data.get("development_id") in known:
                continue
            ids = [str(i) for i in data.get("article_ids") or ()]
            try:
                lead = article_from_json(
                    {
                        "id": ids[0] if ids else data.get("alert_id"),
                        "title": data.get("title"),
                        "url": data.get("url"),
                        "outlet": data.get("outlet"),
                        "published": data.get("published") or data.get("published_at"),
                    }
                )
            except BadLine:
                continue
            at = lead.published_at
            lead_match = Match(lead, state.storyline_id, float(data.get("score") or 0.0), ())
            dev = _Development(
                str(data["development_id"]),
                lead_match,
                at,
                at,
                ids[: self.max_articles] or [lead.article_id],
                [headline_key(lead.title)],
                [_source(lead_match)],
                words=[content_words(lead.title)],
                vocab=set(content_words(lead.title)),
                span=(at, at),
                responds=responds(headline_key(lead.title)),
            )
            lead_sig = signature(lead_match)
            dev.action = lead_sig.action
            if outlet := outlet_key(lead.outlet):
                dev.outlets.add(outlet)
            state.add_actors(dev, lead_sig.actors)
            dev.languages.add(lead_sig.language)
            dev.lead_words = dev.words[0]
            state.count_terms(dev.words[0] | frozenset(lead_sig.actors), kept_by=dev)
            state.add_development(dev)
            known.add(dev.development_id)
            state.newest_at = at if state.newest_at is None else max(state.newest_at, at)
            restored += 1
        state.developments.sort(key=lambda d: d.last_at)
        return restored

    def observe_all(self, matches: Iterable[Match]) -> Iterator[StorylineEvent]:
        """Events for matches given in the order they should be handled."""
        for match in matches:
            yield from self.observe(match)

    # -- steps -------------------------------------------------------------------------

    def _classify(
        self,
        state: StorylineState,
        article_id: str,
        key: str,
        words: frozenset[str],
        at: TimeRange,
        sig: Signature,
        anchors: frozenset[str],
        title: str,
        outlet: str = "",
    ) -> tuple[_Development | None, float | None, str, _Development | None, str]:
        """(development, score, kind, the development most like it for "why new", why).

        A near-copy is a duplicate; otherwise the join model (``decision``) scores every
        development within the window and the likeliest joins if the model says so."""
        devs = state.developments[::-1]
        for dev in devs:
            if article_id in dev.article_ids:
                return dev, None, DUPLICATE, dev, "same article id"
        near = near_copies(key, [d.keys for d in devs], self.duplicate_similarity)
        for score, i, other in near:
            # A near-copy must say the same thing: the best kept headline that does not
            # contradict this one decides.
            if not contradicts(key, other):
                return (
                    devs[i],
                    score,
                    DUPLICATE,
                    devs[i],
                    f"headline similarity {score:.0f} with an article of this development",
                )
        # A headline saying the opposite of a kept one is not that development; it may
        # still be coverage of another (the reversal already reported in other words).
        near_dev = devs[near[0][1]] if near else None
        if near:
            contradicted = {id(devs[i]) for _, i, _ in near}
            devs = [d for d in devs if id(d) not in contradicted]
        informative = len(words) >= self.min_comparable_words
        answer = responds(key)
        # The storyline's entities and topics, where most of its articles name them, say
        # which storyline an article is in, not which development: compare the rest.
        common = state.storyline_vocabulary(words & anchors, self.storyline_vocabulary_share)
        residual = words - common
        own_actors = state.storyline_vocabulary(
            frozenset(sig.actors), self.storyline_vocabulary_share
        )
        actors = sig.actors.keys() - own_actors
        fresh = bool(
            sig.action is not None
            and any(a not in state.actor_developments for a in sig.headline_actors)
        )
        explains = not_an_event(title)
        window_hours = self.coverage_window.total_seconds() / 3600
        if at[0] == at[1] and informative:  # the common case: over numpy columns
            state.columns.ensure_kept(state.developments)
            found = scan_timestamped(
                state.columns,
                devs,
                at[0],
                words,
                residual,
                common,
                window=self.coverage_window,
                answer=answer,
            )
        else:
            found = scan(
                devs,
                at,
                words,
                residual,
                common,
                window=self.coverage_window,
                answer=answer,
                informative=informative,
            )
        c_devs, c_overlap, nearest, nearest_hours = (
            found.devs,
            found.overlap,
            found.nearest,
            found.nearest_hours,
        )
        closest, closest_overlap = None, 0.0
        if c_devs:
            n = len(c_devs)
            action, language = sig.action, sig.language
            code = action_code(action)
            rows = pair_feature_rows(
                overlap=c_overlap,
                residual_overlap=found.residual,
                mean_overlap=found.mean,
                separation_hours=found.hours,
                window_hours=window_hours,
                shared_actors=(
                    0
                    if not actors
                    else [len(actors & d.actors) for d in c_devs]
                    if found.slots is None
                    else state.columns.shared_actors(actors)[found.slots]
                ),
                new_actor_other_action=found.actions != code if fresh else False,
                same_action=found.actions == code if action is not None else False,
                not_an_event=explains,
                other_language=(
                    [language not in d.languages for d in c_devs]
                    if found.slots is None
                    else ~state.columns.speaks(language)[found.slots]
                ),
                development_articles=found.counts,
                latest=np.arange(n) == found.latest,
                same_outlet=(
                    False
                    if not outlet
                    else [outlet in d.outlets for d in c_devs]
                    if found.slots is None
                    else state.columns.reported_by(outlet)[found.slots]
                ),
                coarse_date=at[0] != at[1],
            )
            if self.record_features is not None:
                for d, features in zip(c_devs, rows.tolist(), strict=True):
                    self.record_features(d.lead.article.article_id, features)
            probabilities = self.join_model.probabilities(rows)
            # Coverage in the article's language shares a word with it: of the labeled
            # same-language joins none shares none (docs/storylines.md), while the model,
            # weighing time, would take a wordless pair on a busy hour.
            unrelated = (rows[:, OVERLAP] <= 0) & (rows[:, OTHER_LANGUAGE] == 0)
            if unrelated.any():
                probabilities = np.where(unrelated, 0.0, probabilities).tolist()
            # The first of the likeliest, and the first of the most overlapping, as max() picks.
            likeliest = max(range(n), key=probabilities.__getitem__)
            p, overlap, dev = (
                probabilities[likeliest],
                float(c_overlap[likeliest]),
                c_devs[likeliest],
            )
            most = int(np.argmax(c_overlap))  # the first of the most overlapping
            closest, closest_overlap = c_devs[most], float(c_overlap[most])
            if p >= self.join_model.threshold:
                why = (
                    f"join probability {p:.2f}, {overlap:.0f}% content words shared with an "
                    "article of this development"
                )
                return dev, overlap, COVERAGE, dev, why
            if explains and self.join_model.explainers_join:
                # An explainer, profile or review is about a development, never one, while
                # there is one in the window to be about: the likeliest.
                why = (
                    "it explains or reviews rather than reports; the likeliest development "
                    f"(join probability {p:.2f})"
                )
                return dev, overlap, COVERAGE, dev, why
        if near:
            return None, near[0][0], _CONTRADICTION, near_dev, ""
        if nearest is not None:
            return (
                nearest,
                nearest_hours,
                COVERAGE,
                nearest,
                (
                    f"too few words to compare; the development nearest in time ({nearest_hours:.0f} h away)"
                ),
            )
        return None, closest_overlap, NEW_DEVELOPMENT, closest, ""

    def _why_new(
        self,
        state: StorylineState,
        sig: Signature,
        nearest: _Development | None,
        overlap: float | None,
        *,
        answer: bool,
        outlet: str = "",
    ) -> str:
        """The desk editor's "why new": new actors (against every kept development of the
        storyline, so its anchors are never new), a new action, the nearest development
        (and that its outlet reported that one too)."""
        known = state.actor_developments.keys()
        if nearest is None and state.developments:
            # Nothing within the window: name the latest development the storyline had.
            nearest, overlap = max(state.developments, key=lambda d: d.last_at), None
        hours = None
        if nearest is not None and "unknown" not in (
            sig.precision,
            nearest.lead.article.published_precision,
        ):
            hours = (sig.at - nearest.lead.article.published_at).total_seconds() / 3600
        return why_new_sentence(
            sig,
            known_actors=known,
            nearest_title=nearest.lead.article.title if nearest is not None else None,
            nearest_action=nearest.action if nearest is not None else None,
            hours_since_nearest=hours,
            similarity=None if overlap is None else overlap / 100,
            answer=answer,
            horizon_days=self.horizon.total_seconds() / 86400,
            same_outlet=(
                outlet if nearest is not None and outlet_key(outlet) in nearest.outlets else ""
            ),
        )

    def _separation_hours(self, a: TimeRange, b: TimeRange, *, span: bool = False) -> float | None:
        """``timing.separation_hours`` in this tracker's coverage window."""
        return separation_hours(a, b, window=self.coverage_window, span=span)

    def _attach(
        self,
        dev: _Development,
        match: Match,
        key: str,
        words: frozenset[str],
        at: TimeRange,
        clock: TimeRange,
    ) -> frozenset[str] | None:
        """Attach an article to a development; the words its vocabulary gained if its
        words were kept, else None."""
        dev.count += 1
        dev.first_at = min(dev.first_at, clock[0])
        dev.last_at = max(dev.last_at, clock[1])
        if len(dev.article_ids) < self.max_articles:
            dev.article_ids.append(match.article.article_id)
            dev.keys.append(key)
            kept: frozenset[str] | None = keep_words(dev, words, at)
            dev.responds = dev.responds or responds(key)
        else:
            kept = None
        if at[0] == at[1]:
            dev.span = (min(dev.span[0], at[0]), max(dev.span[1], at[0])) if dev.span else at
        if len(dev.sources) < self.max_sources:
            dev.sources.append(_source(match))
        return kept

    def _expire(self, state: StorylineState, newest_at: dt.datetime) -> None:
        """Drop the developments last reported more than the horizon before ``newest_at``
        and, at ``max_developments``, the least recently reported (the list is then in
        that order, ties as they were): on every article, so the scans are C-level."""
        cutoff = newest_at - self.horizon
        developments = devs = state.developments
        expired = bool(devs) and min(map(_LAST_AT, devs)) < cutoff
        if expired:
            devs = [d for d in devs if d.last_at >= cutoff]
        evicted: list[_Development] = []
        if len(devs) >= self.max_developments:  # leave room for one more
            devs = sorted(devs, key=_LAST_AT)
            cut = len(devs) - self.max_developments + 1
            evicted, devs = devs[:cut], devs[cut:]
        if not expired and len(evicted) == 1:  # the usual eviction: one goes
            state.drop(evicted[0])
        elif len(devs) < len(developments):
            live = {id(d) for d in devs}
            for d in developments:
                if id(d) not in live:
                    state.drop(d)
        state.developments = devs
        window_start = newest_at - self.burst_window - self.burst_baseline
        drop = bisect.bisect_left(state.recent_times, window_start)
        drop = max(drop, len(state.recent_times) - self.max_rate_samples)
        if drop > 0:
            del state.recent_times[:drop]
        feeds = {f: t for f, t in state.recent_feeds.items() if t >= window_start}
        if len(feeds) > self.max_rate_samples:
            feeds = dict(sorted(feeds.items(), key=lambda ft: ft[1])[-self.max_rate_samples :])
        state.recent_feeds = feeds

    def _rate(self, state: StorylineState, match: Match, at: dt.datetime) -> StorylineEvent | None:
        times = state.recent_times
        bisect.insort(times, at)
        feed_id = match.article.feed_id
        if feed_id:
            latest = state.recent_feeds.get(feed_id)
            state.recent_feeds[feed_id] = at if latest is None else max(latest, at)
        window_start = at - self.burst_window
        in_window = bisect.bisect_right(times, at) - bisect.bisect_right(times, window_start)
        in_baseline = bisect.bisect_right(times, window_start) - bisect.bisect_right(
            times, window_start - self.burst_baseline
        )
        window_h = self.burst_window.total_seconds() / 3600
        baseline_h = self.burst_baseline.total_seconds() / 3600
        rate, baseline = in_window / window_h, in_baseline / baseline_h
        if in_window < self.burst_min_articles or rate < self.burst_factor * baseline:
            return None
        if state.last_burst_at is not None and abs(at - state.last_burst_at) < self.burst_cooldown:
            return None
        state.last_burst_at = at
        bucket = window_start.replace(minute=0, second=0, microsecond=0)
        return StorylineEvent(
            state.storyline_id,
            f"burst-{bucket.strftime('%Y%m%dT%H')}",
            BURST,
            match,
            (match.article.article_id,),
            (),
            reason=(
                f"{in_window} articles in {window_h:g} h ({rate:.1f}/h) against a baseline of "
                f"{baseline:.2f}/h over the previous {baseline_h:g} h"
            ),
            baseline_per_hour=round(baseline, 3),
            rate_per_hour=round(rate, 3),
            article=match,
            feed_ids=tuple(sorted(f for f, t in state.recent_feeds.items() if t > window_start)),
        )

    def _event(
        self, state: StorylineState, dev: _Development, kind: str, match: Match, reason: str
    ) -> StorylineEvent:
        own = match.article.article_id
        # sources stop at max_sources, article_ids later (max_articles): zip the shorter.
        others = tuple(
            s for s, aid in zip(dev.sources, dev.article_ids, strict=False) if aid != own
        )
        return StorylineEvent(
            state.storyline_id,
            dev.development_id,
            kind,
            dev.lead,
            tuple(dev.article_ids),
            others,
            reason,
            article=match,
        )


def _source(match: Match) -> tuple[str, str, str]:
    a = match.article
    return (a.outlet, a.title, a.url)


def event_time_order(matches: Iterable[Match]) -> list[Match]:
    """Matches in the order replay handles them: per storyline, (``order_time``, article_id)."""
    return sorted(
        matches, key=lambda m: (m.storyline_id, order_time(m.article), m.article.article_id)
    )


def track_in_order(
    matches: Iterable[Match], tracker: StorylineTracker | None = None
) -> list[StorylineEvent]:
    """Deterministic tracking of a bounded set of matches: sort, then observe in order.

    This one function is used by the bounded Beam path, ``eval-alerts`` and the
    benchmarks, so they all make the same decisions.
    """
    tracker = tracker or StorylineTracker()
    return list(tracker.observe_all(event_time_order(matches)))
