"""A training record as a study: which file is its frontal film, which its lateral, and its indication.

The manifest's optional ``views`` (one per file) says which file is which; without it a record of one file
is a frontal film, and a record of several is read by ``medvlm.inference.views.pick_views`` (DICOM
attributes, then the gate's image check). ``StudyLookup`` gives a batch of frontal rows of the image cache
their laterals and indications, filtered by what the stage reads (its curriculum ``inputs``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from medvlm.dataset.errors import DatasetError


def _read(path: Path, pixels: bool):  # type: ignore[no-untyped-def]
    import pydicom

    return pydicom.dcmread(path, stop_before_pixels=not pixels)


def split_views(
    files: Sequence[Path], views: Sequence[str] | None, where: str
) -> tuple[list[Path], Path | None]:
    """(files with the frontal first, the lateral or None). Raises DatasetError for a study without a
    frontal film."""
    files = list(files)
    if views is not None:
        frontal = [f for f, v in zip(files, views, strict=True) if v == "frontal"]
        lateral = [f for f, v in zip(files, views, strict=True) if v == "lateral"]
        if not frontal:
            raise DatasetError(f"{where}: views {list(views)} name no frontal file")
        return [frontal[0], *(f for f in files if f != frontal[0])], (lateral[0] if lateral else None)
    if len(files) <= 1:
        return files, None
    from medvlm.errors import DicomError
    from medvlm.inference.views import pick_views, view_from_image

    def fallback(ds):  # type: ignore[no-untyped-def]  # the image check needs the pixels
        return view_from_image(_read(Path(ds.filename), pixels=True))

    try:
        picked = pick_views([(f, _read(f, pixels=False)) for f in files], fallback)
    except DicomError as exc:
        raise DatasetError(f"{where}: {exc}") from None
    frontal = picked.frontal.path
    assert frontal is not None
    lateral = picked.lateral.path if picked.lateral else None
    return [frontal, *(f for f in files if f != frontal)], lateral


@dataclass
class StudyLookup:
    """Laterals and indications of frontal rows of the image cache (empty maps: frontal only)."""

    images: torch.Tensor
    lateral_row: dict[int, int] = field(default_factory=dict)
    indication: dict[int, str] = field(default_factory=dict)

    def laterals(
        self, rows: Sequence[int], transform: Callable[[torch.Tensor], torch.Tensor] | None = None
    ) -> list[torch.Tensor | None] | None:
        have = [i for i, r in enumerate(rows) if r in self.lateral_row]
        if not have:
            return None
        films = self.images[[self.lateral_row[rows[i]] for i in have]].float()
        if transform is not None:
            films = transform(films)
        out: list[torch.Tensor | None] = [None] * len(rows)
        for i, film in zip(have, films, strict=True):
            out[i] = film
        return out

    def indications(self, rows: Sequence[int]) -> list[str] | None:
        if not self.indication:
            return None
        return [self.indication.get(r, "") for r in rows]
