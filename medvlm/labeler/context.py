"""Negation, uncertainty and change cues around a mention (NegEx-style, scoped to one clause).

A cue before the mention ("no", "without", "possible", "cannot exclude", "likely represents",
"suggests") or after it ("is not seen",
"has resolved", "cannot be excluded") sets its presence; when cues of both kinds precede it, the nearer
one wins ("no effusion, possible atelectasis"). Pseudo-negations ("no change", "not significantly
changed") are removed first so they do not negate what follows.
"""

from __future__ import annotations

import re

from medvlm.findings import Presence


def _cues(phrases: str) -> re.Pattern[str]:
    """A case-insensitive whole-word alternation of the ``|``-separated phrases, longest first."""
    items = sorted({p.strip() for p in phrases.split("|") if p.strip()}, key=len, reverse=True)
    body = "|".join(r"(?<![\w/])" + re.escape(p).replace(r"\ ", r"\s+") + r"(?![\w/])" for p in items)
    return re.compile(body, re.IGNORECASE)


PSEUDO_NEGATION = _cues(
    "age-indeterminate|age indeterminate|most suggestive of|most consistent with|no change"
    "|no significant change|no interval change|no significant interval change|not significantly changed"
    "|not changed|without change|without significant change|no appreciable change"
    "|not significantly different|no longer than|not only|without interval change|no substantial change"
    "|no acute change|not necessarily|no visible change|no definite change|not significantly increased"
    "|not significantly decreased"
)
UNCERTAIN_BEFORE = _cues(
    "evaluation for|clinical setting|correlate|suggesting|consideration|considered|evaluation of"
    "|evaluate for|assess for|assessment of|to exclude|history of|possible|possibly|questionable"
    "|question of|questioned|suspicious for|suspected|suspect|concerning for|concern for|may represent"
    "|may reflect|may be|may have|might|could represent|could reflect|could be|cannot exclude"
    "|can not exclude|cannot rule out|can not rule out|can't exclude|not excluded|not ruled out"
    "|differential|versus|vs|equivocal|indeterminate|uncertain|suggestive of|rule out|r/o|worrisome for"
    "|raise the possibility|raises the possibility|question|questionably|difficult to exclude|may"
    "|would be|not entirely excluded|could|obscure|obscuring|likely represents|likely represent"
    "|likely reflects|likely reflect|likely due to|likely secondary to|probably represents"
    "|probably represent|likely reflecting|likely representing|suggests|suggest|suggested"
    "|differential includes|differential diagnosis includes"
)
UNCERTAIN_AFTER = _cues(
    "in the differential|a consideration|be considered|also possible|is also possible|less likely"
    "|cannot be excluded|can not be excluded|cannot be ruled out|can not be ruled out|not excluded"
    "|not ruled out|is possible|are possible|is suspected|are suspected|is questioned"
    "|not entirely excluded|not completely excluded|is not excluded|may be present|may be seen"
    "|may be noted|may be developing|could be present|could be seen|might be present"
    "|difficult to exclude|can't be excluded|is questionable|are questionable|not well excluded"
)
NEGATION_BEFORE = _cues(
    "no|not|without|negative for|free of|absence of|absent|clear of|resolution of|resolved|removal of"
    "|removed|neither|nor|never|no longer|interval resolution of|interval removal of|rather than"
    "|ruled out|clearing of|normal|negative"
)
NEGATION_AFTER = _cues(
    "within limits of normal|appear normal|appears normal|within normal limit|not seen|not identified"
    "|not visualized|not evident|not appreciated|not demonstrated|not present|not noted|not detected"
    "|not enlarged|not apparent|not visible|not definitely seen|not well seen|is absent|are absent"
    "|has resolved|have resolved|resolved|has cleared|have cleared|cleared|no longer|has been removed"
    "|have been removed|removed|is gone|are gone|not clearly seen|not clearly identified"
    "|not significantly enlarged|is normal|are normal|within normal limits|is not|are not|not"
    "|has disappeared|have disappeared|has been withdrawn|were removed|was removed"
)

# "No opacity to suggest pneumonia": the negation, not "suggest", scopes what follows.
PSEUDO_HEDGE = _cues("to suggest|to indicate|to represent")

# Resolution that is not complete: the finding is still there, improved ("partially resolved pneumonia").
PARTIAL_RESOLUTION = _cues(
    "partially resolved|partially resolving|partial resolution of|partial resolution|near resolution of"
    "|near resolution|nearly resolved|near-complete resolution of|incompletely resolved|resolving"
    "|partially cleared|partial clearing of|partial clearing"
)

CHANGE_WORDS: list[tuple[str, re.Pattern[str]]] = [
    ("resolved", _cues("resolved|resolution|cleared|clearing|removed|removal|no longer")),
    (
        "worsened",
        _cues(
            "worse|worsened|worsening|increased|increasing|increase|progressed|progression|progressive"
            "|enlarging|larger|greater|grown|growing|bigger|more prominent"
        ),
    ),
    (
        "improved",
        _cues(
            "improved|improving|improvement|decreased|decreasing|decrease|smaller|less|diminished|resolving"
            "|partially resolved|near resolution|nearly resolved|less prominent"
        ),
    ),
    ("new", _cues("new|newly|developing|interval development|interval appearance")),
    (
        "unchanged",
        _cues(
            "unchanged|stable|again seen|again noted|again demonstrated|persistent|persists"
            "|persisting|redemonstrated|re-demonstrated|not changed|similar|chronic|old|remains"
            "|remain|again"
        ),
    ),
]


def _last(pattern: re.Pattern[str], text: str) -> int:
    """Offset of the last match's end in ``text`` (-1 when none)."""
    ends = [m.end() for m in pattern.finditer(text)]
    return ends[-1] if ends else -1


def _mask(pattern: re.Pattern[str], text: str) -> str:
    return pattern.sub(lambda m: " " * len(m.group(0)), text)


def presence_of(before: str, after: str) -> Presence:
    """Presence of a mention given the clause text before and after it."""
    before = _mask(PSEUDO_HEDGE, _mask(PARTIAL_RESOLUTION, _mask(PSEUDO_NEGATION, before)))
    after = _mask(PARTIAL_RESOLUTION, _mask(PSEUDO_NEGATION, after))
    unc = _last(UNCERTAIN_BEFORE, before)
    neg = _last(NEGATION_BEFORE, _mask(UNCERTAIN_BEFORE, before))
    if unc >= 0 or neg >= 0:
        return Presence.UNCERTAIN if unc > neg else Presence.ABSENT
    if UNCERTAIN_AFTER.search(after):
        return Presence.UNCERTAIN
    if NEGATION_AFTER.search(_mask(UNCERTAIN_AFTER, after)):
        return Presence.ABSENT
    return Presence.PRESENT


def change_of(clause: str, presence: Presence) -> str | None:
    """The change word of the clause: resolved / worsened / improved / new / unchanged (first kind found)."""
    if PARTIAL_RESOLUTION.search(clause):
        return "improved"
    if PSEUDO_NEGATION.search(clause):
        return "unchanged"
    for kind, pattern in CHANGE_WORDS:
        if pattern.search(clause):
            if kind == "resolved" and presence != Presence.ABSENT:
                continue
            return kind
    return None
