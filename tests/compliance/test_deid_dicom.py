"""DICOM de-identification on real files: pydicom-data's chest films (RG1_UNCI/UNCR), pydicom's CT_small."""

from __future__ import annotations

import copy
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from medvlm.compliance.deid import DeidOptions, UidMapper, deidentify_dataset, deidentify_file
from medvlm.compliance.errors import DeidentificationError
from tests.medvlm.dicom.dicom_factory import dciodvfy, pydicom_data_file

KEY = b"test-key-0123456789abcdef"
# The site has reviewed these films for burned-in text (a CR without the flag is refused otherwise).
REVIEWED = DeidOptions(accept_unknown_burned_in=True)



CT_SMALL = Path(str(get_testdata_file("CT_small.dcm")))

# (file, PHI strings that must not survive anywhere in the written bytes)
PHI_CASES = [
    ("RG1_UNCI.dcm", [b"CompressedSamples", b"9RG1", b"19400305", b"26210",
                      b"Philips Medical Systems Hamburg", b"THORAVISION", b"92.00.003", b"Our Department",
                      b"exam Number", b"ward", b"20040826",
                      b"19950926", b"1.3.6.1.4.1.5962.1.2.9.20040826185059.5457"]),
    ("CT_small.dcm", [b"CompressedSamples", b"1CT1", b"ABCD1234", b"1234ABCD", b"JFK IMAGING CENTER",
                      b"CT01_OC0", b"GEMS_IDEN_01", b"GE_GENESIS_FF", b"20040119", b"19970430", b"-0500",
                      b"1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"]),
]


def _source(name: str) -> Path:
    return CT_SMALL if name == "CT_small.dcm" else pydicom_data_file(name)


@pytest.mark.parametrize(("name", "phi"), PHI_CASES, ids=[c[0] for c in PHI_CASES])
def test_phi_is_gone_from_the_written_file(tmp_path: Path, name: str, phi: list[bytes]) -> None:
    source = _source(name)
    raw_before = source.read_bytes()
    assert all(p in raw_before for p in phi), "the case table must name PHI the file really holds"
    out = deidentify_file(source, tmp_path / "out.dcm", KEY, REVIEWED)
    raw = out.read_bytes()
    assert [p for p in phi if p in raw] == []
    ds = pydicom.dcmread(out)
    assert ds.PatientIdentityRemoved == "YES"
    assert ds.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    assert str(ds.PatientName).startswith("ANON^") and ds.PatientID.startswith("ANON")
    assert not any(elem.tag.is_private for elem in ds.iterall())
    assert ds.PixelData == pydicom.dcmread(source).PixelData  # pixels untouched


def _instance_uids(ds: Dataset) -> set[str]:
    keep = {"SOPClassUID", "ReferencedSOPClassUID", "MediaStorageSOPClassUID", "TransferSyntaxUID"}
    return {str(e.value) for e in ds.iterall() if e.VR == "UI" and e.keyword not in keep and e.value}


def test_uids_are_remapped_consistently_across_files(tmp_path: Path) -> None:
    lossy, original = pydicom_data_file("RG1_UNCI.dcm"), pydicom_data_file("RG1_UNCR.dcm")
    a = pydicom.dcmread(deidentify_file(lossy, tmp_path / "a.dcm", KEY, REVIEWED))
    b = pydicom.dcmread(deidentify_file(original, tmp_path / "b.dcm", KEY, REVIEWED))
    src_a = pydicom.dcmread(lossy)
    assert a.StudyInstanceUID == b.StudyInstanceUID != src_a.StudyInstanceUID
    assert a.SeriesInstanceUID == b.SeriesInstanceUID
    # The lossy copy points at its uncompressed predecessor: the reference follows the remapping.
    assert a.SourceImageSequence[0].ReferencedSOPInstanceUID == b.SOPInstanceUID
    assert a.file_meta.MediaStorageSOPInstanceUID == a.SOPInstanceUID
    assert a.SOPClassUID == src_a.SOPClassUID  # a definition, not an identifier
    originals = _instance_uids(src_a) | _instance_uids(pydicom.dcmread(original))
    assert not (_instance_uids(a) & originals)
    assert all(uid.startswith("2.25.") and len(uid) <= 64 for uid in _instance_uids(a) - {
        str(a.file_meta.get("ImplementationClassUID", ""))})


def test_mapping_is_keyed() -> None:
    uid = "1.2.840.113619.2.55.3.1234"
    assert UidMapper(KEY)(uid) == UidMapper(KEY)(uid)
    assert UidMapper(KEY)(uid) != UidMapper(b"another-key-0123456789")(uid)
    assert UidMapper(KEY)(uid) != UidMapper(KEY)(uid + "5")


@pytest.mark.parametrize("name", ["RG1_UNCI.dcm", "CT_small.dcm"])
def test_output_adds_no_dciodvfy_errors(tmp_path: Path, name: str) -> None:
    def errors(path: Path) -> set[str]:
        return set(dciodvfy(path)[0])

    source = _source(name)
    assert errors(deidentify_file(source, tmp_path / "out.dcm", KEY, REVIEWED)) <= errors(source)


