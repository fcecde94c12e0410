"""Study inputs from real DICOM files: frontal view choice, hashes, folders, ingested studies, errors."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from pydicom.uid import generate_uid

from medvlm.errors import DicomError, NotFoundError
from medvlm.inference.draft import draft_study
from medvlm.inference.inputs import choose_image, load_study
from medvlm.inference.studies import study_files
from medvlm.settings import Settings
from tests.medvlm.inference.dicom_files import write_cr


@pytest.fixture
def study(tmp_path: Path) -> tuple[str, Path]:
    uid = generate_uid()
    folder = tmp_path / "study"
    write_cr(folder / "a_lateral.dcm", study_uid=uid, view="LL", seed=1, instance_number=1)
    write_cr(folder / "b_ap.dcm", study_uid=uid, view="AP", seed=2, instance_number=2)
    write_cr(folder / "c_pa.dcm", study_uid=uid, view="PA", seed=3, instance_number=3)
    (folder / "notes.txt").write_text("not DICOM")
    return uid, folder


@pytest.mark.parametrize(
    ("names", "chosen"),
    [
        (["a_lateral.dcm", "b_ap.dcm", "c_pa.dcm"], "c_pa.dcm"),  # PA first
        (["a_lateral.dcm", "b_ap.dcm"], "b_ap.dcm"),  # then AP
        (["a_lateral.dcm"], "a_lateral.dcm"),  # then anything
        (["notes.txt", "a_lateral.dcm"], "a_lateral.dcm"),  # non-DICOM passed over
    ],
)
def test_frontal_view_is_chosen(study: tuple[str, Path], names: list[str], chosen: str) -> None:
    _, folder = study
    path, _ = choose_image([folder / n for n in names])
    assert path.name == chosen


def test_a_stated_lateral_is_never_chosen_over_an_unlabelled_image(tmp_path: Path) -> None:
    """The drafter hands over [frontal, *laterals]: a frontal without ViewPosition must still win."""
    uid = generate_uid()
    lateral = write_cr(tmp_path / "lat.dcm", study_uid=uid, view="LL", seed=1, instance_number=1)
    frontal = write_cr(tmp_path / "front.dcm", study_uid=uid, view="", seed=2, instance_number=2)
    path, _ = choose_image([frontal, lateral])
    assert path == frontal


def test_folder_study_drafts_from_the_pa_image(tiny_bundle: Any, study: tuple[str, Path]) -> None:
    _, folder = study
    result = draft_study(tiny_bundle, folder)
    pa = folder / "c_pa.dcm"
    assert result.source == str(pa)
    assert result.input_hashes == [hashlib.sha256(pa.read_bytes()).hexdigest()]
    assert load_study(folder, tiny_bundle.image_size).image.shape == (1, tiny_bundle.image_size,
                                                                      tiny_bundle.image_size)


def test_ingested_study_is_found_by_uid(settings: Settings, study: tuple[str, Path]) -> None:
    from medvlm.dicom.ingest import ingest_paths

    uid, folder = study
    report = ingest_paths([folder], settings=settings)
    assert uid in report.study_instance_uids
    files = study_files(uid)
    assert len(files) == 3 and all(p.is_file() for p in files)
    assert choose_image(files)[0].read_bytes() == (folder / "c_pa.dcm").read_bytes()


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda d: d / "absent", NotFoundError, "no such file or folder"),
        (lambda d: d / "notes.txt", DicomError, "no DICOM image to draft from"),
    ],
)
def test_bad_study_inputs_are_named(study: tuple[str, Path], make: Any, error: type[Exception],
                                    message: str) -> None:
    _, folder = study
    with pytest.raises(error, match=message):
        load_study(make(folder), 64)


def test_unknown_study_uid(sqlite_settings: Settings) -> None:
    with pytest.raises(NotFoundError, match="no ingested study with that UID"):
        study_files("1.2.3.4")
