"""Recorded feeds and articles, replayed in a documented, deterministic time order.

    recorded_feed_files(folder) -> [Path]       which files are feed documents (below)
    recorded_feeds(folder) -> [RawFeed]         the same RawFeeds a replay reads, in order
    ReplayFeeds(folder)     PBegin -> StageOutputs(main=RawFeed, dead_letter=Failure)
    ReplayArticles(path)    PBegin -> StageOutputs(main=Article, dead_letter=Failure per bad
                            line), from article JSON lines (``pipeline.jsonl_io``)

A recorded feed file is every regular file under the folder (subfolders too) except
hidden files, the manifest (``feeds_manifest.json``), notes (``NOTE_SUFFIXES``, any case)
and READMEs. No suffix is required; the parser decides what each file holds. A folder
that does not exist, or holds no feed file, is a UserError.

Replay order. Each file's snapshot time is decided by the first rule that applies:

1. ``feeds_manifest.json`` (in the directory or a parent within it) lists the file as
   kind ``stream``: its commit date, which is when the scraper saved that snapshot;
2. the file name starts with a date (``2022-10-14__...``, a day dump): the end of that day;
3. the newest believable item date in the document (pubDate/updated/published/dc:date);
4. the manifest's commit date for the file, if listed;
5. otherwise 1970-01-01 (undatable fixtures replay first).

Files are ordered by (snapshot time, path relative to the folder), so the order is the
same on every machine and checkout (git keeps no mtimes). Each RawFeed's ``fetched_at``
is its snapshot time, which becomes the articles' ``first_seen_at`` and event timestamp.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import apache_beam as beam

from pipeline.dates import parse_iso
from pipeline.errors import UserError
from pipeline.ingest.parse import DocumentRefused, document_dates, gunzip_capped
from pipeline.jsonl_io import read_articles
from pipeline.records import Article, Failure, RawFeed
from pipeline.stage import DEAD_LETTER, MAIN, StageOutputs, split_dead_letters

MANIFEST_NAME = "feeds_manifest.json"
UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
log = logging.getLogger(__name__)

_DAY_PREFIX = re.compile(r"^(\d{4})-(\d{2})-(\d{2})__")
_SNAPSHOT_SUFFIX = re.compile(r"@[0-9a-f]{6,40}$")
NOTE_SUFFIXES = (".md", ".txt", ".yaml", ".yml", ".py", ".opml")


def is_recorded_feed_file(path: Path) -> bool:
    """Is ``path`` a recorded feed document (see the module docstring)?"""
    name = path.name
    return (
        path.is_file()
        and not name.startswith(".")
        and name != MANIFEST_NAME
        and not name.lower().endswith(NOTE_SUFFIXES)
        and not name.upper().startswith("README")
    )


def recorded_feed_files(folder: Path | str, *, hint: str | None = None) -> list[Path]:
    """Every recorded feed file under ``folder``, sorted by path.

    Raises UserError when ``folder`` is not a directory or holds no feed file; ``hint``
    replaces the default advice at the end of that message (e.g. which option to fix).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: not a directory of recorded feeds; {hint or 'check the path'}")
    files = sorted(p for p in folder.rglob("*") if is_recorded_feed_file(p))
    if not files:
        raise UserError(
            f"{folder}: no recorded feed files here (notes such as *.md, *.txt, *.yaml "
            f"and README are skipped); {hint or 'pass the folder holding the saved feeds'}"
        )
    return files


# --- replay of recorded feed files ---------------------------------------------------------


@lru_cache(maxsize=16)
def _manifest(directory: Path) -> dict[str, dict]:
    """Manifest entries by path relative to ``directory`` (manifests in subfolders too)."""
    entries: dict[str, dict] = {}
    for manifest in sorted(directory.rglob(MANIFEST_NAME)):
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("%s: unreadable manifest ignored (%s)", manifest, exc)
            continue
        base = manifest.parent.relative_to(directory)
        for entry in data if isinstance(data, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("file"), str):
                entries[(base / entry["file"]).as_posix()] = entry
    return entries


