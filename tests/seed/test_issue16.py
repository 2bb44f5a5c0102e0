"""Issue 16: seed on articles it has never seen (languages, places, titles, events, reach)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.seed.background import Background
from pipeline.seed.draft import (
    build_draft,
    check_corpus,
    event_required,
    format_check,
    predictions,
    render_draft,
    validate_draft,
)
from pipeline.seed.entities import EntityExtractor
from pipeline.seed.evaluation import (
    entities_alone,
    format_scores,
    manifest,
    probe_article,
    score_article,
)
from pipeline.seed.events import event_terms, own_events, thread_counts, thread_events
from pipeline.seed.gazetteer import is_place
from pipeline.seed.language import detect_language, german_common_noun, stopwords
from pipeline.seed.storylines import Thread, article_keywords, open_event_terms, thread_keywords
from pipeline.seed.text import parse_seed_text, read_seed
from tests.paths import DATA, ROOT, WATCHLISTS

EVAL = DATA / "seed_eval"
REGRESSION = [
    ROOT / "seeds" / "wsj-musk-putin-2024-10-25.txt",
    DATA / "seeds" / "football-transfer.txt",
    DATA / "seeds" / "product-recall.html",
    DATA / "seeds" / "antitrust-fine.txt",
]
TUNING = sorted(k for k, v in manifest(EVAL).items() if v["split"] == "tuning")


# --- language -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, lang",
    [
        ("Los maquinistas de Renfe inician la huelga de tres días", "es"),
        ("La direction annonce un trafic très perturbé lundi", "fr"),
        ("Der Streik der Piloten hat Hunderte Flüge ausfallen lassen", "de"),
        ("Workers at the port began a strike on Thursday", "en"),
        ("Acme", "en"),
    ],
)
def test_language_is_detected(text, lang):
    assert detect_language(text) == lang


def test_function_words_and_german_nouns():
    assert {"una", "los", "del"} <= stopwords("es") and "die" in stopwords("de")
    assert stopwords("xx") == frozenset()
    for noun in ("Flüge", "Gewerkschaft", "Ausfälle", "Piloten"):
        assert german_common_noun(noun), noun
    for name in ("Lufthansa", "München", "Fraport", "VC-Präsident"):
        assert not german_common_noun(name), name


def test_sentence_initial_function_words_are_not_names(background):
    names = {
        e.name
        for e in EntityExtractor(background, language="es").extract(
            ["En Valencia la lluvia no para.", "Una tormenta llegó a Valencia."]
        )
    }
    assert "Valencia" in names and not {"En Valencia", "Una", "En"} & names


# --- places, titles, datelines --------------------------------------------------------


@pytest.mark.parametrize("name", ["España", "München", "Mayenne", "Hauts-de-France", "Europe"])
def test_gazetteer_places(name):
    assert is_place(name)


@pytest.mark.parametrize("name", ["Google", "Monsanto", "Lufthansa", "South", "New"])
def test_gazetteer_skips_nicknames_small_towns_and_function_words(name):
    assert not is_place(name)


def test_issue_rotterdam_entities(background):
    """The issue's port strike: title split from the name, no dateline org, 'Port of' is an
    organisation with no bare-place alias, a union led by an acronym is an organisation."""
    article = parse_seed_text(
        "ROTTERDAM (Reuters) - Dockworkers at the Port of Rotterdam went on strike on Monday, "
        "the union FNV Havens said. Dutch Economy Minister Dirk Beljaarts called for talks. "
        "The Port of Rotterdam said ships were waiting. Beljaarts said Rotterdam would recover."
    )
    entities = EntityExtractor(background).extract(article.sentences())
    by_name = {e.name: e for e in entities}
    assert by_name["Port of Rotterdam"].kind == "org"
    assert "Rotterdam" not in by_name["Port of Rotterdam"].aliases
    assert by_name["FNV Havens"].kind == "org"
    assert by_name["Dirk Beljaarts"].kind == "person"
    assert not any("Minister" in e.name or e.name == "ROTTERDAM" for e in entities)


def _kinds(background, language: str, *sentences: str) -> dict[str, str]:
    entities = EntityExtractor(background, language=language).extract(list(sentences))
    return {e.name: e.kind for e in entities}


@pytest.mark.parametrize(
    "language, sentence, expected",
    [
        # a head word first, as Spanish, French and German names put it
        (
            "es",
            "La huelga cuenta con el Sindicato Ferroviario y el Grupo Zorbal.",
            {"Sindicato Ferroviario": "org", "Grupo Zorbal": "org"},
        ),
        # a class noun just before the name
        (
            "es",
            "Lo informó la empresa Quorvex Eléctrica en un comunicado.",
            {"Quorvex Eléctrica": "org"},
        ),
        # a class noun before "como" and a list: the list's members, even a city's namesake
        (
            "es",
            "Paran compañías logísticas como Medway, Brantel y Ostrada desde el lunes.",
            {"Medway": "org", "Brantel": "org", "Ostrada": "org"},
        ),
        # brands in a list interrupted by brackets
        (
            "fr",
            "Le retrait concerne les marques Zorbi (poudres), Milpa (céréales) et Quenta.",
            {"Zorbi": "product", "Milpa": "product", "Quenta": "product"},
        ),
        # a town with its region in brackets
        (
            "fr",
            "Le lait est produit dans notre usine de Zorbeval (Mayenne) depuis mars.",
            {"Zorbeval": "place"},
        ),
        # where something is: a place class noun before "de"
        (
            "fr",
            "Il a été arrêté à l'aéroport international d'Zorbaneda, puis interrogé.",
            {"Zorbaneda": "place"},
        ),
        # a regional body before "de"
        (
            "es",
            "El Gobierno de la Comunidad de Zorbia elevó el tono.",
            {"Comunidad de Zorbia": "org"},
        ),
        # an apposition needs a common noun before the comma, not a name's last word
        (
            "en",
            "Workers at ECT Delta Terminal, Zorbport and APM terminals walked out.",
            {"Zorbport": "org"},
        ),
        # a person after "the mayor of X," is no member of a list of places
        (
            "es",
            "El alcalde de Madrid, José Luis Ferrer Ostrada, pidió calma.",
            {"José Luis Ferrer Ostrada": "person"},
        ),
        # buildings and streets by their head word
        (
            "en",
            "Firefighters fought the blaze at Zorbel Tower, near Zorbane Street, all night.",
            {"Zorbel Tower": "place", "Zorbane Street": "place"},
        ),
        # a body by its head word or its legal form, a company by "giant" or "maker"
        (
            "en",
            "The Coast Guard and Zorbantis NV said the video game giant Zorbix and the "
            "game maker Zorbesda were told.",
            {"Coast Guard": "org", "Zorbantis NV": "org", "Zorbix": "org", "Zorbesda": "org"},
        ),
        # a region's head word first
        (
            "es",
            "En la Región Zorbitana votaron más de un millón de personas.",
            {"Región Zorbitana": "place"},
        ),
        # French and Spanish adjectives between the class noun and the name
        (
            "fr",
            "Le constructeur automobile italo-américain Zorbat Rinaldi a proposé une fusion.",
            {"Zorbat Rinaldi": "org"},
        ),
        (
            "es",
            "La aerolínea estatal Zorbat Rinaldi canceló sus vuelos.",
            {"Zorbat Rinaldi": "org"},
        ),
        # German "in der X": a region or a country
        (
            "de",
            "Schwere Schäden gab es vor allem in der Zorbel, sagte die Polizei.",
            {"Zorbel": "place"},
        ),
    ],
)
def test_kinds_from_head_words_class_nouns_and_lists(background, language, sentence, expected):
    kinds = _kinds(background, language, sentence)
    assert {name: kinds.get(name) for name in expected} == expected


@pytest.mark.parametrize(
    "sentence, name, kind",
    [
        ("Die Übernahme von Zorbanto ist perfekt, sagte der Vorstand.", "Zorbanto", None),
        ("Der Chemiekonzern Zorbel legt ein neues Angebot vor.", "Zorbel", "org"),
        ("Zorbel-Chef Kurt Weller ging vor die Kameras.", "Kurt Weller", "person"),
    ],
)
def test_german_nouns_and_class_compounds_are_cut_from_names(background, sentence, name, kind):
    kinds = _kinds(background, "de", sentence, sentence)
    assert name in kinds and (kind is None or kinds[name] == kind)
    assert not any(n.startswith(("Übernahme", "Chemiekonzern", "Zorbel-Chef")) for n in kinds)


def test_amounts_are_no_storys_phrase():
    """ "66 Milliarden Dollar" is in every takeover story: not a distinctive phrase."""
    sentences = ["Zorbel zahlt 66 Milliarden Dollar für Quant und baut das Saatgutgeschäft aus."]
    thread = Thread([], [], 1.0, sentences=[0])
    keywords = {"milliarden dollar": 1.0, "saatgutgeschäft aus": 0.5}
    chosen = thread_keywords(thread, sentences, keywords, set(), background=Background())
    assert chosen == ["saatgutgeschäft aus"]


def test_everyday_phrases_of_a_language_the_background_lacks_are_not_keywords():
    """The background news is English: in Spanish, two common words ("alta velocidad")
    make an everyday phrase by wordfreq's list; a rare one stays."""
    text = (
        "Los trenes de alta velocidad paran el lunes. Los maquinistas de alta velocidad y "
        "los guardagujas ferroviarios protestan por la seguridad."
    )
    spanish = article_keywords(text, [], Background(), language="es")
    assert "alta velocidad" not in spanish and "guardagujas ferroviarios" in spanish
    english = article_keywords(
        "High speed trains stop. High speed drivers protest.", [], Background(), language="en"
    )
    assert "high speed" in english  # the background, not the list, judges English


