"""Headline text for the storyline tracker: cleaning, near-copies, answers, negation.

- ``headline_key``: the headline folded to ASCII, lower case, without wire prefixes
  (``UPDATE 2-``) or outlet suffixes (`` - Reuters``): what near-copy similarity compares.
- ``near_copies``: the kept headlines a new one nearly copies (rapidfuzz
  ``token_set_ratio``; ``token_sort_ratio`` when either headline has under four words,
  so a two-word headline is not a "subset" of every other); an upper bound of the score
  from per-headline character and word counts (kept for 1,024 headlines) spares rapidfuzz
  the pairs that cannot reach the threshold, so the result is the same as scoring all.
- ``content_words`` and ``word_overlap``: the same-event measure (Jaccard overlap of
  five-letter stems of title + summary, stop words and CJK text dropped).
- ``responds``: the headline answers a report (a denial or an admission).
- ``contradicts``: two near-identical headlines that say opposite things (negation,
  reversal, answer), so the newer one is news rather than a copy.

Pure functions; docs/storylines.md says how the measures and thresholds were chosen.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Sequence

import numpy as np
from anyascii import anyascii
from rapidfuzz import fuzz, process

_WIRE_PREFIX = re.compile(
    r"^\s*(?:(?:update|refile|corrected|exclusive|wrapup|analysis|factbox|breaking|live|"
    r"instant view|explainer|insight|rpt|urgent)\b[\s\d-]*[-:|]\s*)+",
    re.IGNORECASE,
)
_OUTLET_SUFFIX = re.compile(r"\s+[-|–—]\s+[^-|–—]{2,40}$")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_STOPWORDS = frozenset(
    "a an the of to in on for and or with by at from as is are was were be been it its that this after over "
    "says say said about into than but not will would has have had he his her their they you we our new how "
    "what who why can could more up out no yes all one two first last us".split()
)
_WORD = re.compile(r"[a-z0-9]+")
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]+")
_NEGATION = re.compile(
    r"\b(?:not|no|never|cannot|nor|(?:can|won|don|doesn|didn|isn|aren|wasn|weren|hasn|haven|hadn|shouldn|"
    r"wouldn|couldn) t)\b"
)
_REVERSAL = re.compile(
    r"\b(?:backtrack(?:s|ed|ing)?|revers(?:es|ed|ing|al)|u turn(?:s|ed)?|walk(?:s|ed|ing)? back|"
    r"retract(?:s|ed|ing)?|rescind(?:s|ed|ing)?|about face|flip flop(?:s|ped)?)\b"
)
# Someone answering an earlier report: a denial or an admission. English, and the
# German/French/Spanish/Russian verbs of denial (ASCII-folded, as in headline_key).
# "Confirms" is not one: "Musk confirms USAID is getting the boot" is the event itself.
_RESPONSE = re.compile(
    r"\b(?:den(?:y|ies|ied|ying|ial)|false|untrue|fake news|refut(?:es|ed|ing)?|rebut(?:s|ted)?|"
    r"hits? back|acknowledg(?:es|ed|ing)|admit(?:s|ted)?|dementi\w*|bestreit\w*|dement|desmient\w*|"
    r"nieg(?:a|an)|oproverg\w*|neprav\w*)\b"
)


# Headlines that explain, review or show an event rather than report one: a question, an
# explainer, a profile, a press review, live pages, pictures, a recap. English, German,
# French, Spanish (ASCII-folded, apostrophes as spaces, as in headline_key).
_NOT_AN_EVENT = re.compile(
    r"(?:^|: )(?:how|why|what|who|when|where|which|is|are|can|could|will|would|should|does|do)\b"
    r"|\?"
    r"|\b(?:analysis|explainer|explained|profile|in (?:pictures|pics|maps|numbers|charts|"
    r"graphics|quotes|\d+ seconds)|timeline|live|watch|video|the papers|podcasts?|opinion|"
    r"editorial|what we know|key facts|newsletter|brief history|what it means|means for you|"
    r"recap|round ?up|factbox|tracker|wer ist|was wir wissen|analyse|kommentar|hintergrund|"
    r"chronologie|bilder|liveticker|qui est|ce que l on sait|decryptage|en images|en direct|"
    r"pourquoi|quien es|que sabemos|analisis|claves|en imagenes|cronologia|en directo|"
    r"por que)\b"
)


def not_an_event(title: str) -> bool:
    """Whether a headline explains, reviews or shows an event instead of reporting one.

    Such pieces are coverage of the development they are about, not developments.

    >>> not_an_event("How did Daniel Khalife escape prison?")
    True
    >>> not_an_event("Great escapes: a brief history of Britain's most daring prison breaks")
    True
    >>> not_an_event("Qui est Daniel Khalife, le détenu évadé")
    True
    >>> not_an_event("Musk's DOGE exit: what he promised and what he delivered")
    True
    >>> not_an_event("Police arrest escaped prisoner Daniel Khalife in west London")
    False
    """
    folded = anyascii(title).lower().replace("'", " ")
    return bool(_NOT_AN_EVENT.search(_NON_WORD_BUT_MARKS.sub(" ", folded)))


_NON_WORD_BUT_MARKS = re.compile(r"[^a-z0-9?&:]+")


def headline_key(title: str) -> str:
    """The normalised headline used for similarity.

    >>> headline_key("UPDATE 2-Musk's Starlink wins Pentagon deal - Reuters")
    'musk s starlink wins pentagon deal'
    >>> headline_key("EXCLUSIVE: Путин и Маск")
    'putin i mask'
    """
    text = _WIRE_PREFIX.sub("", title)
    text = _OUTLET_SUFFIX.sub("", text)
    return _NON_WORD.sub(" ", anyascii(text).lower()).strip()


def content_words(text: str) -> frozenset[str]:
    """The content words of a text, folded to ASCII and cut to five letters (a cheap stem).

    Chinese, Japanese and Korean characters are dropped: anyascii runs them together into
    one pinyin "word" per phrase, which never matches anything, while Latin words inside
    them (``SpaceX``) still count.

    >>> sorted(content_words("Pentagon buys Musk's Starlink for Ukraine"))
    ['buys', 'musk', 'penta', 'starl', 'ukrai']
    >>> sorted(content_words("美議員指SpaceX未在台灣提供星鏈服務"))
    ['space']
    """
    text = _CJK.sub(" ", text)
    return frozenset(
        w[:5] for w in _WORD.findall(anyascii(text).lower()) if len(w) > 2 and w not in _STOPWORDS
    )


def word_overlap(
    a: frozenset[str], b: frozenset[str], *, ignore: frozenset[str] = frozenset()
) -> float:
    """Jaccard overlap of two content-word sets, in 0..100, leaving out ``ignore`` (words
    ``a`` had, already taken out of it) from ``b``.

    >>> round(word_overlap(frozenset({"iran", "block"}), frozenset({"iran", "talks"})), 1)
    33.3
    >>> word_overlap(frozenset({"block"}), frozenset({"iran", "talks"}), ignore=frozenset({"iran"}))
    0.0
    """
    size_b = len(b) - len(b & ignore) if ignore else len(b)
    if not a or not size_b:
        return 0.0
    both = len(a & b)  # |a | b| from the sizes: no union set built (hot with 200 developments)
    return 100.0 * both / (len(a) + size_b - both)


def responds(key: str) -> bool:
    """Whether a ``headline_key`` announces a denial or an admission (an answer to a report).

    >>> responds(headline_key("Kremlin denies report of regular Musk-Putin contacts"))
    True
    >>> responds(headline_key("Musk says report US could cut Starlink is 'false'"))
    True
    >>> responds(headline_key("Песков опроверг сообщения о контактах Путина и Маска"))
    True
    >>> responds(headline_key("Ukraine says Russian forces use Starlink"))
    False
    """
    return bool(_RESPONSE.search(key))


def contradicts(new_key: str, old_key: str) -> bool:
    """Whether a headline says the opposite of a near-identical earlier one.

    Two ``headline_key`` strings in nearly the same words contradict when one is
    negated and the other is not (an odd number of negations on one side only), or when
    the newer one announces a reversal (``backtracks``, ``u-turn``, ``walks back``) or a
    denial or admission (``responds``) the older one does not ("Kremlin denies Musk has
    been in regular contact with Putin" holds every word of the report it denies). Such
    a pair is news, not a syndicated copy. A later report of the
    reversal without the reversal word agrees with the reversal headline (same polarity),
    so it still joins that development.

    >>> contradicts(headline_key("Musk backtracks, says SpaceX will keep funding Starlink"),
    ...             headline_key("Musk says SpaceX cannot keep funding Starlink"))
    True
    >>> contradicts(headline_key("Musk says he will not turn off Starlink"),
    ...             headline_key("Musk says he will turn off Starlink"))
    True
    >>> contradicts(headline_key("UPDATE 1-Musk won't let Starlink run Ukraine's drones"),
    ...             headline_key("Musk won’t let Starlink run Ukraine drones - Reuters"))
    False
    >>> contradicts(headline_key("Kremlin denies Musk has been in regular contact with Putin"),
    ...             headline_key("Musk has been in regular contact with Putin, WSJ says"))
    True
    """
    if len(_NEGATION.findall(new_key)) % 2 != len(_NEGATION.findall(old_key)) % 2:
        return True
    if responds(new_key) and not responds(old_key):
        return True
    return bool(_REVERSAL.search(new_key)) and not _REVERSAL.search(old_key)


# Near-copy screening: an upper bound of each pair's score from per-headline counts
# (numpy, one pass over all kept headlines), so rapidfuzz scores only the pairs that can
# reach the threshold. A kept headline's counts are computed once (``_PROFILES``).
_BINS = 64  # code points and words folded into 64 and 128 bins: lumping only loosens
_WORD_BINS = 128
# A headline's profile: bytes of these columns (counts up to 255, lengths in two bytes).
_SET_CHARS = slice(0, _BINS)  # characters of its distinct words joined by spaces
_SORT_CHARS = slice(_BINS, 2 * _BINS)  # characters of all its words joined by spaces
_WORDS = slice(2 * _BINS, 2 * _BINS + _WORD_BINS)  # (length + 1) of its distinct words
_SET_LEN, _SORT_LEN = 2 * _BINS + _WORD_BINS, 2 * _BINS + _WORD_BINS + 2
_SHORT, _UNBOUNDED = _SORT_LEN + 2, _SORT_LEN + 3  # under four words; no bound: scored
_WIDTH = _UNBOUNDED + 1


def _word_bin(word: str) -> int:
    return hash(word) % _WORD_BINS


def _profile(key: str) -> bytes:
    """A headline's counts for ``_may_reach`` (``_WIDTH`` bytes)."""
    row = bytearray(_WIDTH)
    words = key.split()
    distinct = list(dict.fromkeys(words))
    set_text = " ".join(distinct)
    sort_text = set_text if len(distinct) == len(words) else " ".join(words)
    # rapidfuzz splits on the whitespace str.split() knows; a printable string has only
    # the space, so both split it alike.
    if not words or not key.isprintable() or len(sort_text) > 65535:
        return _UNBOUNDED_ROW
    try:  # a count over 255 does not fit a byte: no bound for that headline
        for char in set_text:
            row[ord(char) & (_BINS - 1)] += 1
        if sort_text is set_text:
            row[_SORT_CHARS] = row[_SET_CHARS]
        else:
            for char in sort_text:
                row[_BINS + (ord(char) & (_BINS - 1))] += 1
        for word in distinct:
            row[_WORDS.start + _word_bin(word)] += len(word) + 1
    except ValueError:
        return _UNBOUNDED_ROW
    row[_SET_LEN], row[_SET_LEN + 1] = divmod(len(set_text), 256)
    row[_SORT_LEN], row[_SORT_LEN + 1] = divmod(len(sort_text), 256)
    row[_SHORT] = key.count(" ") < 3
    return bytes(row)


_UNBOUNDED_ROW = bytes(_UNBOUNDED) + b"\x01"

# The profiles of the last 1,024 headlines seen (a storyline's live ones several times
# over; 262 bytes each, about 0.5 MB with the keys): read in one C pass per call, which
# an lru_cache's per-key call is not (half of the bound's cost with 250 kept
# headlines). Full, the oldest goes first; a worker holding more live headlines
# rebuilds some per call (about 10 µs a headline; rapidfuzz takes about 2.5 µs a pair).
_PROFILES: dict[str, bytes] = {}
_PROFILES_KEPT = 1024
_PROFILES_LOCK = threading.Lock()


def _profiles(keys: list[str]) -> bytes:
    """The ``_profile`` of each key, concatenated."""
    try:
        return b"".join(map(_PROFILES.__getitem__, keys))
    except KeyError:
        pass
    rows = []
    with _PROFILES_LOCK:  # Beam may run several bundles in threads of one process
        for key in keys:
            row = _PROFILES.get(key)
            if row is None:
                row = _PROFILES[key] = _profile(key)
                if len(_PROFILES) > _PROFILES_KEPT:
                    del _PROFILES[next(iter(_PROFILES))]
            rows.append(row)
    return b"".join(rows)


# The same bytes as named fields (no copy): the lengths and flags of every row as columns.
_FIELDS = np.dtype(
    [
        ("chars", np.uint8, 2 * _BINS),
        ("words", np.uint8, _WORD_BINS),
        ("set_len", ">u2"),
        ("sort_len", ">u2"),
        ("short", np.uint8),
        ("unbounded", np.uint8),
    ]
)
assert _FIELDS.itemsize == _WIDTH


def _length(query: np.ndarray, at: int) -> int:
    return int(query[at]) * 256 + int(query[at + 1])


def _may_reach(key: str, keys: list[str], threshold: float) -> np.ndarray:
    """Indices of ``keys`` whose score with ``key`` (as ``near_copies`` scores) can reach
    ``threshold``: an upper bound of rapidfuzz's ratio over the pair's strings,
    200 * shared characters / total length (shared characters counted per bin), and of
    token_set_ratio's intersection ratios, 200 * s / (s + shorter length) with s the
    length of the joined shared words (counted per word bin, so at least s)."""
    query = np.frombuffer(_profiles([key]), np.uint8)
    if query[_UNBOUNDED] or not threshold > 0:
        return np.arange(len(keys))
    joined = _profiles(keys)
    rows = np.frombuffer(joined, np.uint8).reshape(len(keys), _WIDTH)
    fields = np.frombuffer(joined, _FIELDS)
    if query[_SHORT]:  # token_sort_ratio for every pair
        bound = _sort_bound(rows, fields["sort_len"], query)
    else:  # token_sort_ratio for the few short kept headlines only
        bound = _set_bound(rows, fields["set_len"], query)
        short = fields["short"].nonzero()[0]
        if len(short):
            bound[short] = _sort_bound(rows[short], fields["sort_len"][short], query)
    return ((bound + 1e-6 >= threshold) | (fields["unbounded"] > 0)).nonzero()[0]


def _bin_sums(rows: np.ndarray, query: np.ndarray, *parts: np.ndarray) -> np.ndarray:
    """For each part (columns of a profile), each row's sum over those columns of
    min(row, query): only the columns the query has (a zero there adds nothing), summed
    by one float32 product (counts under 2**24 add exactly)."""
    cols = np.concatenate(parts)
    which = np.zeros((len(cols), len(parts)), np.float32)
    start = 0
    for j, part in enumerate(parts):
        which[start : start + len(part), j] = 1
        start += len(part)
    both = np.minimum(rows[:, cols], query[cols]).astype(np.float32)
    return np.asarray(both @ which, np.int64)


def _sort_bound(rows: np.ndarray, sort_len: np.ndarray, query: np.ndarray) -> np.ndarray:
    """token_sort_ratio (either has under four words): the ratio of the sorted words."""
    total = sort_len.astype(np.int64) + _length(query, _SORT_LEN)
    shared = _bin_sums(rows, query, _SORT_CHARS.start + query[_SORT_CHARS].nonzero()[0])[:, 0]
    return 200.0 * shared / np.maximum(total, 1)


def _set_bound(rows: np.ndarray, set_len: np.ndarray, query: np.ndarray) -> np.ndarray:
    """token_set_ratio: the ratio of (shared + own words), or shared against either side."""
    set_len, q_set = set_len.astype(np.int64), _length(query, _SET_LEN)
    sums = _bin_sums(
        rows,
        query,
        query[_SET_CHARS].nonzero()[0],
        _WORDS.start + query[_WORDS].nonzero()[0],
    )
    shared, words = sums[:, 0], sums[:, 1] - 1
    ratio = 200.0 * shared / np.maximum(set_len + q_set, 1)
    shorter = np.minimum(set_len, q_set)
    sect = np.maximum(np.minimum(words, shorter), 0)
    return np.asarray(np.maximum(ratio, 200.0 * sect / np.maximum(sect + shorter, 1)), np.float64)


def near_copies(
    key: str, groups: Sequence[Sequence[str]], threshold: float
) -> list[tuple[float, int, str]]:
    """(similarity, group index, kept headline) of every kept headline scoring >= threshold.

    ``groups`` are the kept ``headline_key`` strings of each development. Similarity is
    0..100. Best first (ties: the lower group index first), from one C pass over the
    kept headlines whose score bound (``_may_reach``) reaches the threshold.

    >>> near_copies("elon musk", [["elon musk meets putin in secret talks"]], 60)
    []
    >>> near_copies("pentagon buys starlink", [["x y"], ["pentagon buys starlink"]], 85)
    [(100.0, 1, 'pentagon buys starlink')]
    """
    every = list(itertools.chain.from_iterable(groups))
    if not every or not key:
        return []
    picked = _may_reach(key, every, threshold)
    if not len(picked):
        return []
    keys = [every[i] for i in picked]
    # score_cutoff: pairs below it score 0 and are cut short; only hits are returned.
    scores = process.cdist(
        [key],
        keys,
        scorer=fuzz.token_set_ratio,
        dtype=np.float64,
        workers=1,
        score_cutoff=threshold,
    )[0]
    short = (
        np.arange(len(keys))
        if key.count(" ") < 3
        else np.flatnonzero(np.fromiter((k.count(" ") < 3 for k in keys), bool, len(keys)))
    )
    if len(short):
        scores[short] = process.cdist(
            [key],
            [keys[i] for i in short],
            scorer=fuzz.token_sort_ratio,
            dtype=np.float64,
            workers=1,
            score_cutoff=threshold,
        )[0]
    hits = np.flatnonzero(scores >= threshold)
    if not len(hits):
        return []
    ends = np.cumsum([len(g) for g in groups])
    owners = np.searchsorted(ends, picked[hits], side="right")
    return sorted(
        ((float(scores[j]), int(o), keys[j]) for j, o in zip(hits, owners, strict=True)),
        key=lambda h: (-h[0], h[1]),
    )
