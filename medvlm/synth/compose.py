"""Compose one film: base projection + one delta per finding, then develop it (pose, exposure, noise)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from medvlm.findings import NO_FINDING, Finding, Presence
from medvlm.synth.anatomy import (
    NEUTRAL,
    Anatomy,
    Warp,
    build_warp,
    heart_box,
    is_neutral,
    measure_ctr,
    soft_tissue,
)
from medvlm.synth.atlas import CARDIO_SCALES, EFFUSION_LEVELS_MM, PTX_SCALES, Atlas, load_atlas
from medvlm.synth.devices import DEVICES, draw_device
from medvlm.synth.errors import UnrenderableFindingError
from medvlm.synth.external import ecg_leads
from medvlm.synth.film import Acquisition, develop, film_masks, film_point, pixel_spacing_mm
from medvlm.synth.lesions import airspace, edema, sides_of
from medvlm.synth.nodules import nodule_like

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
# Ranges drawn per severity word (continuous, so no fixed signature); None = severity not stated.
CTR_RANGE = {
    None: (0.52, 0.62),
    "borderline": (0.50, 0.55),
    "mild": (0.52, 0.58),
    "moderate": (0.57, 0.64),
    "severe": (0.63, 0.72),
}
FAINT_CTR = (0.50, 0.54)  # an uncertain / subtle cardiomegaly is a borderline heart
EFFUSION_MM = {None: (15.0, 80.0), "small": (12.0, 45.0), "moderate": (40.0, 85.0), "large": (80.0, 125.0)}
FAINT_EFFUSION_MM = (10.0, 30.0)  # trace / subtle / uncertain: a blunted angle
PTX_RANGE = {None: (0.65, 0.9), "small": (0.78, 0.92), "moderate": (0.68, 0.8), "large": (0.6, 0.7)}
HYPERINFLATION = {None: (1.06, 1.16), "mild": (1.04, 1.1), "moderate": (1.09, 1.15), "severe": (1.14, 1.22)}
FAINT = frozenset({"subtle", "uncertain", "trace"})
# Findings drawn as a local change whose extent ``render_film(masks=True)`` outlines (hyperinflation and
# cardiomegaly change the whole chest's shape instead: the lung and heart masks show them).
OUTLINED = (
    "pleural_effusion", "pneumothorax", "consolidation", "lung_opacity", "atelectasis", "pulmonary_edema",
    "nodule", "mass", "calcified_granuloma", "support_device",
)
OUTLINE_FRACTION = 0.2  # a finding's mask: where its change is at least this share of its largest change


@dataclass
class Film:
    pixels: np.ndarray  # uint16 [size, size], 12 bits used, bone bright (MONOCHROME2)
    pixel_spacing_mm: float
    acquisition: Acquisition
    ctr: float  # cardiothoracic ratio of the heart that was drawn (measured on the warped film grid)
    details: list[dict[str, Any]] = field(default_factory=list)
    anatomy: Anatomy = NEUTRAL
    external: list[str] = field(default_factory=list)  # objects drawn that are not findings (ECG leads)
    # Anatomy on the film (render_film(masks=True)): "lungs" (both lung fields, fluid and collapse included:
    # the pleural outline) and "heart" (the drawn heart shadow), and each OUTLINED finding drawn (where it
    # changed the film), bool [size, size].
    masks: dict[str, np.ndarray] | None = None

    def render_info(self) -> dict[str, Any]:
        return {
            "acquisition": self.acquisition.to_dict(),
            "ctr": round(self.ctr, 3),
            "pixel_spacing_mm": round(self.pixel_spacing_mm, 4),
            "findings": self.details,
            "anatomy": self.anatomy.to_dict(),
            "external": self.external,
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


def strength_of(f: Finding, mods: frozenset[str], rng: np.random.Generator) -> float:
    """How conspicuous a lesion is drawn: an uncertain or subtle finding is faint, a clear one varies too."""
    if f.presence == Presence.UNCERTAIN or mods & FAINT:
        return float(rng.uniform(0.3, 0.6))
    return float(rng.uniform(0.75, 1.1))


def _interpolated(atlas: Atlas, prefix: str, levels: Sequence[float], value: float) -> np.ndarray:
    """A map between two precomputed levels (linear blend); below the lowest, a fraction of it."""
    grid = np.asarray(levels, dtype=np.float64)
    order = np.argsort(grid)
    grid = grid[order]
    if value <= grid[0]:
        return atlas[f"{prefix}_{grid[0]}"] * np.float32(max(value, 0.0) / grid[0])
    i = int(min(np.searchsorted(grid, value) - 1, len(grid) - 2))
    a = float(np.clip((value - grid[i]) / (grid[i + 1] - grid[i]), 0.0, 1.0))
    return (1 - a) * atlas[f"{prefix}_{grid[i]}"] + a * atlas[f"{prefix}_{grid[i + 1]}"]


def _faint(f: Finding, mods: frozenset[str]) -> bool:
    return f.presence == Presence.UNCERTAIN or bool(mods & FAINT)


def finding_delta(
    atlas: Atlas,
    f: Finding,
    rng: np.random.Generator,
    mods: frozenset[str] = frozenset(),
) -> tuple[np.ndarray | None, dict[str, Any]]:
    """The projected attenuation change of one finding (None when it changes only the anatomy: an
    enlarged heart's size is fitted by the anatomy warp, a hyperinflated chest's height too)."""
    lat = f.laterality.value if f.laterality else None
    strength = strength_of(f, mods, rng)
    if f.label == "cardiomegaly":
        lo, hi = FAINT_CTR if _faint(f, mods) else CTR_RANGE.get(f.severity, CTR_RANGE[None])
        return None, {"target_ctr": round(float(rng.uniform(lo, hi)), 3)}
    if f.label == "pleural_effusion":
        faint = _faint(f, mods) or (f.severity is None and "trace" in mods)
        lo, hi = FAINT_EFFUSION_MM if faint else EFFUSION_MM.get(f.severity, EFFUSION_MM[None])
        sides = sides_of(lat, rng)
        levels = [round(float(rng.uniform(lo, hi)), 1) for _ in sides]
        delta = np.zeros_like(atlas["base"])
        for side, level in zip(sides, levels, strict=True):
            delta += _interpolated(atlas, f"effusion_{side}", EFFUSION_LEVELS_MM, level)
        return delta, {"sides": sides, "level_mm": levels}
    if f.label == "pneumothorax":
        lo, hi = (0.86, 0.95) if _faint(f, mods) else PTX_RANGE.get(f.severity, PTX_RANGE[None])
        sides = sides_of(lat, rng)
        scale = round(float(rng.uniform(lo, hi)), 3)
        # above the mildest precomputed collapse (0.85) the collapse map is faded in (1.0 = no collapse)
        collapse = 1.0 - (1.0 - scale) / (1.0 - max(PTX_SCALES))
        delta = np.zeros_like(atlas["base"])
        for side in sides:
            if scale > max(PTX_SCALES):
                delta += atlas[f"ptx_{side}_{max(PTX_SCALES)}"] * np.float32(1.0 - collapse)
            else:
                delta += _interpolated(atlas, f"ptx_{side}", PTX_SCALES, scale)
        return delta, {"sides": sides, "lung_scale": scale}
    if f.label in ("consolidation", "lung_opacity", "atelectasis"):
        delta, info = airspace(atlas, f.label, lat, f.location, f.severity, rng, mods, strength)
        return delta, {**info, "strength": round(strength, 3)}
    if f.label == "pulmonary_edema":
        delta, info = edema(atlas, f.severity, rng, mods, strength)
        return delta, {**info, "strength": round(strength, 3)}
    if f.label in ("nodule", "mass", "calcified_granuloma"):
        return nodule_like(atlas, f.label, lat, f.location, rng, f.severity, mods, strength)
    if f.label == "hyperinflation":  # fewer vessels per cm of lung; taller, flatter lungs via the warp
        lo, hi = (1.03, 1.08) if _faint(f, mods) else HYPERINFLATION.get(f.severity, HYPERINFLATION[None])
        stretch = float(rng.uniform(lo, hi))
        lucency = float(rng.uniform(0.25, 0.5)) * min(strength, 1.0)
        return -atlas["lung_mu"] * np.float32(lucency), {
            "stretch": round(stretch, 3),
            "lucency": round(lucency, 3),
            "flatten_mm": round(float(rng.uniform(0.1, 0.5)) * (stretch - 1.0) * 100.0, 1),
        }
    if f.label == "support_device":
        kind = f.location or str(rng.choice(["endotracheal tube", "central line", "pacemaker"]))
        delta, info = draw_device(atlas, kind, lat, rng)
        return delta, {"device": kind, **info}
    return None, {}


def _locate_spots(
    details: list[dict[str, Any]], acq: Acquisition, size: int, apex_row: float, warp: Warp
) -> None:
    """Add each drawn spot's film position, ``pixel``: [row, col, radius] in pixels of this film. Training
    reads it to teach the encoder *where* a granuloma, nodule or mass is (DESIGN.md: exact ground truth).
    The spot moves with the anatomy warp and its radius follows the warp's local magnification."""
    spacing = pixel_spacing_mm(acq, size)  # mm per film pixel
    for detail in details:
        for spot in detail.get("spots", []):
            g_row, g_col = warp.point(spot["row"], spot["col"])
            row, col = film_point(acq, size, apex_row, g_row, g_col)
            radius = spot["diameter_mm"] / 2 / spacing * warp.local_scale(g_row, g_col)
            spot["pixel"] = [round(row, 1), round(col, 1), round(float(radius), 1)]