def test_airport_codes_are_not_places():
    assert not is_place("SCF") and is_place("Rotterdam")


def test_dateline_is_not_a_sentence_part():
    article = parse_seed_text("FRANKFURT (dpa-AFX) - Der Streik hat begonnen.\n\nMehr folgt.")
    assert article.sentences()[0] == "Der Streik hat begonnen."


# --- events and rules -----------------------------------------------------------------


def test_thread_events_in_four_languages():
    assert thread_events(["Dockers began a 24-hour strike."]) == ["strike"]
    assert thread_events(["Die Piloten streiken erneut."], headline="Pilotenstreik") == ["strike"]
    assert thread_events(["Lactalis a annoncé le rappel de 720 lots."]) == ["recall"]
    assert thread_events(["El apagón dejó sin luz a millones."]) == ["blackout"]
    assert thread_events(["They met for lunch."]) == []
    assert "huelga" in event_terms(["strike"]) and "grève" in event_terms(["strike"])


@pytest.mark.parametrize(
    ("sentence", "lang", "kind"),
    [
        ("A fire broke out in the old town hall.", "en", "fire"),
        ("Ein Brand zerstörte die Halle.", "de", "fire"),
        ("Un incendie a ravagé l'entrepôt.", "fr", "fire"),
        ("Un sismo de magnitud 6 sacudió la región.", "es", "earthquake"),
        ("Un séisme a frappé le sud du pays.", "fr", "earthquake"),
        ("Zwei Züge stießen bei dem Zugunglück zusammen.", "de", "accident"),
        ("El candidato ganó el balotaje.", "es", "election"),
        ("Die Stichwahl entscheidet über das Amt.", "de", "election"),
        ("Des milliers de manifestants ont bloqué les routes.", "fr", "protest"),
        ("The hurricane made landfall on Tuesday.", "en", "storm"),
        ("The jury found her guilty of fraud; the verdict came late.", "en", "verdict"),
        ("Hackers stole data in the breach.", "en", "breach"),
        ("El banco lanzó una OPA hostil.", "es", "takeover"),
        # after the test3 score: a collapse, a suspension, more verdict, insolvency and
        # resignation forms
        ("The lender collapsed on Friday.", "en", "collapse"),
        ("Die Brücke stürzte ein; der Einsturz forderte Opfer.", "de", "collapse"),
        ("Le pont s'est effondré dans la nuit.", "fr", "collapse"),
        ("La federación suspendió a su presidente por 90 días.", "es", "suspension"),
        ("The court sentenced nine leaders.", "en", "verdict"),
        ("La sentencia impone trece años de prisión.", "es", "verdict"),
        ("La empresa pidió el preconcurso de acreedores.", "es", "bankruptcy"),
        ("La ministra dimitió tras la polémica.", "es", "resignation"),
        ("Die Ministerin will zurücktreten.", "de", "resignation"),
        # after the test5 score: a crowd crush
        ("Bei einer Massenpanik starben 19 Menschen.", "de", "stampede"),
        ("Seventeen fans were crushed to death in the stampede.", "en", "stampede"),
    ],
)
def test_event_classes_beyond_the_first_eight(sentence, lang, kind):
    # A class of event in every language's words, inflected forms included: an article
    # about a fire names "incendie", a labeled headline "blaze" or "Brand".
    assert kind in thread_events([sentence], lang=lang)


