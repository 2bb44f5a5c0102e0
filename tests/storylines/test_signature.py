"""Development signatures (actors, action, residual terms) and the "why new" sentence."""

from __future__ import annotations

import dataclasses
import json

import pytest

from pipeline.config.subscribers import EmailChannel, SmtpServer
from pipeline.deliver.email import EmailSender
from pipeline.deliver.slack import alert_blocks
from pipeline.jsonl_io import article_from_json
from pipeline.match.matcher import Matcher
from pipeline.records import Evidence, Match
from pipeline.storylines.decision import FEATURES, shipped_model
from pipeline.storylines.evaluate import alerts_for, load_labeled
from pipeline.storylines.signature import action_of, names_in, residual_similarity, signature
from pipeline.storylines.tracker import NEW_DEVELOPMENT, StorylineTracker
from tests.deliver_support import make_alert
from tests.paths import LABELED, ROOT, WATCHLISTS

GOLDEN = ROOT / "tests" / "golden" / "replay" / "seeds_feeds_alerts.jsonl"


def _match(title: str, summary: str = "", *, when="2024-10-25T09:00:00Z", evidence=(), **extra):
    article = article_from_json(
        {"id": title[:20], "title": title, "summary": summary, "published": when, **extra}
    )
    return Match(article, "s", 1.0, tuple(evidence))


@pytest.mark.parametrize(
    ("text", "lang", "action"),
    [
        ("Senators demanding a probe of SpaceX", "en", "investigation"),
        ("Lawmakers urge Pentagon to act on Musk", "en", "demand"),
        ("Grüne fordern Aufklärung über Musks Gespräche", "de", "demand"),
        ("Le Kremlin dément tout contact régulier", "fr", "denial"),
        ("Un juez bloquea el acceso del DOGE", "es", "restriction"),
        ("Депутаты требуют расследования", "ru", "investigation"),
        ("马斯克否认与普京通话", "en", "denial"),
        ("Elon Musk sparks fury as billionaire admits scuppering attack", "en", "admission"),
        ("Musk's rocket lifts off", "en", None),
    ],
)
def test_action_class_is_lemmatised_in_the_articles_language(text, lang, action):
    assert action_of([text], lang) == action


def test_names_are_capitalised_runs_not_sentence_starts_titles_or_demonyms():
    names = [
        n
        for n, _, _ in names_in(
            "Critics say Ukrainian officials and President Volodymyr "
            "Zelensky met FCC chair Brendan Carr"
        )
    ]
    assert names == ["Volodymyr Zelensky", "FCC", "Brendan Carr"]
    assert names_in("Ukrainian") == [] and names_in("Said Musk") == [("Said Musk", 0, 9)]


def test_signature_actors_use_the_catalogue_key_so_scripts_meet_and_roles_count():
    latin = _match(
        "Kremlin says Putin never spoke to Musk",
        evidence=[Evidence("vladimir-putin", "Putin", "title", 13, 18, "Putin", "exact")],
    )
    cyrillic = _match(
        "Песков: Путин не говорил с Маском",
        evidence=[Evidence("vladimir-putin", "Путин", "title", 8, 13, "Путин", "transliterated")],
    )
    assert "entity:vladimir-putin" in signature(latin).actors
    assert "entity:vladimir-putin" in signature(cyrillic).actors
    # A title-cased headline gives no names by capitals; the lede does, and roles count.
    sig = signature(
        _match(
            "Lawmakers Demand Probe Of Musk Contacts",
            "Senator Jeanne Shaheen asked the Pentagon on Friday.",
        )
    )
    assert {"role:lawmaker", "name:jeanne shaheen", "name:pentagon"} <= set(sig.actors)
    assert "name:demand probe" not in sig.actors and sig.action == "investigation"


def test_residual_similarity_weights_rare_terms_more():
    a = signature(_match("Musk Starlink sanctions Kiriyenko")).residual
    b = signature(_match("Starlink sanctions Kiriyenko meeting")).residual
    c = signature(_match("Starlink said the report")).residual
    assert a["kiriy"] > a["sanct"] and a["starl"] > a["sanct"]  # rarer than "sanctions"
    assert residual_similarity(a, b) > residual_similarity(a, c) >= 0.0