def _cardio(atlas: Atlas, i: int) -> np.ndarray | None:
    """The precomputed cardiomegaly delta of table row ``i`` (0: the atlas heart, no delta)."""
    return atlas[f"cardio_{CARDIO_SCALES[i - 1]}"] if i > 0 else None


def _heart(atlas: Atlas, target: float, blend: bool) -> tuple[np.ndarray, float, np.ndarray | None]:
    """(shadow, table CTR, delta) of the heart for ``target``: the precomputed hearts either side of it
    blended by where ``target`` lies between them (so heart size, density included, is continuous across
    normals and positives, not six signatures), or without ``blend`` the nearest one alone. The shadow
    and table CTR are those of the heart with the larger weight, whose border dominates; the anatomy warp
    scales that the rest of the way to ``target`` (a few per cent, within its flat window)."""
    table = atlas["cardio_ctr"]
    nearest = int(np.argmin(np.abs(np.log(target / table))))
    delta = _cardio(atlas, nearest)
    if blend and target > table[0]:
        i = int(np.clip(np.searchsorted(table, target) - 1, 0, len(table) - 2))
        a = float(np.clip((target - table[i]) / (table[i + 1] - table[i]), 0.0, 1.0))
        nearest = i + 1 if a >= 0.5 else i
        lower, upper = _cardio(atlas, i), _cardio(atlas, i + 1)
        assert upper is not None
        delta = upper * np.float32(a) + (lower * np.float32(1 - a) if lower is not None else 0.0)
    shadow = atlas["struct_heart"] > 0
    dominant = _cardio(atlas, nearest)
    if dominant is not None:
        shadow = shadow | (dominant > 0.02)
    return shadow, float(table[nearest]), delta