def test_an_event_word_of_one_language_is_not_counted_where_it_means_something_else():
    # German "war" is "was", English "brand" is a make: neither is an event there.
    assert thread_events(["Der Zug war voll besetzt."], lang="de") == []
    assert thread_events(["The brand sells kettles."], lang="en") == []
    assert thread_events(["Die Firma wird den Markt kriegen."], lang="de") == []
    assert thread_events(["Ein Brand in der Halle."], lang="de") == ["fire"]
    assert "brand" in event_terms(["fire"]) and "de:brand" not in event_terms(["fire"])


def test_an_event_named_in_passing_belongs_to_the_thread_that_names_it_most():
    per_thread = [
        thread_counts(["The war went on.", "The war and the invasion."]),
        thread_counts(["He got a cabinet post.", "It was during the war."]),
    ]
    assert own_events(per_thread) == [["war"], ["appointment"]]


@pytest.mark.parametrize(
    "path",
    REGRESSION + [EVAL / "articles" / f"{k}.txt" for k in TUNING],
    ids=lambda p: Path(p).stem,
)
def test_no_storyline_is_satisfied_by_an_actor_or_a_place_alone(path, watchlists, background):
    """Structurally (a group of the main rule holds no entity) and by the real matcher (an
    article naming one entity, or all the places, matches none of the draft's storylines)."""
    draft = build_draft(read_seed(path), watchlists, background, slug="x")
    text = render_draft(draft, watchlists_dir=WATCHLISTS)
    combined = validate_draft(text, WATCHLISTS)
    entity_ids = {e.id for e in combined.entities}
    for s in draft.storylines:
        assert event_required(s.all_of, entity_ids), s.id
    assert entities_alone(draft, combined) == []
    # one storyline per main actor and event (threads of one story are joined)
    keys = [
        (s.thread.anchors[0].id, tuple(s.events))
        for s in draft.storylines
        if s.events and len(s.all_of) == 2
    ]
    assert len(keys) == len(set(keys)), [s.title for s in draft.storylines]
    titles = [s.title for s in draft.storylines]
    assert len(titles) == len(set(titles)), titles


