"""How a film was taken and processed: projection, pose, exposure, detector, processing, labelling, file.

``Acquisition()`` is the plain film (PA, no scatter, no noise, no shutters, no markers), which tests use to
map film pixels 1:1 to atlas regions; ``Acquisition.sample`` draws a hospital-like film of one kind from
ranges seen on real PA, AP, AP supine (ICU portable) and left-lateral chest films.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from medvlm.synth.errors import SynthError

PROJECTIONS = ("PA", "AP", "AP_SUPINE", "LL")
# Two vendor looks: a large-scale unsharp mask that lifts edges (bright spine and heart) or a compression of
# the large scale that lifts lungs and lowers the mediastinum (a flatter, more even film). ``sample(...,
# looks=True)`` draws them per film so the model cannot lean on one; off, every film is the first.
PROCESSING = ("unsharp", "compress")
# Scatter as one blurred share of the primary everywhere, or born at mid-depth (the blurred square root of
# the transmission): the latter is small in the lungs and dominant behind the mediastinum.
SCATTER_MODELS = ("uniform", "depth")
# How often each frontal kind turns up when none is asked for (roughly the realfilm mix, PA the most).
FRONTAL_MIX = {"PA": 0.5, "AP": 0.3, "AP_SUPINE": 0.2}


@dataclass(frozen=True)
class Acquisition:
    projection: str = "PA"  # PA (erect) / AP (erect, often portable) / AP_SUPINE (ICU) / LL (left lateral)
    # Geometry
    rotation_deg: float = 0.0
    scale: float = 1.0  # >1 zooms in (a smaller patient or a tighter field)
    shift_rows: float = 0.0  # working-grid pixels
    shift_cols: float = 0.0
    inspiration: float = 1.0  # vertical stretch below the apices (deeper breath > 1)
    # Peak magnification at the heart vs the chest wall (AP: the heart is far from the detector); the
    # heart's width grows by about 0.7 of it (the warp tapers across the heart).
    magnification: float = 1.0
    headroom_mm: float = 25.0  # field top above the lung apices (neck and shoulders shown)
    shoulder_px: float = 70.0  # working-grid rows above the CT over which the shoulders fall to the neck
    # Exposure and physics
    dose: float = 0.0  # unattenuated quanta per 512-px pixel; 0 = noise-free (the plain film)
    scatter: float = 0.0  # scatter-to-primary fraction of the low-pass primary (grid lowers it)
    scatter_model: str = "uniform"  # one of SCATTER_MODELS
    noise: float = 0.0  # electronic (signal-independent) noise, fraction of full scale
    # Detector and processing
    modality: str = "DX"  # DX (flat panel) or CR (storage phosphor)
    auto_window: bool = False  # window from in-field percentiles (exposure recognition) vs fixed below
    window_low: float = 5.5  # cm water shown black / white before processing (fixed window)
    window_high: float = 32.0
    # Auto window: headroom below the darkest lung and above the densest bone, as fractions of the range
    # (processing keeps lungs dark grey, not black, and the spine visible through the heart).
    black_margin: float = 0.0
    white_margin: float = 0.0
    curve: float = 0.0  # sigmoid characteristic-curve steepness (0 = linear)
    gamma: float = 0.95
    processing: str = "unsharp"  # one of PROCESSING
    equalisation: float = 0.6  # strength of the large-scale processing (unsharp mask or compression)
    edge_gain: float = 0.0  # fine-scale unsharp mask (vendor edge enhancement)
    blur_px: float = 0.5  # detector MTF, at 512 px
    grid_lines: float = 0.0  # amplitude of a stationary anti-scatter grid's line pattern (0 = none)
    grid_period_px: float = 3.0
    # Shutters: fraction of the film covered at top, bottom, left, right; tilt of the field
    collimation: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    collimation_tilt_deg: float = 0.0
    shutter_black: bool = False  # electronic shutter masks the border black instead of leaving it white
    # Burnt-in labels
    marker: str = ""  # "" / "L" / "R": the lead side marker
    marker_row: float = 0.1  # fraction of the film height
    text: str = ""  # e.g. "PORTABLE", "AP SUPINE"
    # How it is written (the writer reads these from the film's acquisition)
    photometric: str = "MONOCHROME2"
    bits_stored: int = 12
    voi_lut: bool = False  # a VOI LUT Sequence instead of a window

    def __post_init__(self) -> None:
        if self.projection not in PROJECTIONS:
            known = ", ".join(PROJECTIONS)
            raise SynthError(f"unknown projection {self.projection!r}; expected one of {known}")
        if self.modality not in ("CR", "DX"):
            raise SynthError(f"unknown modality {self.modality!r}; expected CR or DX")
        if self.photometric not in ("MONOCHROME1", "MONOCHROME2"):
            raise SynthError(f"unknown photometric {self.photometric!r}; expected MONOCHROME1 or MONOCHROME2")
        if self.processing not in PROCESSING:
            known = ", ".join(PROCESSING)
            raise SynthError(f"unknown processing {self.processing!r}; expected one of {known}")
        if self.scatter_model not in SCATTER_MODELS:
            known = ", ".join(SCATTER_MODELS)
            raise SynthError(f"unknown scatter model {self.scatter_model!r}; expected one of {known}")
        if self.bits_stored not in (10, 12, 14, 15, 16):
            raise SynthError(f"bits_stored must be 10, 12, 14, 15 or 16, got {self.bits_stored}")

    @property
    def view_position(self) -> str:
        return "AP" if self.projection == "AP_SUPINE" else self.projection

    @property
    def frontal(self) -> bool:
        return self.projection != "LL"

    def with_(self, **changes: Any) -> Acquisition:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}

    @classmethod
    def sample(cls, rng: np.random.Generator, projection: str | None = None,
               looks: bool = False) -> Acquisition:
        """A hospital-like acquisition; ``projection`` None draws a frontal kind (PA, AP, AP supine).

        ``looks`` also draws the vendor look, the scatter model and the shoulder slope, and widens the
        framing (a wider field, more headroom, shallower breaths, more black shutters). Off, the draws are
        those of the renderer before the looks existed, so a build without them repeats its films."""
        if projection is None:
            kinds = list(FRONTAL_MIX)
            projection = str(rng.choice(kinds, p=list(FRONTAL_MIX.values())))
        if projection not in PROJECTIONS:
            raise SynthError(f"unknown projection {projection!r}; expected one of {', '.join(PROJECTIONS)}")
        u = rng.uniform
        portable = projection != "PA" and (projection == "AP_SUPINE" or u() < 0.7)
        modality = "CR" if u() < (0.6 if portable else 0.4) else "DX"
        erect = projection in ("PA", "LL")
        grid = erect and u() < 0.85  # portable films are mostly taken without a grid
        top, bottom = u(0.0, 0.06), u(0.0, 0.05)
        left, right = u(0.0, 0.08), u(0.0, 0.08)
        if not erect and u() < 0.5:  # portable: one shutter pushed in, the field off-centre
            left, right = (left + u(0.03, 0.1), right) if u() < 0.5 else (left, right + u(0.03, 0.1))
        marker = "L" if projection == "LL" else str(rng.choice(["L", "R"]))
        bits = int(rng.choice([10, 12, 14, 15, 16] if modality == "CR" else [12, 14, 16]))
        # (erect, not erect) bounds; looks widen the framing: a wider field, more headroom, shallower breaths
        scale_low, breath_low, headroom_high = ((1.0, 0.95), (0.94, 0.85), (60, 70)) if looks else (
            (1.08, 1.0), (0.98, 0.88), (35, 50))
        text = ""
        if projection == "AP_SUPINE":
            text = str(rng.choice(["AP SUPINE", "PORTABLE", "SUPINE", ""]))
        elif projection == "AP":
            text = str(rng.choice(["PORTABLE", "AP ERECT", "AP", ""]))
        return cls(
            projection=projection,
            rotation_deg=float(u(-2.5, 2.5) if erect else u(-6, 6)),
            scale=float(u(scale_low[0], 1.18) if erect else u(scale_low[1], 1.15)),
            shift_rows=float(u(-6, 6) if erect else u(-14, 14)),
            shift_cols=float(u(-8, 8) if erect else u(-18, 18)),
            inspiration=float(u(breath_low[0], 1.06) if erect else u(breath_low[1], 0.97)),
            magnification=float(1.0 if erect else u(1.13, 1.25) if projection == "AP" else u(1.18, 1.3)),
            headroom_mm=float(u(15, headroom_high[0]) if erect else u(15, headroom_high[1])),
            shoulder_px=float(u(35, 70)) if looks else 70.0,
            dose=float(np.exp(u(np.log(2e4), np.log(1e5)) if erect else u(np.log(5e3), np.log(3e4)))),
            scatter=float(u(0.1, 0.3) if grid else u(0.5, 1.2)),
            scatter_model=str(rng.choice(SCATTER_MODELS)) if looks else "uniform",
            noise=float(u(0.0, 0.004)),
            modality=modality,
            auto_window=True,
            black_margin=float(u(0.08, 0.3)),
            white_margin=float(u(0.0, 0.12)),
            curve=float(u(2.0, 4.5) if modality == "CR" else u(0.0, 2.5)),
            gamma=float(u(0.85, 1.15)),
            processing=str(rng.choice(PROCESSING)) if looks else "unsharp",
            equalisation=float(u(0.3, 0.9)),
            edge_gain=float(u(0.2, 1.0)),
            blur_px=float(u(0.5, 1.1) if modality == "CR" else u(0.2, 0.7)),
            grid_lines=float(u(0.004, 0.015) if grid and u() < 0.35 else 0.0),
            grid_period_px=float(u(2.2, 4.5)),
            collimation=(float(top), float(bottom), float(left), float(right)),
            collimation_tilt_deg=float(u(-3, 3) if u() < 0.3 else 0.0),
            shutter_black=bool(u() < (0.3 if looks else 0.2)),
            marker=marker if u() < 0.9 else "",
            marker_row=float(u(0.05, 0.25)),
            text=text,
            photometric="MONOCHROME1" if u() < (0.5 if modality == "CR" else 0.2) else "MONOCHROME2",
            bits_stored=bits,
            voi_lut=bool(bits <= 14 and u() < 0.3),  # the writer keeps VOI LUTs to films of <= 14 bits
        )
