"""A list's members are one kind of thing: kinds shared along lists of names.

``share_list_kinds`` runs after each entity has its kind from its own cues
(``pipeline.seed.cues``) and the gazetteer: a name with no clear cue that the article
lists with names of a known kind ("A, B y C", "X (powders), Y et Z") takes that kind.
Pure; changes ``SeedEntity.kind`` in place.
"""

from __future__ import annotations

from pipeline.seed.cues import LIST_WORDS, Token
from pipeline.seed.gazetteer import is_main_place, is_place
from pipeline.seed.spans import Mention, SeedEntity

# "the mayor of X, Jane Doe": a place after these is a complement, not a list member.
_OF = frozenset({"of", "de", "del", "du", "des", "von", "der", "di"})


def share_list_kinds(entities: list[SeedEntity], token_lists: list[list[Token]]) -> None:
    """A name without clear cues takes the kind of the names it is listed with ("the
    United States and Canada", "Sydney, Australia"; "brands A (powders), B and C"): a
    list's members are one kind of thing. The kinds spread from names with a cue or
    in the gazetteer, along the list, skipping a bracket after a member. A town
    followed by its region in brackets ("Acmeville (Northshire)") is a place; a place
    after "of" ("the mayor of X, Jane Doe") is no list member; a name that is a small place by
    the gazetteer alone (no country, region or big city) takes the kind of two cued names around it ("Delta, United, and
    American Airlines")."""
    at: dict[tuple[int, int], SeedEntity] = {}
    for e in entities:
        for m in e.mentions:
            at[(m.sentence, m.start)] = e
            at[(m.sentence, -m.end)] = e

    def strength(e: SeedEntity) -> float:
        return max((v for k, v in e.votes.items() if k not in ("demonym", "shape")), default=0)

    known = {
        id(e): e.kind
        for e in entities
        if strength(e) > 1 or (e.kind == "place" and is_place(e.name))
    }

    def neighbours(m: Mention) -> list[SeedEntity]:
        tokens = token_lists[m.sentence]
        out = []
        k = m.start - 1  # the list member before: "A, B", "A (note), B"
        if k >= 0 and tokens[k].lower in LIST_WORDS:
            k -= 1
            if k >= 0 and tokens[k].text == ")":
                while k >= 0 and tokens[k].text != "(":
                    k -= 1
                k -= 1
            x = at.get((m.sentence, -(k + 1)))
            start = next(
                (
                    n.start
                    for n in (x.mentions if x else [])
                    if n.sentence == m.sentence and n.end == k + 1
                ),
                0,
            )
            if x is not None and not (start > 0 and tokens[start - 1].lower in _OF):
                out.append(x)
        k = m.end  # the member after, past a bracket: "A (note), B"
        if k < len(tokens) and tokens[k].text == "(":
            while k < len(tokens) and tokens[k].text != ")":
                k += 1
            k += 1
        if k < len(tokens) and tokens[k].lower in LIST_WORDS and (x := at.get((m.sentence, k + 1))):
            out.append(x)
        return [x for x in out if x is not e]

    # A small place only by the gazetteer, listed between two cued names of one other kind,
    # is that kind: "airlines, including Delta, United, and American Airlines".
    for e in entities:
        if id(e) not in known or strength(e) > 1 or is_main_place(e.name):
            continue
        for m in e.mentions:
            cued = [x for x in neighbours(m) if strength(x) > 1]
            kinds = {x.kind for x in cued}
            if len(cued) >= 2 and len(kinds) == 1 and kinds != {"place"}:
                e.kind = known[id(e)] = kinds.pop()
                break
    for _ in range(len(entities)):
        changed = False
        for e in entities:
            if id(e) in known or e.votes.get("shape"):
                continue  # a name shaped like a person's is no list's member by kind
            for m in e.mentions:
                tokens = token_lists[m.sentence]
                inside = (
                    m.end + 2 < len(tokens)
                    and tokens[m.end].text == "("
                    and tokens[m.end + 2].text == ")"
                    and (x := at.get((m.sentence, m.end + 1))) is not None
                    and x.kind == "place"
                    and id(x) in known
                )
                kinds = {known[id(x)] for x in neighbours(m) if id(x) in known}
                if inside:
                    kinds = {"place"}
                if len(kinds) == 1:
                    e.kind = known[id(e)] = kinds.pop()
                    changed = True
                    break
        if not changed:
            break
