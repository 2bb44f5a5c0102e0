"""Build tests/data/labeled/stream_{tune,test}.jsonl from the shared feeds and stored pages.

Run: python tests/data/labeled/stream_build.py  (needs /work/shared/data/feeds and feedparser).
Labels live in stream_labels.py; page items (found with the search tool) in stream_pages.jsonl.
"""

from __future__ import annotations

import glob
import hashlib
import html
import json
import os
import random
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from stream_labels import FEED, IRAN_ECON, PAGE_LABELS  # noqa: E402

FEEDS = Path(os.environ.get("STORYWATCH_SHARED_FEEDS", "/work/shared/data/feeds"))
SEED = 13
OUTLETS = {
    "http://feeds.bbci.co.uk/news/rss.xml": "BBC News",
    "http://rss.cnn.com/rss/edition.rss": "CNN",
    "https://www.theverge.com/rss/index.xml": "The Verge",
    "NY times": "The New York Times",
    "Reuters Feed": "Reuters",  # the scraped feed's channel title; the items are Reuters stories
}
# The order of an item's fields in every stream part (tune, test, valid, test2, test3).
FIELDS = [
    "id",
    "title",
    "summary",
    "outlet",
    "published",
    "url",
    "labels",
    "dup_group",
    "development",
    "note",
    "title_source",
    "borderline",
    "language",
    "source",
]
# Every labeled file; a part may share no address with any other (its own builder skips itself).
OTHER_SETS = (
    "dev.jsonl",
    "stream_tune.jsonl",
    "stream_test.jsonl",
    "stream_valid.jsonl",
    "stream_test2.jsonl",
    "stream_test3.jsonl",
    "stream_test4.jsonl",
    "stream_test5.jsonl",
    "stream_test6.jsonl",
    "stream_test7.jsonl",
)


def address(url: str) -> str:
    """A page's address without its query, as every part compares them."""
    return url.split("?")[0]


def other_addresses(*own: str) -> set[str]:
    """The addresses of every labeled file in OTHER_SETS but the ``own`` ones."""
    return {
        address(row["url"])
        for name in OTHER_SETS
        if name not in own
        for row in map(json.loads, open(HERE / name, encoding="utf-8"))
        if row.get("url")
    }


# Background items must not touch any storyline (old or new); the ones that do are labeled above.
TOUCHES = re.compile(
    r"musk|starlink|spacex|putin|kremlin|taiwan|doge|ukrain|zelensk|crimea|russia|"
    r"truss|kwarteng|jeremy hunt|chancellor|mini-budget|tory|tories|conservative|sunak|"
    r"braverman|khalife|wandsworth|prison|escape|manhunt|morocc|marrak|quake|"
    r"hungar|orban|magyar|iran|hormuz|blockade|马斯克|台湾|台灣|普京|乌克兰",
    re.I,
)
# The war without Musk or Starlink: hard negatives for starlink-ukraine-war.
NEAR_WAR = re.compile(r"musk|starlink|spacex|satellite|hungar|orban|magyar|iran", re.I)


def write_part(
    rows: list[dict], out: Path, *, id_prefix: str, storylines: dict[str, str] | None = None
) -> None:
    """Check a page-built part's rows and write them, by date then URL, numbered
    ``<id_prefix>001``...: each address new to the labeled files and used once, labels
    exactly where there is a development (of the chain's storyline, when ``storylines``
    maps chains to ids), and every copy group inside one development."""
    known = other_addresses(out.name)
    seen: set[str] = set()
    groups: dict[str, str] = {}
    for r in rows:
        key = address(r["url"])
        assert key not in known, f"already in a labeled set: {key}"
        assert key not in seen, f"twice: {key}"
        seen.add(key)
        dev = r["development"]
        assert bool(r["labels"]) == (dev is not None), key
        if storylines is not None:
            assert not dev or r["labels"] == [storylines[dev["chain"]]], key
            assert r["title"].strip() and r["summary"].strip() and r["note"], key
        if r["dup_group"]:
            assert groups.setdefault(r["dup_group"], json.dumps(dev)) == json.dumps(dev), (
                f"group straddles: {key}"
            )
    rows.sort(key=lambda r: (r["published"] or "9999", r["url"]))
    with open(out, "w", encoding="utf-8") as f:
        for n, r in enumerate(rows, 1):
            r["id"] = f"{id_prefix}{n:03d}"
            f.write(json.dumps({k: r[k] for k in FIELDS if k in r}, ensure_ascii=False) + "\n")
    print(len(rows), "items")


