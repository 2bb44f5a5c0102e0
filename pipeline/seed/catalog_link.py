"""Step 5 of ``pipeline.seed.entities``: linking an article's entities to the watchlists' catalog.

``CatalogLinks(catalog, finder)`` holds the existing watchlists' entities, indexed by every
name, alias and transliteration. ``find`` asks the matcher (``finder(sentence)`` gives the
entity id, start and end of each catalog entity it finds) which catalog entities each
sentence names: a hit on a name the article already has votes for that entity, a hit
elsewhere ("Russia's space agency") adds a mention of it. ``link`` then gives each entity
its catalog id, kind and aliases (by its full name first, else by the matcher's votes), the
others a new id slugified from their name, and folds entities linked to one catalog entity.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable

from pipeline.seed.cues import Token
from pipeline.seed.names import normalise_name, slugify
from pipeline.seed.spans import Mention, SeedEntity


class CatalogLinks:
    """The watchlists' entities, and how an article's entities link to them."""

    def __init__(
        self,
        catalog: Iterable = (),
        finder: Callable[[str], list[tuple[str, int, int]]] | None = None,
    ) -> None:
        self.entities = list(catalog)
        self.finder = finder
        self._by_id = {e.id: e for e in self.entities}
        self._index: dict[str, object] = {}
        for entity in self.entities:
            for form in (entity.name, *entity.aliases, *entity.transliterations):
                self._index.setdefault(normalise_name(form), entity)

    def find(
        self, sentences: list[str], token_lists: list[list[Token]], entities: list[SeedEntity]
    ) -> dict[int, Counter]:
        """Ask the matcher (``finder``) which catalog entities each sentence names.

        A hit on a name we already have links that entity (votes by id); a hit elsewhere
        ("Russia's space agency", "Chinese leader") adds a mention of the catalog entity.
        """
        votes: dict[int, Counter] = defaultdict(Counter)
        if self.finder is None:
            return votes
        for si, (sentence, tokens) in enumerate(zip(sentences, token_lists, strict=True)):
            for ref, start, end in self.finder(sentence):
                if ref not in self._by_id:
                    continue
                overlapping = [
                    m
                    for e in entities
                    for m in e.mentions
                    if m.sentence == si
                    and m.role != "descriptor"
                    and m.char_start < end
                    and start < m.char_end
                ]
                wider = overlapping and all(
                    start <= m.char_start
                    and m.char_end <= end
                    and (start, end) != (m.char_start, m.char_end)
                    for m in overlapping
                )
                if overlapping and not wider:
                    for m in overlapping:
                        votes[id(m.entity)][ref] += 1
                    continue
                for m in overlapping:  # "Russia" inside "Russia's space agency" only qualifies it
                    m.role = "modifier"
                k0 = next((k for k, t in enumerate(tokens) if t.end > start), 0)
                k1 = next((k for k, t in enumerate(tokens) if t.start >= end), len(tokens))
                role = (
                    "possessive" if k1 < len(tokens) and tokens[k1].text in ("'s", "’s") else "noun"
                )
                target = next((e for e in entities if e.id == ref), None)
                if target is None:
                    cat = self._by_id[ref]
                    target = SeedEntity(id=ref, kind=cat.kind, name=cat.name)
                    entities.append(target)
                    votes[id(target)][ref] += 1
                m = Mention(si, k0, k1, sentence[start:end], start, end, role)
                m.entity = target
                target.mentions.append(m)
        return votes

    def link(self, entities: list[SeedEntity], found: dict[int, Counter]) -> None:
        for e in entities:
            linked = None
            for form in (e.name, *e.aliases):  # the full name decides first
                linked = self._index.get(normalise_name(form))
                if linked is not None:
                    break
            if linked is None and found.get(id(e)):
                ref, count = found[id(e)].most_common(1)[0]
                if (
                    count * 2 > len([m for m in e.mentions if m.role != "descriptor"])
                    or len(found[id(e)]) == 1
                ):
                    linked = self._by_id[ref]
            if linked is None:
                e.id = slugify(e.name[4:] if e.name.startswith("The ") else e.name)
                continue
            e.catalog_source = e.name
            e.id, e.kind, e.new = linked.id, linked.kind, False
            e.name = linked.name
            e.aliases = list(linked.aliases)
            e.transliterations = list(linked.transliterations)
            e.negative_contexts = list(linked.negative_contexts)
        # Two article entities may link to one catalog entity (e.g. a surname seen before the
        # full name): fold them together.
        merged: dict[str, SeedEntity] = {}
        for e in entities:
            if e.id in merged:
                keep = merged[e.id]
                keep.mentions += e.mentions
                keep.votes.update(e.votes)
                if e.new:
                    keep.aliases += [
                        a for a in [e.name, *e.aliases] if a not in keep.aliases and a != keep.name
                    ]
                for m in e.mentions:
                    m.entity = keep
            else:
                merged[e.id] = e
        entities[:] = list(merged.values())