def test_residual_read_late_is_the_one_computed_from_the_articles_own_tokens():
    """``Signature.residual`` is computed on first read, from the texts the signature
    kept: it must be what the headline and lede's tokens give in the article's lemma
    language (German and French here: the wrong language changes the rarities)."""
    from anyascii import anyascii

    from pipeline.seed.cues import tokenize
    from pipeline.storylines import signature as module
    from pipeline.storylines.headlines import content_words

    items = load_labeled(ROOT / "tests" / "data" / "labeled" / "stream_tune.jsonl")
    seen_languages = set()
    for item in items:
        article = item.article
        sig = signature(Match(article, "s", 1.0, ()))
        first = module.lede(article.summary)
        title_tokens, lede_tokens = tokenize(article.title), tokenize(first)
        lang = module._lang(article.language, f"{article.title} {first}")
        stems = content_words(f"{article.title} {first}")
        expected: dict[str, float] = {}
        for t in [*title_tokens, *lede_tokens]:
            stem = anyascii(t.text.lower()).lower()[:5]
            if len(t.text) > 2 and stem in stems:
                rarity = module._rarity(t.text.lower(), lang)
                expected[stem] = max(expected.get(stem, 0.0), rarity)
        for stem in stems - expected.keys():
            expected[stem] = module._rarity(stem, lang)
        assert sig.residual == expected, article.title
        seen_languages.add(lang)
    assert {"en", "de", "fr"} <= seen_languages


def test_why_new_names_the_new_actor_action_and_the_nearest_development():
    t = StorylineTracker()
    first = _match(
        "Elon Musk in secret talks with Vladimir Putin, report says",
        when="2024-10-25T07:00:00Z",
        evidence=[Evidence("elon-musk", "Elon Musk", "title", 0, 9, "Elon Musk", "exact")],
    )
    later = _match(
        "Senators call for an investigation into SpaceX chief",
        "Senator Jeanne Shaheen said the Pentagon must review the contacts.",
        when="2024-10-25T09:00:00Z",
        evidence=[Evidence("elon-musk", "Elon Musk", "summary", 0, 0, "Elon Musk", "exact")],
    )
    (e1,) = t.observe(first)
    (e2,) = t.observe(later)
    assert e1.kind == e2.kind == NEW_DEVELOPMENT
    assert e1.reason.endswith("no other development of this story in the last 30 days")
    assert e2.reason.startswith(
        "new actors: SpaceX, senators, Jeanne Shaheen; "
        "new action: calls for an investigation; nearest known "
        "development: Elon Musk in secret talks with Vladimir Putin, "
        "report says, 2 h earlier, similarity"
    )
    assert "overlap" not in e2.reason and "%" not in e2.reason


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher.from_dir(WATCHLISTS)


def test_every_new_development_alert_of_dev_and_the_golden_replay_says_why_it_is_new(matcher):
    items = load_labeled(LABELED)
    alerts = alerts_for([i.article for i in items], matcher.match)
    golden = [json.loads(line) for line in GOLDEN.read_text().splitlines()]
    new = [a.why_new for a in alerts if a.kind == NEW_DEVELOPMENT]
    new += [a["why_new"] for a in golden if a["kind"] == NEW_DEVELOPMENT]
    assert len(new) == 20 + 12 and all(w.strip() for w in new)  # dev.jsonl 20, golden 12
    assert not any("content-word" in w or "%" in w for w in new)
    assert all(not a.why_new for a in alerts if a.kind != NEW_DEVELOPMENT)


def test_slack_and_email_show_why_it_is_new_once():
    why = "new actor: Brendan Carr; new action: calls for an investigation"
    alert = dataclasses.replace(make_alert(2), why_new=why, reason=why)
    _, blocks = alert_blocks(alert)
    texts = [json.dumps(b, ensure_ascii=False) for b in blocks]
    assert sum("Brendan Carr" in t for t in texts) == 1
    assert "*Why it is new*\\nnew actor: Brendan Carr" in texts[2]
    channel = EmailChannel(
        to=["desk@example.org"],
        from_address="storywatch@example.org",
        smtp=SmtpServer(host="127.0.0.1", port=25, security="none"),
    )
    msg = EmailSender(channel, subscriber="desk").alert_message(alert)
    assert f"Why it is new: {why}" in msg.get_body(("plain",)).get_content()
    assert f"<p>Why it is new: {why}</p>" in msg.get_body(("html",)).get_content()