def test_the_headlines_actor_and_event_are_a_storyline_when_no_thread_has_them(
    watchlists, background
):
    """The body links the terminals, the union and a shipper; the headline's Rotterdam is
    in no thread. Its own storyline (the headline's names and event) takes the story's
    other headlines, and still needs the event."""
    article = parse_seed_text(
        "date 2025-01-09 Rotterdam port strike\n"
        "ROTTERDAM (Reuters) - Dockworkers at the Port of Rotterdam went on strike on Monday, "
        "the union FNV Havens said. The walkout at the ECT Delta Terminal and the APM terminals "
        "began at noon, FNV Havens spokesman Nick Stam said. Dutch Economy Minister Dirk "
        "Beljaarts called for talks with FNV Havens."
    )
    draft = build_draft(article, watchlists, background, slug="x")
    head = draft.storylines[0]
    assert head.title == "Rotterdam strike" and head.all_of[0] == ["rotterdam"]
    combined = validate_draft(render_draft(draft, watchlists_dir=WATCHLISTS), WATCHLISTS)
    strike = probe_article("t1", "Rotterdam dockers strike again over automation")
    other = probe_article("t2", "Rotterdam Philharmonic opens its season in the port")
    hits = predictions([strike, other], combined, [s.id for s in draft.storylines])
    assert head.id in hits[strike.article_id] and other.article_id not in hits
    assert entities_alone(draft, combined) == []


def test_a_thread_that_has_the_headlines_actor_and_event_leaves_no_second_storyline(
    watchlists, background
):
    draft = build_draft(
        read_seed(EVAL / "articles" / "galaxy-note7-recall.txt"), watchlists, background, slug="x"
    )
    assert [s.title for s in draft.storylines].count("Galaxy Note 7 recall") == 1


def test_titles_read_like_a_desk_slug(watchlists, background):
    draft = build_draft(
        read_seed(EVAL / "articles" / "galaxy-note7-recall.txt"), watchlists, background, slug="x"
    )
    assert draft.language == "en"
    assert draft.storylines[0].title == "Galaxy Note 7 recall"
    assert "with" not in draft.storylines[0].title


def test_language_flag_overrides_detection(watchlists, background):
    article = read_seed(EVAL / "articles" / "lufthansa-pilotenstreik.txt")
    assert build_draft(article, watchlists, background, slug="x").language == "de"
    forced = build_draft(article, watchlists, background, slug="x", language="en")
    assert forced.language == "en"


# --- reach in ordinary news -----------------------------------------------------------


def _rss(titles: list[str]) -> str:
    items = "".join(
        f"<item><title>{t}</title><link>https://news.example/{i}</link>"
        f"<description>{t}</description></item>"
        for i, t in enumerate(titles)
    )
    return f"<rss version='2.0'><channel><title>t</title>{items}</channel></rss>"


def test_check_feeds_warns_about_a_storyline_of_implausible_reach(tmp_path, watchlists, background):
    article = parse_seed_text(
        "date 2025-01-02 Acme Corp workers strike at Zorbland plant\n"
        "Workers at Acme Corp began a strike at its Zorbland plant, the Zorbland Workers Union said. "
        "Acme Corp said the strike would hurt deliveries. The Zorbland Workers Union wants higher pay."
    )
    draft = build_draft(article, watchlists, background, slug="acme")
    assert draft.storylines
    text = render_draft(draft, watchlists_dir=WATCHLISTS)
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    wide = [f"Acme Corp strike day {i}: deliveries late" for i in range(12)]
    other = [f"Weather report number {i}" for i in range(40)]
    (feeds / "a.xml").write_text(_rss(wide + other), encoding="utf-8")
    result = check_corpus(text, draft, WATCHLISTS, feeds=feeds)
    assert result.wide
    hits, n, examples = next(iter(result.wide.values()))
    assert hits >= 12 and n == 52 and examples[0].startswith("Acme Corp strike day")
    report = format_check(result, draft, labeled=None, feeds=feeds)
    assert "warning:" in report and "flood the desk" in report
    (feeds / "a.xml").write_text(_rss(wide[:2] + other), encoding="utf-8")
    assert check_corpus(text, draft, WATCHLISTS, feeds=feeds).wide == {}


# --- the evaluation set ---------------------------------------------------------------


def test_tuning_part_floors(watchlists, background):
    """The issue's targets, held on the tuning part (the test part is reported once, by
    bench/seed_eval.py --split test)."""
    scores = [score_article(EVAL, k, watchlists, WATCHLISTS, background) for k in TUNING]
    right = sum(s.right_kinds for s in scores)
    found = sum(s.found_entities for s in scores)
    tp, fp, fn = (sum(getattr(s, k) for s in scores) for k in ("tp", "fp", "fn"))
    table = format_scores(scores)
    assert right / found >= 0.90, table
    assert tp / (tp + fp) >= 0.85, table
    assert tp / (tp + fn) >= 0.75, table
    assert not any(s.alone for s in scores), table


@pytest.mark.parametrize(
    "language, sentence, expected",
    [
        # an honorific ends no compound title: "X-Dame" is a name; a cathedral is a place
        (
            "fr",
            "Le feu est parti de la cathédrale Zorbe-Dame de Lyon.",
            {"Zorbe-Dame de Lyon": "place"},
        ),
        # "prosecutor of <place> <name>": the place is where the role is
        ("fr", "Le procureur de Lyon Jean Zorbat a parlé.", {"Jean Zorbat": "person"}),
        # German territories put their head first
        ("de", "Im Landkreis Zorbheim fielen die Züge aus.", {"Landkreis Zorbheim": "place"}),
        # Spanish public bodies too
        (
            "es",
            "El Comité Nacional de Zorbas informó de daños.",
            {"Comité Nacional de Zorbas": "org"},
        ),
    ],
)
def test_kinds_of_landmarks_prosecutors_territories_and_bodies(
    background, language, sentence, expected
):
    kinds = _kinds(background, language, sentence)
    assert {name: kinds.get(name) for name in expected} == expected


