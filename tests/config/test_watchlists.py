"""Watchlist loading and validation: every problem reported as FILE:LINE with a fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pipeline.config.watchlists import load_watchlists
from pipeline.errors import ConfigError
from tests.paths import WATCHLISTS

SEEDED = {
    "musk-kremlin-contacts",
    "starlink-taiwan",
    "starlink-ukraine-war",
    "musk-government-role",
}


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def problems(directory: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_watchlists(directory)
    return caught.value.problems


def test_shipped_watchlists_load_with_the_four_seeded_storylines() -> None:
    wl = load_watchlists(WATCHLISTS)
    assert {s.id for s in wl.storylines} == SEEDED
    musk = wl.entity("elon-musk")
    assert (
        musk is not None
        and "Маск" in musk.transliterations
        and "musk deer" in musk.negative_contexts
    )
    assert wl.storyline("starlink-ukraine-war").alternatives


def test_unknown_ref_in_rule_and_in_alternative(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "w.yaml",
        """
        entities:
          - id: musk
            kind: person
            name: Elon Musk
        storylines:
          - id: s
            title: S
            rule:
              all_of:
                - [musk, nobody]
            alternatives:
              - any_of: [ghost]
                none_of_in_lede: [later]
        """,
    )
    assert problems(tmp_path) == [
        f"{path}:10: storyline 's' names unknown entity or topic 'nobody' in rule.all_of.0; define it under "
        "entities: or topics:, or fix the spelling",
        f"{path}:12: storyline 's' names unknown entity or topic 'ghost' in alternatives.0.any_of; define it "
        "under entities: or topics:, or fix the spelling",
        f"{path}:13: storyline 's' names unknown entity or topic 'later' in alternatives.0.none_of_in_lede; "
        "define it under entities: or topics:, or fix the spelling",
    ]


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    a = write(
        tmp_path,
        "a.yaml",
        """
        topics:
          - id: talks
            terms: [talks]
        """,
    )
    b = write(
        tmp_path,
        "b.yaml",
        """
        entities:
          - id: talks
            kind: event
            name: Talks
        """,
    )
    assert problems(tmp_path) == [
        f"{b}:2: duplicate id 'talks' (first defined at {a}:2); rename one of them"
    ]


def test_bad_regex_missing_field_and_bad_kind(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "w.yaml",
        """
        entities:
          - id: putin
            kind: persn
            name: Putin
        topics:
          - id: t
            patterns: ['(unclosed']
        storylines:
          - id: s
            rule:
              any_of: [putin]
        """,
    )
    assert problems(tmp_path) == [
        f"{path}:3: entities.0.kind: 'persn' is not one of 'person', 'org', 'place', 'product' or 'event'; "
        "check the spelling",
        f"{path}:7: topics.0.patterns: bad regular expression '(unclosed': missing ), unterminated subpattern "
        "at position 0; escape special characters with a backslash",
        f"{path}:9: storylines.0.title: missing required field 'title'; add it",
    ]


def test_yaml_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, "w.yaml", "entities:\n  - id: x\n    kind: person\n   name: bad\n")
    assert problems(tmp_path) == [
        f"{path}:4: YAML syntax error: expected <block end>, but found '<block mapping start>'; check "
        "indentation, colons and quotes on this line"
    ]


def test_alias_without_letters_can_never_match(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "w.yaml",
        """
        entities:
          - id: x
            kind: person
            name: X
            aliases: ["--"]
        """,
    )
    assert problems(tmp_path) == [
        f"{path}:5: entities.0.aliases: Value error, '--' has no letters or digits, so it can never match; "
        "remove it".replace("Value error, ", "")
    ]


def test_a_blank_mask_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "w.yaml",
        """
        entities:
          - id: x
            kind: place
            name: X
            masks: [X Times, " "]
        """,
    )
    [problem] = problems(tmp_path)
    assert (
        problem.startswith(f"{path}:5: entities.0.masks")
        and "empty string in list; remove it" in problem
    )


def test_feeds_and_subscribers_and_drafts_are_not_watchlists(tmp_path: Path) -> None:
    write(
        tmp_path,
        "w.yaml",
        """
        entities:
          - id: x
            kind: person
            name: X
        """,
    )
    write(tmp_path, "feeds.yaml", "feeds: [1, 2]\n")
    write(tmp_path, "subscribers.yaml", "whatever: true\n")
    (tmp_path / "drafts").mkdir()
    write(tmp_path / "drafts", "d.yaml", "not: [valid\n")
    assert [e.id for e in load_watchlists(tmp_path).entities] == ["x"]


def test_missing_or_empty_directory(tmp_path: Path) -> None:
    assert problems(tmp_path / "nope") == [
        f"{tmp_path / 'nope'}:1: watchlist directory not found; pass --watchlists DIR"
    ]
    assert problems(tmp_path) == [
        f"{tmp_path}:1: no *.yaml watchlist files here; add entities and storylines"
    ]


def test_a_time_span_loads_as_dates_and_a_reversed_or_bad_one_is_refused(tmp_path: Path) -> None:
    body = """
        entities:
          - id: putin
            kind: person
            name: Putin
        storylines:
          - id: s
            title: S
            rule:
              any_of: [putin]
            published_from: {first}
            published_until: {last}
        """
    write(tmp_path, "w.yaml", body.format(first="2012-01-13", last="2012-07-11"))
    story = load_watchlists(tmp_path).storyline("s")
    assert story is not None
    assert (str(story.published_from), str(story.published_until)) == ("2012-01-13", "2012-07-11")
    path = write(tmp_path, "w.yaml", body.format(first="2012-07-11", last="2012-01-13"))
    [problem] = problems(tmp_path)
    assert problem.startswith(f"{path}:")
    assert "published_until (2012-01-13) is before published_from (2012-07-11)" in problem
    write(tmp_path, "w.yaml", body.format(first="2012-13-01", last="2012-07-11"))
    [problem] = problems(tmp_path)
    assert (
        problem
        == f"{path}:10: '2012-13-01' is not a real date (month must be in 1..12); write it as YYYY-MM-DD"
    )
