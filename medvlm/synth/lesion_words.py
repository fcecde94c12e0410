"""Per-finding drawing modifiers read from the report's words ("subtle", "ill-defined", "spiculated"...).

``Finding`` carries label, presence, side, severity and location, not the words that say how a lesion
looks; the renderer needs them to draw a "subtle ill-defined opacity" fainter and softer than a
"dense consolidation". Pure: text in, modifiers out; a modifier is read from the sentences that name the
finding (its ``evidence`` sentence when it has one, else the report sentences with one of its words).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from medvlm.findings import Finding

MODIFIERS: dict[str, tuple[str, ...]] = {
    "subtle": ("subtle", "faint", "vague", "minimal", "slight", "questionable", "minimally"),
    "uncertain": (
        "cannot exclude",
        "can not exclude",
        "cannot be excluded",
        "not excluded",
        "possible",
        "possibly",
        "may represent",
        "may reflect",
        "could represent",
        "suspected",
        "suspicious for",
        "versus",
        "vs",
        "equivocal",
        "likely",
        "probable",
        "question of",
        "questionable",
    ),
    "ill-defined": (
        "ill-defined",
        "ill defined",
        "hazy",
        "haziness",
        "indistinct",
        "poorly defined",
        "patchy",
        "fluffy",
        "airspace",
        "streaky",
    ),
    "well-defined": (
        "well-defined",
        "well defined",
        "well-circumscribed",
        "circumscribed",
        "sharply",
        "discrete",
        "rounded",
        "round",
    ),
    "dense": ("dense", "dense consolidation", "confluent", "opacification", "whiteout"),
    "trace": ("trace", "tiny", "blunting"),
    "spiculated": ("spiculated", "spiculation", "irregular", "stellate"),
    "lobulated": ("lobulated", "lobular"),
    "plate-like": ("plate-like", "platelike", "discoid", "linear", "bandlike", "band-like", "subsegmental"),
    "interstitial": ("interstitial", "kerley", "septal", "reticular", "vascular congestion", "cephalization"),
    "perihilar": ("perihilar", "central", "bat wing", "batwing"),
    "basal": ("basilar", "bibasilar", "basal", "base", "bases", "lower lobe", "lower lobes", "dependent"),
    "asymmetric": ("asymmetric", "asymmetrical", "unilateral", "predominantly right", "predominantly left"),
    "calcified": ("calcified", "calcification", "dense"),
    "loculated": ("loculated", "subpulmonic"),
}

# Words that name a finding in report text (what makes a sentence "about" it).
NAMES: dict[str, tuple[str, ...]] = {
    "cardiomegaly": ("cardiomegaly", "heart size", "cardiac silhouette", "cardiac enlargement", "heart"),
    "pleural_effusion": ("effusion", "pleural fluid", "costophrenic", "blunting"),
    "pneumothorax": ("pneumothorax", "pneumothoraces"),
    "consolidation": ("consolidation", "consolidative", "airspace", "pneumonia", "infiltrate"),
    "lung_opacity": (
        "opacity",
        "opacities",
        "opacification",
        "density",
        "densities",
        "infiltrate",
        "haziness",
        "airspace",
    ),
    "atelectasis": ("atelectasis", "atelectatic", "collapse", "scarring", "volume loss"),
    "pulmonary_edema": (
        "edema",
        "oedema",
        "vascular congestion",
        "interstitial",
        "kerley",
        "cephalization",
        "chf",
        "heart failure",
    ),
    "nodule": ("nodule", "nodules", "nodular", "opacity"),
    "mass": ("mass", "masses", "lesion", "tumor", "tumour"),
    "calcified_granuloma": ("granuloma", "granulomas", "granulomatous", "calcified nodule", "calcification"),
    "hyperinflation": ("hyperinflat", "hyperexpan", "emphysema", "copd", "overinflat", "flattened"),
    "support_device": ("tube", "line", "catheter", "pacemaker", "pacer", "lead", "device", "wires"),
}

_SENTENCE = re.compile(r"(?<=[.;!?])\s+|\n+")


def _has(sentence: str, phrase: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(phrase)}", sentence) is not None


def sentences_about(label: str, text: str) -> list[str]:
    """The sentences of ``text`` (lower-cased) that name ``label``."""
    names = NAMES.get(label, (label.replace("_", " "),))
    return [s for s in _SENTENCE.split(text.lower()) if any(_has(s, n) for n in names)]


def words_in(sentences: Iterable[str]) -> frozenset[str]:
    """The modifiers any of ``sentences`` carries."""
    found = set()
    for s in sentences:
        for modifier, phrases in MODIFIERS.items():
            if any(_has(s, p) for p in phrases):
                found.add(modifier)
    return frozenset(found)


def modifiers_for(findings: Sequence[Finding], text: str) -> dict[str, frozenset[str]]:
    """Modifiers per finding label, from each finding's evidence sentence and the report ``text``.

    An evidence string that is a MeSH tag ("Pleural Effusion/left/small") holds no sentence and is
    ignored in favour of the text. Labels with no modifier are left out.
    """
    out: dict[str, frozenset[str]] = {}
    for f in findings:
        sentences = sentences_about(f.label, text)
        if f.evidence and " " in f.evidence.strip() and "/" not in f.evidence:
            sentences.append(f.evidence.lower())
        words = words_in(sentences)
        if words:
            out[f.label] = out.get(f.label, frozenset()) | words
    return out
