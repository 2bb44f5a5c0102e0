"""What an article adds to its storyline: actors, action, rare residual terms, time.

``signature(match)`` is computed once per matched article (pure, no I/O after the first
call loads simplemma's and wordfreq's shipped lists; a word's lemma, stem and rarity are
cached per language, 2,048 words each):

- ``actors``: who is named in the headline and lede. The matcher's entities (the
  evidence, keyed by entity id, so "Путин" and "Putin" are one actor: the catalogue's
  transliterations are the path for scripts with no comparable words), plus capitalised
  name runs (``pipeline.seed.cues.tokenize``; a sentence's first word, title-cased
  headlines and the cue lists' function words, months and weekdays do not count) and
  role words ("lawmakers", "spokesman", "regulator"), so officials named in a headline
  become actors. Which are *new* is decided against the storyline's known developments,
  so the storyline's anchors (named by every development) never are.
- ``action``: the first event or speech-act class (``ACTIONS``, English, German, French,
  Spanish, Russian, Ukrainian, Chinese forms) named by the headline, else by the lede;
  words are lemmatised with simplemma in the article's language ("demanding" ->
  "demand", "fordert" -> "fordern"); Chinese forms match as substrings.
- ``residual``: content words of headline and lede (``headlines.content_words``) weighted
  by rarity (wordfreq's Zipf frequency in the article's language: 8 - zipf, at least
  1), for the storyline-relative comparison in ``residual_similarity``; computed when
  first read (no tracker decision reads it).
- ``at``: the article's published time.

``why_new_sentence`` words an alert's "why new" for a desk editor from two signatures
and the nearest known development.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import re
from collections.abc import Iterable, Set
from dataclasses import dataclass

import simplemma
from anyascii import anyascii
from wordfreq import get_frequency_dict

from pipeline.records import Match
from pipeline.seed.cues import _TOKEN, MONTHS, NOT_NAMES, PERSON_TITLES, WEEKDAYS, Token, tokenize
from pipeline.seed.language import detect_language
from pipeline.seed.names import normalise_name
from pipeline.storylines.headlines import content_words

# class -> (what an editor reads, lemmas). Lemmas are simplemma's output for the word in
# its language; a form with a space is a lemma followed by the next word's lemma; forms of
# CJK scripts match as substrings.
ACTIONS: dict[str, tuple[str, frozenset[str]]] = {
    name: (label, frozenset(forms.split("|")))
    for name, label, forms in [
        (
            "investigation",
            "calls for an investigation",
            "investigate|investigation|probe|inquiry|enquiry|call for investigation|untersuchung|"
            "untersuchen|ermittlung|ermitteln|enquête|enquêter|investigación|investigar|"
            "расследование|расследовать|проверка|розслідування|розслідувати|调查|調查",
        ),
        (
            "denial",
            "denies it",
            "deny|denial|refute|dementieren|bestreiten|démentir|dément|démenti|nier|negar|desmentir|"
            "опровергнуть|опровергать|отрицать|заперечувати|спростувати|否认|否認",
        ),
        (
            "admission",
            "admits it",
            "admit|acknowledge|concede|confess|zugeben|einräumen|admettre|reconnaître|admitir|"
            "reconocer|признать|признаваться|визнати|承认|承認",
        ),
        (
            "legal",
            "takes it to court",
            "sue|lawsuit|court|indict|charge|klagen|klage|gericht|anklage|poursuivre|plainte|"
            "tribunal|demandar|demanda|суд|иск|позов|起诉|法院",
        ),
        (
            "resignation",
            "quits",
            "quit|resign|resignation|exit|depart|step down|rücktritt|zurücktreten|démission|"
            "démissionner|dimitir|renunciar|отставка|уйти|відставка|辞职",
        ),
        (
            "demand",
            "demands action",
            "demand|urge|call for|fordern|verlangen|exiger|réclamer|exigir|reclamar|pedir|"
            "требовать|потребовать|вимагати|要求|敦促",
        ),
        (
            "restriction",
            "restricts or cuts off",
            "ban|block|bar|restrict|limit|cut|shut|halt|suspend|withhold|verbieten|sperren|"
            "abschalten|interdire|bloquer|couper|prohibir|bloquear|cortar|запретить|ограничить|"
            "отключить|заборонити|обмежити|відключити|限制|禁止|切断",
        ),
        (
            "agreement",
            "strikes a deal",
            "deal|contract|agree|agreement|sign|vertrag|abkommen|accord|contrat|acuerdo|contrato|"
            "соглашение|контракт|договор|угода|协议|合同",
        ),
        (
            "warning",
            "warns or threatens",
            "warn|warning|threaten|threat|warnen|drohen|menacer|avertir|amenazar|advertir|"
            "предупредить|угрожать|попередити|погрожувати|警告|威胁",
        ),
        (
            "contact",
            "talks or meets",
            "meet|meeting|talk|speak|contact|conversation|treffen|gespräch|rencontrer|entretien|"
            "reunirse|conversación|встреча|переговоры|разговор|зустріч|розмова|会谈|通话|会面",
        ),
        (
            "criticism",
            "criticises it",
            "criticize|criticise|criticism|slam|blast|rip|condemn|rebuke|backlash|fury|outrage|"
            "kritisieren|kritik|verurteilen|critiquer|condamner|criticar|condenar|"
            "критиковать|осудить|критикувати|засудити|批评|谴责",
        ),
        (
            "support",
            "backs or welcomes it",
            "back|support|welcome|praise|endorse|unterstützen|begrüßen|soutenir|saluer|apoyar|"
            "respaldar|поддержать|приветствовать|підтримати|支持|欢迎",
        ),
        (
            "announcement",
            "announces a plan",
            "announce|unveil|launch|plan|ankündigen|annoncer|lancer|anunciar|lanzar|объявить|"
            "запустить|оголосити|宣布|推出",
        ),
        (
            "report",
            "reveals it (a report)",
            "report|reveal|allege|book|biography|berichten|enthüllen|révéler|revelar|"
            "сообщить|раскрыть|повідомити|报道|報道",
        ),
    ]
}
# Roles that make a headline's unnamed officials actors (plural and singular as written).
ROLE_WORDS = frozenset(
    """lawmakers lawmaker legislators senators senator congressman congresswoman
