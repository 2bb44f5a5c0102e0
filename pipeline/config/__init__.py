"""Configuration files (YAML, validated by pydantic) with errors located as FILE:LINE.

The loader keeps the line of every mapping key and list item, so a pydantic error at
``("storylines", 2, "rule", "all_of")`` is reported at the line where that key is
written. Each config kind has its own module: ``watchlists``, ``feeds``, ``subscribers``.

>>> from pipeline.config import parse_yaml
>>> data, lines = parse_yaml("a:\\n  - x: 1\\n", "f.yaml")
>>> data, lines.line_of(("a", 0, "x"))
({'a': [{'x': 1}]}, 2)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from pipeline.errors import ConfigError

M = TypeVar("M", bound=pydantic.BaseModel)


class LineMap:
    """Maps a path of keys/indices inside a YAML document to its 1-based line."""

    def __init__(self) -> None:
        self._lines: dict[tuple, int] = {}

    def add(self, path: tuple, line: int) -> None:
        self._lines.setdefault(path, line)

    def line_of(self, path: tuple) -> int:
        """Line of ``path``, or of its nearest ancestor that has one (1 if none)."""
        path = tuple(path)
        while path:
            if path in self._lines:
                return self._lines[path]
            path = path[:-1]
        return self._lines.get((), 1)


class _Alias(Exception):
    """A collection node reached twice: a YAML alias (``*name``) of an anchored one."""

    def __init__(self, line: int) -> None:
        self.line = line


def _walk(node: yaml.Node, path: tuple, lines: LineMap, seen: set[int]) -> None:
    lines.add(path, node.start_mark.line + 1)
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        # Aliases share the node: nine nested aliases of nine items ("billion laughs")
        # would expand to 9**9 paths here and in the models, so they are refused.
        if id(node) in seen:
            raise _Alias(node.start_mark.line + 1)
        seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines.add(path + (key,), key_node.start_mark.line + 1)
            _walk(value_node, path + (key,), lines, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, path + (index,), lines, seen)


def parse_yaml(text: str, filename: str) -> tuple[Any, LineMap]:
    """Parse YAML text into plain data and a LineMap; syntax errors become ConfigError."""
    lines = LineMap()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = exc.problem or str(exc)
        raise ConfigError(
            f"{filename}:{line}: YAML syntax error: {what}; check indentation, colons and quotes on this line"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{filename}:1: YAML error: {exc}") from None
    if node is not None:
        try:
            _walk(node, (), lines, set())
        except _Alias as alias:
            raise ConfigError(f"{filename}:{alias.line}: YAML anchors and aliases (&name, *name) of lists or "
                              "mappings are not supported; write the values out") from None
    return data, lines


def read_text(path: Path) -> str:
    """Read a config file as UTF-8, turning I/O and decoding problems into ConfigError."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}:1: file not found; check the path") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}:1: not UTF-8 text ({exc.reason}); save the file as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}:1: cannot read file: {exc.strerror}") from None


def pydantic_problems(exc: pydantic.ValidationError, filename: str, lines: LineMap,
                      prefix: tuple = ()) -> list[str]:
    """Render each pydantic error as ``FILE:LINE: where: what``."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = prefix + tuple(err["loc"])
        where = ".".join(str(part) for part in loc) or "(top level)"
        msg = err["msg"]
        if err["type"] == "missing":
            msg = f"missing required field '{loc[-1]}'; add it"
        elif err["type"] == "extra_forbidden":
            msg = f"unknown field '{loc[-1]}'; remove it or check its spelling"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        problems.append(f"{filename}:{lines.line_of(loc)}: {where}: {msg}")
    return problems


def load_model(path: Path | str, model: type[M], *, empty_ok: bool = False) -> tuple[M, LineMap]:
    """Load one YAML file into ``model``; every problem is raised together as ConfigError."""
    path = Path(path)
    data, lines = parse_yaml(read_text(path), str(path))
    if data is None:
        if not empty_ok:
            raise ConfigError(f"{path}:1: the file is empty; see the examples in watchlists/")
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: expected a mapping at the top level (key: value), found {type(data).__name__}")
    try:
        return model.model_validate(data), lines
    except pydantic.ValidationError as exc:
        raise ConfigError(*pydantic_problems(exc, str(path), lines)) from None
