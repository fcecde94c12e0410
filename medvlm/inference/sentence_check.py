"""Does the guard understand a sentence? Every delivered sentence must be one it can read.

A sentence is understood when (1) every word is a known report word (the IU report corpus's train and
validation text and the ontology's own words: "ololol", "impres" are not), (2) it passes three grammar
checks ("The lungs is normal." fails number agreement; "The heart is granuloma." puts a finding noun
where an organ's state belongs; "No effusions or effusions." stutters), and (3) the labeler reads a
statement about a finding from it, or it is one of the normal statements below (which state no finding
the labeler knows, and are safe as written).
"""

from __future__ import annotations

import re
from functools import lru_cache

from medvlm.ontology import Ontology

WORD = re.compile(r"[a-z]+")
# Common report words outside the ontology, for when the IU corpus is not installed.
BASE_WORDS = {
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "being", "there", "no", "not", "of",
    "in", "on", "at", "to", "and", "or", "with", "without", "within", "as", "by", "for", "from", "this",
    "that", "these", "those", "it", "its", "has", "have", "had", "seen", "noted", "identified",
    "present", "evident", "again", "otherwise", "also", "than", "normal", "limits", "stable",
    "unchanged", "clear", "intact", "unremarkable", "acute", "chronic", "cardiopulmonary",
    "abnormality", "abnormalities", "disease", "process", "findings", "finding", "evidence",
    "appearance", "appear", "appears", "silhouette", "cardiomediastinal", "mediastinal", "cardiac",
    "heart", "lungs", "lung", "size", "contour", "contours", "bony", "osseous", "structures",
    "structure", "visualized", "visualised", "grossly", "well", "expanded", "expansion", "chest",
    "radiograph", "view", "views", "pa", "ap", "lateral", "frontal", "upper", "lower", "middle", "lobe",
    "lobes", "zone", "zones", "base", "bases", "apex", "apices", "hilar", "hila", "right", "left",
    "bilateral", "mild", "moderate", "severe", "small", "large", "minimal", "trace", "tiny", "new",
    "since", "prior", "previous", "comparison", "compared", "exam", "study",
}
NORMAL_STATEMENTS = [re.compile(p) for p in (
    r"^no acute (cardiopulmonary|cardiac|pulmonary|osseous|bony|intrathoracic|chest) "
    r"(abnormality|abnormalities|process|disease|findings?)$",
    r"^no (acute )?(active|focal )?(cardiopulmonary|pulmonary) disease$",
    r"^(the )?(cardiomediastinal|mediastinal|cardiac|hilar) (silhouette|contours?|structures)( and \w+ "
    r"(silhouette|contours?))? ((is|are) )?(within normal limits|normal|unremarkable|stable|normal in size)$",
    r"^(the )?pulmonary (vasculature|vascularity) ((is|appears) )?"
    r"(within normal limits|normal|unremarkable)$",
    # the normal free-air statement of an upright film, in the IU reports' words
    r"^(there is )?no (visible |evidence of )?(free )?(intraperitoneal |subdiaphragmatic )?(free )?air"
    r"( under the (right |left )?(hemi)?diaphragms?)?$",
    r"^(the )?(visualized |visualised )?(bony|osseous) structures (are|appear) (intact|unremarkable|normal)$",
    r"^no (acute )?(bony|osseous) abnormality$",
    r"^(the )?lungs are (well expanded|well aerated)( and clear)?$",
    r"^(the )?mediastinum (is|appears) "
    r"(unremarkable|normal|within normal limits|stable|normal in (size|contour))$",
    r"^normal chest$",
)]
SINGULAR = {"heart", "lung", "mediastinum", "silhouette", "effusion", "pneumothorax", "nodule", "mass",
            "opacity", "consolidation", "size", "contour", "aorta", "diaphragm"}
PLURAL = {"lungs", "effusions", "opacities", "nodules", "masses", "ribs", "bones", "structures", "contours",
          "hila", "bases", "apices", "granulomas", "lines", "tubes"}
ORGANS = r"(heart|lungs?|mediastinum|aorta|diaphragm|silhouette|hila|pleura)"


_VOCABULARIES: dict[int, tuple[Ontology, frozenset[str]]] = {}  # by ontology object (it is not hashable)


