"""The indication: from an IU report's INDICATION section, or from the DICOM request attributes."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset

from medvlm.inference.indication import from_dicom, from_report

IU = [
    ("age-placeholder", "XXXX-year-old male with chest pain.", "year-old male with chest pain"),
    ("plain", "Dyspnea", "Dyspnea"),
    ("placeholders-inside", "Positive TB test XXXX XXXX, evaluate", "Positive TB test, evaluate"),
    ("whitespace", "  chest pain,\n  shortness of breath  ", "chest pain, shortness of breath"),
    ("empty", "", ""),
    ("none", None, ""),
    ("only-placeholders", "XXXX XXXX", ""),
]


@pytest.mark.parametrize(("text", "expected"), [pytest.param(t, e, id=i) for i, t, e in IU])
def test_from_iu_report(text: str | None, expected: str) -> None:
    assert from_report(text) == expected


def test_iu_corpus_indications_read() -> None:
    """The IU loader keeps the INDICATION section (what the manifest's ``indication`` is made from)."""
    from medvlm.corpus.iu import IUReport

    report = IUReport("CXR1", "XXXX-year-old female with cough", "", "Clear.", "Normal.", [], "train", [])
    assert from_report(report.indication) == "year-old female with cough"


def _item(**values: object) -> Dataset:
    ds = Dataset()
    for key, value in values.items():
        setattr(ds, key, value)
    return ds


def _coded(meaning: str) -> Dataset:
    return _item(CodeValue="R05", CodingSchemeDesignator="I10", CodeMeaning=meaning)


DICOM = [
    ("top-level-reason", _item(ReasonForTheRequestedProcedure="Cough, fever"), "Cough, fever"),
    ("request-attributes-item",
     _item(RequestAttributesSequence=[_item(ReasonForTheRequestedProcedure="Rule out pneumonia")]),
     "Rule out pneumonia"),
    ("top-level-before-items",
     _item(ReasonForTheRequestedProcedure="Chest pain",
           RequestAttributesSequence=[_item(ReasonForTheRequestedProcedure="Other")]), "Chest pain"),
    ("first-non-empty-item",
     _item(RequestAttributesSequence=[_item(ReasonForTheRequestedProcedure=""),
                                      _item(ReasonForTheRequestedProcedure="Line placement")]),
     "Line placement"),
    ("coded-reason", _item(ReasonForRequestedProcedureCodeSequence=[_coded("Cough")]), "Cough"),
    ("coded-in-item",
     _item(RequestAttributesSequence=[_item(ReasonForRequestedProcedureCodeSequence=[_coded("Dyspnea")])]),
     "Dyspnea"),
    ("reason-for-study", _item(ReasonForStudy="Trauma"), "Trauma"),
    ("admitting-diagnoses", _item(AdmittingDiagnosesDescription=["Pneumonia", "Sepsis"]),
     "Pneumonia; Sepsis"),
    ("text-reason-before-admitting",
     _item(AdmittingDiagnosesDescription="CHF", ReasonForTheRequestedProcedure="Shortness of breath"),
     "Shortness of breath"),
    ("procedure-description-is-not-an-indication", _item(RequestedProcedureDescription="XR CHEST 2V"), ""),
    ("nothing", _item(), ""),
    ("de-identified", _item(ReasonForTheRequestedProcedure="Cough since 03/04/2021, per Dr. John Smith"),
     "Cough since [DATE], per Dr. [NAME]"),
]


@pytest.mark.parametrize(("ds", "expected"), [pytest.param(d, e, id=i) for i, d, e in DICOM])
def test_from_dicom_request_attributes(ds: Dataset, expected: str) -> None:
    assert from_dicom(ds) == expected
