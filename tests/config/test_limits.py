"""Config files over the size limit are refused before parsing, whatever kind they are."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pipeline.config.feeds import load_feeds
from pipeline.config.limits import MAX_CONFIG_BYTES, read_config_bytes
from pipeline.config.opml import read_opml
from pipeline.config.subscribers import load_subscribers
from pipeline.config.watchlists import load_watchlists
from pipeline.errors import ConfigError


def _subscribers_text(size_bytes: int) -> str:
    """A well-formed subscribers file of at least ``size_bytes`` (issue 14: 10 MB of these
    took 78 s and 2.1 GB to validate)."""
    entry = (
        "  - name: desk-{i}\n    storylines: ['*']\n    channels:\n"
        "      slack: {{webhook_url_env: STORYWATCH_SLACK_{i}}}\n"
    )
    count = size_bytes // len(entry.format(i=0)) + 1
    return "subscribers:\n" + "".join(entry.format(i=i) for i in range(count))


def _over_limit(path: Path) -> str:
    return f"{path}:1: {{kind}} is over the {MAX_CONFIG_BYTES // 1024} KB limit (MAX_CONFIG_BYTES)"


@pytest.mark.parametrize("kind", ["subscribers", "feeds", "watchlist", "opml"])
def test_every_kind_of_config_file_over_the_limit_is_refused_quickly(tmp_path, kind) -> None:
    if kind == "subscribers":
        path = tmp_path / "subscribers.yaml"
        path.write_text(_subscribers_text(MAX_CONFIG_BYTES + 1))
        load, what = load_subscribers, "YAML file"
    elif kind == "feeds":
        path = tmp_path / "feeds.yaml"
        line = "  - url: https://example.com/feed-{i}.xml\n"
        path.write_text(
            "feeds:\n" + "".join(line.format(i=i) for i in range(MAX_CONFIG_BYTES // 30))
        )
        load, what = load_feeds, "YAML file"
    elif kind == "watchlist":
        path = tmp_path / "entities.yaml"
        line = "  - id: e{i}\n    name: Entity {i}\n"
        path.write_text(
            "entities:\n" + "".join(line.format(i=i) for i in range(MAX_CONFIG_BYTES // 20))
        )
        load, what = (lambda _: load_watchlists(tmp_path)), "YAML file"
    else:
        path = tmp_path / "big.opml"
        line = '<outline type="rss" text="F{i}" xmlUrl="https://example.com/{i}.xml"/>\n'
        path.write_text(
            "<opml version='2.0'><body>"
            + "".join(line.format(i=i) for i in range(MAX_CONFIG_BYTES // 60))
            + "</body></opml>"
        )
        load, what = read_opml, "OPML file"
    assert path.stat().st_size > MAX_CONFIG_BYTES
    started = time.perf_counter()
    with pytest.raises(ConfigError) as err:
        load(path)
    elapsed = time.perf_counter() - started
    assert err.value.problems[0].startswith(_over_limit(path).format(kind=what)), err.value
    assert elapsed < 5, "refused before parsing"  # bound against a hang, not a speed target


def test_a_file_at_the_limit_is_read(tmp_path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"#" * MAX_CONFIG_BYTES)
    assert len(read_config_bytes(path)) == MAX_CONFIG_BYTES


def test_an_endless_device_is_refused_not_read_forever() -> None:
    with pytest.raises(ConfigError, match="over the 1024 KB limit"):
        load_feeds(Path("/dev/zero"))


def test_the_limit_leaves_room_for_real_files() -> None:
    # An OPML export of 2,000 feeds is about 400 KB; the shipped files are a few KB.
    assert MAX_CONFIG_BYTES >= 1024 * 1024
