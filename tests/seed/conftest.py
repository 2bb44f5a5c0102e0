"""Fixtures of the seed tests: the background corpus and the shipped watchlists, loaded once."""

from __future__ import annotations

import pytest

from pipeline.config.watchlists import Watchlists, load_watchlists
from pipeline.seed.background import Background, default_background_dir, load_background
from tests.paths import WATCHLISTS


@pytest.fixture(scope="session")
def background() -> Background:
    return load_background(default_background_dir())


@pytest.fixture(scope="session")
def watchlists() -> Watchlists:
    return load_watchlists(WATCHLISTS)
