"""Shared pytest fixtures. Paths to the repository and data are in tests/paths.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.paths import ROOT


@pytest.fixture
def root() -> Path:
    return ROOT
