"""Which instances may enter a training set: frontal and lateral chest radiographs only.

A stop-gap until the intended-use gate of issue #21 (``medvlm.inference``, DICOM attributes + an image
check) is merged: this looks at the attributes alone. Keep it the only place that decides, so that the
importer switches to the gate by replacing ``chest_view``'s body.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

RADIOGRAPHY = ("CR", "DX")
FRONTAL = ("PA", "AP")
LATERAL = ("LL", "RL", "LAT", "LATERAL", "L", "R")


def chest_view(ds: Dataset) -> tuple[str | None, str]:
    """("PA"|"AP"|"LATERAL", "") for an accepted instance, else (None, the reason it is refused)."""
    modality = str(ds.get("Modality", "") or "").upper()
    if modality not in RADIOGRAPHY:
        return None, f"modality {modality or 'missing'}, not a radiograph (CR/DX)"
    body = str(ds.get("BodyPartExamined", "") or "").upper()
    if body and body not in ("CHEST", "THORAX"):
        return None, f"body part {body}, not chest"
    view = str(ds.get("ViewPosition", "") or "").upper()
    if view in FRONTAL:
        return view, ""
    if view in LATERAL:
        return "LATERAL", ""
    return None, f"view position {view or 'missing'}, not frontal (PA/AP) or lateral"
