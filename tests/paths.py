"""Paths every test module may import: the repository, the bundled watchlists, real data.

A copy of the shared real-data set (feeds and labeled items) lives in tests/data, so a
clean checkout tests against real data; tests/data/feeds/MANIFEST.md gives provenance.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WATCHLISTS = ROOT / "watchlists"
DATA = ROOT / "tests" / "data"
FEEDS_DIR = DATA / "feeds"
LABELED = DATA / "labeled" / "dev.jsonl"
