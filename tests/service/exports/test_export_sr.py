"""The DICOM SR export read back with pydicom and checked with dicom3tools' dciodvfy."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

from medvlm.findings import Finding
from medvlm.service.exports.context import ReportContext
from medvlm.service.exports.errors import ExportInputError
from medvlm.service.exports.sr import build_sr, person_name
from tests.service.exports.report_fixtures import (
    FINDINGS_TEXT,
    IMPRESSION,
    chest_film_path,
    dciodvfy,
    make_context,
)

COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"


Item = tuple[tuple[str, ...], pydicom.Dataset]


def _items(seq: pydicom.Sequence, path: tuple[str, ...] = ()) -> Iterator[Item]:
    for item in seq:
        name = item.ConceptNameCodeSequence[0].CodeMeaning
        yield (*path, name), item
        if "ContentSequence" in item:
            yield from _items(item.ContentSequence, (*path, name))


def _value(item: pydicom.Dataset) -> object:
    kind = item.ValueType
    if kind == "TEXT":
        return item.TextValue
    if kind == "CODE":
        code = item.ConceptCodeSequence[0]
        return code.get("CodeValue") or code.get("LongCodeValue")
    if kind == "NUM":
        return float(item.MeasuredValueSequence[0].NumericValue)
    if kind == "IMAGE":
        return item.ReferencedSOPSequence[0].ReferencedSOPInstanceUID
    if kind == "PNAME":
        return str(item.PersonName)
    return None


def _read(data: bytes) -> pydicom.Dataset:
    return pydicom.dcmread(io.BytesIO(data))


@pytest.fixture(scope="module")
def signed_sr(signed_ctx: ReportContext) -> pydicom.Dataset:
    return _read(build_sr(signed_ctx))


@pytest.fixture(scope="module")
def draft_sr(draft_ctx: ReportContext) -> pydicom.Dataset:
    return _read(build_sr(draft_ctx))


@pytest.mark.parametrize(("attribute", "signed", "draft"), [
    ("VerificationFlag", "VERIFIED", "UNVERIFIED"),
    ("CompletionFlag", "COMPLETE", "PARTIAL"),
    ("PreliminaryFlag", "FINAL", "PRELIMINARY"),
    ("SOPClassUID", COMPREHENSIVE_SR, COMPREHENSIVE_SR),
    ("Modality", "SR", "SR"),
])
def test_flags(signed_sr: pydicom.Dataset, draft_sr: pydicom.Dataset, attribute: str, signed: str,
               draft: str) -> None:
    assert (signed_sr[attribute].value, draft_sr[attribute].value) == (signed, draft)


def test_signed_sr_names_the_verifying_observer(signed_sr: pydicom.Dataset,
                                                draft_sr: pydicom.Dataset) -> None:
    observer = signed_sr.VerifyingObserverSequence[0]
    assert str(observer.VerifyingObserverName) == "Lovelace^Ada^^Dr."
    assert observer.VerificationDateTime == "20260314092653+0000"
    assert observer.VerifyingOrganization == "St. Example Hospital"
    assert "VerifyingObserverSequence" not in draft_sr
    names = [_value(i) for p, i in _items(draft_sr.ContentSequence) if p[-1] == "Person Observer Name"]
    assert names == []


def test_sr_references_the_source_study(signed_sr: pydicom.Dataset, film: Path) -> None:
    source = pydicom.dcmread(film, stop_before_pixels=True)
    for keyword in ("StudyInstanceUID", "PatientID", "PatientName", "PatientBirthDate", "AccessionNumber"):
        assert signed_sr[keyword].value == source[keyword].value, keyword
    assert signed_sr.SeriesInstanceUID != source.SeriesInstanceUID
    evidence = signed_sr.CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.StudyInstanceUID == source.StudyInstanceUID
    series = evidence.ReferencedSeriesSequence[0]
    assert series.SeriesInstanceUID == source.SeriesInstanceUID
    assert series.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID


def test_sr_content_tree(signed_sr: pydicom.Dataset) -> None:
    tree = {(p, _value(i)) for p, i in _items(signed_sr.ContentSequence)}
    root = signed_sr.ConceptNameCodeSequence[0]
    assert (root.CodeValue, root.CodingSchemeDesignator) == ("18748-4", "LN")
    expected = {
        (("Findings", "Finding"), FINDINGS_TEXT),
        (("Findings", "Finding"), "pleural_effusion"),
        (("Findings", "Finding", "Laterality"), "7771000"),
        (("Findings", "Finding", "Probability"), 87.0),
        (("Findings", "Finding", "Severity (attribute)"), "small"),
        (("Findings", "Finding"), "pneumothorax"),
        (("Findings", "Finding", "Level of Significance"), "371926006"),
        (("Findings", "Finding", "Presence of property"), "121059"),  # the uncertain nodule
        (("Findings", "Finding", "Finding Site"), "right upper lobe"),
        (("Findings", "Best illustration of finding"), "1.3.6.1.4.1.5962.1.1.9.1.3.20040826185059.5457"),
        (("Conclusions", "Impression"), IMPRESSION),
        (("Person Observer Name",), "Lovelace^Ada^^Dr."),
        (("Device Observer Model Name",), None),
    }
    missing = {e for e in expected if e not in tree and e[1] is not None}
    assert not missing
    assert (("Findings", "Finding"), "cardiomegaly") not in tree  # absent findings are not reported
    comments = [_value(i) for p, i in _items(signed_sr.ContentSequence) if p == ("Comment",)]
    assert comments == ["AI-assisted draft, reviewed and signed by Dr. Ada Lovelace on 2026-03-14 09:26 UTC. "
                        "Model version: tiny-2026.03.1"]


def _other_film() -> Path:
    return Path(str(get_testdata_file("CT_small.dcm")))


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "draft"])
@pytest.mark.parametrize("film_path", [chest_film_path(), _other_film()], ids=["CR chest", "CT"])
def test_sr_passes_dciodvfy(tmp_path: Path, film_path: Path, signed: bool) -> None:
    findings = [Finding("calcified_granuloma", probability=0.5), Finding("pleural_effusion", critical=True)]
    out = tmp_path / "sr.dcm"
    out.write_bytes(build_sr(make_context(film_path, signed=signed, findings=findings,
                                          findings_text="Größe ≥ 2 cm", impression="Ж")))
    errors, _warnings = dciodvfy(out)
    assert errors == []
    back = pydicom.dcmread(out)
    assert back.VerificationFlag == ("VERIFIED" if signed else "UNVERIFIED")
    texts = [_value(i) for _p, i in _items(back.ContentSequence) if i.ValueType == "TEXT"]
    assert "Größe ≥ 2 cm" in texts


def test_same_report_state_gives_the_same_uid(signed_ctx: ReportContext, draft_ctx: ReportContext) -> None:
    first, again, draft = _read(build_sr(signed_ctx)), _read(build_sr(signed_ctx)), _read(build_sr(draft_ctx))
    assert first.SOPInstanceUID == again.SOPInstanceUID
    assert draft.SOPInstanceUID != first.SOPInstanceUID
    # One series per report: the draft and the signed version are successive instances of it.
    assert draft.SeriesInstanceUID == first.SeriesInstanceUID
    assert (draft.InstanceNumber, first.InstanceNumber) == (1, 3)  # signed, with one addendum


@pytest.mark.parametrize("field", ["study_instance_uid", "key_series_instance_uid", "key_sop_instance_uid",
                                   "key_sop_class_uid"])
def test_key_image_must_match_the_report(film: Path, field: str) -> None:
    ctx = make_context(film, signed=True, **{field: "1.2.3.4"})
    with pytest.raises(ExportInputError, match=r"expects '1\.2\.3\.4'"):
        build_sr(ctx)


@pytest.mark.parametrize(("display", "pn"), [
    ("Dr. Ada Lovelace", "Lovelace^Ada^^Dr."),
    ("Ada King Lovelace", "Lovelace^Ada King"),
    ("Lovelace^Ada", "Lovelace^Ada"),
    ("radiologist1", "radiologist1^"),
])
def test_person_name(display: str, pn: str) -> None:
    assert person_name(display) == pn


def test_dciodvfy_catches_a_broken_sr(signed_ctx: ReportContext, tmp_path: Path) -> None:
    """The validator is not a rubber stamp: drop a mandatory attribute and it reports an error."""
    broken = _read(build_sr(signed_ctx))
    del broken.VerificationFlag
    out = tmp_path / "broken.dcm"
    broken.save_as(out)
    errors, _ = dciodvfy(out)
    assert any("VerificationFlag" in e for e in errors), errors
