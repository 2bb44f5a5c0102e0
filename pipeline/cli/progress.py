"""Progress bars for the long commands (``replay``, ``seed``), on a terminal only.

    bar(iterable=None, *, desc, total=None, unit="file", enabled=True)   a tqdm bar on
                                 standard error when it is a terminal; otherwise nothing is
                                 printed at all (tqdm's ``disable=None``): piped output and
                                 logs stay clean
    replayed(element) -> element the replay graph's pass-through tick, one per recorded feed
                                 file or article read
    watch_replayed(callback)     context manager: ``callback()`` on each tick in this process

Seeding wraps its loops over feed files in ``bar``. A replay runs inside Beam, so the
driver cannot iterate it: the graph passes each input through ``replayed``, and the driver
(``run.runner.run_replay``) watches those ticks, which reach it only on the local runner,
whose DoFns run in the driver's process; the element is fused with the steps after it, so a
tick follows each file's progress through the first (and longest) stage. On any other
runner the ticks happen on the workers and nobody watches them: no bar, nothing else lost.
The bar is cleared when it closes (``leave=False``), so the command's own output follows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from tqdm import tqdm

T = TypeVar("T")
_WATCHERS: list[Callable[[], None]] = []
_WATCHERS_LOCK = threading.Lock()


def bar(
    iterable: Iterable[T] | None = None,
    *,
    desc: str,
    total: int | None = None,
    unit: str = "file",
    enabled: bool = True,
) -> tqdm[T]:
    """A tqdm bar on stderr that shows only on a terminal (``disable=None``), never when
    not ``enabled``, and is cleared at the end."""
    return tqdm(
        iterable,
        desc=desc,
        total=total,
        unit=unit,
        disable=None if enabled else True,
        leave=False,
        dynamic_ncols=True,
    )


def replayed(element: T) -> T:
    """Tick every watcher in this process; return ``element`` unchanged."""
    for callback in list(_WATCHERS):
        callback()
    return element


@contextmanager
def watch_replayed(callback: Callable[[], Any]) -> Iterator[None]:
    """Call ``callback()`` on each ``replayed`` tick in this process while inside."""
    with _WATCHERS_LOCK:
        _WATCHERS.append(callback)
    try:
        yield
    finally:
        with _WATCHERS_LOCK:
            _WATCHERS.remove(callback)
