"""Issue 16, after the test10 score: the Spanish resignation and the abdication, a rescue of
trapped people, and a dropped inquiry as a later chapter (invented sentences)."""

from __future__ import annotations

from pipeline.seed.events import event_counts, sequels, thread_events


def test_spanish_renuncia_and_an_abdication_are_a_resignation():
    assert event_counts("La alcaldesa presentó su renuncia el lunes", lang="es")["resignation"]
    assert event_counts("El ministro renunció tras el escándalo", lang="es")["resignation"]
    assert event_counts("La reina abdicará en su hija", lang="es")["resignation"]
    assert event_counts("The queen abdicates after forty years", lang="en")["resignation"]
    assert event_counts("Der König dankt nach vierzig Jahren ab", lang="de")["resignation"]
    assert not event_counts("A renunciation of violence", lang="en")  # tagged Spanish


def test_a_rescue_of_trapped_people_is_its_own_event():
    assert thread_events(["Rescatan con vida a los mineros atrapados"], lang="es") == ["rescue"]
    assert thread_events(["Divers rescue the trapped hikers"], lang="en") == ["rescue"]
    assert thread_events(["Die Bergung der Verschütteten dauert an"], lang="de") == ["rescue"]
    assert thread_events(["Les sauveteurs ont dégagé trois personnes"], lang="fr") == ["rescue"]


def test_a_dropped_inquiry_is_a_resignation_s_later_chapter():
    terms, _ = sequels(["resignation"], lede="Minister Zorbach tritt zurück", lang="de")
    assert {"eingestellt", "charges dropped", "non-lieu", "sobreseimiento"} <= set(terms)
    assert "eingestellt" not in sequels(["resignation"], lede="Zorbach resigns", lang="en")[0]
    # a story whose news is the dropped case keeps it
    assert "non-lieu" not in sequels(["fraud"], lede="Non-lieu pour Zorbac", lang="fr")[0]
    assert "eingestellt" not in sequels(["strike"], lede="Streik bei Zorbag", lang="de")[0]
