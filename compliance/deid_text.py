"""De-identification of free report text (signed corrections become training data).

Rules, in order: the names and identifiers the caller knows (the patient's DICOM name in any order,
the signer, the patient id, the accession number) are replaced wherever they occur; then patterns catch
what the caller could not know: titled names (Dr. Jane Smith), names after "patient:"/"discussed with",
e-mail addresses, phone numbers, dates in numeric and written forms, times, long identifiers, and ages
over 89 (HIPAA Safe Harbor). Clinical shorthand survives: vertebral levels (T12, C7), measurements
(5 mm, 3.5 cm), ratios and lobes are not identifiers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

NAME, DATE, TIME, ID, PHONE, EMAIL, AGE = "[NAME]", "[DATE]", "[TIME]", "[ID]", "[PHONE]", "[EMAIL]", "90+"

_MONTHS = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
           r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
_CAP = r"[A-Z][a-zA-Z'\-]+"
_NAME_RUN = rf"{_CAP}(?:\s+(?:[A-Z]\.\s*)?{_CAP}){{0,2}}"
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), EMAIL),
    (re.compile(r"(?<![\w.])(?:\+?\d{1,3}[\s.-]?)?(?:\(\d{3}\)|\d{3})[\s.-]\d{3}[\s.-]\d{4}\b"), PHONE),
    (re.compile(rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS},?\s+\d{{4}}\b", re.I), DATE),
    (re.compile(rf"\b{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b", re.I), DATE),
    (re.compile(r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b"), DATE),
    (re.compile(r"\b\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})\b"), DATE),
    (re.compile(rf"\b{_MONTHS}\s+\d{{4}}\b", re.I), DATE),
    (re.compile(r"\b(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?(?:\s*(?:[ap]m\b|[ap]\.m\.))?(?!\w)", re.I), TIME),
    (re.compile(r"\b(?:MRN|MR#|ID|Acc(?:ession)?(?:\s*(?:No\.?|Number|#))?)\s*[:#]?\s*[A-Z0-9-]{4,}\b",
                re.I), ID),
    (re.compile(r"\b(?=[A-Z0-9-]*\d)[A-Z0-9]{2,}(?:-[A-Z0-9]+)*\d{3,}[A-Z0-9]*\b"), ID),
    (re.compile(r"\b\d{6,}\b"), ID),
    (re.compile(rf"\b(?:Dr|Doctor|Prof|Mr|Mrs|Ms|Miss)\.?\s+{_NAME_RUN}"), NAME),
    (re.compile(rf"(?i:\b(?:patient(?:'s)?\s+name|patient|name|discussed\s+with|d/w|called\s+to|"
                rf"communicated\s+to|reviewed\s+by|dictated\s+by|signed\s+by)\s*:?\s+)(?-i:{_NAME_RUN})"),
     NAME),
]
_CUE = re.compile(r"(?i)(?:(?:Dr|Doctor|Prof|Mr|Mrs|Ms|Miss)\.?|(?:patient(?:'s)?\s+name|patient|name|"
                  r"discussed\s+with|d/w|called\s+to|communicated\s+to|reviewed\s+by|dictated\s+by|"
                  r"signed\s+by)\s*:?)\s+")
_NAME_RUN_OF_PLACEHOLDERS = re.compile(r"\[NAME\](?:\s+\[NAME\])+")
_AGE = re.compile(r"\b(9\d|1[0-4]\d)(?=[\s-]*(?:years?|yrs?|y/?o|-year-old)\b)", re.I)
# Words that follow "patient"/"discussed with" but are not names (sentence-initial capitals, roles).
_NOT_NAMES = {"The", "This", "He", "She", "They", "Patient", "Radiologist", "Physician", "Team", "Referring",
              "Clinician", "Ward", "Nurse", "Emergency", "ED", "ICU", "Is", "Has", "With", "Was", "Presents",
              "Dr", "Doctor", "Prof", "Mr", "Mrs", "Ms", "Miss"}


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


def _replace_name_runs(match: re.Match[str]) -> str:
    """Keep the cue ("Dr.", "discussed with") so the sentence still reads; replace the name after it."""
    text = match.group(0)
    cue = _CUE.match(text)
    rest = text[cue.end():] if cue else text
    if not rest or rest.split()[0] in _NOT_NAMES:
        return text
    return (text[: cue.end()] if cue else "") + NAME


def deidentify_text(text: str, *, names: Iterable[str] = (), identifiers: Iterable[str] = ()) -> str:
    """``text`` with names, dates, times, identifiers, contacts and ages over 89 replaced by placeholders."""
    out = text
    for ident in sorted({i.strip() for i in identifiers if i and i.strip()}, key=len, reverse=True):
        out = re.sub(rf"(?<!\w){re.escape(ident)}(?!\w)", ID, out, flags=re.I)
    for variant in _name_variants(names):
        out = re.sub(rf"(?<!\w){re.escape(variant)}(?!\w)", NAME, out, flags=re.I)
    for pattern, placeholder in _PATTERNS:
        out = pattern.sub(_replace_name_runs if placeholder == NAME else placeholder, out)
    out = _AGE.sub(AGE, out)
    return _NAME_RUN_OF_PLACEHOLDERS.sub(NAME, out)  # "John Doe" -> "[NAME] [NAME]" -> "[NAME]"
