"""Shared pytest fixtures. Paths to the repository and data are in tests/paths.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.paths import ROOT


@pytest.fixture
def root() -> Path:
    return ROOT


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Subprocess runs of the CLI (tests/cli/) and the live-engine soak check are ``slow``:
    ``make test-fast`` leaves them out, ``make test`` runs them."""
    for item in items:
        path = item.path.as_posix()
        if "/tests/cli/" in path or path.endswith("tests/run/test_fnapi_live.py"):
            item.add_marker(pytest.mark.slow)