def clean(text: str | None) -> str:
    """Tags out, entities decoded, spaces folded; nothing else, unlike
    ``ingest.normalize.plain_text``: the stream keeps the characters as published (zero-width
    spaces in the Reuters text), so that replaying it exercises the pipeline's own cleaning."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", text or ""))
    return re.sub(r"\s+", " ", text).strip()


def lede(text: str, limit: int = 320) -> str:
    """The first sentence(s) of a description, verbatim, cut at a sentence end."""
    text = re.sub(r"\s*Continue reading\.\.\.\s*$", "", text)
    if len(text) <= limit:
        return text
    cut = [m.end() for m in re.finditer(r"[.!?][”\"’']?\s", text[: limit + 1]) if m.end() > 60]
    return text[: cut[-1]].strip() if cut else text[:limit].rsplit(" ", 1)[0]


def feed_items() -> list[dict]:
    import feedparser  # only here: the page-only builders import this module without it

    out = []
    for f in sorted(glob.glob(str(FEEDS / "derived_rumca_json/*.json"))):
        for e in json.load(open(f, encoding="utf-8")):
            out.append(
                dict(
                    file=os.path.relpath(f, FEEDS),
                    outlet=OUTLETS.get(
                        e.get("artist") or e["source"],
                        OUTLETS.get(e["source"], e.get("artist")),
                    ),
                    published=e.get("date_published"),
                    url=e["link"],
                    title=e["title"],
                    summary=clean(e.get("description")),
                )
            )
    for f in sorted(glob.glob(str(FEEDS / "*/*"))):
        if f.endswith((".json", ".md")) or "derived" in f or "nasty" in f:
            continue
        d = feedparser.parse(open(f, "rb").read())
        for e in d.entries:
            parsed = e.get("published_parsed") or e.get("updated_parsed")
            out.append(
                dict(
                    file=os.path.relpath(f, FEEDS),
                    outlet=OUTLETS.get(d.feed.get("title", ""), d.feed.get("title", "")),
                    published=time.strftime("%Y-%m-%dT%H:%M:%SZ", parsed) if parsed else None,
                    url=e.get("link"),
                    title=e.get("title"),
                    summary=clean(e.get("summary")),
                )
            )
    return out


def main() -> None:
    items = feed_items()
    # The sets made before these two parts only: the later parts are checked against these two,
    # and keeping their addresses out of the background pool would change its seeded sample.
    known = other_addresses(*(name for name in OTHER_SETS if name != "dev.jsonl"))
    rows, used = [], set()

    def add(e, labels, dev, group, borderline, note, source, language=None, title_source="feed"):
        key = address(e["url"])
        assert key not in known, f"already in a labeled set: {key}"
        if key in used:
            return
        used.add(key)
        chain, order = dev.split("#") if dev else (None, None)
        rows.append(
            dict(
                title=e["title"].strip(),
                summary=lede(e["summary"]),
                outlet=e["outlet"],
                published=e["published"],
                url=e["url"],
                labels=labels,
                dup_group=group,
                development={"chain": chain, "order": int(order)} if dev else None,
                note=note,
                title_source=title_source,
                borderline=borderline,
                source=source,
                **({"language": language} if language else {}),
            )
        )

    for index, start, storyline, dev, group, borderline, note in FEED:
        if index is None:
            [index] = [
                i
                for i, e in enumerate(items)
                if "derived" in e["file"] and e["title"].startswith(start)
            ][:1]
        e = items[index]
        assert e["title"].startswith(start), (index, start, e["title"])
        add(e, [storyline] if storyline else [], dev, group, borderline, note, f"feeds:{e['file']}")
    for index in IRAN_ECON:
        e = items[index]
        add(
            e,
            [],
            None,
            None,
            False,
            "Iran-war fallout (markets, energy, other), not the talks or the blockade",
            f"feeds:{e['file']}",
        )
    for line in open(HERE / "stream_pages.jsonl", encoding="utf-8"):
        page = json.loads(line)
        key, url, outlet, published = page["key"], page["url"], page["outlet"], page["published"]
        title, title_source, summary, language = (
            page["title"],
            page["title_source"],
            page["summary"],
            page["language"],
        )
        storyline, dev, group, borderline, note = PAGE_LABELS[key]
        add(
            dict(url=url, outlet=outlet, published=published, title=title, summary=summary),
            [storyline],
            dev,
            group,
            borderline,
            note,
            "pages (search tool)",
            language if language != "en" else None,
            title_source,
        )
    # background: the same days' feeds (and other-language feeds), nothing about any storyline
    rng = random.Random(SEED)
    pools = {
        "same days (rumca)": ([e for e in items if "derived" in e["file"]], 110),
        "Reuters Apr 2026": ([e for e in items if "reuters_fulltext@25" in e["file"]], 25),
        "Kyiv Independent": ([e for e in items if "kyivindependent@61" in e["file"]], 12),
        "other languages": (
            [
                e
                for e in items
                if any(s in e["file"] for s in ("greatfire", "aktuality", "heise", "uolNoticias"))
            ],
            16,
        ),
    }
    for name, (pool, count) in pools.items():
        touches = NEAR_WAR if name == "Kyiv Independent" else TOUCHES
        pool = [
            e
            for e in pool
            if e["url"]
            and e["title"]
            and not touches.search(e["title"] + " " + e["summary"])
            and address(e["url"]) not in used
            and address(e["url"]) not in known
        ]
        for e in rng.sample(pool, count):
            lang = {"greatfire": "zh", "aktuality": "sk", "heise": "de", "uolNoticias": "pt"}
            language = next((v for k, v in lang.items() if k in e["file"]), None)
            add(e, [], None, None, False, f"background ({name})", f"feeds:{e['file']}", language)
    rows.sort(key=lambda r: (r["published"] or "9999", r["url"]))
    for n, r in enumerate(rows, 1):
        r["id"] = f"S{n:03d}"
    split(rows)


def development_key(r: dict) -> str:
    if r["development"]:
        return f"{r['labels'][0]}|{r['development']['chain']}#{r['development']['order']}"
    return f"neg|{r['dup_group'] or r['id']}"


def split(rows: list[dict]) -> None:
    """60/40 by development, stratified by storyline (negatives by item), seeded."""
    rng = random.Random(SEED)
    strata: dict[str, list[str]] = {}
    for r in rows:
        key = development_key(r)
        keys = strata.setdefault(key.split("|")[0], [])
        if key not in keys:
            keys.append(key)
    test = set()
    for keys in (sorted(strata[name]) for name in sorted(strata)):
        rng.shuffle(keys)
        test.update(keys[: round(len(keys) * 0.4)])
    for name, part in (("stream_tune.jsonl", False), ("stream_test.jsonl", True)):
        with open(HERE / name, "w", encoding="utf-8") as out:
            for r in rows:
                if (development_key(r) in test) == part:
                    out.write(
                        json.dumps({k: r[k] for k in FIELDS if k in r}, ensure_ascii=False) + "\n"
                    )
    digest = hashlib.sha256((HERE / "stream_test.jsonl").read_bytes()).hexdigest()
    print(len(rows), "items; test sha256", digest)


if __name__ == "__main__":
    main()
