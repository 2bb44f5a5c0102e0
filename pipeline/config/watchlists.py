"""Watchlists: entities (with aliases and transliterations), topics, and storyline rules.

A watchlist directory holds any number of ``*.yaml`` files, each with optional
``entities``, ``topics`` and ``storylines`` lists; ``feeds.yaml`` and ``subscribers.yaml``
are other config kinds and are skipped; ``drafts/`` is not loaded. Entity and topic ids
share one namespace and are the "refs" that storyline rules name.

A rule is satisfied when every ``all_of`` group has at least one ref found, at least one
``any_of`` ref is found (if any are listed), no ``none_of`` ref is found, and no
``none_of_in_lede`` ref is found in the title or the lede (a later chapter the article is
about, such as an appeal, vetoes it; one its background recalls does not); with
``within_words`` the refs that satisfy it must lie within that many words of each other,
counting through title, summary and body in that order (so a headline and its lede are
close, two mentions far apart in a long text are not). A storyline may list
``alternatives``: more rules, any one of which also makes it match (an "or" of rules,
e.g. Starlink with Ukraine, or Starlink with Russia). ``published_from`` and
``published_until`` (ISO dates, inclusive) bound the storyline in time: an article
published outside them does not match it, one with no date at all is judged by its words
alone, and one dated only by month or year matches if its period overlaps (``seed``
drafts a span around its article's date, since the same names a year later are usually
another story).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.config import LineMap, load_model
from pipeline.errors import ConfigError

ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
OTHER_CONFIG_FILES = frozenset({"feeds.yaml", "subscribers.yaml"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Entity(_Strict):
    """Something the news names: a person, organisation, place, product or event."""

    id: str = Field(pattern=ID_PATTERN, description="lower-case slug, e.g. elon-musk")
    kind: Literal["person", "org", "place", "product", "event"]
    name: str = Field(min_length=1, description="canonical name")
    aliases: list[str] = Field(default_factory=list, description="other names in the same script")
    transliterations: list[str] = Field(
        default_factory=list, description="spellings in other scripts or romanisations"
    )
    negative_contexts: list[str] = Field(
        default_factory=list, description="phrases that veto a hit when they appear near it"
    )
    masks: list[str] = Field(
        default_factory=list,
        description="names that contain a mention but are not about the entity "
        "(outlets: Kyiv Independent, Taipei Times): they hide only the "
        "words they cover",
    )
    fuzzy: bool = Field(True, description="allow fuzzy rescue of misspelt mentions")
    new: bool = Field(False, description="proposed by `storywatch seed`, not yet in any watchlist")

    @field_validator("aliases", "transliterations", "negative_contexts", "masks")
    @classmethod
    def _no_blank(cls, values: list[str]) -> list[str]:
        for value in values:
            if not value.strip():
                raise ValueError("empty string in list; remove it")
            if not any(c.isalnum() for c in value):
                raise ValueError(
                    f"{value!r} has no letters or digits, so it can never match; remove it"
                )
        return values


class Topic(_Strict):
    """A theme given as literal terms and/or regular expressions (case-insensitive)."""

    id: str = Field(pattern=ID_PATTERN)
    description: str = ""
    terms: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list, description="Python regular expressions")

    @field_validator("terms")
    @classmethod
    def _terms_have_words(cls, terms: list[str]) -> list[str]:
        for term in terms:
            if not any(c.isalnum() for c in term):
                raise ValueError(
                    f"term {term!r} has no letters or digits, so it can never match; remove it"
                )
        return terms

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"bad regular expression {pattern!r}: {exc}; escape special "
                    "characters with a backslash"
                ) from None
        return patterns

    @model_validator(mode="after")
    def _has_something(self) -> Topic:
        if not self.terms and not self.patterns:
            raise ValueError(f"topic '{self.id}' has neither terms nor patterns; add at least one")
        return self


class Rule(_Strict):
    """Boolean rule over refs (entity or topic ids); see the module docstring."""

    all_of: list[list[str]] = Field(
        default_factory=list,
        description="groups that must all be satisfied; a group needs any one of its refs",
    )
    any_of: list[str] = Field(default_factory=list)
    none_of: list[str] = Field(default_factory=list)
    none_of_in_lede: list[str] = Field(
        default_factory=list,
        description="refs that veto the rule when found in the title or the lede only",
    )
    within_words: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _not_empty(self) -> Rule:
        if not self.all_of and not self.any_of:
            raise ValueError("a rule needs an all_of or an any_of group")
        if any(not group for group in self.all_of):
            raise ValueError("empty group in all_of; list at least one ref in each group")
        return self

    def refs(self) -> list[tuple[str, str]]:
        """(location, ref) pairs for every ref the rule names."""
        out = []
        for index, group in enumerate(self.all_of):
            out += [(f"all_of.{index}", ref) for ref in group]
        out += [("any_of", ref) for ref in self.any_of]
        out += [("none_of", ref) for ref in self.none_of]
        out += [("none_of_in_lede", ref) for ref in self.none_of_in_lede]
        return out


class Storyline(_Strict):
    """A story to follow: a rule over entities and topics and a score threshold."""

    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1)
    description: str = ""
    rule: Rule
    alternatives: list[Rule] = Field(
        default_factory=list,
        description="other rules; the storyline also matches when one of them holds",
    )
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    published_from: dt.date | None = Field(
        None, description="match only articles published on or after this date"
    )
    published_until: dt.date | None = Field(
        None, description="match only articles published on or before this date"
    )

    @model_validator(mode="after")
    def _span_in_order(self) -> Storyline:
        if (
            self.published_from
            and self.published_until
            and self.published_until < self.published_from
        ):
            raise ValueError(
                f"published_until ({self.published_until}) is before published_from "
                f"({self.published_from}); swap them or remove one"
            )
        return self

    def rules(self) -> list[tuple[str, Rule]]:
        """(location, rule) for the main rule and each alternative."""
        return [("rule", self.rule)] + [
            (f"alternatives.{i}", r) for i, r in enumerate(self.alternatives)
        ]


class WatchlistFile(_Strict):
    """The contents of one watchlist YAML file."""

    entities: list[Entity] = Field(default_factory=list)
    topics: list[Topic] = Field(default_factory=list)
    storylines: list[Storyline] = Field(default_factory=list)


class Watchlists(_Strict):
    """All watchlist files of a directory, merged and cross-checked."""

    entities: tuple[Entity, ...] = ()
    topics: tuple[Topic, ...] = ()
    storylines: tuple[Storyline, ...] = ()

    def entity(self, entity_id: str) -> Entity | None:
        return next((e for e in self.entities if e.id == entity_id), None)

    def storyline(self, storyline_id: str) -> Storyline | None:
        return next((s for s in self.storylines if s.id == storyline_id), None)


def ended_span_notes(watchlists: Watchlists, today: dt.date) -> list[str]:
    """A note for each storyline whose span of publication dates ended before ``today``:
    new articles can no longer match it."""
    return [
        f"storyline '{s.id}' follows articles published until {s.published_until}, which has "
        "passed, so new articles cannot match it; move published_until later or remove it "
        "to keep following the story"
        for s in watchlists.storylines
        if s.published_until is not None and s.published_until < today
    ]


def is_watchlist_file(path: Path) -> bool:
    """A YAML file that is not the feed list or the subscribers file."""
    return path.suffix in (".yaml", ".yml") and path.name not in OTHER_CONFIG_FILES


def watchlist_files(directory: Path) -> list[Path]:
    """The watchlist files of a directory, sorted, without feeds/subscribers configs."""
    return sorted(p for p in directory.glob("*.y*ml") if is_watchlist_file(p))


def load_watchlists(directory: Path | str = "watchlists") -> Watchlists:
    """Load and cross-check every watchlist file in ``directory``.

    Collects every problem of every file (syntax, schema, duplicate ids, unknown refs)
    and raises one ConfigError listing them all as ``FILE:LINE: ...``.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ConfigError(
            f"{directory}:1: is a file, not the watchlist directory; pass --watchlists DIR "
            "(the folder that holds the watchlist YAML files)"
        )
    if not directory.is_dir():
        raise ConfigError(f"{directory}:1: watchlist directory not found; pass --watchlists DIR")
    files = watchlist_files(directory)
    if not files:
        raise ConfigError(
            f"{directory}:1: no *.yaml watchlist files here; add entities and storylines"
        )
    problems: list[str] = []
    loaded: list[tuple[Path, WatchlistFile, LineMap]] = []
    for path in files:
        try:
            model, lines = load_model(path, WatchlistFile, empty_ok=True)
        except ConfigError as exc:
            problems += exc.problems
            continue
        loaded.append((path, model, lines))

    seen: dict[str, str] = {}
    for path, model, lines in loaded:
        for section in ("entities", "topics", "storylines"):
            namespace = "storyline" if section == "storylines" else "ref"
            for index, item in enumerate(getattr(model, section)):
                key = f"{namespace}:{item.id}"
                where = f"{path}:{lines.line_of((section, index, 'id'))}"
                if key in seen:
                    problems.append(
                        f"{where}: duplicate id '{item.id}' (first defined at {seen[key]}); "
                        "rename one of them"
                    )
                else:
                    seen[key] = where

    known = {key.split(":", 1)[1] for key in seen if key.startswith("ref:")}
    for path, model, lines in loaded:
        for index, storyline in enumerate(model.storylines):
            for rule_location, rule in storyline.rules():
                for location, ref in rule.refs():
                    if ref not in known:
                        where = f"{rule_location}.{location}"
                        parts = tuple(int(p) if p.isdigit() else p for p in where.split("."))
                        line = lines.line_of(("storylines", index) + parts)
                        problems.append(
                            f"{path}:{line}: storyline '{storyline.id}' names unknown entity or "
                            f"topic '{ref}' in {where}; define it under entities: or "
                            "topics:, or fix the spelling"
                        )
    if problems:
        raise ConfigError(*problems)
    return Watchlists(
        entities=tuple(e for _, m, _ in loaded for e in m.entities),
        topics=tuple(t for _, m, _ in loaded for t in m.topics),
        storylines=tuple(s for _, m, _ in loaded for s in m.storylines),
    )
