"""config.feed_edit: disable, enable and remove one feed, keeping the file a person wrote."""

from __future__ import annotations

import pytest

from pipeline.config.feed_edit import find_feed, remove_feed, set_enabled
from pipeline.config.feeds import load_feeds
from pipeline.errors import UserError

FEEDS = """\
# the desk's feeds
defaults:
  min_poll_seconds: 300   # five minutes
feeds:
  # --- wires ---
  - url: https://www.reuters.example/world/
    id: reuters
    tags: [wire, hot]
  - url: https://ap.example/rss   # no id: derived from the host
"""


@pytest.fixture
def feeds_file(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text(FEEDS, encoding="utf-8")
    return path


def test_disable_then_enable_round_trips_the_file_byte_for_byte(feeds_file) -> None:
    feed = set_enabled(feeds_file, "reuters", enabled=False)
    assert feed.enabled is False
    text = feeds_file.read_text(encoding="utf-8")
    assert "    enabled: false\n" in text and "# five minutes" in text and "# --- wires ---" in text
    assert [s.feed_id for s in load_feeds(feeds_file).sources()] == [
        load_feeds(feeds_file).feeds[1].feed_id
    ]  # a disabled feed is not polled
    set_enabled(feeds_file, "reuters", enabled=True)
    assert feeds_file.read_text(encoding="utf-8") == FEEDS


def test_a_feed_is_named_by_its_derived_id_or_any_spelling_of_its_url(feeds_file) -> None:
    feeds = load_feeds(feeds_file)
    derived = feeds.feeds[1].feed_id
    assert derived.startswith("ap.example-")
    assert find_feed(feeds, derived) == 1
    assert find_feed(feeds, "https://REUTERS.example/world") == 0  # www., case, slash
    with pytest.raises(UserError, match="no feed 'https://other.example/rss'.*feeds list"):
        find_feed(feeds, "https://other.example/rss")


def test_remove_keeps_the_other_feeds_and_the_comments(feeds_file) -> None:
    removed = remove_feed(feeds_file, "reuters")
    assert removed.url == "https://www.reuters.example/world/"
    text = feeds_file.read_text(encoding="utf-8")
    assert "reuters" not in text and "# no id: derived from the host" in text
    assert [f.url for f in load_feeds(feeds_file).feeds] == ["https://ap.example/rss"]


def test_a_broken_feed_list_is_reported_and_left_as_it_is(feeds_file) -> None:
    broken = FEEDS.replace("min_poll_seconds: 300", "min_poll_seconds: soon")
    feeds_file.write_text(broken, encoding="utf-8")
    with pytest.raises(UserError) as caught:
        set_enabled(feeds_file, "reuters", enabled=False)
    assert f"{feeds_file}:3:" in "\n".join(caught.value.problems)
    assert feeds_file.read_text(encoding="utf-8") == broken
