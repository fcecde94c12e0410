"""The guard delivers only sentences it can read; nonsense is removed and flagged, never passed silently."""

from __future__ import annotations

import pytest

from medvlm.findings import NO_FINDING, Finding, Laterality, Presence
from medvlm.inference.draft import settle_no_finding
from medvlm.inference.guard import guard_draft
from medvlm.inference.sentence_check import unreadable_reason
from medvlm.ontology import load_ontology

GRANULOMA = Finding("calcified_granuloma", laterality=Laterality.RIGHT)


@pytest.mark.parametrize(
    ("sentence", "why"),
    [
        ("The heart is granuloma.", "ungrammatical"),
        ("The lungs is normal.", "ungrammatical"),
        ("The contour are normal.", "ungrammatical"),
        # the reference model's stutters, delivered in 3 % of drafts before this check (2026-12-07)
        ("No effusions or effusions.", "'effusions' repeated"),
        ("No effusions, pneumonia consistent with pneumonia.", "'pneumonia' repeated"),
        ("ololol", "unknown word"),
        ("impres effusion", "unknown word"),
        ("Degenerative changes of the spine.", "no finding the labeler knows"),
        # positive claims outside the ontology stay unverifiable, however well formed
        ("The thoracic aorta is calcified and tortuous.", "no finding the labeler knows"),
        ("The lungs are hypoinflated.", "no finding the labeler knows"),
        ("There is free air under the diaphragm.", "no finding the labeler knows"),
    ],
)
def test_unreadable_sentences(sentence: str, why: str) -> None:
    reason = unreadable_reason(sentence, load_ontology())
    assert reason is not None and why in reason


@pytest.mark.parametrize(
    "sentence",
    ["No acute cardiopulmonary abnormality.", "The cardiomediastinal silhouette is within normal limits.",
     "Heart size is normal.", "The lungs are clear.", "There is no pneumothorax.",
     "Right calcified granuloma.",
     "The heart is mildly enlarged.", "Small left pleural effusion.", "Bony structures are intact.",
     # the model's most frequent normal sentences, which the guard removed as unreadable (2026-12-06)
     "The heart size and mediastinal contours are within normal limits.", "The mediastinum is unremarkable.",
     "Heart size and mediastinal contour are normal.",
     # normal statements the guard removed as unreadable from 1 % of drafts (2026-12-07)
     "Pulmonary vasculature within normal limits.", "Mediastinal contour within normal limits.",
     "There is no visible free intraperitoneal air under the diaphragm.", "No free subdiaphragmatic air.",
     # a word said twice with a modifier between is not a stutter
     "Small left effusion and small right effusion.", "Right upper and right lower lobe atelectasis.",
     "Heart size mildly enlarged with enlarged right atrium."],
)
def test_readable_sentences(sentence: str) -> None:
    assert unreadable_reason(sentence, load_ontology()) is None


def test_every_ontology_phrase_is_readable() -> None:
    """What the guard writes itself must pass its own check."""
    onto = load_ontology()
    for name in onto.names:
        spec = onto.get(name)
        for presence in ("present", "absent"):
            for i in range(len(spec.phrases.get(presence) or [])):
                side = Laterality(spec.lateralities[0]) if spec.lateralities else None
                severity = spec.severities[0] if spec.severities else None
                location = spec.locations[0] if spec.locations else None
                text = spec.render(Presence(presence), side, severity, location, index=i)
                assert unreadable_reason(text, onto) is None, text


@pytest.mark.parametrize("repair", [True, False])
def test_nonsense_is_never_delivered_silently(repair: bool) -> None:
    text = "ololol. The heart is granuloma. The lungs is normal. Right calcified granuloma."
    result = guard_draft([GRANULOMA], text, "Right calcified granuloma.", repair=repair)
    unparsed = [f for f in result.flags if f.kind == "unparsed"]
    assert [f.sentence for f in unparsed] == ["ololol", "The heart is granuloma", "The lungs is normal"]
    if repair:
        assert result.findings_text == "Right calcified granuloma."
        assert all("removed" in f.message for f in unparsed)
        onto = load_ontology()
        from medvlm.labeler.sentences import split_sentences

        for section in (result.findings_text, result.impression):
            assert all(unreadable_reason(s.text, onto) is None for s in split_sentences(section))


def test_no_finding_never_stands_beside_a_present_finding() -> None:
    findings = [Finding(NO_FINDING, probability=0.7), Finding("mass", probability=0.9)]
    settled = {f.label: f.presence for f in settle_no_finding(findings)}
    assert settled == {NO_FINDING: Presence.ABSENT, "mass": Presence.PRESENT}
    alone = [Finding(NO_FINDING), Finding("mass", Presence.ABSENT)]
    assert settle_no_finding(alone) == alone