def newest_item_date(body: bytes) -> dt.datetime | None:
    """The newest believable date written in a feed document, found without parsing it."""
    return max(document_dates(body), default=None)


def snapshot_time(path: Path, directory: Path, body: bytes) -> tuple[dt.datetime, str]:
    """When a recorded file was seen, and which rule decided it (see the module docstring)."""
    rel = path.relative_to(directory).as_posix()
    entry = _manifest(directory).get(rel, {})
    commit = parse_iso(entry["commit_date"]) if isinstance(entry.get("commit_date"), str) else None
    if commit and entry.get("kind") == "stream":
        return commit, "manifest stream commit date"
    if m := _DAY_PREFIX.match(path.name):
        day = dt.datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=UTC)
        return day + dt.timedelta(days=1, seconds=-1), "day in file name"
    if body[:2] == b"\x1f\x8b":
        try:
            body = gunzip_capped(body, max_bytes=64 * 1024 * 1024)
        except DocumentRefused:
            pass
    if newest := newest_item_date(body):
        return newest, "newest item date"
    if commit:
        return commit, "manifest commit date"
    return EPOCH, "undated"


def recorded_feed_id(path: Path, directory: Path) -> str:
    """Snapshots of one feed share an id: ``stream_gesab001/bbc_news_home@c810287c.xml`` and
    ``...@49755d6c.xml`` are both ``stream_gesab001/bbc_news_home``."""
    rel = path.relative_to(directory)
    name = _DAY_PREFIX.sub("", rel.name)
    if name.endswith("_entries.json"):
        name = name[: -len("_entries.json")]
    else:
        name = name.rsplit(".", 1)[0] if "." in name else name
    name = _SNAPSHOT_SUFFIX.sub("", name)
    return (rel.parent / name).as_posix() if rel.parent != Path(".") else name


@dataclass(frozen=True, slots=True)
class RecordedFile:
    """Where one recorded feed document is and when it was seen; its bytes stay on disk.

    ``path`` is absolute; ``rel`` (relative to the replayed folder) names it in RawFeed
    urls (``replay:REL``) and breaks ties between files with the same snapshot time.
    """

    path: str
    rel: str
    feed_id: str
    seen_at: dt.datetime


def recorded_files(directory: Path | str) -> list[RecordedFile]:
    """Every recorded feed file under ``directory``, in replay order (snapshot time, path)."""
    directory = Path(directory)
    files = []
    for path in recorded_feed_files(directory):
        seen_at, _ = snapshot_time(path, directory, path.read_bytes())
        files.append(
            RecordedFile(
                path=str(path.absolute()),
                rel=path.relative_to(directory).as_posix(),
                feed_id=recorded_feed_id(path, directory),
                seen_at=seen_at,
            )
        )
    files.sort(key=lambda f: (f.seen_at, f.rel))
    return files


def read_recorded(recorded: RecordedFile) -> RawFeed:
    """The RawFeed of one recorded file (raises OSError if it cannot be read)."""
    return RawFeed(
        feed_id=recorded.feed_id,
        url=f"replay:{recorded.rel}",
        fetched_at=recorded.seen_at,
        status=200,
        headers=(),
        body=Path(recorded.path).read_bytes(),
    )


def recorded_feeds(directory: Path | str) -> list[RawFeed]:
    """Every recorded feed file under ``directory`` as a RawFeed, in replay order."""
    return [read_recorded(f) for f in recorded_files(directory)]


class _ReadRecordedFn(beam.DoFn):
    """RecordedFile -> RawFeed stamped with its snapshot time; an unreadable file (deleted
    or made unreadable since the replay was planned) goes to ``dead_letter``."""

    def __init__(self) -> None:
        self.read = beam.metrics.Metrics.counter("ingest", "recorded_feeds_read")
        self.bad = beam.metrics.Metrics.counter("ingest", "replay_failures")

    def process(self, recorded: RecordedFile):
        try:
            raw = read_recorded(recorded)
        except OSError as exc:
            self.bad.inc()
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTER,
                Failure(
                    "replay",
                    recorded.path,
                    f"recorded feed file unreadable: {exc.strerror or exc}; "
                    "restore it or rerun the replay",
                ),
            )
            return
        self.read.inc()
        yield beam.window.TimestampedValue(raw, raw.fetched_at.timestamp())


