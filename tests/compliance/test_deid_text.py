"""De-identification of report text: a case table of what must be replaced and what must survive."""

from __future__ import annotations

import pytest

from medvlm.compliance.deid import deidentify_text

# The patient's DICOM name and the signer, as the service knows them.
NAMES = ["Doe^John^Q", "Dr. Ada Lovelace"]
IDS = ["9RG1", "ACC-2024-0042"]

CASES = [
    # (case, text, expected)
    ("patient name, DICOM order", "Doe John presented with cough.", "[NAME] presented with cough."),
    ("patient name, natural order", "John Q Doe presented.", "[NAME] presented."),
    ("surname alone, any case", "Per DOE, no pain.", "Per [NAME], no pain."),
    ("signer", "Reviewed with Ada Lovelace.", "Reviewed with [NAME]."),
    ("titled unknown name", "Discussed with Dr. Jane Smith.", "Discussed with Dr. [NAME]."),
    ("title without dot", "Mr Brown was informed.", "Mr [NAME] was informed."),
    ("cue then unknown name", "Findings called to Peter Parker at bedside.",
     "Findings called to [NAME] at bedside."),
    ("patient label", "Patient: Maria Garcia, 54F.", "Patient: [NAME], 54F."),
    ("known id", "Prior study 9RG1 reviewed.", "Prior study [ID] reviewed."),
    ("known accession", "See ACC-2024-0042.", "See [ID]."),
    ("mrn label", "MRN: 12345678.", "[ID]."),
    ("long number", "Order 98765432 placed.", "Order [ID] placed."),
    ("alphanumeric id", "Compared with CT12345.", "Compared with [ID]."),
    ("iso date", "Compared with 2024-03-12.", "Compared with [DATE]."),
    ("us date", "Compared with 3/12/2024.", "Compared with [DATE]."),
    ("european date", "Compared with 12.03.24.", "Compared with [DATE]."),
    ("written date", "Compared with March 12, 2024.", "Compared with [DATE]."),
    ("written date, day first", "Compared with 12th Mar 2024.", "Compared with [DATE]."),
    ("month and year", "Stable since Jan 2023.", "Stable since [DATE]."),
    ("time", "Phoned at 14:35.", "Phoned at [TIME]."),
    ("time with am/pm", "Phoned at 2:35 pm.", "Phoned at [TIME]."),
    ("phone", "Call 555-123-4567.", "Call [PHONE]."),
    ("phone with area code", "Call (555) 123-4567.", "Call [PHONE]."),
    ("email", "Send to jane.smith@hospital.org.", "Send to [EMAIL]."),
    ("age over 89", "A 93-year-old woman.", "A 90+-year-old woman."),
    ("age over 89, short form", "104 yo male.", "90+ yo male."),
    # What must survive unchanged: clinical shorthand, measurements, anatomy, IU's own masking.
    ("age under 90 kept", "A 45 year old man.", "A 45 year old man."),
    ("vertebral levels kept", "T12 and L1 compression; C7 intact.", "T12 and L1 compression; C7 intact."),
    ("measurements kept", "5 mm nodule; 3.5 cm mass; 1/2 of the lobe.",
     "5 mm nodule; 3.5 cm mass; 1/2 of the lobe."),
    ("normal report kept", "No acute cardiopulmonary abnormality. Heart size normal.",
     "No acute cardiopulmonary abnormality. Heart size normal."),
    ("roles after cues kept", "Discussed with the referring team. The patient is stable.",
     "Discussed with the referring team. The patient is stable."),
    ("capitalised role kept", "Patient Is stable; discussed with Radiologist on call.",
     "Patient Is stable; discussed with Radiologist on call."),
    ("IU masking kept", "XXXX-year-old with XXXX. Comparison XXXX.",
     "XXXX-year-old with XXXX. Comparison XXXX."),
    ("lobes kept", "Right upper lobe opacity, Left Lower Lobe clear.",
     "Right upper lobe opacity, Left Lower Lobe clear."),
]


@pytest.mark.parametrize(("case", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_text_deidentification(case: str, text: str, expected: str) -> None:
    assert deidentify_text(text, names=NAMES, identifiers=IDS) == expected


def test_a_whole_correction() -> None:
    text = ("Comparison: 2023-11-02 (ACC-2024-0042). Findings discussed with Dr. Ada Lovelace at 09:15 on "
            "12 March 2024 by phone 555-987-6543. Mr. Doe, 92 years old, has a small left effusion.")
    out = deidentify_text(text, names=NAMES, identifiers=IDS)
    phis = ("2023-11-02", "ACC-2024-0042", "Lovelace", "09:15", "12 March 2024", "555-987-6543", "Doe", "92")
    for phi in phis:
        assert phi not in out, phi
    assert "small left effusion" in out


def test_empty_and_blank_inputs() -> None:
    assert deidentify_text("") == ""
    assert deidentify_text("Clear lungs.", names=["", "^"], identifiers=["", "  "]) == "Clear lungs."
