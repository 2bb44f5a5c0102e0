"""Which files of a folder are recorded feeds: replay and seed see the same ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import UserError
from pipeline.ingest.recorded import is_recorded_feed_file, recorded_feed_files, recorded_files
from pipeline.seed.background import load_background
from pipeline.seed.draft import feed_articles


def rss(*titles: str) -> str:
    items = "".join(
        f"<item><title>{t}</title><link>https://example.com/{i}</link>"
        "<pubDate>Fri, 25 Oct 2024 09:00:00 GMT</pubDate></item>"
        for i, t in enumerate(titles)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "a.xml").write_text(rss("Musk met Putin in Moscow"))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.rss").write_text(rss("Talks on Starlink", "Kremlin denies report"))
    (tmp_path / "sub" / "snapshot").write_text(rss("No suffix is needed"))
    (tmp_path / "feeds_manifest.json").write_text('[{"file": "a.xml", "kind": "stream"}]')
    (tmp_path / "README").write_text("what these feeds are")
    (tmp_path / "sub" / "Readme.rst").write_text("notes")
    (tmp_path / "notes.md").write_text("notes")
    (tmp_path / "list.OPML").write_text("<opml/>")
    (tmp_path / ".hidden.xml").write_text(rss("Hidden"))
    (tmp_path / "sub" / ".DS_Store").write_bytes(b"\0\1")
    return tmp_path


FEEDS = ["a.xml", "sub/b.rss", "sub/snapshot"]


def test_feeds_are_every_file_but_notes_manifests_readmes_and_hidden_files(folder):
    files = recorded_feed_files(folder)
    assert [p.relative_to(folder).as_posix() for p in files] == FEEDS
    assert recorded_feed_files(str(folder)) == files  # a str path works too, same order
    assert not is_recorded_feed_file(folder / "sub")  # folders are searched, not listed


def test_replay_and_seed_see_the_same_files(folder):
    replayed = sorted(Path(f.path) for f in recorded_files(folder))
    assert replayed == [p.absolute() for p in recorded_feed_files(folder)]
    # seed --check-feeds: every feed's items, and no problem from the manifest or the notes
    articles, problems = feed_articles(folder)
    assert sorted(a.title for a in articles) == sorted(
        [
            "Musk met Putin in Moscow",
            "Talks on Starlink",
            "Kremlin denies report",
            "No suffix is needed",
        ]
    )
    assert problems == []
    # seed --background: one document per entry of those same files
    assert load_background(folder, use_cache=False).docs == 4


def test_a_folder_without_feeds_is_a_user_error_for_replay_and_seed(tmp_path):
    (tmp_path / "README.md").write_text("notes only")
    (tmp_path / "feeds_manifest.json").write_text("[]")
    for view in (recorded_feed_files, recorded_files, feed_articles):
        with pytest.raises(UserError, match="no recorded feed files here"):
            view(tmp_path)
    with pytest.raises(UserError, match="--check-feeds"):
        feed_articles(tmp_path)
    assert load_background(tmp_path, use_cache=False).docs == 0  # background: just none


def test_a_missing_folder_is_a_user_error(tmp_path):
    for view in (recorded_feed_files, recorded_files):
        with pytest.raises(UserError, match="not a directory of recorded feeds; check the path"):
            view(tmp_path / "missing")
    with pytest.raises(UserError, match="hint here"):
        recorded_feed_files(tmp_path / "missing", hint="hint here")
