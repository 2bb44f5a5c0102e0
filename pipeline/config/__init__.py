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

import datetime as dt
import json
import re
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from pipeline.config.limits import read_config_bytes
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


class _DuplicateKey(Exception):
    """A mapping that names the same key twice: YAML keeps the last value, silently."""

    def __init__(self, key: str, line: int, first_line: int) -> None:
        self.key, self.line, self.first_line = key, line, first_line


def _walk(node: yaml.Node, path: tuple, lines: LineMap, seen: set[int]) -> None:
    lines.add(path, node.start_mark.line + 1)
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        # Aliases share the node: nine nested aliases of nine items ("billion laughs")
        # would expand to 9**9 paths here and in the models, so they are refused.
        if id(node) in seen:
            raise _Alias(node.start_mark.line + 1)
        seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        keys: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key in keys and isinstance(key_node, yaml.ScalarNode):
                raise _DuplicateKey(key, key_node.start_mark.line + 1, keys[key])
            keys[key] = key_node.start_mark.line + 1
            lines.add(path + (key,), key_node.start_mark.line + 1)
            _walk(value_node, path + (key,), lines, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, path + (index,), lines, seen)


_YAML_DATE = re.compile(r"(?<![\w.-])(\d{4})-(\d{1,2})-(\d{1,2})(?![\w.:-])")


def _value_error(text: str, filename: str, exc: ValueError) -> ConfigError:
    """What a value YAML could not build is: an impossible date, or an enormous integer."""
    for m in _YAML_DATE.finditer(text):
        try:
            dt.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError as bad:
            line = text.count("\n", 0, m.start()) + 1
            return ConfigError(
                f"{filename}:{line}: {m[0]!r} is not a real date ({bad}); write it as YYYY-MM-DD"
            )
    # An integer of more than 4300 digits (Python's int-parsing limit).
    digits = re.search(r"\d{4301,}", text)
    if digits:
        line = text.count("\n", 0, digits.start()) + 1
        return ConfigError(
            f"{filename}:{line}: a number with thousands of digits; write a real value"
        )
    return ConfigError(f"{filename}:1: a value YAML cannot read ({exc}); check the file's values")


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
    except ValueError as exc:
        raise _value_error(text, filename, exc) from None
    except RecursionError:  # "[[[[...", or thousands of indented levels: hostile, not config
        raise ConfigError(
            f"{filename}:1: the YAML is nested too deeply to be a config file; "
            "check that this is the right file"
        ) from None
    if node is not None:
        try:
            _walk(node, (), lines, set())
        except _Alias as alias:
            raise ConfigError(
                f"{filename}:{alias.line}: YAML anchors and aliases (&name, *name) of lists or "
                "mappings are not supported; write the values out"
            ) from None
        except RecursionError:
            raise ConfigError(
                f"{filename}:1: the YAML is nested too deeply to be a config file; "
                "check that this is the right file"
            ) from None
        except _DuplicateKey as dup:
            raise ConfigError(
                f"{filename}:{dup.line}: key '{dup.key}' appears again (first at line "
                f"{dup.first_line}); YAML would keep only this one and drop the first: merge "
                "them into one"
            ) from None
    return data, lines


def read_text(path: Path) -> str:
    """Read a config file as UTF-8, turning I/O, size (``limits.MAX_CONFIG_BYTES``) and
    decoding problems into ConfigError."""
    data = read_config_bytes(path)
    if b"\x00" in data[:4096]:
        raise ConfigError(
            f"{path}:1: this is a binary file (it contains NUL bytes), not YAML; check the path"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02X}); save the file as UTF-8"
        ) from None


# --- wrong-type values, worded for the person editing the file ----------------------------

_TYPE_ERRORS = {
    "string_type": "a single text value",
    "path_type": "a single file path",
    "list_type": "a list",
    "tuple_type": "a list",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "dict_type": "a mapping",
}


# Numeric bounds of a Field: (words, ctx key).
_BOUNDS = {
    "greater_than_equal": ("at least", "ge"),
    "greater_than": ("above", "gt"),
    "less_than_equal": ("at most", "le"),
    "less_than": ("below", "lt"),
}


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# Field values that may be a pasted secret (a name like *_env should hold a variable name):
# a message never repeats them.
_SECRET_FIELD = re.compile(r"(_env|password|token|secret|webhook)", re.IGNORECASE)