officials official regulator regulators prosecutors prosecutor spokesman spokeswoman spokesperson
minister ministers diplomats diplomat watchdog investigators abgeordnete minister sprecher
ministre députés porte-parole ministro diputados portavoz депутаты министр депутати міністр""".split()
)
# Leading words of a name run that are not part of the name ("Der Tech-Milliardär").
_ARTICLES = frozenset("the a an der die das ein eine le la les l un une el los las uno una".split())
# Demonyms describe, they do not act ("Ukrainian officials" is kept, "Ukrainian" is not).
_DEMONYM_ENDINGS = ("ian", "ean", "ese", "ish", "ischen", "ische", "ais", "aise")
# A one-word "name" this common in its language is a capitalised common word ("Он", "Der").
_COMMON_ZIPF = 5.8
# Languages that capitalise every noun: a one-word run is a name only if it is rare there.
_NOUN_CAPS = {"de": 3.0}
_LEMMA_LANGS = frozenset({"en", "de", "fr", "es", "ru", "uk", "it", "pt", "nl", "pl"})
# What an article without a language code may be told apart as (Latin script; Cyrillic
# is told by its letters).
_GUESSED_LANGS = ("en", "de", "fr", "es", "it", "pt", "nl", "pl")
_CJK_CHAR = re.compile("[\u3040-\u9fff]")


@dataclass(frozen=True, slots=True)
class Signature:
    """An article's actors (key -> name as written), action class, rare terms and time."""

    actors: dict[str, str]
    action: str | None
    at: dt.datetime
    precision: str = "instant"  # of ``at``: the article's published_precision
    headline_actors: frozenset[str] = frozenset()  # the keys of ``actors`` named in the headline
    language: str = ""  # what ``language_of`` says: comparable words need one language
    # (headline, lede, lemma language): what ``residual`` is computed from when read. No
    # decision of the tracker reads it, so the tracker's articles never pay for it.
    texts: tuple[str, str, str] = ("", "", "en")
    _residual: dict[str, float] | None = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def residual(self) -> dict[str, float]:
        """The headline and lede's content words weighted by rarity (``residual_terms``),
        computed on first read."""
        if self._residual is None:
            object.__setattr__(self, "_residual", residual_terms(*self.texts))
        assert self._residual is not None
        return self._residual