def test_a_landmark_is_also_called_by_its_own_name_without_its_city(background):
    entities = EntityExtractor(background, language="fr").extract(
        ["Le feu est parti de la cathédrale Zorbe-Dame de Lyon."]
    )
    by_name = {e.name: e for e in entities}
    assert "Zorbe-Dame" in by_name["Zorbe-Dame de Lyon"].aliases
    # a head word that needs its place keeps it
    banks = EntityExtractor(background, language="es").extract(
        ["El Banco de España y el Servicio Geológico de México informaron."]
    )
    assert all(a not in ("Banco", "Servicio Geológico") for e in banks for a in e.aliases)


def test_no_storyline_of_common_places_and_an_event_class_alone(watchlists, background):
    """ "France" and "protest" is every protest in France: no storyline rests on it."""
    article = parse_seed_text(
        "date 2018-11-17 Manifestations partout en France\n"
        "Des manifestations ont eu lieu partout en France samedi. En France, les manifestants "
        "ont bloqué des routes."
    )
    draft = build_draft(article, watchlists, background, slug="x")
    for s in draft.storylines:
        actors = [draft.entity(r) for r in s.all_of[0]]
        assert not all(e is not None and e.kind == "place" for e in actors), s.all_of


def test_a_named_event_is_the_storylines_event_not_its_class(watchlists, background):
    """'Hurricane Zorba' in Puerto Rico is not every hurricane there."""
    article = parse_seed_text(
        "date 2017-09-20 Hurricane Zorba knocks out power to Puerto Rico\n"
        "Hurricane Zorba made landfall in Puerto Rico on Wednesday. Hurricane Zorba knocked out "
        "power across Puerto Rico, officials said."
    )
    draft = build_draft(article, watchlists, background, slug="x")
    combined = validate_draft(render_draft(draft, watchlists_dir=WATCHLISTS), WATCHLISTS)
    same = probe_article("t1", "Puerto Rico still dark days after Hurricane Zorba")
    short = probe_article("t2", "Zorba leaves Puerto Rico without power")
    other = probe_article("t3", "Hurricane Fiona knocks out power to Puerto Rico")
    hits = predictions([same, short, other], combined, [s.id for s in draft.storylines])
    assert same.article_id in hits and short.article_id in hits
    assert other.article_id not in hits
    assert entities_alone(draft, combined) == []


@pytest.mark.parametrize(
    "sentence, expected",
    [
        # a class noun, then "called" and the name
        (
            "Investors in Zorbanos lost all; she founded a company called Zorbanos.",
            {"Zorbanos": "org"},
        ),
        # a named storm is an event, its class word first
        ("On Tuesday Hurricane Zorba made landfall.", {"Hurricane Zorba": "event"}),
        # a name qualifying a common product noun
        ("About 1,000 Zorbtread treadmills are recalled.", {"Zorbtread": "product"}),
    ],
)
def test_kinds_after_called_of_named_storms_and_products(background, sentence, expected):
    kinds = _kinds(background, "en", sentence)
    assert {name: kinds.get(name) for name in expected} == expected


def test_a_title_case_headline_does_not_run_a_name_into_its_verbs(background):
    entities = EntityExtractor(background, language="en").extract(
        [
            "Hurricane Zorba Knocks Out All Power to Puerto Rico",
            "Hurricane Zorba made landfall on Wednesday.",
        ]
    )
    names = {e.name for e in entities}
    assert "Hurricane Zorba" in names
    assert not any(n.startswith("Hurricane Zorba ") for n in names), names
    by_name = {e.name: e for e in entities}
    assert {m.sentence for m in by_name["Hurricane Zorba"].mentions} == {0, 1}


def test_a_movement_named_in_quotes_then_in_lower_case_is_a_name(background):
    entities = EntityExtractor(background, language="fr").extract(
        [
            '"Zorbes bleus" : des rassemblements partout',
            "Les zorbes bleus bloquent les routes.",
            "La mobilisation des zorbes bleus continue.",
        ]
    )
    by_name = {e.name: e for e in entities}
    assert by_name["Zorbes bleus"].kind == "org"
    assert len(by_name["Zorbes bleus"].mentions) == 3
    # quoted words the article does not use again are no name
    once = EntityExtractor(background, language="fr").extract(
        ["Il parle d'un « Grand moment » pour le pays.", "Le pays attend."]
    )
    assert "Grand moment" not in {e.name for e in once}


# --- after the test3 score (spent): head words, ships, German compound titles ----------