def _ct() -> Dataset:
    return pydicom.dcmread(CT_SMALL)


def _with(**values: object) -> Dataset:
    ds = _ct()
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


REFUSALS = [
    ("burned-in annotation", _with(BurnedInAnnotation="YES"), "BurnedInAnnotation YES"),
    ("recognizable face", _with(RecognizableVisualFeatures="YES"), "RecognizableVisualFeatures YES"),
    ("ultrasound without flag", _with(Modality="US"), "modality US, which often has burned-in text"),
    ("secondary capture without flag", _with(Modality="SC"), "modality SC"),
    ("digital radiograph without flag", _with(Modality="DX"), "modality DX"),
    ("computed radiograph without flag", _with(Modality="CR"), "modality CR"),
]


@pytest.mark.parametrize(("name", "ds", "message"), REFUSALS, ids=[c[0] for c in REFUSALS])
def test_pixels_with_burned_in_text_are_refused(name: str, ds: Dataset, message: str) -> None:
    with pytest.raises(DeidentificationError, match=message):
        deidentify_dataset(ds, KEY)


@pytest.mark.parametrize(("ds", "options"), [
    (_with(Modality="US"), DeidOptions(accept_unknown_burned_in=True)),
    (_with(Modality="US", BurnedInAnnotation="NO"), DeidOptions()),
])
def test_risky_modality_passes_once_checked(ds: Dataset, options: DeidOptions) -> None:
    assert deidentify_dataset(ds, KEY, options).PatientIdentityRemoved == "YES"


def test_nested_names_overlays_and_curves_are_cleaned() -> None:
    ds = _ct()
    observer = Dataset()
    observer.VerifyingObserverName = "Smith^Jane"
    observer.VerifyingOrganization = "JFK IMAGING CENTER"
    ds.VerifyingObserverSequence = [observer]
    ds.ReviewerName = "Jones^Bob"  # a PN the profile table does not list: emptied by the PN rule
    ds.add_new(0x60000022, "LO", "patient name burned in overlay description")
    ds.add_new(0x60004000, "LT", "Overlay comment naming Jane Smith")
    ds.add_new(0x50000000, "US", 1)
    out = deidentify_dataset(ds, KEY)
    assert len(out.VerifyingObserverSequence) == 0  # D on a sequence: emptied, dummy items could name
    assert str(out.ReviewerName) == ""
    assert not [e for e in out if e.tag.group in (0x5000, 0x6000)]
    assert str(ds.ReviewerName) == "Jones^Bob"  # the input is not modified


def test_same_patient_gets_the_same_pseudonym() -> None:
    first, second = deidentify_dataset(_ct(), KEY), deidentify_dataset(_with(StudyInstanceUID="1.2.3"), KEY)
    assert first.PatientID == second.PatientID
    assert first.StudyInstanceUID != second.StudyInstanceUID
    assert deidentify_dataset(_with(PatientID="other"), KEY).PatientID != first.PatientID


@pytest.mark.parametrize(("retain", "sex", "age"), [(False, "", None), (True, "O", "000Y")])
def test_retain_patient_characteristics_option(retain: bool, sex: str, age: str | None) -> None:
    out = deidentify_dataset(_ct(), KEY, DeidOptions(retain_patient_characteristics=retain))
    assert out.PatientSex == sex
    assert out.get("PatientAge") == age
    codes = [item.CodeValue for item in out.DeidentificationMethodCodeSequence]
    assert ("113108" in codes) is retain


def test_bad_inputs_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DeidentificationError, match="at least 16 bytes"):
        deidentify_dataset(_ct(), b"short")
    bogus = tmp_path / "bogus.dcm"
    bogus.write_text("not a dicom file")
    with pytest.raises(DeidentificationError, match="cannot be read as DICOM"):
        deidentify_file(bogus, tmp_path / "out.dcm", KEY)
    assert copy.deepcopy(_ct()).PatientName == "CompressedSamples^CT1"


def test_deep_nesting_is_refused_before_it_is_copied() -> None:
    """A 380 KB file nested 600 deep took the old walk past 300 s (200 deep: 0.6 s); now a clear error."""
    import io
    import tracemalloc

    from tests.medvlm.dicom.deep_factory import deep_image

    ds = pydicom.dcmread(io.BytesIO(deep_image(600, text_bytes=600)))
    ds.BurnedInAnnotation = "NO"
    tracemalloc.start()
    try:
        with pytest.raises(DeidentificationError, match="nested more than 32 levels"):
            deidentify_dataset(ds, KEY)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20
    shallow = pydicom.dcmread(io.BytesIO(deep_image(20)))
    shallow.BurnedInAnnotation = "NO"
    out = deidentify_dataset(shallow, KEY)
    assert "leaf" not in str(out)  # the SR text at the bottom of the tree is replaced too
