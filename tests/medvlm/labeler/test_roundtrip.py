"""The ontology's report phrases read back through the labeler as exactly the finding they render.

The drafting guard writes these sentences into drafts and checks them with the labeler, so every
template, for every allowed side / severity / location, must come back with the same attributes.
"""

from __future__ import annotations

import itertools

import pytest

from medvlm.findings import Presence
from medvlm.labeler import label_report
from medvlm.ontology import load_ontology

ONTOLOGY = load_ontology()


@pytest.mark.parametrize("name", ONTOLOGY.names)
def test_present_phrases_read_back(name: str) -> None:
    spec = ONTOLOGY.get(name)
    failures = []
    for index, template in enumerate(spec.phrases["present"]):
        combos = itertools.product(
            spec.lateralities or [None], spec.severities or [None], spec.locations or [None]
        )
        for side, severity, location in combos:
            text = spec.render(Presence.PRESENT, side, severity, location, index=index)
            want = (
                side if "{laterality}" in template else None,
                severity if "{severity" in template else None,  # {severity} or {severity_adverb}
                location if "{location}" in template else None,
            )
            read = {f.label: f for f in label_report(text, ONTOLOGY)}
            positives = [f.label for f in read.values() if f.presence != Presence.ABSENT]
            got = read.get(name)
            if got is None or positives != [name] or got.presence != Presence.PRESENT:
                failures.append((text, positives))
            elif name != "no_finding":
                attributes = (got.laterality.value if got.laterality else None, got.severity, got.location)
                if attributes != want:
                    failures.append((text, attributes, want))
    assert not failures, failures[:5]


@pytest.mark.parametrize("name", [n for n in ONTOLOGY.names if ONTOLOGY.get(n).phrases["absent"]])
def test_absent_phrases_read_back(name: str) -> None:
    for text in ONTOLOGY.get(name).phrases["absent"]:
        read = {f.label: f for f in label_report(text, ONTOLOGY)}
        assert name in read and read[name].presence == Presence.ABSENT, (text, read)
        assert all(f.presence == Presence.ABSENT for label, f in read.items() if label != "no_finding")
