"""The storywatch command line: ``main`` is the console script."""

from pipeline.cli.main import main

__all__ = ["main"]
