"""config.mirror: a watcher with ``config_uri`` picks up edits made at the shared path.

The shared root here is a local folder read through Beam's FileSystems, the same calls that
read ``gs://`` on Dataflow (GCS itself cannot run here)."""

from __future__ import annotations

import logging
import shutil
from functools import partial

from pipeline.config.feeds import load_feeds
from pipeline.config.mirror import ConfigMirror
from pipeline.config.reload import ConfigWatcher
from pipeline.config.watchlists import load_watchlists
from tests.paths import WATCHLISTS

NEW_STORYLINE = """
storylines:
  - id: spacex-launches
    title: SpaceX launches
    rule:
      all_of:
        - [spacex]
"""


def _baked_and_shared(tmp_path):
    """The image's copy (what the worker loads) and the bucket's (what operators edit)."""
    baked = tmp_path / "image" / "watchlists"
    shared = tmp_path / "bucket" / "watchlists"
    for target in (baked, shared):
        shutil.copytree(WATCHLISTS, target, ignore=shutil.ignore_patterns("drafts"))
    return baked, shared


def _ids(watchlists) -> set[str]:
    return {s.id for s in watchlists.storylines}


def test_a_storyline_added_or_removed_at_the_shared_path_is_in_effect_after_one_check(
    tmp_path,
) -> None:
    baked, shared = _baked_and_shared(tmp_path)
    now = [0.0]
    watcher = ConfigWatcher(
        [baked],
        partial(load_watchlists, baked),
        initial=load_watchlists(baked),
        interval_seconds=30,
        clock=lambda: now[0],
        config_uri=str(tmp_path / "bucket"),
    )
    before = _ids(watcher.current())
    (shared / "launches.yaml").write_text(NEW_STORYLINE.lstrip(), encoding="utf-8")
    now[0] = 30.0
    assert _ids(watcher.current()) == before | {"spacex-launches"}
    assert (baked / "launches.yaml").exists()  # the worker's copy follows the bucket
    (shared / "launches.yaml").unlink()
    now[0] = 60.0
    assert _ids(watcher.current()) == before


def test_a_bad_edit_at_the_shared_path_keeps_the_last_good_config(tmp_path, caplog) -> None:
    baked, shared = _baked_and_shared(tmp_path)
    now = [0.0]
    watcher = ConfigWatcher(
        [baked],
        partial(load_watchlists, baked),
        initial=load_watchlists(baked),
        interval_seconds=30,
        clock=lambda: now[0],
        config_uri=str(tmp_path / "bucket"),
    )
    good = _ids(watcher.current())
    (shared / "broken.yaml").write_text("storylines: [", encoding="utf-8")
    now[0] = 30.0
    with caplog.at_level(logging.WARNING, logger="storywatch.config"):
        assert _ids(watcher.current()) == good
    assert "broken.yaml" in caplog.text and "keeping the last good config" in caplog.text


def test_an_unreachable_or_empty_shared_path_changes_nothing(tmp_path, caplog) -> None:
    baked, _ = _baked_and_shared(tmp_path)
    files = sorted(p.name for p in baked.iterdir())
    mirror = ConfigMirror(str(tmp_path / "no-such-bucket"), [baked])
    assert mirror.sync() is False
    assert sorted(p.name for p in baked.iterdir()) == files


def test_a_single_file_is_replaced_when_it_changes(tmp_path) -> None:
    baked, shared = _baked_and_shared(tmp_path)
    local_feeds, shared_feeds = baked / "feeds.yaml", tmp_path / "bucket" / "feeds.yaml"
    text = local_feeds.read_text(encoding="utf-8")
    shared_feeds.write_text(text, encoding="utf-8")
    mirror = ConfigMirror(str(tmp_path / "bucket"), [local_feeds])
    assert mirror.sync() is False  # same bytes: nothing to do
    first_id = load_feeds(local_feeds).feeds[0].id
    shared_feeds.write_text(
        text.replace(f"id: {first_id}\n", f"id: {first_id}-renamed\n", 1), encoding="utf-8"
    )
    assert mirror.sync() is True
    assert load_feeds(local_feeds).feeds[0].id == f"{first_id}-renamed"
    assert mirror.sync() is False  # unchanged since the last copy
