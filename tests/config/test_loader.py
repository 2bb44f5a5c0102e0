"""The YAML loader locates every problem as FILE:LINE."""

from __future__ import annotations

import itertools
import re

import pydantic
import pytest

from pipeline.config import load_model, parse_yaml
from pipeline.errors import ConfigError


class Item(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    name: str
    count: int = 0


class Doc(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    items: list[Item]


def test_line_map_points_at_keys_and_list_items():
    _, lines = parse_yaml("items:\n  - name: a\n  - name: b\n    count: 2\n", "f.yaml")
    assert lines.line_of(("items", 1)) == 3
    assert lines.line_of(("items", 1, "count")) == 4
    assert lines.line_of(("items", 1, "missing")) == 3


def test_every_schema_problem_is_reported_with_its_line(tmp_path):
    path = tmp_path / "doc.yaml"
    path.write_text(
        "items:\n  - name: a\n    count: many\n  - count: 1\n  - name: c\n    colour: red\n"
    )
    with pytest.raises(ConfigError) as err:
        load_model(path, Doc)
    assert err.value.problems == [
        f"{path}:3: items.0.count: expected a whole number, found the text 'many'; "
        "write a whole number without quotes, e.g. 300",
        f"{path}:4: items.1.name: missing required field 'name'; add it",
        f"{path}:6: items.2.colour: unknown field 'colour'; remove it or check its spelling",
    ]


class Box(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    label: str = pydantic.Field("", description="shown on the box")
    tags: list[str] = []
    item: Item | None = None
    size: float = 1.0
    token_env: str = ""


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "label: [red]\n",
            "2: label: expected a single text value (shown on the box), found a list ['red']; "
            "write it without brackets: label: red",
        ),
        (
            "label: [a, b]\n",
            "2: label: expected a single text value (shown on the box), found a list ['a', 'b']; "
            "give one value, not a list",
        ),
        (
            "label: 7\n",
            "2: label: expected a single text value (shown on the box), found the number 7; "
            'put it in quotes: label: "7"',
        ),
        (
            "tags: '*'\n",
            "2: tags: expected a list, found the text '*'; write it as a list: tags: [\"*\"]",
        ),
        (
            "tags: {a: 1}\n",
            "2: tags: expected a list, found a mapping {'a': 1}; write the items as a list, "
            "one per line starting with '- '",
        ),
        (
            "item: 5\n",
            "2: item: expected a mapping with the fields name, count, found the number 5; "
            "write the fields indented under it, e.g. item: {name: ...}",
        ),
        (
            "size: [2]\n",
            "2: size: expected a number, found a list [2]; write it without brackets: size: 2",
        ),
        # A pasted secret in a *_env field is never repeated.
        (
            "token_env: [xoxb-123-secret]\n",
            "2: token_env: expected a single text value, found a list; give one value, not a list",
        ),
    ],
)
def test_values_of_the_wrong_type_say_what_was_expected_and_how_to_write_it(
    tmp_path, text, expected
):
    path = tmp_path / "box.yaml"
    path.write_text("# a box\n" + text)
    with pytest.raises(ConfigError) as err:
        load_model(path, Box)
    assert err.value.problems == [f"{path}:{expected}"]
    assert "Input should" not in err.value.problems[0] and "xoxb" not in err.value.problems[0]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("items:\n  - name: a\n   bad: [\n", ":3: YAML syntax error"),
        ("", ":1: the file is empty"),
        (
            "- a\n- b\n",
            ":1: expected a mapping at the top level (key: value lines), found a list ['a', 'b']",
        ),
        (
            "just some text\n",
            ":1: expected a mapping at the top level (key: value lines), found the text "
            "'just some text'",
        ),
    ],
)
def test_unreadable_documents(tmp_path, text, expected):
    path = tmp_path / "doc.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_model(path, Doc)