class ReplayFeeds(beam.PTransform):
    """PBegin -> RawFeed for every recorded file under ``directory``, in replay order,
    each timestamped with its snapshot time; unreadable files are dead letters.

    Only the file list (paths and snapshot times) goes into the pipeline; the bytes are
    read by a DoFn. A ``beam.Create`` of the documents themselves would pickle and
    bz2-compress every byte into the job graph (about 3 s for 7.6 MB) and decompress it
    again on the worker.
    """

    def __init__(self, directory: Path | str, *, label: str | None = None) -> None:
        super().__init__(label)
        self.directory = Path(directory)

    def expand(self, pbegin: beam.pvalue.PBegin) -> StageOutputs:
        return split_dead_letters(
            pbegin
            | "RecordedFiles" >> beam.Create(recorded_files(self.directory), reshuffle=False)
            | "ReadRecordedFeed"
            >> beam.ParDo(_ReadRecordedFn()).with_outputs(DEAD_LETTER, main=MAIN)
        )


# --- replay of article JSON lines ----------------------------------------------------------


def recorded_articles(path: Path | str) -> tuple[list[Article], list[Failure]]:
    """Articles of a JSONL file in (published_at, line) order, and a Failure per bad line."""
    path = Path(path)
    articles, failures = [], []
    for lineno, _, item in read_articles(path):
        if isinstance(item, Article):
            articles.append((item.first_seen_at, lineno, item))
        else:
            failures.append(Failure("replay", f"{path}:{lineno}", str(item)))
    articles.sort(key=lambda t: (t[0], t[1]))
    return [a for _, _, a in articles], failures


class _ReadRecordedArticlesFn(beam.DoFn):
    """JSONL path -> its articles in (first_seen_at, line) order, timestamped with
    ``first_seen_at``; bad lines (and an unreadable file) go to ``dead_letter``."""

    def __init__(self) -> None:
        self.read = beam.metrics.Metrics.counter("ingest", "articles_replayed")
        self.bad = beam.metrics.Metrics.counter("ingest", "replay_failures")

    def process(self, path: str):
        try:
            articles, failures = recorded_articles(path)
        except (OSError, UserError) as exc:  # read_articles says what and where as a UserError
            reason = (
                "; ".join(exc.problems)
                if isinstance(exc, UserError)
                else (exc.strerror or str(exc))
            )
            failures, articles = (
                [Failure("replay", path, f"recorded articles unreadable: {reason}")],
                [],
            )
        for failure in failures:
            self.bad.inc()
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, failure)
        for article in articles:
            self.read.inc()
            yield beam.window.TimestampedValue(article, article.first_seen_at.timestamp())


class ReplayArticles(beam.PTransform):
    """PBegin -> Article from a JSONL file, timestamped with ``first_seen_at`` (which is the
    ``published`` time when the line has no ``first_seen_at``); bad lines are dead letters.

    Only the path goes into the pipeline and one DoFn reads and orders the file: a
    ``beam.Create`` of the articles would pickle and bz2-compress all of them into the job.
    """

    def __init__(self, jsonl_path: Path | str, *, label: str | None = None) -> None:
        super().__init__(label)
        self.jsonl_path = Path(jsonl_path)

    def expand(self, pbegin: beam.pvalue.PBegin) -> StageOutputs:
        return split_dead_letters(
            pbegin
            | "RecordedArticlesFile"
            >> beam.Create([str(self.jsonl_path.absolute())], reshuffle=False)
            | "ReadRecordedArticles"
            >> beam.ParDo(_ReadRecordedArticlesFn()).with_outputs(DEAD_LETTER, main=MAIN)
        )
