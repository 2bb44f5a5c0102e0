"""Build tests/data/labeled/stream_valid.jsonl, the validation part of the labeled stream.

Run: python tests/data/labeled/stream_valid_build.py  (needs /work/shared/data/feeds and
feedparser, as stream_build.py does). Three storylines that are in neither stream_tune.jsonl
nor stream_test.jsonl (STREAM.md, "Validation part"). Page items (found with the search tool)
and their labels are in stream_valid_pages.jsonl; feed items are picked below by the start of
their title in the Sep 2023 rumca-js day files, and keep the feed's title, lede, link and date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from stream_build import FIELDS, address, feed_items, lede, other_addresses  # noqa: E402

G, C, R = "g20-delhi-summit", "raac-school-concrete", "rubiales-kiss-scandal"
# (title start, storyline or None, "CHAIN#order" or None, dup_group, borderline, note)
FEED = [
    # ---- the G20 summit in New Delhi, 7-9 Sep 2023 ----
    ("India or Bharat? G20 invitations", G, "G20#3", None, False, "the 'Bharat' invitations row"),
    (
        "India’s Preparations for G20 Summit Must",
        G,
        "G20#4",
        None,
        True,
        "Delhi's preparations (a feature): its own development",
    ),
    ("Rishi Sunak makes 'historic' G20", G, "G20#5", None, False, "Sunak's visit announced"),
    (
        "Rishi Sunak ready to discuss corporate",
        G,
        "G20#5",
        None,
        False,
        "No 10 briefs the visit's trade agenda",
    ),
    ("Rishi Sunak hopes for warm welcome", G, "G20#5", None, False, "Sunak's visit"),
    (
        "I won't rush India-UK trade deal",
        G,
        "G20#6",
        None,
        False,
        "Sunak's own words on arrival: no rushed trade deal",
    ),
    ("UK-India trade deal ‘not guaranteed’", G, "G20#6", None, False, "same remarks"),
    ("Martin Rowson on Rishi Sunak’s hopes", G, "G20#6", None, True, "cartoon of the remarks"),
    (
        "Biden renews effort to woo India’s Modi",
        G,
        "G20#7",
        None,
        False,
        "Biden-Modi talks before the summit",
    ),
    ("Friday Briefing: A G20 Preview", G, "G20#8", None, True, "preview of the summit"),
    ("Can India’s Global Ambitions Survive", G, "G20#8", None, True, "analysis before the summit"),
    ("G20: battle for influence", G, "G20#8", None, False, "preview: the rivalries"),
    (
        "Deepening global rivalries will overshadow",
        G,
        "G20#8",
        "wsj_g20_preview",
        False,
        "preview (WSJ, one article at two addresses)",
    ),
    ("India Hosts G-20 Summit in Shadow", G, "G20#8", "wsj_g20_preview", False, "same article"),
    (
        "At G20, Biden Looks to Fill a Hole",
        G,
        "G20#8",
        None,
        True,
        "preview of Biden's aims with Xi and Putin absent",
    ),
    ("Friday Briefing", G, "G20#8", None, True, "briefing: the summit about to open"),
    (
        "What Modi won’t show the G20",
        G,
        "G20#8",
        None,
        True,
        "opinion on the host before the summit",
    ),
    (
        "U.S.-Backed Transit Corridor Looks",
        G,
        "G20#9",
        None,
        False,
        "the rail-and-port corridor talks reported",
    ),
    ("India, US and Saudi Arabia in talks", G, "G20#9", None, False, "same talks"),
    (
        "G20: EU and US back trade corridor",
        G,
        "G20#10",
        None,
        False,
        "the corridor announced at the summit: a later development of the talks",
    ),
    ("African Union made permanent member", G, "G20#11", None, False, "AU admitted"),
    ("G20 laments war in Ukraine", G, "G20#12", None, False, "the declaration's Ukraine wording"),
    ("G-20 Softens Language on Ukraine", G, "G20#12", None, False, "same"),
    ("G20 Declaration Omits Criticism", G, "G20#12", None, False, "same"),
    ("Modi will count G20 consensus", G, "G20#12", None, False, "analysis of the declaration"),
    (
        "G20 Summit: Meeting Opens Under Long",
        G,
        "G20#12",
        None,
        True,
        "opening-day live page, leads to the declaration",
    ),
    (
        "'Nothing to be proud of': Ukraine hits out",
        G,
        "G20#13",
        None,
        False,
        "new actor: Kyiv's reaction to the declaration",
    ),
    ("PM meets Modi as G20 leaders call", G, "G20#14", None, False, "the Sunak-Modi meeting"),
    ("Rishi who? Sunak slips down pecking", G, "G20#14", None, False, "analysis of the meeting"),
    (
        "Jagtar Singh Johal: Sunak raises",
        G,
        "G20#20",
        None,
        True,
        "Sunak raises a detained Briton's case with Modi at the summit: a new thing",
    ),
    (
        "Rishi Sunak tells G20: UK will resist",
        G,
        "G20#21",
        None,
        False,
        "Sunak's net-zero message to the summit",
    ),
    ("Xi's Absence at G-20 Points", G, "G20#2", None, True, "analysis of Xi's absence"),
    # ---- the RAAC school-concrete crisis, 7-9 Sep 2023 ----
    (
        "Unions say hundreds more schools could have Raac",
        C,
        "RAAC#9",
        None,
        False,
        "new actor: the unions' estimate",
    ),
    (
        "Student unions and lecture halls shut at Raac",
        C,
        "RAAC#10",
        None,
        False,
        "universities shut buildings",
    ),
    ("Several theatres shut doors over fears", C, "RAAC#11", None, False, "theatres shut"),
    ("Several UK theatres close due to concerns", C, "RAAC#11", None, False, "same"),
    (
        "Crumbling concrete fears at host of new hospitals",
        C,
        "RAAC#12",
        None,
        False,
        "RAAC at NHS sites",
    ),
    (
        "Amount of Raac in English and Welsh prisons",
        C,
        "RAAC#13",
        None,
        False,
        "the prisons service",
    ),
    (
        "More than one in seven schools on Raac list",
        C,
        "RAAC#14",
        None,
        False,
        "exclusive: schools denied emergency funding",
    ),
    (
        "Criticism over concrete crisis ‘sensationalist’",
        C,
        "RAAC#15",
        None,
        False,
        "Keegan calls the criticism sensationalist",
    ),
    (
        "Gillian Keegan: a very modern Tory",
        C,
        "RAAC#15",
        None,
        True,
        "profile of the education secretary amid the crisis, kept with her latest statement",
    ),
    (
        "RAAC: School told it was affected",
        C,
        "RAAC#16",
        None,
        True,
        "one Leicester school: a local development",
    ),
    ("Heathrow and Gatwick airports have Raac", C, "RAAC#17", None, False, "RAAC at airports"),
    ("Raac found in some buildings at Heathrow", C, "RAAC#17", None, False, "same"),
    (
        "G20-bound Rishi Sunak defends ‘correct’ Raac",
        C,
        "RAAC#18",
        None,
        False,
        "Sunak defends the closures (on his way to the G20: not the summit's story)",
    ),
    (
        "Raac concrete: the Conservatives are doing",
        C,
        "RAAC#5",
        None,
        True,
        "cartoon on the 'good job' remark",
    ),
    # ---- the Rubiales kiss scandal: the feeds' days, 7-8 Sep 2023 ----
    (
        "Luis Rubiales: Spanish prosecutor files",
        R,
        "RUB#13",
        None,
        False,
        "the prosecutor's complaint",
    ),
    ("Spanish prosecutor files lawsuit against Rubiales", R, "RUB#13", None, False, "same"),
    (
        "Natalie Portman praises ‘resilience’",
        R,
        "RUB#16",
        None,
        True,
        "new actor: a club owner's comment; a minor development",
    ),
    (
        "Emma Hayes: ‘This isn’t just about a kiss",
        R,
        "RUB#17",
        None,
        True,
        "interview: a coach's view, a development of its own only at a stretch",
    ),
    (
        "‘We all identify with Jenni’",
        R,
        "RUB#18",
        None,
        True,
        "women join the Se Acabó movement: a feature on a new thing",
    ),
    # ---- hard negatives: same names, other events ----
    (
        "UK decides not to call for release of Briton",
        None,
        None,
        None,
        True,
        "Johal's case the day before the summit: not the summit",
    ),
    ("Modi operandi", None, None, None, False, "Modi and the cricket World Cup"),
    ("Rishi Sunak avoiding UN climate summit", None, None, None, False, "another summit"),
    ("Sunak hails ‘right deal for country’", None, None, None, False, "Sunak: Horizon deal"),
    ("Horizon deal shows UK and EU", None, None, None, False, "Sunak: Horizon deal"),
    ("Blow to Rishi Sunak as offshore wind", None, None, None, False, "Sunak: wind auction"),
    ("Sunak still plans to ban children", None, None, None, False, "Sunak: other policy"),
    (
        "Georgia grand jury report on election",
        None,
        None,
        None,
        True,
        "US politics live page (Biden-Modi in its address, not its lede)",
    ),
    (
        "Weekend podcast: Richard Osman",
        None,
        None,
        None,
        True,
        "podcast listing with a RAAC segment: no development",
    ),
    (
        "Councils, sewage, school buildings",
        None,
        None,
        None,
        True,
        "commentary on neglected buildings: no development",
    ),
    (
        "Digested week: I’m falling apart",
        None,
        None,
        None,
        True,
        "humour column naming Keegan: no development",
    ),
    ("Justice Kavanaugh Sees 'Concrete Steps'", None, None, None, False, "another 'concrete'"),
    (
        "Birmingham council won’t be the last",
        None,
        None,
        None,
        False,
        "another public-finance failure",
    ),
    (
        "Liga F strike",
        None,
        None,
        None,
        True,
        "Spain's women footballers strike over pay: another dispute",
    ),
    (
        "Spain’s Female Soccer Players Strike",
        None,
        None,
        None,
        True,
        "the pay strike (the lede mentions the scandal)",
    ),
    ("Georgia 1-7 Spain", None, None, None, False, "Spanish football, other news"),
    (
        "Lamine Yamal becomes youngest Spain",
        None,
        None,
        None,
        False,
        "Spanish football, other news",
    ),
]


def row(labels, dev, group, borderline, note, **fields) -> dict:
    chain, order = dev.split("#") if dev else (None, None)
    return dict(
        labels=labels,
        dup_group=group,
        development={"chain": chain, "order": int(order)} if dev else None,
        note=note,
        borderline=borderline,
        **fields,
    )


def main() -> None:
    known = other_addresses("stream_valid.jsonl")
    items = [e for e in feed_items() if "derived_rumca_json/2023-09" in e["file"]]
    rows = []
    for start, storyline, dev, group, borderline, note in FEED:
        # an exact title first ("Friday Briefing" is also the start of another one)
        [e] = (
            [e for e in items if e["title"] == start]
            or [e for e in items if e["title"].startswith(start)]
        )[:1]
        rows.append(
            row(
                [storyline] if storyline else [],
                dev,
                group,
                borderline,
                note,
                title=e["title"].strip(),
                summary=lede(e["summary"]),
                outlet=e["outlet"],
                published=e["published"],
                url=e["url"],
                title_source="feed",
                source=f"feeds:{e['file']}",
            )
        )
    for line in open(HERE / "stream_valid_pages.jsonl", encoding="utf-8"):
        page = json.loads(line)
        language = page["language"]
        rows.append(
            row(
                page["labels"],
                page["dev"],
                page["group"],
                page["borderline"],
                page["note"],
                title=page["title"],
                summary=page["summary"],
                outlet=page["outlet"],
                published=page["published"],
                url=page["url"],
                title_source=page["title_source"],
                source="pages (search tool)",
                **({"language": language} if language != "en" else {}),
            )
        )
    seen = set()
    for r in rows:
        key = address(r["url"])
        assert key not in known, f"already in a labeled set: {key}"
        assert key not in seen, f"twice: {key}"
        seen.add(key)
    rows.sort(key=lambda r: (r["published"] or "9999", r["url"]))
    with open(HERE / "stream_valid.jsonl", "w", encoding="utf-8") as out:
        for n, r in enumerate(rows, 1):
            r["id"] = f"V{n:03d}"
            out.write(json.dumps({k: r[k] for k in FIELDS if k in r}, ensure_ascii=False) + "\n")
    print(len(rows), "items")


if __name__ == "__main__":
    main()
