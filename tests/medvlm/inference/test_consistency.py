"""The consistency check with the real labeler and ontology: every kind of disagreement, and agreement."""

from __future__ import annotations

import pytest

from medvlm.findings import Finding, Laterality, Presence
from medvlm.inference.consistency import check_consistency

EFFUSION = Finding("pleural_effusion", laterality=Laterality.LEFT, severity="small")
PTX = Finding("pneumothorax", laterality=Laterality.RIGHT, severity="large", critical=True)
ABSENT_HEART = Finding("cardiomegaly", presence=Presence.ABSENT, probability=0.1)


@pytest.mark.parametrize(
    ("findings", "findings_text", "impression", "expected"),
    [
        # agreement: positives stated, absents negated or not mentioned
        ([EFFUSION, ABSENT_HEART], "Small left pleural effusion. Heart size is normal. No pneumothorax.",
         "Small left pleural effusion.", set()),
        ([Finding("no_finding")], "Heart size is normal. No pleural effusion.",
         "No acute cardiopulmonary abnormality.", set()),
        ([], "The lungs are clear.", "", set()),
        # hallucination: stated present, or stated possible, while the structured findings lack it
        ([EFFUSION], "Small left pleural effusion. Right lower lobe pneumonia.", "Left pleural effusion.",
         {("consolidation", "hallucination", "findings")}),
        ([EFFUSION], "Small left pleural effusion.", "Small left pleural effusion. Possible pneumothorax.",
         {("pneumothorax", "hallucination", "impression")}),
        ([EFFUSION, ABSENT_HEART], "Small left pleural effusion. Moderate cardiomegaly.",
         "Small left pleural effusion.", {("cardiomegaly", "hallucination", "findings")}),
        # omission: never mentioned, or negated
        ([EFFUSION, PTX], "Small left pleural effusion.", "Small left pleural effusion.",
         {("pneumothorax", "omission", None)}),
        ([EFFUSION], "No pleural effusion.", "No pleural effusion.",
         {("pleural_effusion", "omission", "findings"), ("pleural_effusion", "omission", "impression"),
          ("no_finding", "omission", "impression")}),
        # "no acute cardiopulmonary abnormality" rules out an effusion (labeler, issue #22)
        ([EFFUSION], "Small left pleural effusion.", "No acute cardiopulmonary abnormality.",
         {("no_finding", "omission", "impression"), ("pleural_effusion", "omission", "impression")}),
        # laterality, severity, certainty mismatches
        ([EFFUSION], "Small right pleural effusion.", "Small left pleural effusion.",
         {("pleural_effusion", "laterality", "findings")}),
        ([EFFUSION], "Large left pleural effusion.", "Left pleural effusion.",
         {("pleural_effusion", "severity", "findings")}),
        ([EFFUSION], "Small left pleural effusion.", "Possible small left pleural effusion.",
         {("pleural_effusion", "certainty", "impression")}),
        ([Finding("pleural_effusion", presence=Presence.UNCERTAIN)], "Left pleural effusion.",
         "Possible pleural effusion.", {("pleural_effusion", "certainty", "findings")}),
    ],
)
def test_flags(findings: list[Finding], findings_text: str, impression: str,
               expected: set[tuple[str, str, str | None]]) -> None:
    flags = check_consistency(findings, findings_text, impression)
    assert {(f.label, f.kind, f.section) for f in flags} == expected
    for flag in flags:
        assert flag.message and set(flag.to_dict()) == {"label", "kind", "message", "sentence"}
        if flag.section is not None and flag.label != "no_finding":
            # a flag in a section points at the sentence at fault, which is in that section's text
            text = findings_text if flag.section == "findings" else impression
            assert flag.sentence and flag.sentence in text


def test_messages_name_both_sides() -> None:
    [flag] = check_consistency([EFFUSION], "Small right pleural effusion.", "Left pleural effusion.")
    assert flag.message == ("the findings section says right pleural effusion; "
                            "the structured findings say left")
    assert flag.sentence == "Small right pleural effusion"
