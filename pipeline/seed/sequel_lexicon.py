"""The sequel lexicon: the later chapters of a kind of news event, in four languages.

Data only (``pipeline.seed.events.sequels`` reads it). A story's later chapter has the
same actors and is another story: a conviction's appeal judgment, a reduced sentence and
the day the convicted enters prison; an insolvent founder's arrest; a takeover's block by a
regulator or its completion; a winner's re-election; the trial that follows a resignation,
an arrest or a disaster; a disaster's final inquiry report. ``seed`` drafts the forms of
its thread's kinds as a veto that counts in a headline or lede only (``none_of_in_lede``),
leaving out every form its own headline and lede use, so a story whose news *is* an
appeal keeps its appeal. Forms are written as in ``event_lexicon``: a final ``*`` matches
any word that starts so, a form tagged ``de:`` counts only for an article of that
language, ``a…b`` is two words at most a few words apart ("ingresado este lunes en
prisión"). No names, nothing taken from one article.
"""

from __future__ import annotations

# A judicial chapter after a story that was not itself a judgment: the trial, the verdict.
TRIAL: tuple[str, ...] = (
    "trial",
    "on trial",
    "acquitt*",
    "convicted",
    "verdict*",
    "guilty",
    "sentenced",
    "prozess",
    "prozessauftakt",
    "prozessbeginn",
    "prozessgeschichte",
    "freispruch*",
    "freigesprochen",
    "verurteilt*",
    "urteil*",
    "de:revision",
    "le procès",
    "au procès",
    "son procès",
    "procès de",
    "procès du",
    "relaxé*",
    "acquitté*",
    "condamné*",
    "juicio",
    "absuelto*",
    "absolución",
    "condenado*",
    "es:sentencia*",
)

# After a judgment: the appeal's judgment, prison entry, a pardon. Not an appeal court's
# name alone: a verdict's own coverage names the court an appeal would go to.
APPEAL: tuple[str, ...] = (
    "on appeal",
    "upheld",
    "upholds",
    "overturned",
    "overturns",
    "enters…prison",
    "entered…prison",
    "reports to prison",
    "pardoned",
    "reduced",
    "reduces",
    "verkürzt",
    "reduziert",
    "réduit*",
    "réduction",
    "rebaja*",
    "by the supreme court",
    "berufungsprozess*",
    "berufungsverfahren*",
    "in zweiter instanz",
    "bestätigt das urteil",
    "haftantritt",
    "begnadigt",
    "en appel",
    "confirme la condamnation",
    "cassation",
    "incarcéré*",
    "gracié*",
    "en apelación",
    "en segunda instancia",
    "confirma la condena",
    "ratifica la condena",
    "casación",
    "por el supremo",
    "por el tribunal supremo",
    "ingresa…prisión",
    "ingresado…prisión",
    "ingresa…cárcel",
    "ingresado…cárcel",
    "indultado*",
)

# After a resignation or an insolvency: the arrest or charges that may follow.
PROSECUTION: tuple[str, ...] = (
    "arrested",
    "charged",
    "indicted",
    "festgenommen",
    "verhaftet",
    "angeklagt",
    "interpellé*",
    "mis en examen",
    "detenido*",
    "imputado*",
)

# After an inquiry into a person or a body: the prosecutors drop it. German writes the
# verb at the clause's end, far from "Verfahren" or "Ermittlungen": "eingestellt" alone.
DROPPED: tuple[str, ...] = (
    "charges dropped",
    "drops charges",
    "dropped charges",
    "drop charges",
    "case dropped",
    "case dismissed",
    "de:eingestellt",
    "classement sans suite",
    "classé sans suite",
    "classée sans suite",
    "non-lieu",
    "archiva la causa",
    "archivo de la causa",
    "sobresee*",
    "sobreseimiento",
)

# After a takeover's announcement: a regulator blocks it, or it is completed or dropped.
DEAL_OUTCOME: tuple[str, ...] = (
    "block",
    "blocks",
    "blocked",
    "blocking",
    "completes",
    "completed",
    "completion",
    "vetoed",
    "vetoes",
    "abandons",
    "abandoned",
    "untersagt*",
    "blockiert*",
    "abgeschlossen",
    "vollzogen",
    "bloque",
    "bloqué*",
    "finalisé*",
    "finalise",
    "bloquea*",
    "veta",
    "vetado",
    "culmina*",
)

# After an election: the winner's next one.
REELECTION: tuple[str, ...] = (
    "re-elected",
    "reelected",
    "re-election",
    "second term",
    "réélu*",
    "réélection",
    "second mandat",
    "wiedergewählt",
    "wiederwahl",
    "zweite amtszeit",
    "reelegid*",
    "reelección",
    "segundo mandato",
)

# After a disaster: the inquiry's final report, months or years on.
FINAL_REPORT: tuple[str, ...] = (
    "final report",
    "inquiry report",
    "abschlussbericht*",
    "rapport final",
    "informe final",
)

DISASTERS = (
    "fire",
    "crash",
    "accident",
    "collapse",
    "explosion",
    "flood",
    "stampede",
    "earthquake",
    "storm",
    "attack",
    "rescue",
)

# kind -> the forms of its later chapters. A kind not listed (a strike, whose court
# fights are the strike's own story; talks; a protest) has none.
SEQUELS: dict[str, tuple[str, ...]] = {
    "verdict": APPEAL,
    "doping": APPEAL,
    "suspension": APPEAL,
    "takeover": DEAL_OUTCOME,
    "election": REELECTION,
    **{kind: TRIAL for kind in ("breach", "recall", "death", "theft")},
    **{kind: TRIAL + DROPPED for kind in ("arrest", "fraud", "raid")},
    "resignation": TRIAL + PROSECUTION + DROPPED,
    "bankruptcy": TRIAL + PROSECUTION,
    **{kind: TRIAL + FINAL_REPORT for kind in DISASTERS},
    "grounding": TRIAL + FINAL_REPORT,
}
