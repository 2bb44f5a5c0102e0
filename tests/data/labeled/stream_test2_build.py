"""Build tests/data/labeled/stream_test2.jsonl, the second frozen test part of the labeled stream.

Run: python tests/data/labeled/stream_test2_build.py  (standard library only). Three storylines
that are in no other labeled file (STREAM.md, "Second test part"). Every item is a stored page
found with the search tool; the pages, their labels and notes are in stream_test2_pages.jsonl,
and this script only checks them (no address of another labeled file, none twice, a copy group
inside one development), orders them by date and numbers them. The output must match the
sha256 in stream_test2.sha256: the part is frozen, scored once, and not tuned on.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAGES = HERE / "stream_test2_pages.jsonl"
OUT = HERE / "stream_test2.jsonl"
sys.path.insert(0, str(HERE))
from stream_build import write_part  # noqa: E402


def row(page: dict) -> dict:
    dev = page["dev"]
    chain, order = dev.split("#") if dev else (None, None)
    language = page["language"]
    return {
        "title": page["title"],
        "summary": page["summary"],
        "outlet": page["outlet"],
        "published": page["published"],
        "url": page["url"],
        "labels": page["labels"],
        "dup_group": page["group"],
        "development": {"chain": chain, "order": int(order)} if dev else None,
        "note": page["note"],
        "title_source": page["title_source"],
        "borderline": page["borderline"],
        **({"language": language} if language != "en" else {}),
        "source": "pages (search tool)",
    }


def main() -> None:
    write_part(
        [row(json.loads(line)) for line in open(PAGES, encoding="utf-8")], OUT, id_prefix="W"
    )


if __name__ == "__main__":
    main()
