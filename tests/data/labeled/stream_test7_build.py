"""Build tests/data/labeled/stream_test7.jsonl, the seventh frozen test part of the labeled stream.

Run: python tests/data/labeled/stream_test7_build.py  (standard library only). Three storylines
that are in no other labeled file (STREAM.md, "Seventh test part"). Every item is a stored page
found with the search tool; the pages, their labels and notes are in stream_test7_pages.jsonl,
and this script only checks them (no address of another labeled file, none twice, a copy group
inside one development, a label only with a development), orders them by date and numbers
them; every page here shows its date to the day (and some a time). The output must match the
sha256 in stream_test7.sha256: the part is frozen, scored once, by the coordinator, and not tuned on.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from stream_build import OTHER_SETS, write_part  # noqa: E402
from stream_test2_build import row  # noqa: E402  (a page item as a part's row)

PAGES = HERE / "stream_test7_pages.jsonl"
OUT = HERE / "stream_test7.jsonl"
STORYLINES = {
    "VAL": "valieva-doping-case",
    "KIND": "kinder-salmonella-recall",
    "BRUM": "brumadinho-dam-collapse",
}


def main() -> None:
    assert OUT.name in OTHER_SETS, "list this part in stream_build.OTHER_SETS"
    rows = [row(json.loads(line)) for line in open(PAGES, encoding="utf-8")]
    write_part(rows, OUT, id_prefix="Z", storylines=STORYLINES)


if __name__ == "__main__":
    main()