def _measured_ctr(warp: Warp, shadow: np.ndarray, lungs: np.ndarray) -> float:
    """The CTR on the warped grid (every second row: the widest rows change slowly)."""
    if warp.rows is None or warp.cols is None:
        return measure_ctr(shadow, lungs)
    # nearest-pixel lookup of the masks (a mask needs no interpolation; this is ~20x faster)
    rows = np.clip(np.rint(warp.rows[::2]).astype(np.intp), 0, shadow.shape[0] - 1)
    cols = np.clip(np.rint(warp.cols[::2]).astype(np.intp), 0, shadow.shape[1] - 1)
    return measure_ctr(shadow[rows, cols], lungs[rows, cols])


def _fold_free(scale: float) -> float:
    """A heart scale the warp can draw without folding: a patient whose own heart is far from the target
    (a small CT heart asked for a large CTR) gets the nearest drawable one; the film records the CTR drawn."""
    return float(np.clip(scale, 0.52, 1.95))


def fit_anatomy(
    atlas: Atlas, anatomy: Anatomy, target_ctr: float, fit: bool = True
) -> tuple[Anatomy, Warp, float, np.ndarray | None]:
    """The anatomy with its heart scaled so the drawn CTR is ``target_ctr``, its warp, the CTR measured
    on the warped grid and the cardiomegaly delta to add (None: the atlas heart). ``fit`` False keeps the
    nearest precomputed heart unscaled (the atlas patient: tests that compare fixed regions)."""
    shadow, table_ctr, cardio = _heart(atlas, target_ctr, blend=fit)
    if is_neutral(anatomy):
        return anatomy, Warp(None, None), table_ctr, cardio
    lungs = atlas.lung() > 0
    box = heart_box(shadow)
    if not fit:
        warp = build_warp(atlas, anatomy, box)
        return anatomy, warp, _measured_ctr(warp, shadow, lungs), cardio
    fitted = replace(anatomy, heart_scale=_fold_free(target_ctr / table_ctr))
    warp = build_warp(atlas, fitted, box)
    ctr = _measured_ctr(warp, shadow, lungs)
    # The CTR grows with the heart scale, near-linearly until the heart nears the chest wall, where it
    # bends: a proportional step, then secant steps kept inside the bracket found so far; the closest wins.
    best = (abs(ctr - target_ctr), fitted, warp, ctr)
    below, above = 0.0, np.inf  # the largest scale drawn too small, the smallest drawn too large
    previous: tuple[float, float] | None = None
    for _ in range(4):
        if best[0] <= 0.006:
            break
        scale = fitted.heart_scale
        if ctr < target_ctr:
            below = max(below, scale)
        else:
            above = min(above, scale)
        step = scale * target_ctr / ctr
        if previous is not None and abs(ctr - previous[1]) > 1e-4:
            slope = (scale - previous[0]) / (ctr - previous[1])
            step = scale + (target_ctr - ctr) * slope if slope > 0 else step
        if below > 0 and np.isfinite(above) and not below < step < above:
            step = (below + above) / 2
        previous = (scale, ctr)
        fitted = replace(fitted, heart_scale=_fold_free(step))
        warp = build_warp(atlas, fitted, box)
        ctr = _measured_ctr(warp, shadow, lungs)
        if abs(ctr - target_ctr) < best[0]:
            best = (abs(ctr - target_ctr), fitted, warp, ctr)
    _, fitted, warp, ctr = best
    return fitted, warp, ctr, cardio


