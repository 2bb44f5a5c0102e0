"""The alert JSON shape: round trips, and bad fields named with the fix."""

from __future__ import annotations

import json

import pytest

from pipeline.alert_json import BadAlert, alert_from_json, alert_to_json
from tests.deliver_support import make_alert


def test_round_trip_and_the_aliases():
    alert = make_alert(1)
    data = alert_to_json(alert)
    assert data["storyline"] == alert.storyline_id and data["published"] == data["published_at"]
    assert alert_from_json(json.loads(json.dumps(data))) == alert


@pytest.mark.parametrize(
    "data",
    [
        [],
        "x",
        {"alert_id": "a1"},
        {"alert_id": "a1", "storyline": "s", "kind": "burst", "title": "T", "published": "soon"},
    ],
)
def test_unusable_objects_are_bad_alerts(data):
    with pytest.raises(BadAlert):
        alert_from_json(data)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda d: d["evidence"][0].update(colour="red"),
            "evidence[0] has unknown key 'colour'; evidence keys are "
            "ref, alias, field, start, end, text, kind, similarity: remove it or correct its spelling",
        ),
        (
            lambda d: d["evidence"][0].pop("text"),
            "evidence[0] is missing key 'text'; add it (evidence keys are "
            "ref, alias, field, start, end, text, kind, similarity)",
        ),
        (
            lambda d: d["evidence"][0].update(start="0"),
            "evidence[0].start must be a whole number, found text",
        ),
        (
            lambda d: d.update(evidence=["Musk"]),
            "evidence[0] must be an object with the keys ref, alias, field, "
            "start, end, text, kind, similarity; found text",
        ),
        (
            lambda d: d.update(evidence=5),
            "field 'evidence' must be a list of objects, found a number (5); write [] for none",
        ),
        (
            lambda d: d.update(title=["Musk"]),
            "field 'title' must be text, found a list; write it as a JSON string",
        ),
        (
            lambda d: d.update(sources=[5]),
            "sources[0] must be a list [outlet, title, url], found a number (5)",
        ),
        (
            lambda d: d.update(score=None),
            "field 'score' must be a number from 0 to 1, found null; "
            "write it like 0.8, or leave it out",
        ),
    ],
)
def test_alert_lines_with_bad_fields_are_named_with_the_fix(change, message):
    data = alert_to_json(make_alert(1))
    change(data)
    with pytest.raises(BadAlert) as err:
        alert_from_json(json.loads(json.dumps(data)))
    assert str(err.value) == message
