"""Config reload while the pipeline runs: a small, pure watcher over config files.

    watcher = ConfigWatcher(["watchlists"], partial(load_watchlists, "watchlists"),
                            initial=watchlists, interval_seconds=30)
    watchlists = watcher.current()   # cheap; re-checks the files at most every interval

Contract: ``current()`` returns the last good config. At most every ``interval_seconds``
after its first call (by the injected ``clock``, default ``time.monotonic``) it stats the watched files (a
directory means its watchlist files); if a file's size or mtime or the set of files
changed, it hashes their bytes; if the hash differs from the last one seen, it calls
``load``. A load that raises ``ConfigError`` (any ``UserError``) keeps the last good config and logs its
``FILE:LINE`` problems as one warning, once per distinct bad content (the same bad bytes
are not re-parsed or re-reported). ``interval_seconds=0`` turns reloading off.

State: the last good config, the last fingerprint and hash, the set of bad hashes already
reported. One watcher per DoFn instance (it is pickled with the DoFn); no threads.
With ``config_uri`` the files are first synced from that shared path (Dataflow).
Live, the DoFns call ``current()`` on each element, so an edit is in effect within one
reload interval of the next element; a replay passes no paths and never reloads.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

from pipeline.config.mirror import ConfigMirror
from pipeline.config.watchlists import watchlist_files
from pipeline.errors import UserError

log = logging.getLogger("storywatch.config")

T = TypeVar("T")

Fingerprint = tuple[tuple[str, int, int], ...]


def watched_files(paths: Sequence[Path]) -> list[Path]:
    """The files behind ``paths``: a directory stands for its watchlist files."""
    files: list[Path] = []
    for path in paths:
        files += watchlist_files(path) if path.is_dir() else [path]
    return files


def fingerprint(files: Sequence[Path]) -> Fingerprint:
    """(name, size, mtime_ns) per file; a missing file is (name, -1, -1)."""
    out = []
    for path in files:
        try:
            stat = path.stat()
        except OSError:
            out.append((str(path), -1, -1))
        else:
            out.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(out)


def content_hash(files: Sequence[Path]) -> str:
    """One SHA-256 over the names and bytes of ``files`` (an unreadable file hashes as absent)."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path).encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"\0missing\0")
        digest.update(b"\0")
    return digest.hexdigest()


class ConfigWatcher(Generic[T]):
    """The last good config of some files, re-loaded when their content changes."""

    def __init__(
        self,
        paths: Sequence[Path | str],
        load: Callable[[], T],
        *,
        initial: T,
        interval_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        config_uri: str | None = None,
    ) -> None:
        self.paths = tuple(Path(p) for p in paths)
        # Dataflow: the files are re-read from a shared path (``pipeline.config.mirror``).
        self.mirror = ConfigMirror(config_uri, self.paths) if config_uri else None
        self.load = load
        self.config = initial
        self.interval_seconds = interval_seconds
        self.clock = clock
        self.loads = 0
        self.reported: set[str] = set()
        files = watched_files(self.paths)
        self._fingerprint = fingerprint(files)
        self._hash = content_hash(files)
        # Armed on first use, not here: the watcher is built where the job is built and
        # pickled to workers, whose monotonic clocks have other origins.
        self._next_check: float | None = None

    def current(self) -> T:
        """The config in effect now, after a re-check if one is due."""
        if self.interval_seconds <= 0:
            return self.config
        now = self.clock()
        if self._next_check is None:
            self._next_check = now + self.interval_seconds
        elif now >= self._next_check:
            self._next_check = now + self.interval_seconds
            self.check()
        return self.config

    def check(self) -> bool:
        """Re-read the files now if they changed; True when a new good config was loaded."""
        if self.mirror is not None:
            self.mirror.sync()
        files = watched_files(self.paths)
        seen = fingerprint(files)
        if seen == self._fingerprint:
            return False
        self._fingerprint = seen
        digest = content_hash(files)
        if digest == self._hash:
            return False
        self._hash = digest
        self.loads += 1
        try:
            config = self.load()
        except UserError as exc:  # ConfigError, or a secret the new file names is unset
            if digest not in self.reported:
                self.reported.add(digest)
                log.warning(
                    "config edit rejected, keeping the last good config:\n  %s",
                    "\n  ".join(exc.problems),
                )
            return False
        self.config = config
        log.info("config reloaded from %s", ", ".join(str(p) for p in self.paths))
        return True
