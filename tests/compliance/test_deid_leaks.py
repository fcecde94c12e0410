"""Measured leak count of 0: the PHI-laden DICOM corpus through de-identification, bytes searched."""

from __future__ import annotations

import io

import pydicom
from pydicom.dataset import Dataset

from medvlm.compliance.deid import DeidOptions, deidentify_dataset
from medvlm.compliance.deid_profile import PATIENT_CHARACTERISTICS, annex_e
from tests.compliance.corpus.phi_dicom import phi_dataset
from tests.medvlm.dicom.dicom_factory import make_image

KEY = b"leak-test-key-0123456789"


def _numbers_left(out: Dataset, corpus_other: list[tuple[str, int, object]]) -> list[str]:
    """Numeric / age values the table says to remove, empty or replace, still holding their value."""
    levels = {"A": out}
    region = out.get("AnatomicRegionSequence")
    if region and region[0].get("PurposeOfReferenceCodeSequence"):
        levels["B"] = region[0].PurposeOfReferenceCodeSequence[0]
    left = []
    for level, tag, value in corpus_other:
        holder = levels.get(level)
        if holder is not None and tag in holder and holder[tag].value == value:
            left.append(f"{level}:{tag:08X}")
    return left


def test_phi_corpus_leaks_nothing() -> None:
    corpus = phi_dataset(make_image(BurnedInAnnotation="NO"))
    raw = io.BytesIO()
    corpus.dataset.save_as(raw, enforce_file_format=True)
    before = raw.getvalue()
    assert all(m in before for m in corpus.text_markers), "every marker must be in the input"
    assert len(corpus.text_markers) > 900  # the whole table, twice, and the extras

    out = deidentify_dataset(pydicom.dcmread(io.BytesIO(before)), KEY)
    written = io.BytesIO()
    out.save_as(written, enforce_file_format=True)
    data = written.getvalue()
    leaks = [m.decode("latin-1") for m in corpus.text_markers if m in data]
    leaks += _numbers_left(pydicom.dcmread(io.BytesIO(data)), corpus.other)
    print(f"markers {len(corpus.text_markers) + len(corpus.other)}, leaks {len(leaks)}")
    assert leaks == []
    reread = pydicom.dcmread(io.BytesIO(data))
    assert reread.PixelData == corpus.dataset.PixelData  # the image itself survives
    assert str(reread.ContentSequence[0].ConceptNameCodeSequence[0].CodeValue) == "121071"  # SR structure


def test_table_is_the_standards_not_a_hand_list() -> None:
    table = annex_e()
    assert len(table.exact) > 600
    for tag, action in [(0x00100010, "P"), (0x00080080, "Z"), (0x00081010, "Z"), (0x0020000D, "U"),
                        (0x00189074, "D"), (0x00400001, "X"), (0x00120010, "D"), (0x22000002, "Z")]:
        assert table.action(tag) == action, f"{tag:08X}"
    assert table.action(0x50020000) == "X" and table.action(0x60023000) == "X"  # curves, overlay data


def test_retained_characteristics_do_not_reopen_the_rest() -> None:
    corpus = phi_dataset(make_image(BurnedInAnnotation="NO"))
    sex = corpus.dataset.PatientSex
    inner = corpus.dataset.AnatomicRegionSequence[0].PurposeOfReferenceCodeSequence[0]
    kept = {str(holder[kw].value).encode() for holder in (corpus.dataset, inner)
            for kw in PATIENT_CHARACTERISTICS if kw in holder}
    out = deidentify_dataset(corpus.dataset, KEY, DeidOptions(retain_patient_characteristics=True))
    assert out.PatientSex == sex and out.PatientAge == "045Y"  # kept by the option
    written = io.BytesIO()
    out.save_as(written, enforce_file_format=True)
    assert [m for m in corpus.text_markers if m in written.getvalue()
            and m not in kept] == []