# simplemma's module-level lemmatize keeps 65,536 results; the per-word caches here hold
# a news stream's common words (bounded: a stream of new words does not grow the process).
_LEMMATIZER = simplemma.Lemmatizer(cache_max_size=0)
_WORD_CACHE_SIZE = 2048
# Every headline and lede token asks for its lemma (a miss costs about 8 µs in simplemma):
# 2,048 missed 40% of the cost bench's lookups, 8,192 missed 18% (all but the words new to
# the stream), for about 270 bytes an entry, 2.2 MB a process when full.
_LEMMA_CACHE_SIZE = 8192


@functools.lru_cache(maxsize=_LEMMA_CACHE_SIZE)
def _lemma(word: str, lang: str) -> str:
    return _LEMMATIZER.lemmatize(word, lang).casefold()


@functools.cache
def _frequencies(lang: str) -> dict[str, float]:
    # wordfreq's "small" list (about 30,000 words, 3 MB a language): a word missing from it
    # is rare anyway, and looking words up in it directly keeps no per-word cache, which
    # over a long stream of new words would grow (zipf_frequency caches 100,000 of them).
    return dict(get_frequency_dict(lang, wordlist="small"))


def _zipf(word: str, lang: str) -> float:
    freq = _frequencies(lang).get(word, 0.0)
    return math.log10(freq) + 9.0 if freq > 0 else 0.0


def _rarity(word: str, lang: str) -> float:
    return max(1.0, 8.0 - _zipf(word, lang))


@functools.lru_cache(maxsize=_WORD_CACHE_SIZE)
def _stem_and_rarity(word: str, lang: str) -> tuple[str, float]:
    """A lower-cased token's residual stem (as ``content_words`` cuts it) and rarity."""
    return anyascii(word).lower()[:5], _rarity(word, lang)


class _Tokens:
    """A text's tokens (``tokenize``'s, as texts and offsets) with what every step asks of
    each (lower case, word, capitalised) computed once."""

    __slots__ = ("texts", "starts", "ends", "lows", "words", "caps", "titled")

    def __init__(self, texts: list[str], starts: list[int], ends: list[int]) -> None:
        self.texts, self.starts, self.ends = texts, starts, ends
        self.lows = [t.lower() for t in texts]
        self.words = [t[:1].isalpha() for t in texts]
        self.caps = [t[:1].isupper() for t in texts]
        long_words = [
            c for t, w, c in zip(texts, self.words, self.caps, strict=True) if w and len(t) > 3
        ]
        self.titled = bool(long_words) and sum(long_words) >= 0.7 * len(long_words)

    @classmethod
    def of(cls, tokens: list[Token]) -> _Tokens:
        return cls([t.text for t in tokens], [t.start for t in tokens], [t.end for t in tokens])

    @classmethod
    def tokenize(cls, text: str) -> _Tokens:
        """``_Tokens.of(tokenize(text))`` without a ``Token`` per token (the tracker
        tokenizes every headline and lede): the same regex, and ``tokenize`` itself for
        the few tokens with an apostrophe it may split ("Russia's", "d'Haneda")."""
        texts: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        for m in _TOKEN.finditer(text):
            word, start = m.group(0), m.start()
            if "'" in word or "’" in word:
                for t in tokenize(word):
                    texts.append(t.text)
                    starts.append(start + t.start)
                    ends.append(start + t.end)
            else:
                texts.append(word)
                starts.append(start)
                ends.append(m.end())
        return cls(texts, starts, ends)


