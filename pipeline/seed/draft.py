"""``storywatch seed``: draft a watchlist from one article.

    read_seed(FILE)                      seed.text: headline, date, sentences
      -> EntityExtractor.extract         seed.entities: people, orgs, places, products
      -> find_threads + keywords         seed.storylines: the article's threads
      -> build_draft                     seed.build: entities (new only), topics, storylines
      -> render_draft                    seed.render: YAML, a comment on every item saying where it came from
      -> validate_draft                  seed.render: loaded together with the watchlists dir, in a temp dir
      -> check_corpus (--check, --check-feeds)   seed.reach: the real matcher over labeled items or feeds

``seed`` runs the chain for the command line (reads, never writes; ``write_draft``
writes). The names other stages and the CLI use are importable from here.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pipeline.config.watchlists import load_watchlists
from pipeline.dates import DAY, MONTH, parse_time_precision
from pipeline.errors import ConfigError, UserError
from pipeline.ingest.recorded import recorded_feed_files
from pipeline.seed.background import default_background_dir, load_background
from pipeline.seed.build import Draft, DraftStoryline, build_draft, event_required
from pipeline.seed.reach import (
    CheckResult,
    check_corpus,
    feed_articles,
    format_check,
    labeled_items,
    map_to_shipped,
    predictions,
    storyline_similarity,
    wide_reach,
)
from pipeline.seed.render import default_out, draft_slug, render_draft, validate_draft, write_draft
from pipeline.seed.text import read_seed

__all__ = [
    "CheckResult",
    "Draft",
    "DraftStoryline",
    "build_draft",
    "check_corpus",
    "default_out",
    "draft_slug",
    "event_required",
    "feed_articles",
    "format_check",
    "labeled_items",
    "map_to_shipped",
    "predictions",
    "render_draft",
    "seed",
    "storyline_similarity",
    "validate_draft",
    "wide_reach",
    "write_draft",
]

BACKGROUND_HINT = (
    "pass a folder of recorded feeds to --background, or leave it out for the bundled ones"
)


def seed(
    path: Path | str,
    *,
    watchlists_dir: Path | str = "watchlists",
    out: Path | None = None,
    background_dir: Path | None = None,
    topic_in_rule: str = "actors",
    language: str | None = None,
    date: str | None = None,
    today: dt.date | None = None,
) -> tuple[Draft, str, Path]:
    """Read, extract, render and validate; returns (draft, yaml text, output path). Writes nothing.

    ``date`` (YYYY-MM-DD or YYYY-MM) is when the story is news, for the storylines' span
    of dates: the article's own date when not given, and ``today`` (UTC) when the article
    shows none, since a draft is usually made from today's news.
    """
    if date is not None and parse_time_precision(date)[1] not in (DAY, MONTH):
        raise UserError(f"--date {date!r}: not a date; write it as YYYY-MM-DD or YYYY-MM")
    article = read_seed(path)
    out = Path(out) if out else default_out(path, article, watchlists_dir)
    # Re-seeding over a draft already kept in the watchlists folder replaces it: leave it out.
    replacing = (
        out if out.is_file() and out.resolve().parent == Path(watchlists_dir).resolve() else None
    )
    try:
        if not Path(watchlists_dir).is_dir():
            load_watchlists(watchlists_dir)  # the usual "directory not found" error
        watchlists = validate_draft(None, watchlists_dir, replacing=replacing)
    except ConfigError as exc:
        raise UserError(
            *exc.problems,
            f"{watchlists_dir}: fix the watchlists first; the draft is checked against them",
        ) from None
    if background_dir is not None:
        recorded_feed_files(background_dir, hint=BACKGROUND_HINT)  # a user error if none
    background = load_background(background_dir or default_background_dir())
    draft = build_draft(
        article,
        watchlists,
        background,
        slug=draft_slug(path, article),
        topic_in_rule=topic_in_rule,
        language=language,
        date=date or article.date or (today or dt.datetime.now(dt.UTC).date()).isoformat(),
    )
    draft.replacing = replacing
    if not draft.entities:
        raise UserError(
            f"{path}: found no names (capitalised people, organisations, places or products) "
            "in the article; is it the full article text?"
        )
    text = render_draft(draft, watchlists_dir=watchlists_dir)
    try:
        validate_draft(text, watchlists_dir, replacing=replacing)
    except ConfigError as exc:  # a bug here, not the user's: say so and write nothing
        raise UserError(
            "storywatch seed produced a draft that does not validate (please report this):",
            *exc.problems,
        ) from None
    return draft, text, out
