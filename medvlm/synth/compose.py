"""Compose one film: base projection + one delta per finding, then develop it (pose, exposure, noise)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medvlm.findings import NO_FINDING, Finding, Presence
from medvlm.synth.atlas import CARDIO_SCALES, EFFUSION_LEVELS_MM, PTX_SCALES, Atlas, load_atlas
from medvlm.synth.devices import DEVICES, draw_device
from medvlm.synth.errors import UnrenderableFindingError
from medvlm.synth.film import Acquisition, develop, film_point, pixel_spacing_mm
from medvlm.synth.lesions import LUNG_MU, airspace, edema, nodule_like, sides_of

RENDERABLE = (
    NO_FINDING,
    "cardiomegaly",
    "pleural_effusion",
    "pneumothorax",
    "consolidation",
    "lung_opacity",
    "atelectasis",
    "pulmonary_edema",
    "nodule",
    "mass",
    "calcified_granuloma",
    "hyperinflation",
    "support_device",
)
CTR_TARGET = {"borderline": 0.52, "mild": 0.56, "moderate": 0.62, "severe": 0.69}
EFFUSION_LEVELS = {"small": (30.0, 40.0), "moderate": (50.0, 65.0, 80.0), "large": (95.0, 110.0, 125.0)}
PTX_SCALE = {"small": 0.85, "moderate": 0.72, "large": 0.6}
HYPERINFLATION = {None: 1.12, "mild": 1.08, "moderate": 1.13, "severe": 1.18}


@dataclass
class Film:
    pixels: np.ndarray  # uint16 [size, size], 12 bits used, bone bright (MONOCHROME2)
    pixel_spacing_mm: float
    acquisition: Acquisition
    ctr: float  # cardiothoracic ratio of the heart that was drawn
    details: list[dict[str, Any]] = field(default_factory=list)

    def render_info(self) -> dict[str, Any]:
        return {
            "acquisition": self.acquisition.to_dict(),
            "ctr": round(self.ctr, 3),
            "pixel_spacing_mm": round(self.pixel_spacing_mm, 4),
            "findings": self.details,
        }


def _check(findings: Sequence[Finding]) -> list[Finding]:
    drawn = []
    for f in findings:
        if f.presence == Presence.ABSENT:
            continue
        if f.label not in RENDERABLE:
            raise UnrenderableFindingError(
                f"cannot render finding {f.label!r}; renderable: {', '.join(RENDERABLE)}"
            )
        if f.label == "support_device" and f.location not in (None, *DEVICES):
            raise UnrenderableFindingError(
                f"cannot render device {f.location!r}; known devices: {', '.join(DEVICES)}"
            )
        drawn.append(f)
    return drawn


def finding_delta(
    atlas: Atlas, f: Finding, rng: np.random.Generator
) -> tuple[np.ndarray | None, dict[str, Any]]:
    """The projected attenuation change of one finding (None when it changes only the acquisition)."""
    lat = f.laterality.value if f.laterality else None
    if f.label == "cardiomegaly":
        ctrs = atlas["cardio_ctr"][1:]
        target = CTR_TARGET.get(f.severity or "", float(rng.uniform(0.56, 0.64)))
        i = int(np.argmin(np.abs(ctrs - target)))
        return atlas[f"cardio_{CARDIO_SCALES[i]}"], {
            "scale": CARDIO_SCALES[i],
            "ctr": round(float(ctrs[i]), 3),
        }
    if f.label == "pleural_effusion":
        severity = f.severity or str(rng.choice(["small", "moderate"]))
        sides = sides_of(lat, rng)
        levels = [
            float(rng.choice(EFFUSION_LEVELS.get(severity, EFFUSION_LEVELS["moderate"]))) for _ in sides
        ]
        assert all(lv in EFFUSION_LEVELS_MM for lv in levels)
        delta = atlas.total(f"effusion_{s}_{lv}" for s, lv in zip(sides, levels, strict=True))
        return delta, {"sides": sides, "level_mm": levels}
    if f.label == "pneumothorax":
        scale = PTX_SCALE.get(f.severity or "", float(rng.choice(PTX_SCALES[:2])))
        sides = sides_of(lat, rng)
        return atlas.total(f"ptx_{s}_{scale}" for s in sides), {"sides": sides, "lung_scale": scale}
    if f.label in ("consolidation", "lung_opacity", "atelectasis"):
        return airspace(atlas, f.label, lat, f.location, f.severity, rng)
    if f.label == "pulmonary_edema":
        return edema(atlas, f.severity, rng)
    if f.label in ("nodule", "mass", "calcified_granuloma"):
        return nodule_like(atlas, f.label, lat, f.location, rng)
    if f.label == "hyperinflation":  # fewer vessels per cm of lung; the stretch is applied at develop time
        return -atlas.lung() * LUNG_MU * 0.5, {"stretch": HYPERINFLATION.get(f.severity, 1.12)}
    if f.label == "support_device":
        kind = f.location or str(rng.choice(["endotracheal tube", "central line", "pacemaker"]))
        delta, info = draw_device(atlas, kind, lat, rng)
        return delta, {"device": kind, **info}
    return None, {}


def _locate_spots(details: list[dict[str, Any]], acq: Acquisition, size: int, apex_row: float) -> None:
    """Add each drawn spot's film position, ``pixel``: [row, col, radius] in pixels of this film. Training
    reads it to teach the encoder *where* a granuloma, nodule or mass is (DESIGN.md: exact ground truth)."""
    spacing = pixel_spacing_mm(acq, size)  # mm per film pixel
    for detail in details:
        for spot in detail.get("spots", []):
            row, col = film_point(acq, size, apex_row, spot["row"], spot["col"])
            spot["pixel"] = [round(row, 1), round(col, 1), round(spot["diameter_mm"] / 2 / spacing, 1)]


def render_film(
    findings: Sequence[Finding],
    seed: int,
    size: int = 512,
    atlas: Atlas | None = None,
    acquisition: Acquisition | None = None,
) -> Film:
    """A film showing exactly ``findings`` (present / uncertain ones); deterministic for a seed.

    Acquisition, findings and noise use separate random streams, so the same seed renders the same pose
    and noise with or without a finding (which is what the tests compare).
    """
    drawn = _check(findings)
    atlas = atlas or load_atlas()
    acq_seq, find_seq, noise_seq = np.random.SeedSequence(seed).spawn(3)
    acq = acquisition or Acquisition.sample(np.random.default_rng(acq_seq))
    rng = np.random.default_rng(find_seq)
    projection = atlas["base"].copy()
    details: list[dict[str, Any]] = []
    ctr = float(atlas["cardio_ctr"][0])
    stretch = 1.0
    for f in drawn:
        delta, info = finding_delta(atlas, f, rng)
        if delta is not None:
            projection += delta
        if f.label == "cardiomegaly":
            ctr = info["ctr"]
        if f.label == "hyperinflation":
            stretch = max(stretch, info["stretch"])
        details.append({"label": f.label, **info})
    if stretch != 1.0:
        acq = Acquisition(**{**acq.__dict__, "inspiration": acq.inspiration * stretch})
    lung_rows = np.nonzero((atlas.lung() > 0).any(axis=1))[0]
    apex_row = float(lung_rows.min())
    coverage = atlas.maps.get("coverage")  # the CT's valid region, where the atlas has one
    pixels = develop(projection, acq, size, apex_row, np.random.default_rng(noise_seq), coverage=coverage)
    _locate_spots(details, acq, size, apex_row)
    return Film(
        pixels=pixels, pixel_spacing_mm=pixel_spacing_mm(acq, size), acquisition=acq, ctr=ctr, details=details
    )
