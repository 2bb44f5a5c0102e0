"""Config from a shared path: copy ``gs://…`` (any Beam FileSystems root) over the local files.

    ConfigMirror(remote_root, local_paths).sync() -> bool (True when a local file changed)

On Dataflow the config files baked into the image never change, so a running job can
only see edits from a shared path. With ``--config_uri gs://bucket/storywatch``, each
``ConfigWatcher`` (``pipeline.config.reload``) first syncs its files from there: for a
local ``watchlists/`` folder, ``<config_uri>/watchlists/*.yaml``; for ``feeds.yaml`` and
``subscribers.yaml``, ``<config_uri>/feeds.yaml`` and ``<config_uri>/subscribers.yaml``.
The watcher then sees the copies change and reloads them as it does locally, so a bad
edit is refused the same way (the last good config stays).

Contract: a remote file differing in size or modification time from the one last copied
replaces the local one atomically (write, then rename); a watchlist file gone from the
remote folder is removed locally (a storyline deleted); a remote file that does not exist
is never a reason to delete the local one. A remote that cannot be read (network, rights)
changes nothing and is logged once per distinct error. The remote is read at most as
often as the watcher checks (``--reload_interval_seconds``).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from apache_beam.io.filesystems import FileSystems

from pipeline.config.watchlists import is_watchlist_file

log = logging.getLogger("storywatch.config")


class ConfigMirror:
    """Keeps ``local_paths`` (files, or watchlist folders) in step with ``remote_root``."""

    def __init__(self, remote_root: str, local_paths: Sequence[Path]) -> None:
        self.remote_root = remote_root.rstrip("/")
        self.local_paths = tuple(local_paths)
        self._copied: dict[str, tuple[int, float]] = {}  # remote path -> (size, mtime) copied
        self._reported: set[str] = set()

    def sync(self) -> bool:
        changed = False
        for local in self.local_paths:
            remote = FileSystems.join(self.remote_root, local.name)
            try:
                changed |= (
                    self._sync_folder(remote, local)
                    if local.is_dir() or not local.suffix
                    else self._sync_file(remote, local)
                )
            except Exception as exc:  # an unreachable remote keeps the local copy running
                message = f"cannot read the shared config at {remote}: {type(exc).__name__}: {exc}"
                if message not in self._reported:
                    self._reported.add(message)
                    log.warning("%s; keeping the config in effect", message)
        return changed

    def _sync_file(self, remote: str, local: Path) -> bool:
        found = FileSystems.match([remote])[0].metadata_list
        return bool(found) and self._copy(found[0], local)

    def _sync_folder(self, remote: str, local: Path) -> bool:
        found = [
            m
            for m in FileSystems.match([FileSystems.join(remote, "*")])[0].metadata_list
            if is_watchlist_file(Path(m.path))
        ]
        if not found:  # an empty or missing folder is a mistake, not "delete every storyline"
            return False
        local.mkdir(parents=True, exist_ok=True)
        changed = False
        for meta in found:
            changed |= self._copy(meta, local / Path(meta.path).name)
        names = {Path(m.path).name for m in found}
        for path in local.iterdir():
            if is_watchlist_file(path) and path.name not in names:
                path.unlink()
                changed = True
        return changed

    def _copy(self, meta, local: Path) -> bool:
        stamp = (int(meta.size_in_bytes), float(meta.last_updated_in_seconds))
        if self._copied.get(meta.path) == stamp:
            return False
        with FileSystems.open(meta.path) as handle:
            data = handle.read()
        self._copied[meta.path] = stamp
        if local.exists() and local.read_bytes() == data:
            return False
        fd, tmp = tempfile.mkstemp(dir=local.parent, prefix=f".{local.name}.")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, local)
        return True