@pytest.mark.parametrize(
    "language, sentence, expected",
    [
        # a court opens its name in Spanish ("Tribunal X", "Abogacía del X")
        (
            "es",
            "El Tribunal Zorbano y la Abogacía del Zorbado recurrieron.",
            {"Tribunal Zorbano": "org", "Abogacía del Zorbado": "org"},
        ),
        # cups and battles put their class first
        ("es", "Ganaron la Copa del Zorbo en agosto.", {"Copa del Zorbo": "event"}),
        ("en", "It was written after the Battle of Zorbeth.", {"Battle of Zorbeth": "event"}),
        # forts, dunes and bridges are places
        (
            "en",
            "Ships pass Fort Zorbery on the way to the Zorbeth Bridge.",
            {"Fort Zorbery": "place", "Zorbeth Bridge": "place"},
        ),
        ("fr", "Les campings près de la Dune du Zorbat.", {"Dune du Zorbat": "place"}),
        # a ship is a product, even "named the X"
        ("en", "A container ship named the Toledo struck the pier.", {"Toledo": "product"}),
    ],
)
def test_kinds_of_courts_cups_battles_landforms_and_ships(background, language, sentence, expected):
    kinds = _kinds(background, language, sentence)
    assert {name: kinds.get(name) for name in expected} == expected


def test_a_german_compound_title_is_cut_from_the_name(background):
    kinds = _kinds(
        background, "de", "Verteidigungsministerin Jana Zorbach sprach mit Fraktionschef Udo Zorn."
    )
    assert kinds.get("Jana Zorbach") == "person" and kinds.get("Udo Zorn") == "person"
    assert not any("ministerin" in k.lower() or "chef" in k.lower() for k in kinds)


def test_one_capital_letter_spelling_a_function_word_is_no_name(background):
    # French capitalises a sentence-initial "À" (here inside one sentence the splitter
    # left whole); a one-letter word is not an acronym.
    kinds = _kinds(background, "fr", "Le feu avance vers Zorbac. À midi, les pompiers arrivent.")
    assert "À" not in kinds and "Zorbac" in kinds


def test_a_name_is_shaped_like_a_persons_only_when_it_opens_with_a_given_name(background):
    # Faker's first names: "Marta Zorbado" is someone; "Libre Zorbado" (a common word
    # first) and "France Zorbo" (a country first, though also a first name) are not.
    kinds = _kinds(
        background,
        "es",
        "Según Libre Zorbado, la emisora France Zorbo entrevistó a Marta Zorbado.",
    )
    assert kinds.get("Marta Zorbado") == "person"
    assert kinds.get("Libre Zorbado") == "org" and kinds.get("France Zorbo") == "org"
    # A given name that is also a city's alternate name (one of Oryol's) still opens one.
    assert _kinds(background, "es", "El juez condenó a Oriol Zorbàs ayer.") == {
        "Oriol Zorbàs": "person"
    }


def test_a_german_compound_of_a_name_and_a_noun_names_the_name(background):
    # "Zorbwings-Flug" (headline-initial too) and "Zorbwings-Maschine" are Zorbwings; the
    # lexicon knows "Flug" and "Maschine", not "Zorbwings". The flight number after it is
    # no name.
    kinds = _kinds(
        background,
        "de",
        "Zorbwings-Flug 4711: Die Maschine stürzte ab.",
        "Die Zorbwings-Maschine war auf dem Weg nach Paris.",
    )
    assert "Zorbwings" in kinds
    assert not any(k.startswith("Zorbwings-") or k[:1].isdigit() for k in kinds)


def test_an_everyday_german_noun_named_twice_is_no_name(background):
    # "Bord" and "Tod" twice are everyday nouns; "Zorbinger" twice (unknown) is a name,
    # and "Braun", a surname of the article's "Jana Braun", stays a short form.
    kinds = _kinds(
        background,
        "de",
        "An Bord waren 150 Menschen, sagte Jana Braun.",
        "Der Tod kam schnell; an Bord der Zorbinger-Maschine war es still.",
        "Zorbinger sprach vom Tod. Braun schwieg, Zorbinger nicht.",
    )
    assert "Bord" not in kinds and "Tod" not in kinds
    assert "Zorbinger" in kinds and kinds.get("Jana Braun") == "person"


def test_a_capitalised_article_mid_sentence_opens_a_title(background):
    # "selon Le Zorbeur": a newspaper's name holds its article; "Zorbeur" alone later is
    # its short form, not a surname (the name opens with a function word, not a person's).
    kinds = _kinds(
        background,
        "fr",
        "La vidéo a été révélée par Le Zorbeur mercredi.",
        "Selon Zorbeur, la scène date du 1er mai.",
    )
    assert kinds.get("Le Zorbeur") == "org" and "Zorbeur" not in kinds


def test_a_places_only_headline_takes_the_bodys_rare_places(watchlists, background):
    # The headline names one region; the body names two villages twice each, and a
    # country (common in ordinary news in one of its languages: "México" is Mexico).
    article = parse_seed_text(
        "date 2022-07-18 Incendie en Zorbonie\n"
        "Un incendie ravage la forêt près de Zorbac et de Zorbillon, en Zorbonie.\n"
        "À Zorbac, les pompiers luttent contre le feu depuis lundi; à Zorbillon, les "
        "campings sont évacués.\n"
        "Le feu a aussi été vu depuis le Mexique. Au Mexique, on en parle."
    )
    draft = build_draft(article, watchlists, background, slug="x")
    combined = validate_draft(render_draft(draft, watchlists_dir=WATCHLISTS), WATCHLISTS)
    ids = [s.id for s in draft.storylines]
    village = probe_article("t1", "Incendie près de Zorbillon : des campings évacués")
    mexico = probe_article("t2", "Un incendie près de la frontière du Mexique")
    hits = predictions([village, mexico], combined, ids)
    assert village.article_id in hits and mexico.article_id not in hits
    # Two places never make a pair: every place together, and nothing else, matches none.
    assert entities_alone(draft, combined) == []


