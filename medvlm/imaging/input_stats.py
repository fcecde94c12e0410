"""Model-input statistics of sets of films: are synthetic and real films on the same scale?

Both pipelines end at the model's resize (longest side to ``size``): ``display`` is the viewer's values
alone (Modality LUT, VOI, MONOCHROME1: the model input before the normalisation), ``model`` adds the robust
normalisation (the pipeline in use). The square padding is left out: it is black in every pipeline and
would only count how far a film is from square. Each set gives mean, p10 and p90 over all its pixels and
the spread of per-film means, and the mean of four zones of a frontal film (fractions of its height and
width, patient's right on the viewer's left): the landmark normalisation matches whole-film histograms by
construction, so a film whose lungs sit at a different rank (less air in the field, a lower diaphragm)
shows up only here.
"""

from __future__ import annotations

import importlib.metadata
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from monai.transforms import Compose, EnsureTyped, Resized
from pydicom import Dataset

from medvlm.imaging.transforms import KEY, LoadDicomFramed, RobustNormalised, apply

RG1_FILES = ("RG1_UNCR.dcm", "RG1_UNCI.dcm", "RG1_J2KR.dcm", "RG1_J2KI.dcm")


# zone -> (rows from, to; columns from, to) as fractions of the film
ZONES: dict[str, tuple[float, float, float, float]] = {
    "right lung": (0.25, 0.625, 0.12, 0.42),
    "left lung": (0.25, 0.625, 0.58, 0.88),
    "mediastinum": (0.25, 0.625, 0.45, 0.55),
    "right base": (0.625, 0.875, 0.12, 0.42),
}


def zone_means(x: np.ndarray) -> dict[str, float]:
    """Mean of each of ``ZONES`` on a 2-D film."""
    h, w = x.shape
    return {name: float(x[int(r0 * h) : int(r1 * h), int(c0 * w) : int(c1 * w)].mean())
            for name, (r0, r1, c0, c1) in ZONES.items()}


def average_zones(per_film: Sequence[dict[str, float]]) -> dict[str, float]:
    """Films' ``zone_means`` averaged (each film weighs the same, whatever its size)."""
    return {z: float(np.mean([m[z] for m in per_film])) for z in ZONES}


@dataclass(frozen=True)
class SetStats:
    name: str
    pipeline: str
    films: int
    mean: float
    p10: float
    p90: float
    film_mean_sd: float
    zones: dict[str, float]

    def row(self) -> str:
        zones = "  ".join(f"{name} {value:.3f}" for name, value in self.zones.items())
        return (f"{self.name:18s} {self.pipeline:8s} {self.films:5d}  mean {self.mean:.3f}"
                f"  p10 {self.p10:.3f}"
                f"  p90 {self.p90:.3f}  sd(film means) {self.film_mean_sd:.3f}  | {zones}")


@lru_cache(maxsize=4)
def _pipeline(size: int, normalise: bool) -> Compose:
    return Compose([
        LoadDicomFramed(KEY),
        *([RobustNormalised(KEY)] if normalise else []),
        Resized(KEY, spatial_size=size, size_mode="longest", mode="area"),
        EnsureTyped(KEY, data_type="tensor", dtype=torch.float32, track_meta=False),
    ])


def film_input(source: Path | Dataset, size: int, pipeline: str) -> np.ndarray:
    """The film's model input without the square padding, ``pipeline`` "display" or "model"."""
    return apply(_pipeline(size, pipeline == "model"), source)[0].numpy()


def set_stats(name: str, paths: Sequence[Path], size: int = 256, pipeline: str = "model",
              stride: int = 5) -> SetStats:
    """Pixel statistics (every ``stride``-th pixel of every film) of ``paths`` through ``pipeline``."""
    if not paths:
        raise ValueError(f"{name}: no films")
    samples, means, zones = [], [], []
    for path in paths:
        x = film_input(path, size, pipeline)
        samples.append(x.ravel()[::stride])
        means.append(float(x.mean()))
        zones.append(zone_means(x))
    pixels = np.concatenate(samples)
    p10, p90 = np.percentile(pixels, (10, 90))
    return SetStats(name, pipeline, len(paths), float(pixels.mean()), float(p10), float(p90),
                    float(np.std(means)), average_zones(zones))


def rg1_files() -> list[Path]:
    """The pydicom-data chest CR films (RG1_*), located through the wheel's metadata."""
    root = Path(str(importlib.metadata.distribution("pydicom-data").locate_file("data_store/data")))
    return [root / name for name in RG1_FILES if (root / name).is_file()]


def pngs_as_cr(pngs: Iterable[Path], out: Path | None = None) -> list[Path]:
    """Write PNG films as CR DICOM (8-bit MONOCHROME2, chest), as a site would send them."""
    from medvlm.evaluation.real_films import _png_dataset

    folder = Path(out or tempfile.mkdtemp(prefix="realfilm-cr-"))
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for png in pngs:
        ds = _png_dataset(Path(png), "PA")
        path = folder / f"{Path(png).stem}.dcm"
        ds.save_as(path, enforce_file_format=True)
        written.append(path)
    return written