def test_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_model(tmp_path / "nope.yaml", Doc)
    path = tmp_path / "latin1.yaml"
    path.write_bytes("items:\n  - name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_model(path, Doc)


@pytest.mark.timeout(30)
def test_yaml_alias_bomb_is_refused_quickly(tmp_path):
    # "Billion laughs": nine levels of nine aliases expanded to 9**9 paths and died
    # with MemoryError after ~40 s and 3 GB; aliases of collections are now refused.
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in itertools.pairwise("abcdefghi"):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    with pytest.raises(ConfigError, match=r":1: YAML anchors and aliases .* are not supported"):
        parse_yaml("\n".join(lines) + "\n", "bomb.yaml")
    assert parse_yaml("a: &x 5\nb: *x\n", "ok.yaml")[0] == {
        "a": 5,
        "b": 5,
    }  # a scalar alias is harmless


def test_a_folder_a_binary_file_and_the_line_of_a_non_utf8_byte(tmp_path):
    folder = tmp_path / "doc.yaml"
    folder.mkdir()
    with pytest.raises(ConfigError) as err:
        load_model(folder, Doc)
    assert err.value.problems == [
        f"{folder}:1: is a folder, not a YAML file; pass the file, or rename the folder"
    ]
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(ConfigError) as err:
        load_model(binary, Doc)
    assert err.value.problems == [
        f"{binary}:1: this is a binary file (it contains NUL bytes), not YAML; check the path"
    ]
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("items:\n  - name: a\n  - name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError) as err:
        load_model(latin1, Doc)
    assert err.value.problems == [f"{latin1}:3: not UTF-8 text (byte 0xE9); save the file as UTF-8"]


def test_a_key_written_twice_is_an_error_not_a_silently_dropped_section(tmp_path):
    path = tmp_path / "doc.yaml"
    path.write_text("items:\n  - name: a\n    count: 1\n    count: 2\nitems:\n  - name: b\n")
    with pytest.raises(ConfigError) as err:
        load_model(path, Doc)
    # The first repeat in reading order is reported (YAML would keep count: 2 and the second list).
    assert err.value.problems == [
        f"{path}:4: key 'count' appears again (first at line 3); YAML would keep only "
        "this one and drop the first: merge them into one"
    ]
    path.write_text("items:\n  - name: a\nitems:\n  - name: b\n")
    with pytest.raises(ConfigError, match=r":3: key 'items' appears again \(first at line 1\)"):
        load_model(path, Doc)


@pytest.mark.parametrize(
    "text",
    [
        "items: " + "[" * 5000 + "]" * 5000 + "\n",
        # 900 levels: deep enough for a RecursionError, under MAX_CONFIG_BYTES (815 KB).
        "".join("  " * i + f"k{i}:\n" for i in range(900)),
    ],
)
def test_hostile_nesting_is_a_config_error_not_a_recursion_error(tmp_path, text):
    path = tmp_path / "doc.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_model(path, Doc)
    assert err.value.problems == [
        f"{path}:1: the YAML is nested too deeply to be a config file; "
        "check that this is the right file"
    ]


class Limits(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    every_seconds: int = pydantic.Field(300, ge=60)
    share: float = pydantic.Field(0.5, gt=0, le=1)
    names: list[str] = pydantic.Field(default_factory=lambda: ["*"], min_length=1)
    host: str = pydantic.Field("x", min_length=1)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("every_seconds: 5\n", "every_seconds: must be at least 60, found the number 5"),
        ("share: 1.5\n", "share: must be at most 1, found the number 1.5"),
        ("share: .nan\n", "share: must be at most 1, found the number nan"),
        (
            "every_seconds: .inf\n",
            "every_seconds: expected a finite number, found the number inf; write a whole "
            "number without quotes, e.g. 300",
        ),
        ("names: []\n", "names: the list is empty; give at least 1 value"),
        ("host: ''\n", "host: the value is empty; write a value"),
        (
            "every_seconds: " + "9" * 5000 + "\n",
            "a number with thousands of digits; write a real value",
        ),
    ],
)
def test_values_out_of_range_say_the_limit_and_what_was_found(tmp_path, text, expected):
    path = tmp_path / "limits.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_model(path, Limits)
    assert err.value.problems == [f"{path}:1: {expected}"]
