"""The Encapsulated PDF export: read back with pydicom, checked with dciodvfy, the PDF inside re-read."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pypdf
import pytest

from medvlm.service.exports import encapsulated_pdf
from medvlm.service.exports.context import ReportContext
from medvlm.service.exports.errors import ExportInputError
from medvlm.service.exports.pdf import build_pdf
from tests.service.exports.report_fixtures import dciodvfy, make_context

ENCAPSULATED_PDF_STORAGE = "1.2.840.10008.5.1.4.1.1.104.1"


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "draft"])
def test_encapsulated_pdf_reads_back_and_validates(film: Path, tmp_path: Path, signed: bool) -> None:
    ctx = make_context(film, signed=signed)
    out = tmp_path / "report.dcm"
    out.write_bytes(encapsulated_pdf.build(ctx))
    errors, _warnings = dciodvfy(out)
    assert errors == []

    ds = pydicom.dcmread(out)
    source = pydicom.dcmread(film, stop_before_pixels=True)
    assert ds.SOPClassUID == ENCAPSULATED_PDF_STORAGE
    assert ds.MIMETypeOfEncapsulatedDocument == "application/pdf"
    for keyword in ("StudyInstanceUID", "PatientID", "PatientName", "PatientBirthDate", "AccessionNumber"):
        assert ds[keyword].value == source[keyword].value, keyword
    assert ds.Modality == "DOC" and ds.SeriesInstanceUID != source.SeriesInstanceUID
    ref = ds.SourceInstanceSequence[0]
    assert ref.ReferencedSOPClassUID == source.SOPClassUID
    assert ref.ReferencedSOPInstanceUID == source.SOPInstanceUID
    assert ds.DocumentTitle == ("Radiology report" if signed else "DRAFT radiology report (unsigned)")

    pdf = bytes(ds.EncapsulatedDocument)[: ds.EncapsulatedDocumentLength]
    assert pdf == build_pdf(ctx)
    text = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert ("reviewed and signed by Dr. Ada Lovelace" in text) is signed
    assert ("DRAFT" in text) is not signed


def test_odd_length_pdf_is_padded_and_its_length_kept(signed_ctx: ReportContext) -> None:
    pdf = build_pdf(signed_ctx)
    odd = pdf if len(pdf) % 2 else pdf + b"\n"
    ds = pydicom.dcmread(io.BytesIO(encapsulated_pdf.build(signed_ctx, odd)))
    assert ds.EncapsulatedDocumentLength == len(odd)
    assert len(ds.EncapsulatedDocument) == len(odd) + 1
    assert bytes(ds.EncapsulatedDocument)[: len(odd)] == odd


def test_key_image_that_is_not_dicom_is_refused(film: Path, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.dcm"
    bogus.write_text("not dicom")
    ctx = make_context(film, signed=True)
    bad = ReportContext(**{**ctx.__dict__, "key_image_path": bogus})
    with pytest.raises(ExportInputError, match="cannot be read as DICOM"):
        encapsulated_pdf.build(bad)