def _lang(code: str, text: str) -> str:
    """The article's language for the lemma and frequency lists: its code, else what its
    script says, else py3langid's guess among ``_GUESSED_LANGS`` (English for a text of
    under three words). With their codes removed, it tells 2,238 of the 2,239 labeled
    items in those languages, in about 37 µs.

    >>> _lang("", "EU's von der Leyen compares Orban defeat to Hungary's uprising")
    'en'
    >>> _lang("", "Drohende Einsturzgefahr: Dutzende englische Schulen geschlossen")
    'de'
    >>> _lang("pt-BR", "anything")
    'pt'
    """
    base = (code or "").split("-")[0].lower()
    if base:
        return base if base in _LEMMA_LANGS else "en"
    if any("\u0400" <= ch <= "\u04ff" for ch in text):
        return "uk" if any(ch in "іїєґІЇЄҐ" for ch in text) else "ru"
    return detect_language(text, languages=_GUESSED_LANGS)


_ARABIC_CHAR = re.compile("[\u0600-\u06ff]")


def language_of(code: str, detected: str, text: str) -> str:
    """The article's language as far as word comparison goes: the feed's code, else the
    script (Chinese/Japanese, Arabic), else ``detected`` (``_lang``, English by default).

    >>> language_of("de-DE", "en", "Das Beben")
    'de'
    >>> language_of("", "en", "摩洛哥地震")
    'zh'
    >>> language_of("", "fr", "Au Maroc, le séisme")
    'fr'
    """
    base = (code or "").split("-")[0].lower()
    if base:
        return base
    if _CJK_CHAR.search(text):
        return "zh"
    if _ARABIC_CHAR.search(text):
        return "ar"
    return detected


def lede(summary: str, *, max_chars: int = 300) -> str:
    """The summary's first sentence (at most ``max_chars``)."""
    head = summary[:max_chars]
    for stop in (". ", "? ", "! ", "。"):
        if stop in head:
            head = head.split(stop, 1)[0]
    return head


def action_of(
    texts: Iterable[str], lang: str, tokens: Iterable[list[Token]] | None = None
) -> str | None:
    """The first ``ACTIONS`` class (in their order: the specific speech acts first, so
    "sparks fury as billionaire admits" admits) named in the first text that names one
    (``tokens``: each text's ``tokenize``, when the caller has them)."""
    texts = list(texts)
    token_lists = list(tokens) if tokens is not None else [tokenize(t) for t in texts]
    return _action_in(texts, [_Tokens.of(toks) for toks in token_lists], lang)


# The CJK forms of each class, for the substring test.
_CJK_FORMS = {
    name: tuple(f for f in forms if _CJK_CHAR.match(f)) for name, (_, forms) in ACTIONS.items()
}


def _action_in(texts: list[str], token_views: list[_Tokens], lang: str) -> str | None:
    for text, view in zip(texts, token_views, strict=True):
        if _CJK_CHAR.search(text):
            for name, cjk_forms in _CJK_FORMS.items():
                if any(f in text for f in cjk_forms):
                    return name
        # Every form has three letters or more, and no function word names an action.
        # Names (capitalised inside the sentence) name no action either.
        titled = view.titled
        lemmas = [
            _lemma(low, lang)
            for i, (t, low, word, cap) in enumerate(
                zip(view.texts, view.lows, view.words, view.caps, strict=True)
            )
            if word and len(t) > 2 and low not in NOT_NAMES and (i == 0 or titled or not cap)
        ]
        found = set(lemmas) | {f"{a} {b}" for a, b in zip(lemmas, lemmas[1:], strict=False)}
        for name, (_, forms) in ACTIONS.items():  # the most specific class named wins
            if not forms.isdisjoint(found):
                return name
    return None


def names_in(
    text: str, lang: str = "en", tokens: list[Token] | None = None
) -> list[tuple[str, int, int]]:
    """Capitalised name runs (name, start, end) of a sentence, its first word excepted
    unless the run goes on ("Vivek Ramaswamy quits"); titles, articles, demonyms and
    capitalised common words are not names."""
    return _names(text, lang, _Tokens.tokenize(text) if tokens is None else _Tokens.of(tokens))


