"""A familiarity fit for test models: a few synthetic chest films, each seen under many small exposures and
noise, stand in for a training set large enough (over 99 calibration films) for the unfamiliar-film flag
to be able to fire at all."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

FILMS = 520  # 104 calibration films: familiarity can fall below 0.01


def chest_inputs(size: int, seeds: Sequence[int]) -> torch.Tensor:
    """(len(seeds), 1, size, size) model inputs of synthetic chest films, through the model's own
    preprocessing (a CR file written and read back as a drafted study would be)."""
    import tempfile

    import pydicom
    from pydicom.uid import generate_uid

    from medvlm.imaging.transforms import model_input
    from tests.medvlm.inference.dicom_files import chest_film, write_cr

    out = []
    with tempfile.TemporaryDirectory() as folder:
        for seed in seeds:
            path = write_cr(Path(folder) / f"{seed}.dcm", study_uid=generate_uid(), pixels=chest_film(seed))
            out.append(model_input(pydicom.dcmread(path), size))
    return torch.stack(out)


def jittered(films: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` films cycled from ``films``, each with its own gain, offset and noise (clamped to 0..1)."""
    g = torch.Generator().manual_seed(seed)
    base = films[torch.arange(n) % films.shape[0]].float()
    gain = 1 + 0.05 * (2 * torch.rand(n, 1, 1, 1, generator=g) - 1)
    offset = 0.02 * (2 * torch.rand(n, 1, 1, 1, generator=g) - 1)
    noise = 0.01 * torch.randn(base.shape, generator=g)
    return (base * gain + offset + noise).clamp(0, 1)


def fit_on_chest_films(model_dir: Path, seeds: Sequence[int] = (7, 0, 1, 2)) -> torch.Tensor:
    """Fit and save ``model_dir``'s familiarity on jittered chest films of ``seeds`` (seed 7: the films of
    ``tests.service.helpers.chest_dicom_bytes``); returns the base films."""
    from medvlm.model import load_bundle
    from medvlm.training.familiarity import fit_familiarity

    bundle = load_bundle(model_dir)
    base = chest_inputs(bundle.image_size, seeds)
    fit_familiarity(bundle, jittered(base, FILMS), list(range(FILMS)), seed=0)
    assert bundle.novelty is not None and bundle.embedding_novelty is not None
    bundle.novelty.save(model_dir)
    bundle.embedding_novelty.save(model_dir)
    return base
