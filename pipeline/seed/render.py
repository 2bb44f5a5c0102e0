"""The draft as YAML, checked against the watchlists it will join, and written atomically.

``render_draft`` writes entities (new only; reused ones are listed in the header),
topics (each thread's event) and storylines, with a comment on every item saying where it
came from (the sentence, the kind cues, the thread's sentences). ``validate_draft`` loads
the draft together with the watchlists in a temporary folder, as ``storywatch validate``
would once it is kept. So a draft is meant to live next to the watchlists it was drafted
against: keep it by moving it from ``watchlists/drafts/`` (``default_out``; never loaded)
into ``watchlists/``, where ``storywatch validate`` passes unchanged.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
from pathlib import Path

import yaml

from pipeline.config.watchlists import Watchlists, load_watchlists, watchlist_files
from pipeline.errors import UserError
from pipeline.seed.build import PAIR_WITHIN_WORDS, Draft, DraftStoryline
from pipeline.seed.names import slugify
from pipeline.seed.spans import SeedEntity
from pipeline.seed.storylines import STOPWORDS
from pipeline.seed.text import SeedArticle

COMMENT_WIDTH = 150


def clip_comment(text: str, width: int = COMMENT_WIDTH) -> str:
    """One printable line for a YAML comment (YAML refuses control characters anywhere)."""
    text = re.sub(r"\s+", " ", text).strip()
    text = "".join(ch for ch in text if ch.isprintable())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _dump(data: dict, indent: str) -> list[str]:
    text = yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100
    )
    lines = text.rstrip("\n").split("\n")
    return [f"{indent}- {lines[0]}"] + [f"{indent}  {line}" for line in lines[1:]]


def _entity_origin(e: SeedEntity, sentences: list[str]) -> str:
    first = min(
        (m for m in e.mentions if m.role != "descriptor"),
        key=lambda m: (m.sentence, m.start),
        default=None,
    )
    if first is None:
        return "no direct mention"
    return f'sentence {first.sentence + 1}: "{clip_comment(sentences[first.sentence], 110)}"'


def _span_words(first: dt.date | None, last: dt.date | None) -> str:
    if first and last:
        return f"from {first} to {last}"
    return f"from {first}" if first else f"until {last}"


def render_draft(draft: Draft, *, watchlists_dir: Path | str = "watchlists") -> str:
    """The draft as YAML text, with comments saying where each item came from."""
    a = draft.article
    out = [
        f"# Draft watchlist written by `storywatch seed {a.path}`",
        f"# on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, against the watchlists in {watchlists_dir}/.",
        f"# Seed: {clip_comment(a.headline or '(no headline)', 120)}"
        + (f" ({a.date})" if a.date else ""),
        "# Review it; to keep it, move it into the watchlists folder, then run `storywatch validate`.",
        "# Entities the watchlists already define are referenced by id and not repeated here:",
    ]
    for e in draft.reused_entities:
        out.append(
            f'#   {e.id} ({e.kind}) "{e.catalog_source or e.name}", {_entity_origin(e, draft.sentences)}'
        )
    if not draft.reused_entities:
        out.append("#   (none)")
    out.append("")
    out.append("entities:" if draft.new_entities else "entities: []")
    for e in draft.new_entities:
        out.append(f'  # new {e.kind} "{e.name}", {_entity_origin(e, draft.sentences)}')
        kinds = ", ".join(
            f"{k} {v:g}" for k, v in e.votes.most_common() if k not in ("demonym", "shape")
        )
        if kinds:
            out.append(f"  # kind cues: {kinds}")
        data = {"id": e.id, "kind": e.kind, "name": e.name}
        if e.aliases:
            data["aliases"] = list(dict.fromkeys(e.aliases))
        data["new"] = True
        out += _dump(data, "  ")
    topics = [s for s in draft.storylines if s.topic_id or s.later_id]
    out.append("")
    out.append("topics:" if topics else "topics: []")
    for s in topics:
        if s.later_id:
            out.append(
                f"  # later chapters of '{s.id}' ({', '.join(s.events)}): named in a headline or"
                " lede, they are another story; remove a term the story's news may use"
            )
            out += _dump(
                {
                    "id": s.later_id,
                    "description": f"Later chapters of '{s.title}', not its news.",
                    "terms": s.later_terms,
                    **({"patterns": s.later_patterns} if s.later_patterns else {}),
                },
                "  ",
            )
        if not s.topic_id:
            continue
        out.append(
            f"  # event of thread '{s.id}': {', '.join(s.events) or 'none named'}; its words"
            " and the thread's distinctive phrases (YAKE, rare in the background news),"
        )
        out.append(f"  # found in sentences {', '.join(str(i + 1) for i in s.thread.sentences)}")
        out += _dump(
            {
                "id": s.topic_id,
                "description": f"What happens in '{s.title}' ({', '.join(s.events) or 'phrases of the seed article'}).",
                "terms": s.topic_terms,
                **({"patterns": s.topic_patterns} if s.topic_patterns else {}),
            },
            "  ",
        )
    out.append("")
    out.append("storylines:" if draft.storylines else "storylines: []")
    for s in draft.storylines:
        t = s.thread
        out.append(
            f"  # thread: {', '.join(e.id for e in t.anchors)} with {', '.join(e.id for e in t.partners)}"
            f" (strength {t.strength:.2f}), from these sentences:"
        )
        for i in t.sentences[:6]:
            out.append(f'  #   {i + 1}: "{clip_comment(draft.sentences[i], 130)}"')
        if len(t.sentences) > 6:
            out.append(f"  #   ... and {len(t.sentences) - 6} more")

        def later(s: DraftStoryline = s) -> dict[str, list[str]]:
            # a new list for each rule: one shared list would be dumped as a YAML alias
            return {"none_of_in_lede": [s.later_id]} if s.later_id else {}

        data = {
            "id": s.id,
            "title": s.title,
            "description": s.description,
            "rule": {"all_of": s.all_of, **later()},
            **(
                {
                    "alternatives": [
                        {"all_of": a, **later(), "within_words": PAIR_WITHIN_WORDS}
                        for a in s.alternatives
                    ]
                }
                if s.alternatives
                else {}
            ),
            "threshold": s.threshold,
        }
        if s.published_from or s.published_until:
            out.append(
                f"  # watched for articles published {_span_words(s.published_from, s.published_until)}"
                " (the same names later are usually another story); widen or remove to follow it longer"
            )
            data["published_from"] = s.published_from
            data["published_until"] = s.published_until
        out += _dump(data, "  ")
    return "\n".join(out) + "\n"


def validate_draft(
    text: str | None, watchlists_dir: Path | str, *, replacing: Path | None = None
) -> Watchlists:
    """Load the draft together with the watchlists (in a temp dir); ConfigError if it does not.

    ``replacing``: a watchlist file the draft will overwrite (re-seeding straight into the
    watchlists folder), left out so that its old ids do not clash. With ``text`` None this
    loads the watchlists alone (minus ``replacing``).
    """
    watchlists_dir = Path(watchlists_dir)
    skip = replacing.resolve() if replacing is not None else None
    with tempfile.TemporaryDirectory(prefix="storywatch-seed-") as tmp:
        for path in watchlist_files(watchlists_dir):
            if path.resolve() != skip:
                shutil.copy(path, Path(tmp) / path.name)
        if text is not None:
            (Path(tmp) / "zz-seed-draft.yaml").write_text(text, encoding="utf-8")
        elif not any(Path(tmp).iterdir()):
            return Watchlists()
        return load_watchlists(tmp)


def draft_slug(path: Path | str, article: SeedArticle) -> str:
    stem = slugify(Path(path).stem)
    if stem and stem != "entity":
        return stem
    words = [
        w for w in re.findall(r"[A-Za-z0-9]+", article.headline.lower()) if w not in STOPWORDS
    ][:6]
    return slugify("-".join(words)) or "seed"


def default_out(
    path: Path | str, article: SeedArticle, watchlists_dir: Path | str = "watchlists"
) -> Path:
    """``<watchlists>/drafts/<slug>.yaml``: next to the watchlists, in the folder they never load."""
    return Path(watchlists_dir) / "drafts" / f"{draft_slug(path, article)}.yaml"


def write_draft(out: Path | str, text: str) -> None:
    """Write the draft atomically (a temp file renamed over the target)."""
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)
    except OSError as exc:
        raise UserError(
            f"{out}: cannot write the draft: {exc.strerror}; choose another --out"
        ) from None
