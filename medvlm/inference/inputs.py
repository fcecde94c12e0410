"""What a draft is made from: a study's images as model input, chosen and hashed.

A study may hold several images (PA and lateral, a scout): the model reads one frontal view, chosen as
PA, then AP, then any other, ties broken by instance number and path. A model that reads laterals
(``inputs`` with ``lateral``) also gets the study's first other image that ``medvlm.inference.views`` calls
lateral; one that reads the indication gets it from the frontal's request attributes
(``medvlm.inference.indication.from_dicom``) unless the caller gives it. The input hashes (sha256 of the
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
# frontal first: PA, then AP, then an unlabelled image; a file that says it is a lateral comes last, so a
# study handed over as [frontal, *laterals] never drafts from its lateral
_VIEW_RANK = {"PA": 0, "AP": 1, "LL": 3, "RL": 3, "LATERAL": 3, "LLD": 3, "RLD": 3}


@dataclass(frozen=True)
class StudyImage:
    image: torch.Tensor  # (1, S, S) float32, as medvlm.imaging.transforms.model_input makes it
    sha256: str
    source: str  # file path, or "tensor"
    lateral: torch.Tensor | None = None  # (1, S, S), when the model reads laterals and the study has one
    lateral_sha256: str | None = None
    lateral_source: str | None = None
    indication: str = ""  # from the request attributes, when the model reads the indication

    @property
    def hashes(self) -> list[str]:
        return [self.sha256, *([self.lateral_sha256] if self.lateral_sha256 else [])]


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
    path, ds, _ = _choose(paths, settings)
    return path, ds


def _choose(
    paths: Sequence[Path | str], settings: Settings | None
) -> tuple[Path, Dataset, list[tuple[Path, Dataset]]]:
    """(frontal path, its dataset, the other readable images)."""
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
    best = min(candidates, key=lambda c: c[:3])
    others = [(c[3], c[4]) for c in sorted(candidates, key=lambda c: c[:3]) if c is not best]
    return best[3], best[4], others


def choose_lateral(others: Sequence[tuple[Path, Dataset]]) -> tuple[Path, Dataset] | None:
    """The first of the study's other images that is a lateral view (attributes, then the image check)."""
    from medvlm.inference.views import classify

    for path, ds in others:
        instance = classify(ds, path)
        if instance is not None and instance.view == "lateral":
            return path, ds
    return None


def load_study(
    source: StudyInput,
    image_size: int,
    settings: Settings | None = None,
    inputs: Sequence[str] = ("frontal",),
) -> StudyImage:
    """One study -> its frontal model input of side ``image_size`` and, as ``inputs`` (the model's
    ``config.inputs``) ask, its lateral and its indication from the DICOM request attributes."""
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
    path, ds, others = _choose(paths, settings)
    image = model_input(ds, image_size)
    lateral = choose_lateral(others) if "lateral" in inputs else None
    indication = ""
    if "indication" in inputs:
        from medvlm.inference.indication import from_dicom

        indication = from_dicom(ds)
    if lateral is None:
        return StudyImage(image.float(), _sha256(path), str(path), indication=indication)
    lateral_image = model_input(lateral[1], image_size).float()
    return StudyImage(image.float(), _sha256(path), str(path), lateral_image, _sha256(lateral[0]),
                      str(lateral[0]), indication)
