"""Finding the people, organisations, places and products an article names, without a model.

``EntityExtractor(background, catalog, finder).extract(sentences)`` returns the article's
entities (``SeedEntity``), each with its mentions (``Mention``: sentence, token span, role).

1. Candidates: capitalised phrases (joined by "of", "de", "&"...); a sentence-initial word
   only when the article or the background news writes it capitalised mid-sentence, and
   not a word the news mostly writes in lower case.
2. Kind votes: each mention gets votes from the closed-class cues around it
   (``pipeline.seed.cues``: titles, head words, prepositions, appositions).
3. Merging: mentions of the same thing become one entity. A surname (or family name)
   alone joins the full name it belongs to, an acronym joins the phrase it abbreviates,
   a multi-word name that ends another one is its short form, and a demonym joins the
   place that shares its stem ("Russian" for Russia) as a modifier. Descriptive
   references ("the billionaire") are *not* aliases: an apposition ("X, a famous
   billionaire") lets them count as mentions of X for finding the article's threads only.
4. Kind: the strongest vote (a surname used alone votes person); a name without cues
   listed with places ("Sydney, Australia") is a place.
5. Linking (``pipeline.seed.catalog_link``): entities the watchlists define (by name,
   alias or transliteration, or found by the matcher through ``finder``) keep their id,
   kind and aliases; the others are ``new`` and get an id slugified from their name.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from itertools import pairwise

import simplemma

from pipeline.seed import german
from pipeline.seed.background import Background
from pipeline.seed.catalog_link import CatalogLinks
from pipeline.seed.cues import (
    CONNECTORS,
    COUNTRY_ABBREVIATIONS,
    DEMONYM_ENDINGS,
    EVENT_HEADS,
    MONTHS,
    NOT_NAMES,
    OPENERS,
    ORG_HEADS,
    ORG_PREFIXES,
    PLACE_HEADS,
    WEEKDAYS,
    Token,
    apposition_descriptor,
    common_noun,
    german_class,
    is_title,
    mention_votes,
    tokenize,
)
from pipeline.seed.gazetteer import (
    given_names,
    inflected_verb,
    is_place,
    opens_person_name,
    place_forms,
)
from pipeline.seed.language import german_common_noun, stopwords
from pipeline.seed.lists import share_list_kinds
from pipeline.seed.names import normalise_name
from pipeline.seed.spans import (
    Mention,
    SeedEntity,
    acronym,
    quoted_names,
    title_case_spans,
    without_city,
)

GERMAN_OF = frozenset({"von", "der", "des", "den", "dem", "vom"})
# Articles that open a name when written capitalised mid-sentence ("The Times", "Le Monde").
NAME_ARTICLES = frozenset({"The", "Le", "La", "Les", "El", "Los", "Las", "Der", "Die", "Das"})


def _model_number(text: str) -> bool:
    """A model number in a product name: "7", "737", "G650", not a year or an amount."""
    return bool(
        re.fullmatch(r"[A-Z]?\d{1,4}[A-Za-z]?", text) and not re.fullmatch(r"(?:19|20)\d\d", text)
    )


# The second word of a family's firm, in the four languages: its family name is its name.
FAMILY_FIRM_HEADS = frozenset({"brothers", "bros", "brüder", "frères", "hermanos"})


class EntityExtractor:
    """Extracts entities from an article's sentences; see the module docstring."""

    def __init__(
        self,
        background: Background,
        catalog: Iterable = (),
        finder: Callable[[str], list[tuple[str, int, int]]] | None = None,
        *,
        language: str = "en",
    ) -> None:
        """``catalog``: the existing watchlists' entities; ``finder(sentence)`` returns
        (entity id, start, end) of catalog entities the matcher finds in a sentence;
        ``language``: the article's ("en", "de", "fr", "es"), for its function words."""
        self.background = background
        self.language = language
        # English function words are handled by NOT_NAMES; YAKE's English list holds "new".
        self._stop = stopwords(language) if language != "en" else frozenset()
        self.catalog = CatalogLinks(catalog, finder)
        self._pairs: Counter = Counter()
        self._lower_words: set[str] = set()
        self._single_surfaces: set[str] = set()

    # --- candidates -----------------------------------------------------------------
    def _name_like(self, tokens: list[Token], i: int, mid_caps: set[str]) -> bool:
        tok = tokens[i]
        if not (tok.is_word and tok.is_cap) or tok.lower in MONTHS or tok.lower in WEEKDAYS:
            return False
        initial = i == 0 or tokens[i - 1].text in OPENERS
        # An acronym may spell a function word ("DIE"); one capital letter ("À") does not.
        acronym_like = tok.text.isupper() and len(tok.text) > 1
        if tok.lower in NOT_NAMES or (tok.lower in self._stop and not acronym_like):
            return False
        if not initial:
            return True
        if self.language == "de" and german.name_compound(tok.text):
            return True  # "Acme-Flug": a name the lexicon does not know, then a noun
        # A capital at the start of a sentence proves nothing: the word must be written
        # capitalised elsewhere (this article mid-sentence, or usually in the news).
        if tok.lower in mid_caps or is_place(tok.text):
            return True
        if self.language == "de" and german.genitive_place(tok.text):
            return True
        if tok.lower in self._lower_words:
            return False  # "Murió Maradona": the article writes "murió" in lower case
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if nxt is not None and nxt.is_word and nxt.is_cap and nxt.lower not in NOT_NAMES:
            if inflected_verb(tok.text, self.language):
                return False  # "Muere Jane Doe"
            # A club name may open every sentence it is in: a pair that recurs, whose first
            # word the article never writes in lower case, is a name.
            recurring = (
                self._pairs.get((tok.text, nxt.text), 0) >= 2 and tok.lower not in self._lower_words
            )
            return (
                recurring
                or self.background.capital_share(tok.lower) >= 0.3
                or self.background.df(tok.lower) == 0
            )
        return self.background.capital_share(tok.lower) >= 0.6

    @staticmethod
    def _opens_title(tokens: list[Token], i: int) -> bool:
        """Mid-sentence, a capitalised article opens a title ("selon Le Monde", "en El
        País"); after a colon or a bracket it may open a clause."""
        return (
            i > 0
            and tokens[i - 1].text not in {"‘", "“", '"'}
            and (tokens[i].text == "The" or tokens[i - 1].is_word or tokens[i - 1].text == ",")
        )

    def _phrases(self, tokens: list[Token], mid_caps: set[str]) -> list[tuple[int, int]]:
        spans, i, n = [], 0, len(tokens)
        while i < n:
            if not self._name_like(tokens, i, mid_caps) and not (
                tokens[i].text in NAME_ARTICLES
                and i + 1 < n
                and self._name_like(tokens, i + 1, mid_caps)
                and (
                    self._opens_title(tokens, i)
                    # At a sentence's start, when the article writes the same two words
                    # mid-sentence as a title ("La Acme: ...", "... en La Acme").
                    or (i == 0 and (tokens[0].text, tokens[1].text) in self._article_titles)
                )
            ):
                i += 1
                continue
            j = i + 1
            while j < n:
                if self._name_like(tokens, j, mid_caps) and tokens[j].lower not in NOT_NAMES:
                    j += 1
                elif (
                    tokens[j].lower in CONNECTORS
                    and tokens[j].lower != "and"
                    and j + 1 < n
                    and tokens[j + 1].is_cap
                    and tokens[j + 1].is_word
                    and tokens[j + 1].lower not in NOT_NAMES
                ):
                    j += 2
                elif tokens[j].text == "&" and j + 1 < n and tokens[j + 1].is_cap:
                    j += 2
                elif _model_number(tokens[j].text) and tokens[j - 1].lower not in MONTHS:
                    j += 1  # "Galaxy Note 7", "Boeing 737 Max", "Gulfstream G650"
                else:
                    break
            spans.append((i, j))
            i = j
        return spans

    def _trim(self, tokens: list[Token], start: int, end: int) -> tuple[int, int]:
        """The name inside a capitalised span: without the title or role before it
        ("Dutch Economy Minister Dirk Beljaarts", "VC-Präsident Andreas Pinheiro", "PDG de
        Renault") and, in German, without the common nouns around it ("Drehkreuzen München")."""
        words = [t.text for t in tokens[start:end]]
        before = start - 1
        while before > 0 and tokens[before].lower in CONNECTORS:
            before -= 1
        if (
            end - start > 2
            and before < start - 1
            and is_title(tokens[before].text)
            and (
                (before == start - 2 and is_place(words[0]))
                or normalise_name(words[1]) in given_names()
            )
        ):
            # "le procureur de Paris Jane Doe", "el presidente del Gobierno Jane Doe", "le
            # président de la République Jane Doe": the place or body is where the role is;
            # the person after it is the name.
            start += 1
            words = words[1:]
        last_title = max(
            (k for k, w in enumerate(words[:-1]) if is_title(w)),
            default=-1,
        )
        if last_title >= 0:
            cut = last_title + 1
            if words[cut].lower() in CONNECTORS and cut + 1 < len(words):
                cut += 1  # "PDG de Renault", "CEO of Acme": the body the role is in
                if cut + 2 < len(words) and is_place(words[cut]):
                    cut += 1  # "Procureur de Paris Jane Doe", as below
            rest = [w.lower() for w in words[cut:]]
            if cut > last_title + 1 or not set(rest) & (ORG_HEADS | PLACE_HEADS | EVENT_HEADS):
                start += cut
        if self.language == "de":
            if german.genitive_place(tokens[start].text):
                return start, start + 1  # "Kölns Archiv": the place, then what is its
            if german.adjective_name(tokens, start, end):
                return start, end
            # An inflected noun splits the span ("Frankfurter Betreibers Fraport",
            # "Drehkreuzen München"); the name is after the last one, or before the first.
            inflected = [k for k in range(start, end) if german.inflected_noun(tokens[k].text)]
            if inflected and inflected[-1] + 1 < end:
                start = inflected[-1] + 1
            elif inflected:
                end = inflected[0]
            if end <= start:
                return start, start
            # A compound class noun before a name ("Chemiekonzern Acme") is its category.
            if end - start > 1 and german_class(tokens[start].text):
                start += 1
            # A common noun and "von/der" before a name is what the sentence says of it
            # ("Übernahme von Acme", "Kauf der Amerikaner"), not part of it.
            if (
                end - start > 2
                and tokens[start + 1].lower in GERMAN_OF
                and tokens[start].lower not in ORG_PREFIXES
                and simplemma.is_known(tokens[start].text, lang="de")
            ):
                start += 2
            # A base-form noun before a name of two words or more is its category
            # ("Gewerkschaft Vereinigung Cockpit"); alone it may be the name's first word.
            if end - start > 2 and german_common_noun(tokens[start].text):
                start += 1
            # The category cut leaves its "der" ("Rädelsführer der Reichsbürger").
            while end - start > 1 and tokens[start].lower in GERMAN_OF:
                start += 1
            if end - start == 1 and german_common_noun(tokens[start].text):
                return start, start
        while end - start > 1 and tokens[end - 1].lower in CONNECTORS:
            end -= 1  # "Beteiligung der [Beschäftigten]"
        return start, end

    # --- extraction -----------------------------------------------------------------
    def extract(self, sentences: list[str]) -> list[SeedEntity]:
        token_lists = [tokenize(s) for s in sentences]
        self._pairs = Counter(
            (a.text, b.text)
            for toks in token_lists
            for a, b in pairwise(toks)
            if a.is_cap and b.is_cap
        )
        self._lower_words = {
            t.text for toks in token_lists for t in toks if t.is_word and t.text.islower()
        }
        self._article_titles = {
            (toks[k].text, toks[k + 1].text)
            for toks in token_lists
            for k in range(len(toks) - 1)
            if toks[k].text in NAME_ARTICLES
            and toks[k + 1].is_cap
            and toks[k + 1].is_word
            and self._opens_title(toks, k)
        }
        mid_caps = {
            t.lower
            for toks in token_lists
            for k, t in enumerate(toks)
            if k > 0
            and t.is_cap
            and t.is_word
            and toks[k - 1].text not in {"‘", "“", '"', "(", "."}
        }
        mentions: list[Mention] = []
        descriptors: dict[str, str] = {}  # "billionaire" -> surface of the apposed name
        for si, tokens in enumerate(token_lists):
            for start, end in self._phrases(tokens, mid_caps):
                start, end = self._trim(tokens, start, end)
                if start >= end:
                    continue
                words = [t.text for t in tokens[start:end]]
                if len(words) == 1 and common_noun(words[0], self.background):
                    continue
                # German "Acme-Maschine", "Acme-Tochter Zorb": a name the lexicon does not
                # know, then a common noun, is a mention of the name (and the rest of the
                # span, if any, is a name of its own).
                head = german.name_compound(words[0]) if self.language == "de" else None
                if head is not None:
                    mentions.append(
                        Mention(
                            si,
                            start,
                            start + 1,
                            head,
                            tokens[start].start,
                            tokens[start].start + len(head),
                        )
                    )
                    start += 1
                    words = words[1:]
                    if start >= end or not tokens[start].is_cap:
                        continue  # "Acme-Flug 4711": the number is not a name
                # "Acme-backed": the name is the capitalised part before the hyphen.
                if end - start == 1 and re.match(r"^[A-Z][\w]*-[a-z]", words[0]):
                    head = words[0].split("-")[0]
                    m = Mention(
                        si,
                        start,
                        end,
                        head,
                        tokens[start].start,
                        tokens[start].start + len(head),
                        role="modifier",
                    )
                    mentions.append(m)
                    continue
                surface = " ".join(words)
                role = (
                    "possessive"
                    if end < len(tokens) and tokens[end].text in ("'s", "’s", "'", "’")
                    else "noun"
                )
                m = Mention(si, start, end, surface, tokens[start].start, tokens[end - 1].end, role)
                m.votes = mention_votes(tokens, start, end, role=role, background=self.background)
                if m.votes.get("shape") and not opens_person_name(
                    words[0], language=self.language, then=words[1] if len(words) > 1 else ""
                ):
                    # Shaped like "Given Family" only when it opens with a given name:
                    # "Alto Tribunal", "Acme Inter" (a country first) are no one's names.
                    del m.votes["shape"]
                mentions.append(m)
                app = apposition_descriptor(tokens, end)
                if app:
                    descriptors.setdefault(app, surface)
        mentions += quoted_names(token_lists, mentions)
        if self.language == "de":
            mentions = german.names(mentions)
        entities = self._merge(mentions, token_lists)
        entities = title_case_spans(entities, token_lists, language=self.language)
        self._descriptor_mentions(entities, token_lists, descriptors)
        found = self.catalog.find(sentences, token_lists, entities)
        self.catalog.link(entities, found)
        for e in entities:
            e.mentions.sort(key=lambda m: (m.sentence, m.start))
            e.first_sentence = min(m.sentence for m in e.mentions)
        return entities

    def _key(self, name: str) -> str:
        """The key that makes mentions one entity: the folded name (German: uninflected)."""
        return normalise_name(german.name_key(name) if self.language == "de" else name)

    def _merge(self, mentions: list[Mention], token_lists: list[list[Token]]) -> list[SeedEntity]:
        """Group mentions into entities: full names, then short forms, acronyms, demonyms."""
        groups: dict[str, SeedEntity] = {}

        def group(name: str) -> SeedEntity:
            return groups.setdefault(self._key(name), SeedEntity(id="", kind="", name=name))

        for m in mentions:  # "US", "U.S." name the United States even when it is not spelt out
            full = COUNTRY_ABBREVIATIONS.get(m.surface.lower())
            if full:
                m.votes["place"] += 2
                group(full)
        # First-mention order among names of one length (a set's order changes per process).
        for surface in sorted(
            dict.fromkeys(m.surface for m in mentions if len(m.surface.split()) > 1),
            key=lambda s: -len(s.split()),
        ):
            group(surface)
        nouns = {
            m.surface
            for m in mentions
            if len(m.surface.split()) == 1 and not m.votes.get("demonym")
        }
        self._single_surfaces = {m.surface for m in mentions if len(m.surface.split()) == 1}
        self._long_votes: dict[str, Counter] = defaultdict(Counter)
        for m in mentions:
            if len(m.surface.split()) > 1:
                self._long_votes[normalise_name(m.surface)].update(m.votes)
        # "U.S. Federal Trade Commission" and "Federal Trade Commission"
        # are one body: a multi-word name that ends another name is its short form.
        longs = sorted(
            dict.fromkeys(self._key(m.surface) for m in mentions if len(m.surface.split()) > 1),
            key=len,
        )
        for i, short in enumerate(longs):
            longer = [name for name in longs[i + 1 :] if name.endswith(" " + short)]
            if len(longer) == 1 and short in groups and longer[0] in groups:
                groups[short] = groups[longer[0]]
        for m in mentions:
            k = self._key(COUNTRY_ABBREVIATIONS.get(m.surface.lower(), m.surface))
            target = groups.get(k)
            genitive = german.genitive_place(m.surface) if self.language == "de" else None
            if target is None and genitive:
                m.votes["place"] += 2
                target = group(genitive)
            if target is None and len(m.surface.split()) == 1:
                place = self._demonym_target(m.surface, nouns)
                if place is not None:
                    m.role = "modifier"
                    target = group(place)
                    target.votes["place"] += 2
                else:
                    target = self._short_form_target(m, groups)
            if target is None:
                target = group(m.surface)
            elif m.surface != target.name and m.surface not in target.aliases:
                target.aliases.append(m.surface)
            target.mentions.append(m)
        entities = []
        for e in {id(g): g for g in groups.values()}.values():
            # A word only ever used as an adjective ("Chinese leader") names no entity here.
            if not e.mentions or all(m.votes.get("demonym") for m in e.mentions):
                continue
            for m in e.mentions:
                e.votes.update(m.votes)
                m.entity = e
            e.kind = self._kind(e)
            if e.name.startswith("The ") and e.kind != "org":
                e.name = e.name[4:]
            if e.name.startswith("The ") and e.name[4:] not in e.aliases:
                e.aliases.insert(0, e.name[4:])
            entities.append(e)
        share_list_kinds(entities, token_lists)
        self._surname_aliases(entities)
        for e in entities:
            short = without_city(e.name)
            if short and e.kind in ("place", "org") and short not in e.aliases:
                e.aliases.append(short)
            # A family's firm ("Acme Brothers", "Acme Frères") is called by the family name.
            words = e.name.split()
            if (
                e.kind == "org"
                and len(words) == 2
                and words[1].lower().rstrip(".") in FAMILY_FIRM_HEADS
                and words[0] not in e.aliases
            ):
                e.aliases.append(words[0])
        if self.language == "de":  # "das Grüne Gewölbe" is also "im Grünen Gewölbe"
            for e in entities:
                if e.kind == "place":  # "das Kölner Archiv"
                    e.aliases += [f for f in german.town_adjectives(e.name) if f not in e.aliases]
                for name in [e.name, *e.aliases]:
                    for form in german.adjective_forms(name):
                        if form != e.name and form not in e.aliases:
                            e.aliases.append(form)
        for e in entities:  # a bare place name is never another thing's alias
            if e.kind != "place":
                e.aliases = [a for a in e.aliases if not is_place(a)]
            else:  # other languages' names of a country or region ("Bavaria" of "Bayern")
                e.aliases += sorted(f for f in place_forms(e.name) - {e.name, *e.aliases})
        return entities

    @staticmethod
    def _surname_aliases(entities: list[SeedEntity]) -> None:
        """A person named in full is later called by the surname alone: make it an alias.

        The short form the article itself uses wins ("Xi" of Xi Jinping); otherwise the last
        word. Not when two people of the article share it (Elon and Errol Musk).
        """
        people = [e for e in entities if e.kind == "person" and len(e.name.split()) > 1]
        last_words = Counter(e.name.split()[-1] for e in people)
        for e in people:
            parts = e.name.split()
            if any(a in (parts[0], parts[-1]) for a in e.aliases) or e.votes.get("person", 0) < 1:
                continue  # already has its short form, or only looks like a name
            surname = parts[-1]
            if (
                last_words[surname] == 1
                and len(surname) >= 3
                and surname.lower() not in NOT_NAMES
                and surname[:1].isupper()
                and not surname.endswith(".")
            ):
                e.aliases.append(surname)

    def _short_form_target(self, m: Mention, groups: dict[str, SeedEntity]) -> SeedEntity | None:
        words = m.surface.split()
        if len(words) != 1:
            return None
        word = words[0]
        hits = []
        for e in groups.values():
            parts = e.name.split()
            if len(parts) < 2:
                continue
            is_person_shaped = not (
                set(p.lower() for p in parts) & (ORG_HEADS | PLACE_HEADS | EVENT_HEADS)
            )
            # The family name is the last word, or the first for someone named with a title
            # whose last name is never used alone (Chinese names: family name first); a brand
            # alone ("Acme") is not its product ("Acme Pro").
            titled = self._long_votes.get(normalise_name(e.name), Counter()).get("person", 0) >= 2
            if (
                is_person_shaped
                and word.lower() not in NOT_NAMES
                and not m.votes.get("place")
                and (titled or not is_place(word))
                and (
                    word == parts[-1]
                    or (word == parts[0] and titled and parts[-1] not in self._single_surfaces)
                )
            ):
                hits.append(e)
            elif (
                re.fullmatch(r"[A-Z]{2,6}", word)
                and acronym([p for p in parts if p != "The"]) == word
            ):
                hits.append(e)
            elif re.fullmatch(r"[A-Z]{2,6}", word) and acronym(parts) == word:
                hits.append(e)
        if len(hits) > 1 and all(e.name.split()[-1] == word for e in hits):
            # Two full names of one family name: the first a given name opens, else the first.
            given = [e for e in hits if normalise_name(e.name.split()[0]) in given_names()]
            return (given or hits)[0]
        return hits[0] if len(hits) == 1 else None

    @staticmethod
    def _demonym_target(word: str, singles: set[str]) -> str | None:
        low = word.lower()
        if not low.endswith(DEMONYM_ENDINGS):
            return None
        for name in singles:
            n = name.lower()
            if n == low or len(n) < 4 or not name[:1].isupper():
                continue
            common = 0
            while common < min(len(n), len(low)) and n[common] == low[common]:
                common += 1
            if common >= 4 and common >= len(n) - 2:
                return name
        return None

    def _kind(self, e: SeedEntity) -> str:
        votes = Counter(
            {
                k: v
                for k, v in e.votes.items()
                if k in ("person", "org", "place", "product", "event")
            }
        )
        if any(m.votes.get("shape") for m in e.mentions):
            votes["person"] += 1
        if any(
            m.surface != e.name
            and len(e.name.split()) > 1
            and m.surface in (e.name.split()[-1], e.name.split()[0])
            and not m.votes.get("product")
            for m in e.mentions
        ) and opens_person_name(
            e.name.split()[0], language=self.language, then=" ".join(e.name.split()[1:2])
        ):
            # A surname used alone (not "the Pro kettles", not "Monde" of "Le Monde").
            votes["person"] += 2
        # The gazetteer (countries, regions, big cities) outweighs weak cues, not a head
        # word or a title: "Port of Rotterdam" stays an organisation.
        if is_place(e.name) and votes["org"] < 3 and votes["person"] < 3 and votes["product"] < 2:
            votes["place"] += 3
        if not votes:
            words = e.name.split()
            person = (
                opens_person_name(words[0], language=self.language, then=words[1])
                if len(words) > 1
                # A listed first name alone, with no cue at all: "Samantha", "Felipe".
                else normalise_name(e.name) in given_names() and not is_place(e.name)
            )
            return "person" if person else "org"
        best = max(votes.values())
        for kind in ("person", "place", "org", "product", "event"):
            if votes[kind] == best:
                return kind
        return "org"

    def _descriptor_mentions(
        self,
        entities: list[SeedEntity],
        token_lists: list[list[Token]],
        descriptors: dict[str, str],
    ) -> None:
        by_surface = {}
        for e in entities:
            for m in e.mentions:
                by_surface.setdefault(m.surface, e)
        for noun, surface in descriptors.items():
            target = by_surface.get(surface)
            if target is None:
                continue
            for si, tokens in enumerate(token_lists):
                for k, tok in enumerate(tokens):
                    if (
                        tok.lower == noun
                        and k > 0
                        and (
                            tokens[k - 1].lower in ("the", "this")
                            or re.match(r"^[A-Z]\w*-\w+$", tokens[k - 1].text)
                        )
                    ):
                        if si not in target.sentences(include_descriptors=False):
                            target.mentions.append(
                                Mention(
                                    si, k, k + 1, tok.text, tok.start, tok.end, role="descriptor"
                                )
                            )