# What the id/name patterns of the config models mean, in words.
_PATTERN_WORDS = {
    r"^[A-Za-z_][A-Za-z0-9_]*$": "the NAME of an environment variable (letters, digits, _), "
    "e.g. STORYWATCH_DESK_WEBHOOK; the secret itself goes in that variable",
    r"^[A-Za-z0-9][A-Za-z0-9_.-]*$": "letters, digits, '.', '_' and '-' only, starting with a letter or "
    "digit (no spaces)",
    r"^[A-Za-z0-9][A-Za-z0-9._-]*$": "letters, digits, '.', '_' and '-' only, starting with a letter or "
    "digit (no spaces)",
    r"^[a-z0-9][a-z0-9-]*$": "a lower-case slug of a-z, 0-9 and '-', e.g. elon-musk",
    r"^[CGD][A-Z0-9]{6,}$": "a Slack channel ID like C0123456789 (from the channel's 'Copy link'), "
    "not the channel name",
}


def _found(value: Any, *, secret: bool = False) -> str:
    """How a YAML value looks to its author: ``a list [a, b]``, ``the number 5``..."""
    if secret:
        kinds = {
            list: "a list",
            dict: "a mapping",
            str: "a text",
            bool: "true/false",
            int: "a number",
            float: "a number",
            type(None): "nothing (an empty value)",
        }
        return kinds.get(type(value), "a value of another type")
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (true/false)"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {_short(value)}"
    if isinstance(value, list):
        return f"a list {_short(value)}"
    if isinstance(value, dict):
        return f"a mapping {_short(value)}"
    return f"{type(value).__name__} {_short(value)}"


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_@./+-]*$")


def _yaml_value(value: Any) -> str:
    """``value`` as it can be written in YAML: quoted unless plainly safe (``*`` starts an alias)."""
    if isinstance(value, str) and not (_PLAIN.match(value) and value.lower() not in _YAML_WORDS):
        return json.dumps(value, ensure_ascii=False)
    return str(value).lower() if isinstance(value, bool) else str(value)


_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


