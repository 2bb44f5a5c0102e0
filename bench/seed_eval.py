"""Score `storywatch seed` on the seed evaluation set (tests/data/seed_eval): entity kinds,
mapped storyline precision/recall over labeled items, storylines satisfied by entities alone.

    python bench/seed_eval.py --split tuning
    python bench/seed_eval.py --split test      # the frozen part: refuses if its files changed
    python bench/seed_eval.py --split test2     # the unseen second part (tests/data/seed_eval2), likewise
    python bench/seed_eval.py --split test3     # the unseen third part (tests/data/seed_eval3), likewise
    python bench/seed_eval.py --split test4     # the unseen fourth part (tests/data/seed_eval4), likewise
    python bench/seed_eval.py --split test5     # the unseen fifth part (tests/data/seed_eval5), likewise
    python bench/seed_eval.py --split test6     # the unseen sixth part (tests/data/seed_eval6), likewise
    python bench/seed_eval.py --split test7     # the unseen seventh part (tests/data/seed_eval7), likewise
    python bench/seed_eval.py --split test8     # the unseen eighth part (tests/data/seed_eval8), likewise
    python bench/seed_eval.py --split test9     # the unseen ninth part (tests/data/seed_eval9), likewise
    python bench/seed_eval.py --split test10    # the unseen tenth part (tests/data/seed_eval10), likewise
    python bench/seed_eval.py --split test11    # the unseen eleventh part (tests/data/seed_eval11), likewise
    python bench/seed_eval.py --split test12    # the unseen twelfth part (tests/data/seed_eval12), likewise

Figures and their history: bench/README.md ("Seed on unseen articles").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.config.watchlists import load_watchlists
from pipeline.seed.background import default_background_dir, load_background
from pipeline.seed.evaluation import format_scores, frozen_digest, manifest, score_article

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "seed_eval"
FROZEN_TEST_SHA256 = "1fea7209209080a95712f6b1758e80f880a5ede41abbd0de3dccc361a990af3c"
# The unseen parts, split name -> (directory, frozen digest). Each is scored once, at the
# end, and is then spent (every article in it is split "test"); a new part replaces it.
PARTS: dict[str, tuple[Path, str]] = {
    "test2": (
        ROOT / "tests" / "data" / "seed_eval2",
        "984b1d391c4b45372d10e200eace25140d5da8bed9757aecea5211cbd07606f0",
    ),
    "test3": (
        ROOT / "tests" / "data" / "seed_eval3",
        "b903be6ca53263c4ed07f3ba6650403e5f8a0cea4817b7b20f54605e22660844",
    ),
    "test4": (
        ROOT / "tests" / "data" / "seed_eval4",
        "1e3818d304cc292916ccce11541064709bb25fad169f5d1ae10362dc77b48c66",
    ),
    "test5": (
        ROOT / "tests" / "data" / "seed_eval5",
        "b7f7189012525bd1bbbd1c0efb47a29aa7e91b4facfbb35286f067c4c43d0454",
    ),
    "test6": (
        ROOT / "tests" / "data" / "seed_eval6",
        "baf4549d6e1b3e3804ed216a09de7d2c47d4d12b430764faaac41c87d76b76b6",
    ),
    "test7": (
        ROOT / "tests" / "data" / "seed_eval7",
        "0d3f96a1f5a836b120c2ffd2978e91eedad289928890199270cb1a8b14e5d02f",
    ),
    "test8": (
        ROOT / "tests" / "data" / "seed_eval8",
        "db8a5accbc2320c1908510042aa363c69b860d29dd22f1c2895549a9944a29dd",
    ),
    "test9": (
        ROOT / "tests" / "data" / "seed_eval9",
        "df9735e61395827654f55916e16f13a6213c09c0ca680a99700edba0ec86c353",
    ),
    "test10": (
        ROOT / "tests" / "data" / "seed_eval10",
        "f375bee5483891c9a94542a45897f92d1f003d7339621b7a2f9e43f0975934e1",
    ),
    "test11": (
        ROOT / "tests" / "data" / "seed_eval11",
        "f70f5c26469ad9582d147f4b3725d55e9afd67bf970a3e4f40b6aac4fbadc59b",
    ),
    "test12": (
        ROOT / "tests" / "data" / "seed_eval12",
        "8efc3ff564b9389cf948511586cbd1db47b2e583a09f1e21db69d4bad193206c",
    ),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("tuning", "test", *PARTS, "all"), default="tuning")
    parser.add_argument("--watchlists", type=Path, default=ROOT / "watchlists")
    parser.add_argument("--verbose", action="store_true", help="list wrong kinds and misses")
    args = parser.parse_args()
    if args.split in ("test", "all") and frozen_digest(DATA) != FROZEN_TEST_SHA256:
        print("the frozen test part has changed; refusing to report test figures", file=sys.stderr)
        return 2
    if args.split in PARTS and frozen_digest(PARTS[args.split][0]) != PARTS[args.split][1]:
        print(
            f"the frozen {args.split} part has changed; refusing to report {args.split} figures",
            file=sys.stderr,
        )
        return 2
    data = PARTS[args.split][0] if args.split in PARTS else DATA
    split = "test" if args.split in PARTS else args.split
    meta = manifest(data)
    ids = sorted(k for k in meta if split == "all" or meta[k]["split"] == split)
    watchlists = load_watchlists(args.watchlists)
    background = load_background(default_background_dir())
    scores = [score_article(data, k, watchlists, args.watchlists, background) for k in ids]
    print(format_scores(scores))
    if args.verbose:
        for s in scores:
            print(f"\n{s.article_id}: storylines {s.titles}")
            for w in s.wrong_kinds:
                print(f"  wrong kind  {w}")
            for m in s.missing:
                print(f"  not found   {m}")
            for a in s.alone:
                print(f"  satisfied by entities alone: {a}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