def vocabulary(ontology: Ontology) -> frozenset[str]:
    cached = _VOCABULARIES.get(id(ontology))
    if cached is not None and cached[0] is ontology:
        return cached[1]
    words = set(BASE_WORDS)
    texts: list[str] = []
    for name in ontology.names:
        spec = ontology.get(name)
        texts += [name.replace("_", " "), spec.display, *spec.synonyms, *spec.normal_phrases,
                  *spec.lateralities, *spec.locations, *spec.severities]
        texts += [p for phrases in spec.phrases.values() for p in phrases]
    texts += list(getattr(ontology, "location_words", None) or [])
    texts += list(getattr(ontology, "device_types", None) or [])
    severity_words = getattr(ontology, "severity_words", None) or {}
    texts += [w for values in dict(severity_words).values() for w in values]
    for text in texts:
        words |= set(WORD.findall(str(text).lower()))
    words |= _corpus_words()
    _VOCABULARIES[id(ontology)] = (ontology, frozenset(words))
    return _VOCABULARIES[id(ontology)][1]


@lru_cache(maxsize=1)
def _corpus_words() -> frozenset[str]:
    """Words of the IU train and validation reports (never the test buckets); empty if not installed."""
    try:
        from medvlm.corpus.iu import load_iu_reports

        reports = load_iu_reports(("train", "validation"))
    except Exception:  # the corpus wheel is optional at run time: the ontology's words still apply
        return frozenset()
    words: set[str] = set()
    for report in reports:
        words |= set(WORD.findall(report.text.lower()))
    return frozenset(words)


def _finding_nouns(ontology: Ontology) -> list[str]:
    nouns = {"granuloma", "granulomas", "effusion", "pneumothorax", "nodule", "mass", "consolidation",
             "atelectasis", "edema", "oedema", "cardiomegaly", "fracture", "opacity", "hyperinflation"}
    for name in ontology.names:
        nouns.add(ontology.get(name).display.lower())
    return sorted(nouns, key=len, reverse=True)


# A word said twice with only joining words between: the small model's stutter ("No effusions or
# effusions.", "pneumonia consistent with pneumonia"); "left effusion and right effusion" is not one.
STUTTER = re.compile(r"\b([a-z]{4,})((?: (?:or|and|of|versus|consistent with|compatible with|likely|probably"
                     r"|suggesting|representing))+) \1\b")


def grammar_problem(sentence: str, ontology: Ontology) -> str | None:
    text = " ".join(WORD.findall(sentence.lower()))
    stutter = STUTTER.search(text)
    if stutter:
        return f"'{stutter.group(1)}' repeated"
    for match in re.finditer(r"\b(\w+) (is|are|was|were)\b", text):
        noun, verb = match.groups()
        # "heart size and mediastinal contour are": a coordinated subject is plural
        coordinated = "and" in text[: match.start()].split()[-4:]
        if (noun in PLURAL and verb in ("is", "was")) or (
            noun in SINGULAR and verb in ("are", "were") and not coordinated
        ):
            return f"'{noun} {verb}' does not agree in number"
    nouns = "|".join(re.escape(n) for n in _finding_nouns(ontology))
    modifiers = r"((a|an|the|small|large|mild|moderate|severe|left|right|bilateral|calcified|pleural) )*"
    if re.search(rf"\b{ORGANS} (is|are) {modifiers}({nouns})$", text):
        return "an organ is said to be a finding"
    return None


def unreadable_reason(sentence: str, ontology: Ontology) -> str | None:
    """Why the guard cannot vouch for ``sentence`` (None: it can)."""
    from medvlm.labeler import label_mentions

    words = WORD.findall(sentence.lower())
    if not words:
        return "no words"
    unknown = sorted({w for w in words if w not in vocabulary(ontology)})
    if unknown:
        return f"unknown word(s) {', '.join(unknown[:3])}"
    problem = grammar_problem(sentence, ontology)
    if problem:
        return f"ungrammatical: {problem}"
    plain = " ".join(words)
    if any(p.search(plain) for p in NORMAL_STATEMENTS):
        return None
    spec = ontology.findings.get("no_finding") if hasattr(ontology, "findings") else None
    if spec is not None and any(" ".join(WORD.findall(p.lower())) == plain for p in spec.phrases["present"]):
        return None
    if not label_mentions(sentence, ontology):
        return "states no finding the labeler knows"
    return None