def _unwrap(annotation: Any) -> Any:
    """``X | None`` → ``X`` (the first non-None member of a union)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return members[0] if members else annotation
    return annotation


def _field_at(model: type[pydantic.BaseModel] | None, loc: tuple) -> tuple[Any, Any]:
    """(FieldInfo or None, annotation) of the value at ``loc`` inside ``model``, or (None, None)."""
    annotation: Any = model
    info = None
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(part, int):
            if typing.get_origin(annotation) not in (list, tuple):
                return None, None
            annotation, info = typing.get_args(annotation)[0], None
            continue
        if not (isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel)):
            return None, None
        fields = annotation.model_fields
        name = next((n for n, f in fields.items() if part in (n, f.alias)), None)
        if name is None:
            return None, None
        info, annotation = fields[name], fields[name].annotation
    return info, _unwrap(annotation)


def _model_fields(annotation: Any) -> list[str]:
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return [f.alias or n for n, f in annotation.model_fields.items()]
    return []


def _wrong_type(err: dict, loc: tuple, model: type[pydantic.BaseModel] | None) -> str | None:
    """``expected X, found Y; how to fix`` for a value of the wrong type, else None."""
    value = err.get("input")
    key = loc[-1] if loc and isinstance(loc[-1], str) else None
    secret = bool(key and _SECRET_FIELD.search(key))
    if err["type"] == "string_pattern_mismatch":
        pattern = err.get("ctx", {}).get("pattern", "")
        shown = "this value" if secret else _short(value)
        return f"{shown} is not valid here: expected {_PATTERN_WORDS.get(pattern, f'text matching {pattern}')}"
    if (bound := _BOUNDS.get(err["type"])) is not None:
        limit = err.get("ctx", {}).get(bound[1])
        return (
            f"must be {bound[0]} {limit:g}, found {_found(value)}"
            if isinstance(limit, (int, float))
            else None
        )
    if err["type"] == "too_short" and isinstance(value, list) and not value:
        return f"the list is empty; give at least {err.get('ctx', {}).get('min_length', 1)} value"
    if err["type"] == "string_too_short" and isinstance(value, str):
        return "the value is empty; write a value"
    if err["type"] == "literal_error" and isinstance(value, str):
        return (
            f"{_short(value)} is not one of {err.get('ctx', {}).get('expected', 'the allowed values')}; "
            "check the spelling"
        )
    if err["type"] == "literal_error" and not isinstance(value, str):
        expected = f"one of {err.get('ctx', {}).get('expected', 'the listed values')}"
    elif err["type"] in _TYPE_ERRORS:
        expected = _TYPE_ERRORS[err["type"]]
    else:
        return None
    info, annotation = _field_at(model, loc)
    fields = _model_fields(annotation)
    if fields:
        expected += f" with the fields {', '.join(fields)}"
    if info is not None and info.description:
        expected += f" ({info.description})"
    lead = f"{key}: " if key else "- "
    scalar = isinstance(value, (str, int, float, bool))
    if expected.startswith("a list"):
        if scalar:
            fix = f"write it as a list: {lead}[{_yaml_value(value)}]"
        elif value is None:
            fix = f"list the values, write {lead}[] for none, or remove the line for the default"
        else:
            fix = "write the items as a list, one per line starting with '- '"
    elif expected.startswith("a mapping"):
        first = fields[0] if fields else "name"
        example = _yaml_value(value) if scalar else "..."
        fix = (
            f"write the fields indented under it, e.g. {lead}{{{first}: ...}}"
            if key
            else f"write the item as fields, e.g. - {first}: {example}"
        )
    elif secret and value is not None:  # the value itself may be a pasted secret: not repeated
        fix = (
            "give one value, not a " + ("list" if isinstance(value, list) else "mapping")
            if isinstance(value, (list, dict))
            else "give one plain text value"
        )
    elif (
        isinstance(value, list)
        and len(value) == 1
        and isinstance(value[0], (str, int, float, bool))
    ):
        fix = f"write it without brackets: {lead}{_yaml_value(value[0])}"
    elif isinstance(value, (list, dict)):
        fix = "give one value, not a " + ("list" if isinstance(value, list) else "mapping")
    elif value is None:
        fix = "give a value or remove the line"
    elif expected.startswith(("a single text", "a single file")) and isinstance(value, bool):
        # The Norway problem: `language: no` reaches us as False; the word itself is gone.
        fix = (
            "YAML reads an unquoted yes, no, on, off, true or false as true/false; put the value in "
            f'quotes, e.g. {lead}"no"'
        )
    elif expected.startswith(("a single text", "a single file")):
        fix = f'put it in quotes: {lead}"{value}"'
    elif expected.startswith("true or false"):
        fix = f"write {lead}true or {lead}false"
    elif expected.startswith("a whole number") or annotation is int:
        fix = "write a whole number without quotes, e.g. 300"
    else:
        fix = (
            "write a number without quotes, e.g. 0.5"
            if "number" in expected
            else "write one of them"
        )
    return f"expected {expected}, found {_found(value, secret=secret)}; {fix}"


def pydantic_problems(
    exc: pydantic.ValidationError,
    filename: str,
    lines: LineMap,
    prefix: tuple = (),
    *,
    model: type[pydantic.BaseModel] | None = None,
) -> list[str]:
    """Render each pydantic error as ``FILE:LINE: where: what``.

    With ``model`` (the one validated), a value of the wrong type names the field's
    description and the fields a mapping takes.
    """
    problems = []
    for err in exc.errors(include_url=False):
        loc = prefix + tuple(err["loc"])
        where = ".".join(str(part) for part in loc) or "(top level)"
        msg = err["msg"]
        if (wrong := _wrong_type(err, tuple(err["loc"]), model)) is not None:
            msg = wrong
        elif err["type"] == "missing":
            msg = f"missing required field '{loc[-1]}'; add it"
        elif err["type"] == "extra_forbidden":
            msg = f"unknown field '{loc[-1]}'; remove it or check its spelling"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
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
        raise ConfigError(
            f"{path}:1: expected a mapping at the top level (key: value lines), found "
            f"{_found(data)}; see the examples in watchlists/"
        )
    try:
        return model.model_validate(data), lines
    except pydantic.ValidationError as exc:
        raise ConfigError(*pydantic_problems(exc, str(path), lines, model=model)) from None
