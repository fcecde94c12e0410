"""Intended use, decided per image and then per study (``compliance/docs/intended_use.md``).

An image is in intended use when its DICOM attributes say chest radiograph (CR/DX modality and SOP class,
chest or unstated body part, one greyscale frame, not a localizer) and the image check agrees that it
looks like one. The view comes from ViewPosition when stated and from the image check when not; a
stated frontal view that the image check calls lateral or not a chest film is refused, never trusted.
A study is drafted from its frontal image; laterals are recognised and reported (the model reads one
view), and a study of laterals only, or of nothing in intended use, is refused with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydicom.dataset import Dataset

from medvlm.errors import MedVLMError
from medvlm.gate.errors import OutsideIntendedUseError

Kind = Literal["frontal", "lateral", "other", "unreadable"]
MODALITIES = {"CR", "DX"}
SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.1": "CR Image Storage",
    "1.2.840.10008.5.1.4.1.1.1.1": "Digital X-Ray Image Storage - For Presentation",
    "1.2.840.10008.5.1.4.1.1.1.1.1": "Digital X-Ray Image Storage - For Processing",
}
CHEST_PARTS = {"", "CHEST", "THORAX", "LUNG", "CHEST_LAT", "PORT CHEST"}
FRONTAL_VIEWS = {"PA", "AP"}
LATERAL_VIEWS = {"LL", "RL", "LAT", "LATERAL", "L", "R", "LLAT", "RLAT"}
PHOTOMETRIC = {"MONOCHROME1", "MONOCHROME2"}


@dataclass(frozen=True)
class ImageVerdict:
    source: str
    kind: Kind
    reasons: list[str] = field(default_factory=list)  # why it is not a frontal chest film (empty if it is)
    probabilities: dict[str, float] = field(default_factory=dict)  # the image check's, when it ran
    view_position: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "kind": self.kind, "reasons": self.reasons,
                "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
                "view_position": self.view_position}


@dataclass(frozen=True)
class GateDecision:
    accepted: bool
    reason: str  # one line: why refused, or what was accepted (and any lateral noted)
    frontal: str | None  # the image to draft from
    laterals: list[str]
    images: list[ImageVerdict]

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "reason": self.reason, "frontal": self.frontal,
                "laterals": self.laterals, "images": [i.to_dict() for i in self.images]}


def _text(ds: Dataset, keyword: str) -> str:
    return str(getattr(ds, keyword, "") or "").strip().upper()


def attribute_reasons(ds: Dataset) -> list[str]:
    """Why the DICOM attributes put this image outside intended use (empty: they do not)."""
    reasons = []
    modality = _text(ds, "Modality")
    if modality not in MODALITIES:
        reasons.append(f"modality {modality or 'missing'} (only CR/DX radiographs are drafted)")
    sop = str(getattr(ds, "SOPClassUID", "") or "")
    if sop not in SOP_CLASSES:
        name = getattr(getattr(ds, "SOPClassUID", None), "name", "") or sop or "missing"
        reasons.append(f"SOP class {name} (not a CR/DX image)")
    part = _text(ds, "BodyPartExamined")
    if part not in CHEST_PARTS:
        reasons.append(f"body part {part} (only chest films are drafted)")
    photometric = _text(ds, "PhotometricInterpretation")
    if photometric not in PHOTOMETRIC:
        reasons.append(f"photometric {photometric or 'missing'} (a radiograph is greyscale)")
    image_type = [str(v).strip().upper() for v in (getattr(ds, "ImageType", None) or [])]
    if "LOCALIZER" in image_type or "SCOUT" in image_type:
        reasons.append("image type LOCALIZER (a scout image, not a diagnostic film)")
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    if frames > 1:
        reasons.append(f"{frames} frames (a radiograph has one)")
    if "PixelData" not in ds:
        reasons.append("no pixel data")
    view = _text(ds, "ViewPosition")
    if view and view not in FRONTAL_VIEWS | LATERAL_VIEWS:
        reasons.append(f"view position {view} (only PA, AP and lateral chest views)")
    return reasons


def judge_pixels(image: np.ndarray, view_position: str = "", source: str = "image") -> ImageVerdict:
    """The image check on a display image (bone bright), with the stated view if any."""
    from medvlm.gate.classifier import load_classifier

    clf = load_classifier()
    probs = clf.probabilities(image)
    frontal = probs["frontal"] >= clf.frontal_threshold
    looks = "frontal" if frontal else max(("lateral", "other"), key=lambda k: probs[k])
    view = view_position.upper()
    if view in LATERAL_VIEWS:
        kind: Kind = "lateral" if looks != "other" else "other"
    else:
        kind = looks
    reasons = []
    if kind == "other":
        reasons.append(f"the image does not look like a chest radiograph (image check: P(chest) "
                       f"{probs['frontal'] + probs['lateral']:.2f})")
    elif kind == "lateral":
        reasons.append("lateral view" + ("" if view in LATERAL_VIEWS else
                                         f" (image check: P(lateral) {probs['lateral']:.2f}"
                                         + (f", although ViewPosition says {view})" if view else ")")))
    return ImageVerdict(source, kind, reasons, probs, view)


def assess_image(source: Path | str | Dataset, settings: Any = None) -> ImageVerdict:
    """One DICOM image: attributes first (no pixel decoding when they already refuse), then the image."""
    from medvlm.dicom.pixels import read_dataset
    from medvlm.imaging.transforms import load_display

    if isinstance(source, Dataset):
        name = str(getattr(source, "filename", "") or "dataset")
    else:
        name = str(source)
    try:
        ds = source if isinstance(source, Dataset) else read_dataset(source, settings)
    except (MedVLMError, OSError) as exc:  # not DICOM, truncated, over the size limits
        return ImageVerdict(name, "unreadable", [f"unreadable: {exc}"])
    reasons = attribute_reasons(ds)
    view = _text(ds, "ViewPosition")
    if reasons:
        return ImageVerdict(name, "other", reasons, view_position=view)
    try:
        display = load_display(ds)[0]
    except Exception as exc:  # any decoder failure: the image cannot be checked, so it is not drafted
        return ImageVerdict(name, "unreadable", [f"pixels cannot be decoded: {type(exc).__name__}: {exc}"],
                            view_position=view)
    return judge_pixels(display, view, name)


def _files(paths: Sequence[Path | str]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
        else:
            files.append(p)
    return files


def decide(verdicts: Sequence[ImageVerdict]) -> GateDecision:
    """The study's decision from its images' verdicts (frontal: PA before AP, then the first)."""
    frontals = [v for v in verdicts if v.kind == "frontal"]
    laterals = [v.source for v in verdicts if v.kind == "lateral"]
    if frontals:
        chosen = min(frontals, key=lambda v: (v.view_position != "PA", v.view_position != "AP"))
        # laterals go to the model with the frontal; one whose inputs have no lateral leaves them unread
        note = f"; {len(laterals)} lateral view(s) recognised" if laterals else ""
        return GateDecision(True, f"frontal chest radiograph{note}", chosen.source, laterals, list(verdicts))
    if laterals:
        reason = "lateral chest view only: the model drafts from a frontal (PA/AP) chest radiograph"
        return GateDecision(False, reason, None, laterals, list(verdicts))
    seen: list[str] = []
    for verdict in verdicts:
        for why in verdict.reasons:
            if why not in seen:
                seen.append(why)
    detail = "; ".join(seen[:3]) or "no images"
    return GateDecision(False, f"outside intended use: {detail}", None, [], list(verdicts))


def assess_study(paths: Sequence[Path | str], settings: Any = None) -> GateDecision:
    """The gate's decision for a study given as files and/or folders."""
    return decide([assess_image(f, settings) for f in _files(paths)])


def require_intended_use(paths: Sequence[Path | str], settings: Any = None) -> GateDecision:
    """The decision, or OutsideIntendedUseError with its reason when the study is refused."""
    decision = assess_study(paths, settings)
    if not decision.accepted:
        raise OutsideIntendedUseError(decision.reason)
    return decision