def render_film(
    findings: Sequence[Finding],
    seed: int,
    size: int = 512,
    atlas: Atlas | None = None,
    acquisition: Acquisition | None = None,
    anatomy: Anatomy | None = None,
    modifiers: Mapping[str, frozenset[str]] | None = None,
    looks: bool = False,
    masks: bool = False,
) -> Film:
    """A film showing exactly ``findings`` (present / uncertain ones); deterministic for a seed.

    Acquisition, anatomy, findings and noise use separate random streams, so the same seed renders the
    same patient, pose and noise with or without a finding (which is what the tests compare); the findings
    share one stream in order, so leaving one out changes how those drawn after it look. ``anatomy``
    None samples a synthetic patient (``NEUTRAL`` draws the atlas patient as it is); ``modifiers`` maps a
    label to the report's words about it (``lesion_words.modifiers_for``): subtle, ill-defined...
    ``looks``: a sampled acquisition draws the vendor look too (``Acquisition.sample``). ``masks``: the
    film carries its lung and heart masks and each outlined finding's (``Film.masks``), drawn with the same
    warp and pose.
    """
    drawn = _check(findings)
    atlas = atlas or load_atlas()
    modifiers = modifiers or {}
    acq_seq, find_seq, noise_seq, body_seq = np.random.SeedSequence(seed).spawn(4)
    acq = acquisition or Acquisition.sample(np.random.default_rng(acq_seq), looks=looks)
    body_rng = np.random.default_rng(body_seq)
    patient = anatomy if anatomy is not None else Anatomy.sample(body_rng)
    habitus = not is_neutral(patient)  # NEUTRAL: the atlas patient, its heart not rescaled
    rng = np.random.default_rng(find_seq)
    projection = atlas["base"].copy()
    details: list[dict[str, Any]] = []
    changes: dict[str, np.ndarray] = {}  # OUTLINED label -> how much it changed the projection
    target_ctr = patient.target_ctr if patient.target_ctr is not None else float(atlas["cardio_ctr"][0])
    for f in drawn:
        delta, info = finding_delta(atlas, f, rng, modifiers.get(f.label, frozenset()))
        if delta is not None:
            projection += delta
            if masks and f.label in OUTLINED:
                change = np.abs(delta)
                changes[f.label] = np.maximum(changes[f.label], change) if f.label in changes else change
        if f.label == "cardiomegaly":
            target_ctr = max(target_ctr, info["target_ctr"])
        if f.label == "hyperinflation":
            patient = replace(
                patient,
                inspiration=patient.inspiration * info["stretch"],
                diaphragm_right_mm=patient.diaphragm_right_mm - info["flatten_mm"],
                diaphragm_left_mm=patient.diaphragm_left_mm - info["flatten_mm"],
            )
        for side, mm in info.get("volume_loss_mm", {}).items():
            name = f"diaphragm_{side}_mm"
            patient = replace(patient, **{name: getattr(patient, name) + mm})
        details.append({"label": f.label, **info})
    patient, warp, ctr, cardio = fit_anatomy(
        atlas, replace(patient, target_ctr=target_ctr), target_ctr, fit=habitus
    )
    if cardio is not None:
        projection += cardio
    for detail in details:
        if detail["label"] == "cardiomegaly":
            detail["ctr"] = round(ctr, 3)
    extra = soft_tissue(atlas, patient)
    if extra is not None:
        projection += extra
    external = []
    if anatomy is None:  # external ECG electrodes on some patients: normal variation, not a finding
        ecg = ecg_leads(atlas, body_rng)
        if ecg is not None:
            projection += ecg
            external.append("ecg electrodes")
    projection = warp.apply(projection)
    lung_rows = np.nonzero((atlas.lung() > 0).any(axis=1))[0]
    apex_row = float(lung_rows.min())
    coverage = atlas.maps.get("coverage")  # the CT's valid region, where the atlas has one
    if coverage is not None:
        coverage = warp.apply(coverage)  # it moves with the anatomy it bounds
    pixels = develop(projection, acq, size, apex_row, np.random.default_rng(noise_seq), coverage=coverage)
    _locate_spots(details, acq, size, apex_row, warp)
    outlines = None
    if masks:  # the heart as fit_anatomy measured it; every mask on the anatomy's warped grid first
        heart = _heart(atlas, target_ctr, blend=habitus)[0]
        grid = {"lungs": warp.apply((atlas.lung() > 0).astype(np.float32)),
                "heart": warp.apply(heart.astype(np.float32))}
        for label, change in changes.items():
            outline = change >= OUTLINE_FRACTION * max(float(change.max()), 1e-6)
            grid[label] = warp.apply(outline.astype(np.float32))
        outlines = film_masks(grid, acq, size, apex_row)
    return Film(
        pixels=pixels,
        pixel_spacing_mm=pixel_spacing_mm(acq, size),
        acquisition=acq,
        ctr=ctr,
        details=details,
        anatomy=patient,
        external=external,
        masks=outlines,
    )
