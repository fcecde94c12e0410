"""What a draft is made from: a study's images as model input, chosen and hashed.

A study may hold several images (PA and lateral, a scout): the model reads one frontal view, chosen as
PA, then AP, then any other, ties broken by instance number and path. The input hashes (sha256 of the
DICOM file, or of the tensor's bytes) go into the draft so it can be traced to exactly what was read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from pydicom.dataset import Dataset

from medvlm.errors import DicomError, ModelInputError, NotFoundError
from medvlm.settings import Settings

StudyInput = torch.Tensor | Path | str | Sequence[Path | str]
_VIEW_RANK = {"PA": 0, "AP": 1}


@dataclass(frozen=True)
class StudyImage:
    image: torch.Tensor  # (1, S, S) float32, as medvlm.imaging.transforms.model_input makes it
    sha256: str
    source: str  # file path, or "tensor"


def _files(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            raise NotFoundError(f"no such file or folder: {path}")
    return files


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def choose_image(paths: Sequence[Path | str], settings: Settings | None = None) -> tuple[Path, Dataset]:
    """The frontal image among ``paths`` (files or folders) and its dataset; files that are not DICOM
    images are passed over, and a study without any is a DicomError naming what was found."""
    from medvlm.dicom.parse import read_dataset

    candidates = []
    problems = []
    for path in _files([Path(p) for p in paths]):
        try:
            ds = read_dataset(path, settings)
        except DicomError as exc:
            problems.append(f"{path.name}: {exc}")
            continue
        if "PixelData" not in ds and "FloatPixelData" not in ds:
            problems.append(f"{path.name}: no pixel data")
            continue
        view = str(getattr(ds, "ViewPosition", "") or "").upper()
        number = int(getattr(ds, "InstanceNumber", None) or 0)
        candidates.append((_VIEW_RANK.get(view, 2), number, str(path), path, ds))
    if not candidates:
        detail = "; ".join(problems[:3]) or "no files"
        raise DicomError(f"no DICOM image to draft from in {', '.join(str(p) for p in paths)} ({detail})")
    _, _, _, path, ds = min(candidates, key=lambda c: c[:3])
    return path, ds


def load_study(source: StudyInput, image_size: int, settings: Settings | None = None) -> StudyImage:
    """One study -> one model input image of side ``image_size``."""
    if isinstance(source, torch.Tensor):
        image = source.detach().float()
        if image.ndim == 4 and image.shape[0] == 1:
            image = image[0]
        if image.ndim != 3 or image.shape[0] != 1 or tuple(image.shape[1:]) != (image_size, image_size):
            raise ModelInputError(f"expected a study image of shape (1, {image_size}, {image_size}), "
                                  f"got {tuple(source.shape)}")
        digest = hashlib.sha256(image.contiguous().numpy().tobytes()).hexdigest()
        return StudyImage(image, digest, "tensor")
    from medvlm.imaging.transforms import model_input

    paths = [source] if isinstance(source, str | Path) else list(source)
    if not paths:
        raise ModelInputError("a study needs at least one file or folder")
    path, ds = choose_image(paths, settings)
    image = model_input(ds, image_size)
    return StudyImage(image.float(), _sha256(path), str(path))
