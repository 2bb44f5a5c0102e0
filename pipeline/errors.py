"""Errors meant for the user: the CLI prints them without a traceback and exits 2."""

from __future__ import annotations


class UserError(Exception):
    """A mistake the user can fix (bad file, bad flag, missing secret).

    ``problems`` are complete lines, ideally ``FILE:LINE: what is wrong and how to fix it``.
    """

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


class ConfigError(UserError):
    """One or more problems in a configuration file, each located as FILE:LINE."""
