"""Labeler case table: negation scope, uncertainty, laterality, severity, location, change, co-mentions."""

from __future__ import annotations

import pytest

from medvlm.findings import Finding, Laterality, Presence
from medvlm.labeler import label_mentions, label_report

P, A, U = Presence.PRESENT, Presence.ABSENT, Presence.UNCERTAIN
L, R, B = Laterality.LEFT, Laterality.RIGHT, Laterality.BILATERAL


def _by_label(text: str) -> dict[str, Finding]:
    return {f.label: f for f in label_report(text)}


# text -> {label: presence}; labels not listed must not be mentioned at all (no_finding excepted).
PRESENCE_CASES = [
    ("No pneumothorax or effusion.", {"pneumothorax": A, "pleural_effusion": A}),
    (
        "No focal consolidation, pneumothorax, or large pleural effusion.",
        {"consolidation": A, "pneumothorax": A, "pleural_effusion": A},
    ),
    ("Heart size is normal without effusion.", {"cardiomegaly": A, "pleural_effusion": A}),
    ("Normal heart size.", {"cardiomegaly": A}),
    ("The heart is not enlarged.", {"cardiomegaly": A}),
    ("Pneumothorax is not seen.", {"pneumothorax": A}),
    (
        "No pneumothorax, but there is a small left pleural effusion.",
        {"pneumothorax": A, "pleural_effusion": P},
    ),
    ("No effusion. Mild cardiomegaly.", {"pleural_effusion": A, "cardiomegaly": P}),
    ("Cannot exclude a small left effusion.", {"pleural_effusion": U}),
    ("Pneumonia cannot be excluded.", {"consolidation": U}),
    ("Possible right lower lobe pneumonia.", {"consolidation": U}),
    ("Questionable nodule in the left upper lobe.", {"nodule": U}),
    ("Right basilar opacity may represent atelectasis.", {"lung_opacity": P, "atelectasis": U}),
    ("Left basilar atelectasis versus scarring.", {"atelectasis": P}),
    ("Probable right lower lobe pneumonia.", {"consolidation": P}),
    ("Left basilar atelectasis has resolved.", {"atelectasis": A}),
    ("Interval resolution of the right pleural effusion.", {"pleural_effusion": A}),
    ("Unchanged small left pleural effusion.", {"pleural_effusion": P}),
    ("No focal air space opacity to suggest a pneumonia.", {"lung_opacity": A, "consolidation": A}),
    ("No significant change in the small right effusion.", {"pleural_effusion": P}),
    (
        "Cardiomegaly with small bilateral effusions and mild pulmonary edema.",
        {"cardiomegaly": P, "pleural_effusion": P, "pulmonary_edema": P},
    ),
    ("Calcified granuloma in the right upper lobe.", {"calcified_granuloma": P}),
    ("Small calcified nodule in the left lung base.", {"calcified_granuloma": P, "nodule": P}),
    ("There is a pericardial effusion.", {}),
    ("Subcutaneous emphysema in the left chest wall.", {}),
    ("The lungs are hyperexpanded consistent with emphysema.", {"hyperinflation": P}),
    ("The lungs are clear.", {"lung_opacity": A, "consolidation": A, "pulmonary_edema": A}),
    (
        "Left basilar opacity. The lungs are otherwise clear.",
        {"lung_opacity": P, "consolidation": A, "pulmonary_edema": A},
    ),
    ("Heart size is upper limits of normal.", {}),
    ("The heart size XXXX at XXXX mildly enlarged.", {"cardiomegaly": P}),
    ("There are several age-indeterminate left-sided rib fractures.", {"fracture": P}),
    ("Right lower lobe infiltrate, in the appropriate clinical setting compatible with pneumonia.",
     {"lung_opacity": P, "consolidation": U}),
    ("Limited exam, for evaluation of fractures.", {"fracture": U}),
    ("Heart size normal.No effusion.", {"cardiomegaly": A, "pleural_effusion": A}),
    ("Right IJ central venous catheter tip in the SVC.", {"support_device": P}),
    ("Left chest wall pacemaker with leads in the right ventricle.", {"support_device": P}),
    ("Prosthetic right shoulder.", {}),  # orthopaedic hardware is not a support device
    ("Prosthetic aortic valve.", {"support_device": P}),
    ("Overlying external cardiac monitor leads.", {}),
    ("Healed left rib fractures. No acute fracture.", {"fracture": P}),
    ("No displaced rib fracture visualized.", {"fracture": A}),
    ("Degenerative changes of the thoracic spine.", {}),
    # normal statements (ontology normal_statements): they rule out only what they cover
    (
        "The lungs are hyperinflated and clear.",
        {"hyperinflation": P, "lung_opacity": A, "consolidation": A, "pulmonary_edema": A},
    ),
    ("The lungs are not clear.", {}),
    ("Normal chest wall.", {}),
    ("No acute osseous abnormality.", {"fracture": A}),
    ("Left lower lobe pneumonia. No other acute cardiopulmonary process.",
     {"consolidation": P, "lung_opacity": A, "pleural_effusion": A, "pneumothorax": A, "pulmonary_edema": A}),
    ("No focal airspace disease.", {"lung_opacity": A, "consolidation": A}),  # absent_implies
]


