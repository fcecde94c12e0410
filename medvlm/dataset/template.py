"""Template studies: findings sampled at plausible prevalences, reports written from the ontology phrases."""

from __future__ import annotations

import numpy as np

from medvlm.findings import NO_FINDING, Finding, Laterality, Presence
from medvlm.ontology import Ontology
from medvlm.synth.devices import DEVICES

NORMAL_FRACTION = 1 / 3
# Relative prevalence among abnormal studies (roughly the IU / chest-film mix).
PREVALENCE = {
    "cardiomegaly": 0.16,
    "pleural_effusion": 0.12,
    "lung_opacity": 0.12,
    "atelectasis": 0.10,
    "calcified_granuloma": 0.10,
    "support_device": 0.10,
    "nodule": 0.07,
    "consolidation": 0.07,
    "hyperinflation": 0.06,
    "pulmonary_edema": 0.05,
    "pneumothorax": 0.05,
    "mass": 0.03,
}
# Locations the renderer places by lobe or zone; "middle lobe" only exists on the right.
LOCATIONS = ("upper lobe", "lower lobe", "base", "apex", "middle lobe", "lingula")
NEGATIVES = ("pneumothorax", "pleural_effusion", "cardiomegaly")


def _attributes(name: str, onto: Ontology, rng: np.random.Generator) -> Finding:
    spec = onto.get(name)
    lat = str(rng.choice(spec.lateralities)) if spec.lateralities else None
    severity = str(rng.choice(spec.severities)) if spec.severities else None
    location = None
    if name == "support_device":
        location = str(rng.choice(DEVICES[:3]))
        lat = "right" if location == "central line" else None
    elif spec.locations and name not in ("pneumothorax", "pleural_effusion", "pulmonary_edema"):
        options = [loc for loc in LOCATIONS if loc in spec.locations]
        if lat == "left":
            options = [loc for loc in options if loc != "middle lobe"]
        if lat == "right" or lat == "bilateral":
            options = [loc for loc in options if loc != "lingula"]
        location = str(rng.choice(options)) if options and rng.random() < 0.8 else None
    finding = Finding(
        label=name, laterality=Laterality(lat) if lat else None, severity=severity, location=location
    )
    return Finding(**{**finding.__dict__, "critical": spec.is_critical(finding)})


def sample_findings(onto: Ontology, rng: np.random.Generator) -> list[Finding]:
    if rng.random() < NORMAL_FRACTION:
        return [Finding(label=NO_FINDING)]
    names = [n for n in PREVALENCE if n in onto]
    p = np.array([PREVALENCE[n] for n in names])
    count = int(rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1]))
    chosen = rng.choice(names, size=count, replace=False, p=p / p.sum())
    return [_attributes(str(n), onto, rng) for n in onto.names if n in set(chosen)]


def _sentence(f: Finding, onto: Ontology, index: int) -> str:
    spec = onto.get(f.label)
    lat = f.laterality.value if f.laterality else None
    return spec.render(f.presence, laterality=lat, severity=f.severity, location=f.location, index=index)


def write_report(findings: list[Finding], onto: Ontology, rng: np.random.Generator) -> tuple[str, str]:
    """(findings section, impression) stating every present finding and the usual pertinent negatives."""
    present = [f for f in findings if f.label != NO_FINDING and f.presence != Presence.ABSENT]
    sentences = [_sentence(f, onto, int(rng.integers(8))) for f in present]
    for name in NEGATIVES:
        if name in onto and all(f.label != name for f in present):
            sentences.append(onto.get(name).render(Presence.ABSENT, index=int(rng.integers(8))))
    if not present:
        impression = onto.get(NO_FINDING).render(Presence.PRESENT)
    else:
        impression = " ".join(_sentence(f, onto, 0) for f in present)
    return " ".join(s for s in sentences if s), impression