def test_a_country_or_region_is_also_called_by_its_names_in_the_other_languages(background):
    entities = EntityExtractor(background, language="de").extract(
        ["In Bayern und in Deutschland fielen die Züge aus."]
    )
    aliases = {e.name: set(e.aliases) for e in entities}
    assert {"Bavaria", "Bavière"} <= aliases["Bayern"]
    assert {"Germany", "Allemagne", "Alemania"} <= aliases["Deutschland"]


def test_an_insolvency_storyline_also_takes_the_collapse_words_and_back():
    # One story is told as a company's insolvency and as its collapse.
    assert "collaps*" in event_terms(["bankruptcy"]) and "colaps*" in event_terms(["bankruptcy"])
    assert "insolvenz*" in event_terms(["collapse"])
    assert "collaps*" not in event_terms(["strike"])


def test_an_event_no_class_names_is_taken_from_the_headline_and_lede(watchlists, background):
    # An eruption is in no event class: the article's own words for it ("erupción",
    # "volcán", every inflection) are the event, never an everyday word or a name.
    article = parse_seed_text(
        "La erupción del volcán de Zorbania obliga a evacuar a miles\n"
        "Tras la erupción del volcán Zorbero en la isla de Zorbania, unas 2.000 personas "
        "fueron evacuadas este domingo. Las autoridades anuncian que la lava avanza.\n"
        "Los vecinos de Zorbania huyen de la lava del volcán, anuncian las autoridades."
    )
    entities = EntityExtractor(background, language="es").extract(article.sentences())
    terms = dict(open_event_terms(article.sentences(), entities, background, language="es"))
    assert {"erupc*", "volcan*"} <= set(terms), terms
    assert not any(t.startswith(("zorb", "anunci", "autorid")) for t in terms), terms
    draft = build_draft(article, watchlists, background, slug="x", language="es")
    combined = validate_draft(render_draft(draft, watchlists_dir=WATCHLISTS), WATCHLISTS)
    ids = [s.id for s in draft.storylines]
    assert ids
    same = probe_article("t1", "Zorbania: el volcán entró en erupción y la lava llega al mar")
    other = probe_article("t2", "Un incendio arrasa 3.000 hectáreas en Zorbania")
    hits = predictions([same, other], combined, ids)
    assert same.article_id in hits and other.article_id not in hits
    assert entities_alone(draft, combined) == []


def test_a_title_case_headline_of_lower_case_body_words_is_no_name(background):
    entities = EntityExtractor(background, language="en").extract(
        [
            "Container Ship Runs Aground, Blocks Zorbic Canal",
            "A container ship ran aground in the Zorbic Canal on Tuesday.",
            "The ship is blocking the Zorbic Canal in both directions.",
        ]
    )
    names = {e.name for e in entities}
    assert "Zorbic Canal" in names, names
    assert not {"Ship Runs Aground", "Container Ship Runs Aground", "Blocks Zorbic Canal"} & names


@pytest.mark.parametrize(
    "language, sentences, name",
    [
        # The body the role is in ("de la République", "del Gobierno") is no part of the name.
        (
            "fr",
            ["Le président de la République Jean Zorbier a parlé.", "Zorbier a parlé dimanche."],
            "Jean Zorbier",
        ),
        (
            "es",
            ["El presidente del Gobierno Mariano Zorbal habló hoy.", "Zorbal anunció la decisión."],
            "Mariano Zorbal",
        ),
        # A given name that is a country's too ("Jordan") opens a person's name before a
        # word no dictionary knows.
        (
            "fr",
            ["Le score de Jordan Zorbella, patron du parti, a doublé.", "Jordan Zorbella a réagi."],
            "Jordan Zorbella",
        ),
    ],
)
def test_a_person_after_a_role_in_a_body_or_with_a_countrys_given_name(
    background, language, sentences, name
):
    kinds = _kinds(background, language, *sentences)
    assert kinds.get(name) == "person", kinds


def test_a_country_before_a_common_word_is_still_no_persons_name(background):
    assert (
        _kinds(background, "fr", "Selon France Inter, la décision est prise.")["France Inter"]
        == "org"
    )


def test_the_thread_telling_the_headlines_story_takes_every_headline_name(watchlists, background):
    # Real article (spent fourth part): the headline names Macron and the Assemblée; the
    # thread that holds the Assemblée with the election tells that story, so it takes
    # Macron too (before, the headline's storyline was dropped and Macron with it).
    article = read_seed(DATA / "seed_eval4" / "articles" / "dissolution-assemblee-2024.txt")
    draft = build_draft(article, watchlists, background, slug="x")
    groups = [set(g) for s in draft.storylines for g in s.all_of]
    assert any({"emmanuel-macron", "assemblee"} <= g for g in groups), groups
    combined = validate_draft(render_draft(draft, watchlists_dir=WATCHLISTS), WATCHLISTS)
    assert entities_alone(draft, combined) == []


