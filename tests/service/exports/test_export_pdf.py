"""The PDF export, read back for real: text extracted with pypdf, the page rendered with pdftoppm."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pypdf
import pytest
from PIL import Image

from medvlm.findings import Finding, Presence
from medvlm.service.exports.context import ReportContext, ReportStatus
from medvlm.service.exports.errors import ExportInputError
from medvlm.service.exports.image import key_image_png
from medvlm.service.exports.pdf import build_pdf
from tests.service.exports.report_fixtures import FINDINGS_TEXT, IMPRESSION, make_context


def _text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def signed_pdf(signed_ctx: ReportContext) -> bytes:
    return build_pdf(signed_ctx)


@pytest.fixture(scope="module")
def draft_pdf(draft_ctx: ReportContext) -> bytes:
    return build_pdf(draft_ctx)


SIGNED_EXPECTED = [
    "St. Example Hospital - Radiology report", "Status: SIGNED", "CompressedSamples RG1", "9RG1",
    "1940-03-05", "exam Number", "2004-08-26", "THORAX", "1.3.6.1.4.1.5962.1.2.9.20040826185059.5457",
    "Pleural effusion present 87% left small", "Pneumothorax present 91% right large - CRITICAL",
    "Nodule uncertain 42% - - right upper lobe no",
    _flat(FINDINGS_TEXT), _flat(IMPRESSION),
    "Addendum by Dr. Ada Lovelace, 2026-03-14 11:00 UTC", "Comparison with prior film: effusion unchanged.",
    "AI-assisted draft, reviewed and signed by Dr. Ada Lovelace on 2026-03-14 09:26 UTC",
    "Model version: tiny-2026.03.1",
    "Key image (SOP Instance UID 1.3.6.1.4.1.5962.1.1.9.1.3.20040826185059.5457)",
]


@pytest.mark.parametrize("expected", SIGNED_EXPECTED)
def test_signed_pdf_text(signed_pdf: bytes, expected: str) -> None:
    assert expected in _flat(_text(signed_pdf))


@pytest.mark.parametrize(("present", "absent"), [
    ("Status: DRAFT (in review)", "Status: SIGNED"),
    ("AI-generated draft: not yet reviewed or signed by a radiologist", "reviewed and signed by"),
    ("DRAFT", "Addendum by"),
])
def test_draft_pdf_says_draft(draft_pdf: bytes, present: str, absent: str) -> None:
    text = _flat(_text(draft_pdf))
    assert present in text
    assert absent not in text


def test_signed_pdf_has_no_watermark_and_lists_no_absent_finding(signed_pdf: bytes) -> None:
    text = _text(signed_pdf)
    assert "DRAFT" not in text
    assert "Cardiomegaly" not in text  # absent findings are not reported


def test_pdf_embeds_the_key_image(signed_pdf: bytes, film: Path) -> None:
    images = pypdf.PdfReader(io.BytesIO(signed_pdf)).pages[0].images
    assert len(images) == 1
    embedded = np.asarray(images[0].image.convert("L").resize((64, 64)), dtype=np.float64)
    expected = np.asarray(Image.open(io.BytesIO(key_image_png(film))).convert("L").resize((64, 64)),
                          dtype=np.float64)
    assert np.corrcoef(embedded.ravel(), expected.ravel())[0, 1] > 0.98
    assert max(images[0].image.size) == 900


def _render(pdf: bytes, tmp_path: Path) -> np.ndarray:
    if shutil.which("pdftoppm") is None:
        from tests.support.services import missing_service

        missing_service("pdftoppm (poppler-utils)")
    tmp_path.mkdir(parents=True, exist_ok=True)
    source = tmp_path / "report.pdf"
    source.write_bytes(pdf)
    command = ["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", str(source), str(tmp_path / "page")]
    subprocess.run(command, check=True, timeout=60)
    return np.asarray(Image.open(tmp_path / "page-1.png").convert("RGB"), dtype=np.int16)


def test_rendered_page_shows_watermark_only_on_drafts(signed_pdf: bytes, draft_pdf: bytes,
                                                      tmp_path: Path) -> None:
    def reddish(page: np.ndarray) -> float:
        return float(((page[..., 0] - page[..., 1]) > 28).mean())  # pink critical row: 22

    signed, draft = _render(signed_pdf, tmp_path / "s"), _render(draft_pdf, tmp_path / "d")
    assert signed.shape[:2] == (468, 331)  # A4 at 40 dpi
    # The image occupies a large dark block in the upper half on both.
    assert signed[90:230, 120:210].mean() < 200
    assert reddish(signed) < 0.001
    assert reddish(draft) > 0.005
    assert reddish(draft[90:230, 120:210]) > 0.01  # stamped over the key image too, not hidden behind it


def test_pdf_is_reproducible(signed_ctx: ReportContext, signed_pdf: bytes) -> None:
    assert build_pdf(signed_ctx) == signed_pdf


def test_markup_and_non_latin_text_are_printed_verbatim(film: Path) -> None:
    ctx = make_context(film, signed=True, patient_name="Müller^Zoë",
                       findings_text="Size <b>2 cm</b> & Ωmega Ж", impression="α ≥ β")
    text = _text(build_pdf(ctx))
    assert "Müller Zoë" in text
    assert "Size <b>2 cm</b> & Ωmega Ж" in text
    assert "α ≥ β" in text


def test_many_findings_flow_onto_more_pages(film: Path) -> None:
    many = [Finding(f"finding_{i}", Presence.PRESENT, probability=i / 50) for i in range(45)]
    reader = pypdf.PdfReader(io.BytesIO(build_pdf(make_context(film, signed=False, findings=many))))
    assert len(reader.pages) >= 2
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "page 2" in text
    assert all(f"Finding {i} present" in _flat(text) for i in (0, 44))
    assert reader.pages[1].extract_text().count("DRAFT") >= 1


def test_no_findings(film: Path) -> None:
    assert "No findings reported." in _text(build_pdf(make_context(film, signed=True, findings=[])))


BAD_CONTEXTS = [
    ("signed without signer", {"signer": None}, True, "is signed but has no signer"),
    ("signed without time", {"signed_at": None}, True, "is signed but has no signer"),
    ("unknown status", {"status": "approved"}, False, "has status 'approved'"),
    ("no study uid", {"study_instance_uid": ""}, False, "has no study instance UID"),
]


@pytest.mark.parametrize(("name", "overrides", "signed", "message"), BAD_CONTEXTS,
                         ids=[c[0] for c in BAD_CONTEXTS])
def test_inconsistent_context_is_refused(film: Path, name: str, overrides: dict, signed: bool,
                                         message: str) -> None:
    with pytest.raises(ExportInputError, match=message):
        make_context(film, signed=signed, **overrides)


def _truncated_pixels() -> bytes:
    """A valid DICOM header whose pixel data is cut short: readable, not decodable."""
    from pydicom.data import get_testdata_file

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.PixelData = ds.PixelData[:100]
    buffer = io.BytesIO()
    ds.save_as(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "content"), [("missing", None), ("not dicom", b"%PDF-1.4 not an image"),
                                               ("empty", b""), ("truncated pixels", _truncated_pixels())])
def test_unreadable_key_image_is_a_clear_error(film: Path, tmp_path: Path, name: str,
                                               content: bytes | None) -> None:
    path = tmp_path / "key.dcm"
    if content is not None:
        path.write_bytes(content)
    ctx = make_context(film, signed=False)
    bad = ReportContext(**{**ctx.__dict__, "key_image_path": path, "status": ReportStatus.DRAFT})
    with pytest.raises(ExportInputError, match=r"key image .* cannot be"):
        build_pdf(bad)