def test_a_new_headline_actor_doing_another_thing_makes_a_join_less_likely():
    report = _match("Musk held secret talks with Putin, report says", when="2024-10-25T07:00:00Z")
    probe = _match(
        "Senator Warner calls for probe of Musk talks with Putin", when="2024-10-25T09:00:00Z"
    )
    seen: list[list[float]] = []
    t = StorylineTracker(record_features=lambda lead, features: seen.append(features))
    t.observe(report)
    t.observe(probe)
    (features,) = seen
    assert features[FEATURES.index("new actor, other action")] == 1.0
    # The same pair without the new actor doing another thing would be likelier joined: the
    # fitted weight is negative (at 30% shared words the probe is still coverage).
    without = list(features)
    without[FEATURES.index("new actor, other action")] = 0.0
    model = shipped_model()
    assert model.probability(features) < model.probability(without)


def test_per_word_caches_are_bounded():
    """A live stream keeps meeting new words: the lemma and stem caches must not grow
    the process without end."""
    from pipeline.storylines import signature as module

    assert module._lemma.cache_info().maxsize == module._LEMMA_CACHE_SIZE <= 8192
    assert module._stem_and_rarity.cache_info().maxsize == module._WORD_CACHE_SIZE
    signature(_match("Senators demand a probe of SpaceX", "Lawmakers urged regulators to act."))
    assert 0 < module._lemma.cache_info().currsize <= module._LEMMA_CACHE_SIZE


def test_the_tracker_tokens_are_seed_tokenize_ones():
    """signature() tokenizes without a Token per token: the same texts and offsets as
    seed's tokenize for every headline and lede of the labeled files (apostrophes,
    elisions, abbreviations, several scripts)."""
    from pipeline.seed.cues import tokenize
    from pipeline.storylines import signature as module

    texts = ["Russia's d'Haneda l'Alliance U.S. e-mail 3,000.5 ’s O’Neill's !?"]
    for path in sorted((ROOT / "tests" / "data" / "labeled").glob("*.jsonl")):
        if "test3" in path.name:
            continue  # the frozen test part is not read
        with path.open(encoding="utf-8") as f:
            for line in f:
                item = json.loads(line) if line.strip() else {}
                texts += [item.get("title") or "", module.lede(item.get("summary") or "")]
    assert len(texts) > 2000
    for text in texts:
        fast, seed = module._Tokens.tokenize(text), module._Tokens.of(tokenize(text))
        assert (fast.texts, fast.starts, fast.ends) == (seed.texts, seed.starts, seed.ends), text


@pytest.mark.parametrize(
    ("part", "item_id", "language"),
    [
        # English headlines and ledes naming "Ursula von der Leyen" or "Def Con": German's
        # and Spanish's function words in a name must not make them German or Spanish.
        ("stream_tune", "S309", "en"),
        ("stream_tune", "S423", "en"),
        ("stream_test3", "T203", "en"),
    ],
)
def test_the_language_of_an_item_without_a_language_code(part, item_id, language):
    items = {
        i.article.article_id: i.article
        for i in load_labeled(ROOT / "tests" / "data" / "labeled" / f"{part}.jsonl")
    }
    article = items[item_id]
    assert not article.language
    assert signature(Match(article, "s", 1.0, ())).language == language


@pytest.mark.parametrize(
    ("item_id", "language"),
    [
        # German and Spanish naming people ("Rubiales", "Jennifer Hermoso"): English
        # function words out-voting the others must not make them English. No labeled item
        # without a language code is German or Spanish, so these drop their code.
        ("V223", "de"),  # ORF: "Nach Kussskandal: Rubiales kündigt Rücktritt an"
        ("V028", "es"),  # Telecinco: "Luis Rubiales se disculpa por el beso en la boca ..."
        # German and Spanish the function words counted before took for English or French.
        ("V073", "de"),  # "Mehr als hundert Schulgebäude in England mussten ..."
        ("V081", "de"),  # "Drohende Einsturzgefahr Dutzende englische Schulen ..."
        ("V099", "es"),  # "RFEF destituye jorge vilda seleccionador femenino"
        ("V036", "es"),  # "Luis rubiales dimitir" / "El presidente de la Real Federación ..."
    ],
)
def test_the_language_of_a_german_or_spanish_item_without_its_code(item_id, language):
    items = {
        i.article.article_id: i.article
        for i in load_labeled(ROOT / "tests" / "data" / "labeled" / "stream_valid.jsonl")
    }
    article = items[item_id]
    assert article.language == language
    uncoded = dataclasses.replace(article, language="")
    assert signature(Match(uncoded, "s", 1.0, ())).language == language