def test_a_sentence_opening_article_is_kept_when_the_article_writes_it_as_a_title(background):
    # "La Palma" mid-sentence is one name with its article; at the headline's start it
    # is the same name, not the city "Palma".
    names = {
        e.name
        for e in EntityExtractor(background, language="es").extract(
            [
                "La Palma: las fotos de la erupción",
                "Tras la erupción del volcán situado en La Palma, miles fueron evacuados.",
            ]
        )
    }
    assert "La Palma" in names and "Palma" not in names, names


def test_german_compound_titles_of_heads_mayors_and_directors_are_cut(background):
    kinds = _kinds(
        background,
        "de",
        "Krisenstabsleiter Lars Zorbek und Oberbürgermeister Udo Zorbach sprachen mit "
        "Museumsdirektorin Jana Zorn.",
    )
    assert {kinds.get(n) for n in ("Lars Zorbek", "Udo Zorbach", "Jana Zorn")} == {"person"}, kinds
    assert not any(
        k.split()[0].lower().endswith(("leiter", "meister", "direktorin")) for k in kinds
    )


def test_a_persons_death_is_an_event_and_a_disasters_dead_are_not() -> None:
    assert thread_events(["Murió Maradona, víctima de un paro cardíaco"], lang="es") == ["death"]
    assert thread_events(["Former president dies at 94"], lang="en") == ["death"]
    assert "death" not in thread_events(
        ["Au moins 135 morts et 5 000 blessés après l'explosion"], lang="fr"
    )
    assert thread_events(["Papst Benedikt XVI. tritt zurück"], lang="de") == ["resignation"]


def test_a_sentence_opening_verb_the_article_writes_in_lower_case_starts_no_name(
    watchlists, background
) -> None:
    article = parse_seed_text(
        "date 2020-11-25 Murió Maradona, víctima de un paro cardíaco\n"
        "Diego Armando Maradona murió este miércoles en su casa de Tigre, informaron sus "
        "allegados. Maradona tenía 60 años."
    )
    draft = build_draft(article, watchlists, background, slug="m")
    names = {e.name for e in draft.entities}
    assert "Murió Maradona" not in names and "Diego Armando Maradona" in names
    assert any("death" in s.events for s in draft.storylines)


def test_a_german_noun_cut_from_a_name_takes_its_der_along(watchlists, background):
    article = parse_seed_text(
        "date 2022-12-07 Prinz als Rädelsführer der Reichsbürger verhaftet\n"
        "Die Polizei ging am Mittwoch gegen eine Gruppe vor, die einen Umsturz des politischen "
        "Systems der Bundesrepublik geplant haben soll. Der Generalbundesanwalt ermittelt wegen "
        "des Verdachts der Gründung einer terroristischen Vereinigung."
    )
    names = {e.name for e in build_draft(article, watchlists, background, slug="r").entities}
    assert not any(n.lower().startswith("der ") for n in names), names


@pytest.mark.parametrize(
    "language, sentence, name",
    [
        ("de", "Der Anschlag am Breitscheidplatz erschütterte Berlin.", "Breitscheidplatz"),
        ("de", "Der Lastwagen fuhr über die Budapester Straße in Berlin.", "Budapester Straße"),
        ("es", "El crucero encalló frente a la isla de Giglio, en Italia.", "Giglio"),
        ("es", "El barco navegaba por el mar Mediterráneo hacia Francia.", "Mediterráneo"),
        (
            "fr",
            "Deux immeubles se sont effondrés dans le quartier Noailles à Marseille.",
            "Noailles",
        ),
    ],
)
def test_squares_streets_islands_seas_and_quarters_are_places(background, language, sentence, name):
    assert _kinds(background, language, sentence).get(name) == "place"


def test_a_listed_first_name_alone_without_cues_is_a_person(background):
    kinds = _kinds(background, "es", "Desde el balcón del palacio saludaron Felipe y Samantha.")
    assert kinds.get("Felipe") == "person" and kinds.get("Samantha") == "person"


def test_a_demonym_and_pm_before_a_name_are_its_role(background):
    kinds = _kinds(background, "en", "Police said former Japanese PM Abe was shot in Nara.")
    assert kinds.get("Abe") == "person" and "Japanese PM Abe" not in kinds


def test_a_german_separable_verb_names_its_event_with_words_between(watchlists, background):
    assert thread_events(["Strache tritt als Vizekanzler und FPÖ-Chef zurück"], lang="de") == [
        "resignation"
    ]
    assert thread_events(["Er tritt heute auf. Zurück bleibt die Partei."], lang="de") != [
        "resignation"
    ]  # the particle must close the same clause
    article = parse_seed_text(
        "date 2019-05-18 Strache tritt als Vizekanzler zurück\n"
        "Heinz-Christian Strache tritt nach dem Video als Vizekanzler zurück, sagte die FPÖ. "
        "Strache trat am Samstag auch als Parteichef zurück."
    )
    draft = build_draft(article, watchlists, background, slug="s")
    combined = validate_draft(render_draft(draft, watchlists_dir=WATCHLISTS), WATCHLISTS)
    item = probe_article("i", "Heinz-Christian Strache tritt nach Skandal von allen Ämtern ab")
    assert predictions([item], combined, [s.id for s in draft.storylines])
