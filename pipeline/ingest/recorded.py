"""Which files of a folder are recorded feed documents: the one rule replay and seed share.

Every regular file under the folder (subfolders too) is a recorded feed document, except

- hidden files (a name starting with "."),
- the replay manifest (``feeds_manifest.json``),
- notes: names ending in one of ``NOTE_SUFFIXES`` (any case), and READMEs (any name
  starting with "README", any case).

No suffix is required: recordings are saved as .xml, .rss, .atom, .rdf, JSON entry dumps
and files with no suffix at all, and the parser decides what each one holds.

``recorded_feed_files(folder)`` lists them sorted by path, so the list is the same on
every machine. A folder that does not exist, or holds no feed file, is a UserError: a
mistyped folder would otherwise replay (or check) as "0 items" and exit 0.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import UserError

MANIFEST_NAME = "feeds_manifest.json"
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