def _names(text: str, lang: str, view: _Tokens) -> list[tuple[str, int, int]]:
    lows, starts, ends = view.lows, view.starts, view.ends
    named = [w and c for w, c in zip(view.words, view.caps, strict=True)]
    noun_zipf = _NOUN_CAPS.get(lang)
    out, i = [], 0
    n = len(lows)
    while i < n:
        low = lows[i]
        if not named[i] or low in NOT_NAMES or low in MONTHS or low in WEEKDAYS:
            i += 1
            continue
        j = i + 1
        while j < n and named[j]:
            if lows[j] in NOT_NAMES:
                break
            j += 1
        k = i  # the run is the tokens k to j - 1
        while k < j and (
            lows[k] in PERSON_TITLES  # "President Zelensky": the name
            or lows[k] in _ARTICLES
            or (noun_zipf is not None and j - k > 1 and _zipf(lows[k], lang) >= noun_zipf)
        ):
            k += 1
        is_name = j > k
        if j - k == 1:
            word = lows[k]
            if (
                len(word) < 2
                or word.endswith(_DEMONYM_ENDINGS)
                or _zipf(word, lang) >= _COMMON_ZIPF
                or (noun_zipf is not None and _zipf(word, lang) >= noun_zipf)
            ):
                is_name = False
        if is_name and (i > 0 or j - i > 1):
            out.append((text[starts[k] : ends[j - 1]], starts[k], ends[j - 1]))
        i = j
    return out


def signature(match: Match) -> Signature:
    """The development signature of one matched article (see the module docstring)."""
    article = match.article
    first = lede(article.summary)
    title_view, lede_view = _Tokens.tokenize(article.title), _Tokens.tokenize(first)
    lang = _lang(article.language, f"{article.title} {first}")
    actors: dict[str, str] = {}
    covered: dict[str, list[tuple[int, int]]] = {"title": [], "summary": []}
    for e in match.evidence:
        if e.field in covered and (e.field == "title" or e.start < len(first)):
            if e.text[:1].isupper() or not e.text[:1].isascii():
                # The catalogue's spelling reads better than a lower-cased headline's.
                actors.setdefault(f"entity:{e.ref}", e.alias if e.kind == "exact" else e.text)
                covered[e.field].append((e.start, e.end))
    seen = [normalise_name(name) for name in actors.values()]
    in_title = {f"entity:{e.ref}" for e in match.evidence if e.field == "title"} & actors.keys()
    for field, text, view in (
        ("title", article.title, title_view),
        ("summary", first, lede_view),
    ):
        if field == "title" and view.titled:
            names: list[tuple[str, int, int]] = []
        else:
            names = _names(text, lang, view)
        for name, start, end in names:
            if any(s < end and start < e for s, e in covered[field]):
                continue
            key = normalise_name(name)
            # One actor, however many of its spellings: "Government Efficiency" is the
            # "Department of Government Efficiency" already named.
            if key and not any(key in other or other in key for other in seen):
                actors[f"name:{key}"] = name
                seen.append(key)
                if field == "title":
                    in_title.add(f"name:{key}")
        for low in view.lows:
            if low in ROLE_WORDS:
                role = f"role:{_lemma(low, lang)}"
                actors.setdefault(role, low)
                if field == "title":
                    in_title.add(role)
    return Signature(
        actors,
        _action_in([article.title, first], [title_view, lede_view], lang),
        article.published_at,
        article.published_precision,
        frozenset(in_title),
        language_of(article.language, lang, f"{article.title} {first}"),
        (article.title, first, lang),
    )


