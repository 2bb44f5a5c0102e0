"""ConfigWatcher: good edits picked up, bad edits kept out and reported once, no needless parses."""

from __future__ import annotations

import logging
import os
import textwrap
from functools import partial
from pathlib import Path

from pipeline.config.reload import ConfigWatcher
from pipeline.config.watchlists import Watchlists, load_watchlists

ENTITIES = """
entities:
  - id: acme
    kind: org
    name: Acme Corp
"""

STORYLINE = """
storylines:
  - id: {id}
    title: {id}
    rule:
      all_of:
        - [acme]
"""


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def write(path: Path, text: str) -> None:
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    # Same-second edits must still change the fingerprint on coarse-mtime filesystems.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def ids(watchlists: Watchlists) -> set[str]:
    return {s.id for s in watchlists.storylines}


def watcher_for(directory: Path, clock: Clock) -> ConfigWatcher[Watchlists]:
    load = partial(load_watchlists, directory)
    return ConfigWatcher([directory], load, initial=load(), interval_seconds=30, clock=clock)


def counting(watcher: ConfigWatcher) -> list[int]:
    calls = []
    inner = watcher.load

    def load():
        calls.append(1)
        return inner()

    watcher.load = load
    return calls


def test_a_good_edit_is_picked_up_within_one_interval(tmp_path) -> None:
    write(tmp_path / "entities.yaml", ENTITIES)
    write(tmp_path / "storylines.yaml", STORYLINE.format(id="first"))
    clock = Clock()
    watcher = watcher_for(tmp_path, clock)
    assert ids(watcher.current()) == {"first"}  # the first call starts the interval
    write(tmp_path / "more.yaml", STORYLINE.format(id="second"))
    clock.now = 29
    assert ids(watcher.current()) == {"first"}  # not due yet: the files are not even stat'ed
    clock.now = 30
    assert ids(watcher.current()) == {"first", "second"}


def test_a_bad_edit_keeps_the_last_good_config_and_is_reported_once(tmp_path, caplog) -> None:
    write(tmp_path / "entities.yaml", ENTITIES)
    write(tmp_path / "storylines.yaml", STORYLINE.format(id="first"))
    clock = Clock()
    watcher = watcher_for(tmp_path, clock)
    watcher.current()
    calls = counting(watcher)
    bad = STORYLINE.format(id="broken").replace("[acme]", "[no-such-entity]")
    write(tmp_path / "storylines.yaml", bad)
    with caplog.at_level(logging.WARNING, logger="storywatch.config"):
        for step in range(1, 5):
            clock.now = 30 * step
            assert ids(watcher.current()) == {"first"}
        touched = tmp_path / "storylines.yaml"
        os.utime(touched, ns=(0, touched.stat().st_mtime_ns + 5_000_000_000))
        clock.now = 200
        assert ids(watcher.current()) == {"first"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and calls == [1]  # the same bad bytes: not re-parsed either
    assert f"{touched}:6:" in warnings[0] and "no-such-entity" in warnings[0]

    write(touched, STORYLINE.format(id="fixed"))
    clock.now = 230
    assert ids(watcher.current()) == {"fixed"}
    write(touched, bad)  # the same mistake again, after a good config: reported already
    clock.now = 260
    with caplog.at_level(logging.WARNING, logger="storywatch.config"):
        assert ids(watcher.current()) == {"fixed"}
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_an_unchanged_or_only_touched_file_is_not_re_parsed(tmp_path) -> None:
    write(tmp_path / "entities.yaml", ENTITIES)
    write(tmp_path / "storylines.yaml", STORYLINE.format(id="first"))
    clock = Clock()
    watcher = watcher_for(tmp_path, clock)
    calls = counting(watcher)
    before = watcher.current()
    for step in range(1, 4):
        clock.now = 30 * step
        assert watcher.current() is before
    write(tmp_path / "storylines.yaml", STORYLINE.format(id="first"))  # same bytes, new mtime
    clock.now = 120
    assert watcher.current() is before
    assert calls == []


def test_interval_zero_never_reloads(tmp_path) -> None:
    write(tmp_path / "entities.yaml", ENTITIES)
    write(tmp_path / "storylines.yaml", STORYLINE.format(id="first"))
    clock = Clock()
    load = partial(load_watchlists, tmp_path)
    watcher = ConfigWatcher([tmp_path], load, initial=load(), interval_seconds=0, clock=clock)
    write(tmp_path / "more.yaml", STORYLINE.format(id="second"))
    clock.now = 10_000
    assert ids(watcher.current()) == {"first"}
