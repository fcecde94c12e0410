"""The hallucination guard: repaired drafts re-check clean; flag-only mode changes nothing."""

from __future__ import annotations

import pytest

from medvlm.findings import Finding, Laterality, Presence
from medvlm.inference.consistency import check_consistency
from medvlm.inference.guard import drop_repeated_sentences, guard_draft, phrase_for, remove_sentence
from medvlm.ontology import load_ontology

EFFUSION = Finding("pleural_effusion", laterality=Laterality.LEFT, severity="small")
PTX = Finding("pneumothorax", laterality=Laterality.RIGHT, severity="large", critical=True)


@pytest.mark.parametrize(
    ("findings", "findings_text", "impression", "kept"),
    [
        ([EFFUSION], "Small right pleural effusion. Right lower lobe pneumonia. Heart size is normal.",
         "No acute cardiopulmonary abnormality.", "Heart size is normal."),
        ([EFFUSION, PTX], "No pleural effusion. Heart size is normal.", "", "Heart size is normal."),
        ([EFFUSION], "Large left pleural effusion.", "Possible left pleural effusion.", ""),
        ([Finding("no_finding")], "Small left pleural effusion.", "Pleural effusion.", ""),
        ([Finding("pneumothorax", presence=Presence.UNCERTAIN)], "", "", ""),
    ],
)
def test_repair_leaves_a_consistent_draft(findings: list[Finding], findings_text: str, impression: str,
                                          kept: str) -> None:
    before = check_consistency(findings, findings_text, impression)
    assert before, "the case must start inconsistent"
    result = guard_draft(findings, findings_text, impression)
    assert result.flags == []
    assert check_consistency(findings, result.findings_text, result.impression) == []
    # every original problem was repaired (removing a wrong sentence may add an omission, then repaired too)
    assert {(f.label, f.kind) for f in before} <= {(r.label, r.kind) for r in result.repairs}
    assert kept in result.findings_text  # sentences that were right stay
    assert result.impression.strip()


def test_appended_phrase_starts_its_own_sentence() -> None:
    # model text without end punctuation must not swallow the repair into a negated sentence
    result = guard_draft([EFFUSION], "No No No No", "")
    assert [f.kind for f in result.flags] == ["unparsed"]  # nonsense: removed, and the removal flagged
    assert result.findings_text == "Small left pleural effusion."
    result = guard_draft([EFFUSION], "No pneumothorax", "")
    assert result.flags == []
    assert result.findings_text == "No pneumothorax. Small left pleural effusion."


def test_empty_findings_section_is_filled() -> None:
    result = guard_draft([EFFUSION], "", "Left effusion.")
    assert result.flags == [] and result.findings_text == "Small left pleural effusion."


def test_flag_only_mode_changes_nothing() -> None:
    text, impression = "Small right pleural effusion.", "Right pleural effusion."
    result = guard_draft([EFFUSION], text, impression, repair=False)
    assert (result.findings_text, result.impression, result.repairs) == (text, impression, [])
    assert {f.kind for f in result.flags} == {"laterality"}


def test_consistent_draft_is_untouched() -> None:
    text, impression = "Small left pleural effusion. No pneumothorax.", "Small left pleural effusion."
    result = guard_draft([EFFUSION], text, impression)
    assert (result.findings_text, result.impression) == (text, impression)
    assert result.flags == [] and result.repairs == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Right pneumothorax. Right pneumothorax.", "Right pneumothorax."),
        (
            "Right pneumothorax. Small effusion.  right  Pneumothorax. Small effusion",
            "Right pneumothorax. Small effusion.",
        ),
        ("Heart size 1.5 cm. No effusion. Heart size 1.5 cm.", "Heart size 1.5 cm. No effusion."),
        ("No effusion. No pneumothorax.", "No effusion. No pneumothorax."),
        ("", ""),
    ],
)
def test_drop_repeated_sentences(text: str, expected: str) -> None:
    assert drop_repeated_sentences(text) == expected


def test_repair_keeps_a_repeated_sentence_once_and_flag_mode_does_not() -> None:
    text = "Small left pleural effusion. Small left pleural effusion."
    repaired = guard_draft([EFFUSION], text, "Small left pleural effusion.")
    assert repaired.findings_text == "Small left pleural effusion."
    assert guard_draft([EFFUSION], text, "", repair=False).findings_text == text


@pytest.mark.parametrize(
    ("text", "sentence", "expected"),
    [
        ("A b. No effusion. C d.", "No effusion", "A b. C d."),
        ("No effusion.", "No effusion", ""),
        ("A b.", "Not there", None),
        ("A b.", "", None),
    ],
)
def test_remove_sentence(text: str, sentence: str, expected: str | None) -> None:
    assert remove_sentence(text, sentence) == expected


@pytest.mark.parametrize(
    ("finding", "expected"),
    [
        (EFFUSION, "Small left pleural effusion."),
        (Finding("pneumothorax", presence=Presence.UNCERTAIN, laterality=Laterality.RIGHT),
         "Possible right pneumothorax."),
        (Finding("support_device", laterality=Laterality.LEFT), None),  # device type unknown: no wording
        (Finding("retired_label"), None),  # a label the current ontology no longer has
    ],
)
def test_phrase_for(finding: Finding, expected: str | None) -> None:
    assert phrase_for(finding, load_ontology()) == expected
