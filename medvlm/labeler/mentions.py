"""Finding mentions in a clause: ontology synonyms compiled to whole-word patterns, overlaps resolved.

A longer phrase wins over a shorter one inside it ("calcified nodule" is a granuloma, not a nodule;
"nodular opacity" a nodule, not an opacity); the same span may name two findings ("hydropneumothorax").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medvlm.ontology import Ontology


@dataclass(frozen=True)
class Mention:
    label: str
    start: int
    end: int
    text: str
    normal: bool  # matched a "normal_phrases" entry: states the finding absent


def _phrase_pattern(phrase: str) -> str:
    words = [re.escape(w) for w in phrase.split()]
    body = r"[\s-]+".join(words)
    plural = "" if phrase.endswith("s") else "(?:e?s)?"
    return rf"(?<![\w-]){body}{plural}(?!\w)"


_Compiled = list[tuple[tuple[str, ...], bool, re.Pattern[str]]]
_CACHE: dict[int, tuple[Ontology, _Compiled]] = {}


def compiled_patterns(ontology: Ontology) -> _Compiled:
    """(findings, normal, pattern): one alternation per (finding, synonyms | normal phrases), longest phrase
    first, and one per normal statement naming every finding it rules out; cached per ontology."""
    cached = _CACHE.get(id(ontology))
    if cached is not None and cached[0] is ontology:
        return cached[1]
    patterns: _Compiled = []
    for spec in ontology.findings.values():
        for normal, phrases in ((False, spec.synonyms), (True, spec.normal_phrases)):
            if phrases:
                ordered = sorted(set(phrases), key=len, reverse=True)
                alternation = "|".join(_phrase_pattern(p) for p in ordered)
                patterns.append(((spec.name,), normal, re.compile(alternation, re.IGNORECASE)))
        patterns.extend(((spec.name,), False, re.compile(p, re.IGNORECASE)) for p in spec.patterns)
    # A normal statement is one normal mention of each finding it rules out (same span, several labels).
    for statement in ontology.normal_statements:
        alternatives = [_phrase_pattern(p) for p in sorted(set(statement.phrases), key=len, reverse=True)]
        alternatives += [f"(?:{p})" for p in statement.patterns]
        patterns.append((tuple(statement.absent), True, re.compile("|".join(alternatives), re.IGNORECASE)))
    _CACHE[id(ontology)] = (ontology, patterns)
    return patterns


# Phrases that look like a finding's synonym but are something else.
_BLOCKERS: dict[str, re.Pattern[str]] = {
    "pleural_effusion": re.compile(r"pericardial\s+effusion|joint\s+effusion", re.IGNORECASE),
    "hyperinflation": re.compile(
        r"(?:subcutaneous|soft tissue|mediastinal|interstitial)\s+emphysema", re.IGNORECASE
    ),
    "lung_opacity": re.compile(
        r"(?:bone|bony|soft[\s-]tissue|breast|nipple|osseous|sclerotic|mineral|calcific|calcified|"
        r"vertebral|sternal|rib)\s+(?:densit(?:y|ies)|opacit(?:y|ies))|"
        r"(?:densit(?:y|ies)|opacit(?:y|ies))\s+(?:of|in|within|projecting over|overlying)\s+(?:the\s+)?"
        r"(?:bone|ribs?|spine|vertebra\w*|soft tissues?|breasts?|humer\w*|clavicle|nipple)",
        re.IGNORECASE,
    ),
    "atelectasis": re.compile(r"(?:vertebral|body|compression)\s+collapse", re.IGNORECASE),
    "mass": re.compile(r"(?:soft tissue|breast)\s+mass|mass\s+effect", re.IGNORECASE),
    "pulmonary_edema": re.compile(r"(?:soft[\s-]tissue|extremity|ankle|leg|chest wall)\s+edema", re.I),
    "fracture": re.compile(
        r"fracture\s+fixation|(?:broken|fractured)\s+(?:\w+\s+){0,3}?(?:sternotomy|sternal|wires?|leads?|xxxx)",
        re.IGNORECASE,
    ),
    "support_device": re.compile(
        r"(?:breast|knee|hip)\s+(?:prosthes[ie]s|implants?)|(?:monitor(?:ing)?|ecg|ekg|external)\s+(?:\w+\s+)?leads"
        r"|tip\s+of\s+the\s+(?:lung|scapula|clavicle)"
        r"|(?:humeral|humerus|shoulder|hip|knee|joint|orthop\w*)\s+(?:\w+\s+)?prosthe\w*"
        r"|prosthe\w*\s+(?:\w+\s+)?(?:shoulder|humer\w*|hip|knee|joint)",
        re.IGNORECASE,
    ),
}


def find_mentions(clause: str, ontology: Ontology) -> list[Mention]:
    """All finding mentions in ``clause`` (offsets within it), in text order."""
    found: list[Mention] = []
    for labels, normal, pattern in compiled_patterns(ontology):
        for match in pattern.finditer(clause):
            found.extend(Mention(lb, match.start(), match.end(), match.group(0), normal) for lb in labels)
    blocked = {
        label: [(m.start(), m.end()) for m in pattern.finditer(clause)]
        for label, pattern in _BLOCKERS.items()
    }
    kept: list[Mention] = []
    for mention in sorted(found, key=lambda m: m.end - m.start, reverse=True):
        if any(s <= mention.start and mention.end <= e for s, e in blocked.get(mention.label, [])):
            continue
        # A normal statement hides only its own finding's words ("lungs are hyperinflated and clear"
        # still mentions hyperinflation).
        inside_longer = any(
            k.start <= mention.start
            and mention.end <= k.end
            and (k.end - k.start) > (mention.end - mention.start)
            and (not k.normal or k.label == mention.label)
            for k in kept
        )
        if inside_longer or any(k.label == mention.label and k.start == mention.start for k in kept):
            continue
        kept.append(mention)
    return sorted(kept, key=lambda m: (m.start, m.label))