def residual_terms(title: str, first: str, lang: str) -> dict[str, float]:
    """Content words of a headline and lede as the tracker compares them (five-letter
    stems, ``content_words``), each as rare as the rarest word it stems from (in ``lang``,
    the signature's lemma language): ``Signature.residual``.

    >>> sorted(residual_terms("Musk Starlink sanctions Kiriyenko", "", "en"))
    ['kiriy', 'musk', 'sanct', 'starl']
    """
    stems = content_words(f"{title} {first}")
    residual: dict[str, float] = {}
    for text in (title, first):
        for t in tokenize(text):
            if len(t.text) > 2:
                stem, rarity = _stem_and_rarity(t.text.lower(), lang)
                if stem in stems:
                    residual[stem] = max(residual.get(stem, 0.0), rarity)
    for stem in stems - residual.keys():  # a word the tokens split differently
        residual[stem] = _rarity(stem, lang)
    return residual


def residual_similarity(a: dict[str, float], b: dict[str, float]) -> float:
    """Rarity-weighted Jaccard of two residual term sets (0..1)."""
    if not a or not b:
        return 0.0
    both = sum(min(a[w], b[w]) for w in a.keys() & b.keys())
    return both / (sum(a.values()) + sum(b.values()) - both)


def action_label(action: str | None) -> str:
    return ACTIONS[action][0] if action in ACTIONS else ""


def _ago(hours: float) -> str:
    if abs(hours) < 1:
        span = f"{abs(hours) * 60:.0f} min"
    elif abs(hours) < 48:
        span = f"{abs(hours):.0f} h"
    else:
        span = f"{abs(hours) / 24:.0f} days"
    return f"{span} earlier" if hours >= 0 else f"{span} later"


def why_new_sentence(
    sig: Signature,
    *,
    known_actors: Iterable[str],
    nearest_title: str | None,
    nearest_action: str | None = None,
    hours_since_nearest: float | None = None,
    similarity: float | None = None,
    answer: bool = False,
    horizon_days: float = 30,
    same_outlet: str = "",
) -> str:
    """The "why new" line of an alert: what it adds, and the nearest known development
    (``same_outlet``: the outlet of both, when the nearest is that outlet's report too).

    >>> import datetime as dt
    >>> s = Signature({"name:carr": "Brendan Carr", "entity:musk": "Musk"}, "investigation",
    ...               dt.datetime(2024, 10, 25, tzinfo=dt.timezone.utc))
    >>> print(why_new_sentence(s, known_actors={"entity:musk"}, nearest_title="Musk in talks "
    ...       "with Putin, WSJ reports", hours_since_nearest=2.2, similarity=0.31))  # doctest: +NORMALIZE_WHITESPACE
    new actor: Brendan Carr; new action: calls for an investigation; nearest known
    development: Musk in talks with Putin, WSJ reports, 2 h earlier, similarity 0.31
    >>> print(why_new_sentence(s, known_actors={"entity:musk", "name:carr"},
    ...       nearest_title="Musk in talks with Putin", nearest_action="investigation",
    ...       hours_since_nearest=1, same_outlet="Reuters"))  # doctest: +NORMALIZE_WHITESPACE
    another report from Reuters, which reported the nearest known development too;
    nearest known development: Musk in talks with Putin, 1 h earlier
    """
    # A set or a dict's keys (the tracker's: every actor of the storyline) is looked in as
    # it is; copying it would cost more than the sentence.
    known = known_actors if isinstance(known_actors, Set) else set(known_actors)
    parts = []
    fresh = [name for key, name in sig.actors.items() if key not in known]
    if fresh:
        parts.append(f"new actor{'s' if len(fresh) > 1 else ''}: {', '.join(fresh[:3])}")
    if sig.action and sig.action != nearest_action:
        parts.append(f"new action: {action_label(sig.action)}")
    if answer:
        parts.append("an answer (denial or admission) to the story")
    if same_outlet and nearest_title is not None:
        parts.append(
            f"another report from {same_outlet}, which reported the nearest known development too"
        )
    if nearest_title is None:
        parts.append(f"no other development of this story in the last {horizon_days:g} days")
    else:
        title = nearest_title if len(nearest_title) <= 90 else nearest_title[:89] + "…"
        near = f"nearest known development: {title}"
        if hours_since_nearest is not None:
            near += f", {_ago(hours_since_nearest)}"
        if similarity is not None:
            near += f", similarity {similarity:.2f}"
        parts.append(near)
    return "; ".join(parts)
