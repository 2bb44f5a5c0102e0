"""The size limit of configuration files, and the one place they are read as bytes.

    read_config_bytes(path, *, kind) -> bytes        or ConfigError naming the file

Feed lists, watchlist files, subscriber lists and OPML imports are written or exported
by people and readers: the largest real ones are a few hundred KB (an OPML export of
2,000 feeds is about 400 KB). Validation costs about 8 s per MB of YAML, so a 10 MB file
took 78 s and 2.1 GB; anything over ``MAX_CONFIG_BYTES`` is refused before it is parsed.
At most limit + 1 bytes are ever read, so a FIFO or ``/dev/zero`` given as a path is
refused too, not read forever.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import ConfigError

MAX_CONFIG_BYTES = 1024 * 1024


def read_config_bytes(path: Path, *, kind: str = "YAML file") -> bytes:
    """The bytes of ``path``; ConfigError if it is missing, a folder, unreadable or larger
    than ``MAX_CONFIG_BYTES``. ``kind`` names the file in messages (``OPML file``)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        what = "" if kind == "YAML file" else f"cannot read {kind}: "
        raise ConfigError(f"{path}:1: {what}file not found; check the path") from None
    except IsADirectoryError:
        raise ConfigError(
            f"{path}:1: is a folder, not a {kind}; pass the file, or rename the folder"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}:1: cannot read file: {exc.strerror}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path}:1: {kind} is over the {MAX_CONFIG_BYTES // 1024} KB limit "
            f"(MAX_CONFIG_BYTES); a real one is far smaller: check that this is the right "
            "file, or split it (watchlists may be several files in the folder)"
        )
    return data
