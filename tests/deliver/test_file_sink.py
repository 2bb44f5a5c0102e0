"""The local JSONL sink and console: every alert once, across restarts, torn lines repaired."""

from __future__ import annotations

import dataclasses
import io
import json

from pipeline.alert_json import alert_from_json
from pipeline.deliver.file_sink import SINK_SUBSCRIBER, JsonlSink, console_line
from pipeline.ledger.sqlite import SqliteLedger
from tests.deliver_support import make_alert


def _ids(path):
    return [json.loads(line)["alert_id"] for line in path.read_text().splitlines()]


def test_each_alert_written_once_across_restarts(tmp_path):
    out, db = tmp_path / "alerts.jsonl", tmp_path / "ledger.sqlite"
    ledger = SqliteLedger(db)
    sink = JsonlSink(ledger, out, console=False)
    statuses = [sink.write(make_alert(n)).status for n in (1, 2, 1)]
    assert statuses == ["sent", "sent", "skipped"]
    ledger.close()

    ledger = SqliteLedger(db)  # a restart replays alerts 1..3
    sink = JsonlSink(ledger, out, console=False)
    assert [sink.write(make_alert(n)).status for n in (1, 2, 3)] == ["skipped", "skipped", "sent"]
    assert _ids(out) == [make_alert(n).alert_id for n in (1, 2, 3)]


def test_lines_round_trip_and_carry_the_replay_fields(tmp_path):
    out = tmp_path / "alerts.jsonl"
    alert = make_alert(7, title='Quote " and <b>tag</b> & Кремль')
    JsonlSink(SqliteLedger(tmp_path / "l.sqlite"), out, console=False).write(alert)
    data = json.loads(out.read_text())
    for key in ("alert_id", "storyline", "kind", "article_ids", "title", "url", "published"):
        assert key in data
    assert data["article_ids"][0] == "art-7"
    assert alert_from_json(data) == alert


def test_crash_between_write_and_confirm_is_not_written_again(tmp_path):
    out, db = tmp_path / "alerts.jsonl", tmp_path / "ledger.sqlite"
    ledger = SqliteLedger(db)
    JsonlSink(ledger, out, console=False).write(make_alert(1))
    # Simulate the kill: alert 2's line reached the file, the ledger says only "claimed",
    # and alert 3 was torn mid-line.
    alert2 = make_alert(2)
    assert ledger.claim(alert2.alert_id, SINK_SUBSCRIBER, "jsonl")
    ledger.release(alert2.alert_id, SINK_SUBSCRIBER, "jsonl", "killed")
    with out.open("a") as fh:
        fh.write(json.dumps({"alert_id": alert2.alert_id}) + "\n")
        fh.write('{"alert_id": "torn", "tit')
    ledger.close()

    ledger = SqliteLedger(db)
    sink = JsonlSink(ledger, out, console=False)
    assert ledger.delivery_state(alert2.alert_id, SINK_SUBSCRIBER, "jsonl") == "sent"
    assert [sink.write(make_alert(n)).status for n in (1, 2, 3)] == ["skipped", "skipped", "sent"]
    assert _ids(out) == [make_alert(n).alert_id for n in (1, 2, 3)]


def test_console_only_and_hostile_control_characters(tmp_path):
    stream = io.StringIO()
    sink = JsonlSink(SqliteLedger(tmp_path / "l.sqlite"), None, console=True, stream=stream)
    alert = make_alert(1, title="Breaking\x1b[2J\x1b[31m news\r\nline two\u202e")
    assert sink.write(alert).channel == "console"
    assert sink.write(alert).status == "skipped"
    printed = stream.getvalue()
    assert printed.count("\n") == 1
    assert "\x1b" not in printed and "\r" not in printed and "\u202e" not in printed
    assert printed.strip() == console_line(alert)
    assert "musk-kremlin-contacts new_development: Breaking" in printed


def test_an_alert_for_an_article_without_a_link_round_trips(tmp_path):
    # JSONL articles may omit "url"; replay wrote their alerts with url "" and then died
    # reading its own file back (BadAlert: missing field(s) url).
    out = tmp_path / "alerts.jsonl"
    alert = dataclasses.replace(make_alert(3), url="")
    JsonlSink(SqliteLedger(tmp_path / "l.sqlite"), out, console=False).write(alert)
    assert alert_from_json(json.loads(out.read_text())) == alert
    data = json.loads(out.read_text())
    del data["url"]
    assert alert_from_json(data).url == ""
