"""Unlabelled films for the self-supervised stage: a folder of PNG or DICOM files -> model-input tensors.

Every film goes through the project's one preprocessing (``medvlm.imaging.transforms.model_input``): a PNG
is wrapped as the 8-bit MONOCHROME2 dataset a site would send, so real films and DICOM files are
normalised, padded and resized exactly as at inference.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

FILM_SUFFIXES = {".png", ".dcm", ".dicom", ""}


def list_films(folder: Path, limit: int | None = None) -> list[Path]:
    """PNG / DICOM files under ``folder`` (recursive, sorted, hidden files and folders left out)."""
    if not folder.is_dir():
        return []
    files = sorted(
        p for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in FILM_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    return files[:limit] if limit else files


def films_digest(folder: Path, films: list[Path]) -> str:
    """What the model card records of the films: names and sizes (the films themselves stay private)."""
    digest = hashlib.sha256()
    for path in films:
        digest.update(f"{path.relative_to(folder)}:{path.stat().st_size}\n".encode())
    return digest.hexdigest()


def _png_dataset(path: Path) -> object:
    from PIL import Image
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    pixels = np.asarray(Image.open(path).convert("L"), dtype=np.uint8)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.Modality, ds.Rows, ds.Columns = "CR", *pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = pixels.tobytes()
    return ds


def film_input(path: Path, size: int) -> torch.Tensor:
    """(1, size, size) float32 in 0..1 of one PNG or DICOM film."""
    from medvlm.imaging.transforms import model_input

    source = _png_dataset(path) if path.suffix.lower() == ".png" else path
    return model_input(source, size).float()  # type: ignore[arg-type]


def load_films(
    films: list[Path], size: int, cache_dir: Path | None, progress: bool = False
) -> tuple[torch.Tensor, list[str]]:
    """(N, 1, S, S) float16 of the readable films, and a line per film that could not be read (skipped,
    not fatal: one broken file in a hospital folder should not stop the stage). Cached like the image
    cache, keyed by the film list and size, so a resumed stage does not decode again."""
    from medvlm.errors import MedVLMError

    key = hashlib.sha256(("\n".join(map(str, films)) + f"|{size}").encode()).hexdigest()[:16]
    cache = cache_dir / f"films_{key}.pt" if cache_dir else None
    if cache and cache.is_file():
        saved = torch.load(cache, weights_only=False)
        return saved["images"], saved["skipped"]
    from tqdm import tqdm

    images, skipped = [], []
    for path in tqdm(films, desc="decode films", disable=not progress, leave=False):
        try:
            images.append(film_input(path, size).to(torch.float16))
        except (MedVLMError, OSError, ValueError) as exc:
            skipped.append(f"{path.name}: {exc}")
    out = torch.stack(images) if images else torch.zeros((0, 1, size, size), dtype=torch.float16)
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        torch.save({"images": out, "skipped": skipped}, tmp)
        tmp.replace(cache)
    return out, skipped