@pytest.mark.parametrize(("text", "expected"), PRESENCE_CASES)
def test_presence(text: str, expected: dict[str, Presence]) -> None:
    found = {label: f.presence for label, f in _by_label(text).items() if label != "no_finding"}
    assert found == expected


@pytest.mark.parametrize(
    ("text", "label", "laterality", "severity", "location"),
    [
        ("Small left pleural effusion.", "pleural_effusion", L, "small", None),
        ("Large right-sided pleural effusion.", "pleural_effusion", R, "large", None),
        ("Pleural effusions bilaterally.", "pleural_effusion", B, None, None),
        ("Right and left pleural effusions are moderate in size.", "pleural_effusion", B, "moderate", None),
        ("Bibasilar atelectasis.", "atelectasis", B, None, "base"),
        ("Airspace disease in the right lower lobe.", "lung_opacity", R, None, "lower lobe"),
        ("Lingular opacity.", "lung_opacity", L, None, "lingula"),
        ("Right middle lobe pneumonia.", "consolidation", R, None, "middle lobe"),
        ("Mild cardiomegaly.", "cardiomegaly", None, "mild", None),
        ("The heart is moderately enlarged.", "cardiomegaly", None, "moderate", None),
        ("Heart size is borderline.", "cardiomegaly", None, "borderline", None),
        ("Small right apical pneumothorax.", "pneumothorax", R, "small", "apex"),
        ("Right-sided PICC line in good position.", "support_device", R, None, "central line"),
        ("Left-sided pacemaker in place.", "support_device", L, None, "pacemaker"),
        ("Endotracheal tube 4 cm above the carina.", "support_device", None, None, "endotracheal tube"),
        ("Right lower lobe pneumonia and small left effusion.", "pleural_effusion", L, "small", None),
        ("Minimal atelectasis, platelike in the right upper lobe.", "atelectasis", R, "mild", "upper lobe"),
        ("Left middle lobe opacity.", "lung_opacity", L, None, "middle lobe"),  # written side beats anatomy
        ("Significant bilateral emphysematous changes.", "hyperinflation", B, "severe", None),
    ],
)
def test_attributes(
    text: str, label: str, laterality: Laterality | None, severity: str | None, location: str | None
) -> None:
    finding = _by_label(text)[label]
    assert finding.presence == P
    assert (finding.laterality, finding.severity, finding.location) == (laterality, severity, location)


@pytest.mark.parametrize(
    ("text", "label", "change"),
    [
        ("Unchanged small left pleural effusion.", "pleural_effusion", "unchanged"),
        ("Stable cardiomegaly.", "cardiomegaly", "unchanged"),
        ("Improved left basilar atelectasis.", "atelectasis", "improved"),
        ("Increased right pleural effusion.", "pleural_effusion", "worsened"),
        ("New right upper lobe consolidation.", "consolidation", "new"),
        ("The right pleural effusion has resolved.", "pleural_effusion", "resolved"),
        ("Small left effusion.", "pleural_effusion", None),
    ],
)
def test_change(text: str, label: str, change: str | None) -> None:
    assert _by_label(text)[label].change == change


def test_present_mention_wins_over_a_negated_one_and_evidence_is_kept() -> None:
    findings = _by_label("No right effusion. Small left pleural effusion.")
    effusion = findings["pleural_effusion"]
    assert (effusion.presence, effusion.laterality) == (P, L)
    assert effusion.evidence == "Small left pleural effusion"


@pytest.mark.parametrize(
    ("text", "no_finding"),
    [
        ("No acute cardiopulmonary abnormality. No effusion.", True),
        ("Mild cardiomegaly.", False),
        ("Possible pneumonia.", False),
        ("", False),
    ],
)
def test_no_finding(text: str, no_finding: bool) -> None:
    assert ("no_finding" in _by_label(text)) is no_finding


@pytest.mark.parametrize(
    ("text", "label", "critical"),
    [
        ("Large left pleural effusion.", "pleural_effusion", True),
        ("Small left pleural effusion.", "pleural_effusion", False),
        ("Small right apical pneumothorax.", "pneumothorax", True),
        ("No pneumothorax.", "pneumothorax", False),
    ],
)
def test_critical(text: str, label: str, critical: bool) -> None:
    assert _by_label(text)[label].critical is critical


def test_sentences_are_split_around_list_numbers_and_decimals() -> None:
    text = "1. A 1.5 cm nodule in the right upper lobe. 2. No effusion."
    mentions = label_mentions(text)
    assert [(m.label, m.presence, m.sentence) for m in mentions] == [
        ("nodule", P, "A 1.5 cm nodule in the right upper lobe"),
        ("pleural_effusion", A, "No effusion"),
    ]
