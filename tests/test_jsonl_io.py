"""Articles from JSON lines: lenient dates, clear reasons for bad lines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pipeline.dates import parse_time, parse_time_precision
from pipeline.errors import UserError
from pipeline.jsonl_io import BadLine, article_from_json, read_articles, read_jsonl
from tests.paths import LABELED

UTC = dt.UTC


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2024-10-25", dt.datetime(2024, 10, 25, tzinfo=UTC)),
        ("2024-11", dt.datetime(2024, 11, 1, tzinfo=UTC)),
        ("2024", dt.datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-10-25T10:00:00+03:00", dt.datetime(2024, 10, 25, 7, tzinfo=UTC)),
        ("2024-10-25T10:00:00Z", dt.datetime(2024, 10, 25, 10, tzinfo=UTC)),
        (None, None),
        ("", None),
        ("yesterday", None),
        ([], None),
    ],
)
def test_parse_time(value, expected):
    assert parse_time(value) == expected


@pytest.mark.parametrize(
    "value, precision",
    [
        ("2024-10-25T10:00:00Z", "instant"),
        ("2024-10-25T10:00", "instant"),
        (1729850400, "instant"),
        ("2024-10-25", "day"),
        ("20241025", "day"),
        ("2024-11", "month"),
        ("2024", "year"),
        (None, "unknown"),
        ("", "unknown"),
        ("yesterday", "unknown"),
    ],
)
def test_parse_time_precision(value, precision):
    parsed, got = parse_time_precision(value)
    assert got == precision and parsed == parse_time(value)


def test_article_carries_the_precision_of_its_date():
    assert (
        article_from_json({"id": 1, "title": "t", "published": "2025-02"}).published_precision
        == "month"
    )
    assert article_from_json({"id": 1, "title": "t"}).published_precision == "unknown"
    # Without a published date, published_at is first_seen_at: as precise as that is.
    seen = article_from_json({"id": 1, "title": "t", "first_seen_at": "2025-02-03T10:00Z"})
    assert seen.published_is_estimated and seen.published_precision == "instant"


def test_missing_date_falls_back_and_is_flagged():
    fallback = dt.datetime(2025, 1, 1, tzinfo=UTC)
    article = article_from_json({"id": 7, "title": "t"}, default_time=fallback)
    assert article.article_id == "7"
    assert article.published_at == fallback and article.published_is_estimated


@pytest.mark.parametrize(
    "obj, reason",
    [
        ([], "expected a JSON object"),
        ({"title": "x"}, "missing field 'id'"),
        ({"id": "a"}, "missing field 'title'"),
        ({"id": "a", "title": "   "}, "missing field 'title'"),
        ({"id": "a", "title": 3}, "field 'title' must be a string"),
        ({"id": True, "title": "x"}, "field 'id' must be a string or number"),
    ],
)
def test_bad_objects_say_why(obj, reason):
    with pytest.raises(BadLine, match=reason):
        article_from_json(obj)


def test_read_articles_reports_bad_lines_with_numbers_and_keeps_the_rest(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(
        '{"id": "1", "title": "ok"}\n{not json\n\n{"id": "2"}\n{"id": "3", "title": "ok"}\n'
    )
    rows = list(read_articles(path))
    assert [(n, type(a).__name__) for n, _, a in rows] == [
        (1, "Article"),
        (2, "BadLine"),
        (4, "BadLine"),
        (5, "Article"),
    ]
    assert "not valid JSON" in str(rows[1][2])


def test_every_labeled_item_reads():
    rows = list(read_articles(LABELED))
    assert len(rows) == 127
    assert all(not isinstance(a, BadLine) for _, _, a in rows)


def test_hostile_characters_become_spaces_and_offsets_stay_put():
    article = article_from_json({"id": "x", "title": "\x1b[2JMusk\u202e met\x00Putin"})
    assert article.title == " [2JMusk  met Putin"
    assert len(article.title) == len("\x1b[2JMusk\u202e met\x00Putin")


def test_lone_surrogate_escape_becomes_a_replacement_character(tmp_path):
    # json.loads turns "\ud800" into a lone surrogate, which cannot be encoded as UTF-8:
    # hashing or printing the article raised UnicodeEncodeError (a traceback for bad input).
    path = tmp_path / "a.jsonl"
    path.write_text('{"id": "x", "title": "Musk \\ud800 met Putin \\udfff"}\n')
    [(_, _, article)] = list(read_articles(path))
    assert article.title == "Musk \ufffd met Putin \ufffd"
    article.title.encode("utf-8")
    assert article_from_json({"id": "a\ud800", "title": "t"}).article_id == "a\ufffd"


def test_deeply_nested_json_is_a_bad_line_not_a_recursion_error(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text("[" * 100_000 + "]" * 100_000 + '\n{"id": "2", "title": "ok"}\n')
    rows = list(read_articles(path))
    assert [(n, type(a).__name__) for n, _, a in rows] == [(1, "BadLine"), (2, "Article")]
    assert "nested too deeply" in str(rows[0][2])


def test_a_line_that_is_not_utf8_is_a_bad_line_not_silently_mangled(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"id": "1", "title": "ok"}\n{"id": "2", "title": "Caf\xe9 M\xfcller"}\n'
        b'{"id": "3", "title": "ok"}\n'
    )
    rows = list(read_articles(path))
    assert [(n, type(a).__name__) for n, _, a in rows] == [
        (1, "Article"),
        (2, "BadLine"),
        (3, "Article"),
    ]
    assert str(rows[1][2]) == "not UTF-8 text (byte 0xE9 at column 26); save the file as UTF-8"


@pytest.mark.parametrize(
    "content, message",
    [
        (
            b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03",
            "this is gzip-compressed; decompress it first (gunzip FILE)",
        ),
        (b"PK\x03\x04\x14\x00", "this is a zip archive; extract the .jsonl file from it"),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "this is a binary file (it contains NUL bytes), not JSON lines",
        ),
    ],
)
def test_a_binary_file_is_one_user_error_not_a_bad_line_per_chunk(tmp_path, content, message):
    path = tmp_path / "a.jsonl"
    path.write_bytes(content + bytes(range(256)) * 40)
    with pytest.raises(UserError) as err:
        list(read_jsonl(path))
    assert err.value.problems[0].startswith(f"{path}:1: {message}")


def test_a_folder_or_a_read_error_part_way_is_a_user_error_naming_the_file(tmp_path):
    with pytest.raises(UserError, match=rf"^{tmp_path}:1: cannot read input \(Is a directory\)"):
        list(read_jsonl(tmp_path))
    device = Path("/proc/self/mem")  # opens, then every read fails with EIO
    if not device.exists():
        pytest.skip("no /proc/self/mem here")
    with pytest.raises(
        UserError, match=r"^/proc/self/mem:1: cannot read input \(Input/output error\)"
    ):
        list(read_jsonl(device))


@pytest.mark.parametrize(
    "value",
    [
        "2024-13",
        "2024-00",
        1e20,
        -1e300,
        float("nan"),
        "0001-01-01T00:00:00+05:00",
        "9999-12-31",
        "9999-12-31T23:59:59Z",
        "1800-06-01",
    ],
)
def test_impossible_or_absurd_dates_are_no_date_not_an_exception(value):
    # 1e20 and "2024-13" raised OverflowError / ValueError out of `storywatch match`; a
    # year-1 or year-9999 date overflowed the storyline tracker's arithmetic later.
    assert parse_time_precision(value) == (None, "unknown")
    article = article_from_json({"id": "x", "title": "t", "published": value})
    assert article.published_is_estimated and article.published_precision == "unknown"


def test_a_number_of_thousands_of_digits_is_a_bad_line_not_a_value_error(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"id": ' + "9" * 5000 + ', "title": "t"}\n{"id": "2", "title": "ok"}\n')
    rows = list(read_articles(path))
    assert [(n, str(a) if isinstance(a, BadLine) else a.article_id) for n, _, a in rows] == [
        (1, "a number with thousands of digits; write ids as strings"),
        (2, "2"),
    ]
