"""De-identification of free report text (signed corrections become training data).

Rules, in order: the names and identifiers the caller knows (the patient's DICOM name in any order,
the signer, the patient id, the accession number) are replaced wherever they occur; then patterns
(``compliance.deid_text_rules``) catch what the caller could not know: e-mail addresses and mail
domains, web addresses, phone numbers, street addresses and postcodes, institutions, dates and times,
identifiers; then people: after a title, a role or a verb of communication ("Spoke to Smith"), after a
relative ("his wife Mary"), and without any cue when a word is a known first name or last name
(Faker's lists); then places after a locative cue ("lives in Springfield") and US state names; ages
over 89 (HIPAA Safe Harbor). Clinical shorthand survives: vertebral levels (T12, C7), measurements
(5 mm, 3.5 cm), ratios, lobes, and the IU corpus's own XXXX masks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from medvlm.compliance.deid_text_rules import (
    ADDRESS,
    AGE,
    AGE_OVER_89,
    CUE,
    CUED_NAME,
    CUED_PLACE,
    ID,
    NAME,
    NOT_NAMES,
    PATTERNS,
    PLACE,
    PLACE_CUE,
    PLACE_WORDS,
    PLACEHOLDER_RUN,
    RELATIVE_NAME,
    person_names,
    street_address,
    us_states,
)

__all__ = ["deidentify_text"]

_WORD = re.compile(r"\b[A-Z][a-z]+(?:['\-][A-Za-z]+)?\b")


def _name_variants(names: Iterable[str]) -> list[str]:
    """'Doe^John^A' -> 'John A Doe', 'Doe John', 'Doe', 'John', ... longest first, so full names go first."""
    variants: set[str] = set()
    for raw in names:
        parts = [p.strip() for p in re.split(r"[\^,]", raw or "") if p.strip()]
        if not parts:
            continue
        words = [w for p in parts for w in p.split()]
        variants.add(" ".join(words))
        variants.add(" ".join(parts[1:] + parts[:1]) if len(parts) > 1 else parts[0])
        variants.update(w for w in words if len(w.rstrip(".")) > 2 and w.rstrip(".").lower()
                        not in {"dr", "mr", "mrs", "ms", "prof", "md", "phd", "the", "and"})
    return sorted(variants, key=len, reverse=True)


def _after_cue(cue: re.Pattern[str], placeholder: str, stop: frozenset[str] = NOT_NAMES,
               ) -> Callable[[re.Match[str]], str]:
    """Keep the cue ("Dr.", "spoke to", "his wife") so the sentence still reads; replace the run after it,
    up to the first word that is report vocabulary rather than a name."""
    def replace(match: re.Match[str]) -> str:
        text = match.group(0)
        found = cue.match(text)
        head = text[: found.end()] if found else ""
        words = text[len(head):].split()
        kept = []
        for word in words:
            if word.strip("'-.,;:") in stop:
                break
            kept.append(word)
        if not kept:
            return text
        rest = text[len(head):]
        cut = rest.index(kept[-1]) + len(kept[-1])
        return head + placeholder + rest[cut:]
    return replace


def _listed_names(text: str) -> str:
    """Words on the first- or last-name lists, and a capitalised word right after a first name."""
    first, last = person_names()

    def replace(match: re.Match[str]) -> str:
        word = match.group(0)
        return NAME if word in first or word in last else word

    out = _WORD.sub(replace, text)
    return re.sub(rf"{re.escape(NAME)}\s+(?:[A-Z]\.\s*)?[A-Z][a-z]+(?:-[A-Z][a-z]+)?\b",
                  lambda m: NAME if m.group(0).split()[-1] not in NOT_NAMES else m.group(0), out)


def _states(text: str) -> str:
    for state in sorted(us_states(), key=len, reverse=True):
        text = re.sub(rf"\b{re.escape(state)}\b", PLACE, text)
    return text


def deidentify_text(text: str, *, names: Iterable[str] = (), identifiers: Iterable[str] = ()) -> str:
    """``text`` with people, places, institutions, contacts, dates, times, identifiers and ages over 89
    replaced by placeholders."""
    out = text
    for ident in sorted({i.strip() for i in identifiers if i and i.strip()}, key=len, reverse=True):
        out = re.sub(rf"(?<!\w){re.escape(ident)}(?!\w)", ID, out, flags=re.I)
    for variant in _name_variants(names):
        out = re.sub(rf"(?<!\w){re.escape(variant)}(?!\w)", NAME, out, flags=re.I)
    out = street_address().sub(ADDRESS, out)
    for pattern, placeholder in PATTERNS:
        out = pattern.sub(placeholder, out)
    out = CUED_NAME.sub(_after_cue(CUE, NAME), out)
    out = RELATIVE_NAME.sub(_after_cue(CUE, NAME), out)
    out = _listed_names(out)
    out = _states(out)
    out = CUED_PLACE.sub(_after_cue(PLACE_CUE, PLACE, NOT_NAMES - PLACE_WORDS), out)
    out = AGE_OVER_89.sub(AGE, out)
    return PLACEHOLDER_RUN.sub(lambda m: f"[{m.group(1)}]", out)  # "[NAME] [NAME]" -> "[NAME]"
