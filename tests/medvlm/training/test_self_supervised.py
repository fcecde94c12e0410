"""The self-supervised (masked-image) stage: films in, encoder trained, decoder left behind, resumable."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from medvlm.curriculum import load_curriculum, plan_curriculum
from medvlm.errors import CurriculumError, ModelInputError
from medvlm.model import build_model
from medvlm.model.mae_decoder import random_masks, token_grid
from medvlm.ontology import load_ontology
from medvlm.training.distributed import DistInfo
from medvlm.training.films import list_films, load_films
from medvlm.training.runner import TrainOptions, train
from medvlm.training.self_supervised import MaskedImageModule, run_self_supervised
from tests.medvlm.training.synthdata import _draw, _sample_findings, _write_dicom

CORPUS = ["Heart size is normal. The lungs are clear.", "Small left pleural effusion."] * 5

SSL_STAGE = """
  - name: films
    kind: self_supervised
    objective: masked_image
    films: {films}
    steps: 6
    batch_size: 4
    lr: 3.0e-3
    eval_every: 3
    checkpoint_every: 3
"""

CURRICULUM = """
name: ssl_ci
seed: 0
model: {{preset: micro}}
data:
  labels: {{split: train}}
  validation: {{split: validation}}
stages:{ssl}
  - name: encoder
    kind: encoder
    sources: [labels]
    eval_source: validation
    modules: {{vision: full, findings_head: full}}
    steps: 2
    batch_size: 8
    lr: 1.0e-3
    eval_every: 2
    eval_tasks: [findings]
    select_on: findings.macro_auroc
"""


@pytest.fixture(scope="module")
def films(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six PNG films of varied size, two DICOM films and one broken file (skipped, not fatal)."""
    import random

    folder = tmp_path_factory.mktemp("films")
    rng, pick = np.random.default_rng(0), random.Random(0)
    for i in range(6):
        pixels = _draw(_sample_findings(pick), rng)
        image = (255 * (pixels - pixels.min()) / max(np.ptp(pixels), 1e-6)).astype(np.uint8)
        Image.fromarray(image).resize((64 + 8 * i, 80)).save(folder / f"film{i}.png")
    for i in range(2):
        pixels = (_draw(_sample_findings(pick), rng) * 4000).astype(np.uint16)
        _write_dicom(folder / "dicom" / f"f{i}.dcm", pixels, f"1.2.3.{i}", f"1.2.3.{i}.1")
    (folder / "broken.dcm").write_bytes(b"not a dicom file")
    (folder / ".hidden.png").write_bytes(b"ignored")
    return folder


def _curriculum(directory: Path, ssl: str) -> Path:
    path = directory / "ssl.yaml"
    path.write_text(CURRICULUM.format(ssl=ssl))
    return path


def _micro():
    return build_model("micro", load_ontology(), tokenizer_corpus=CORPUS, seed=0)


def test_films_are_found_and_read_through_the_one_preprocessing(films: Path) -> None:
    paths = list_films(films)
    assert [p.name for p in paths] == ["broken.dcm", "f0.dcm", "f1.dcm"] + [f"film{i}.png" for i in range(6)]
    images, skipped = load_films(paths, 64, None)
    assert images.shape == (8, 1, 64, 64) and len(skipped) == 1 and skipped[0].startswith("broken.dcm")
    assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0


def test_loss_falls_on_a_fixed_batch(films: Path) -> None:
    torch.manual_seed(0)
    bundle = _micro()
    for p in bundle.model.parameters():
        p.requires_grad_(True)
    images, _ = load_films(list_films(films), bundle.image_size, None)
    module = MaskedImageModule(bundle, patch=16, feature_dim=bundle.vision_features(
        bundle.pixel_values(images[:1].float()))[0].shape[-1])
    mask = random_masks(images.shape[0], 4, 0.6, torch.Generator().manual_seed(0))
    optimizer = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for _ in range(40):
        optimizer.zero_grad()
        loss = module(images.float(), mask)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0], losses[::8]


def _vision(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state.items() if "vision_tower" in k}


def test_stage_trains_the_encoder_and_leaves_the_decoder_out(
    films: Path, synth_data: Path, tmp_path: Path
) -> None:
    curriculum = _curriculum(tmp_path, SSL_STAGE.format(films=films))
    out = tmp_path / "model"
    train(TrainOptions(curriculum, synth_data, out, progress=False, register=False))
    work = out / "training"
    before = load_file(work / "init" / "model" / "model.safetensors")
    after = load_file(work / "stages" / "films" / "model" / "model.safetensors")
    assert set(before) == set(after)  # no decoder (or any new) weights in the saved model
    assert not [k for k in after if "decoder" in k]
    changed = [k for k in _vision(before) if not torch.equal(before[k], after[k])]
    assert changed, "the self-supervised stage did not change the vision tower"
    others = [k for k in before if k not in _vision(before) and not torch.equal(before[k], after[k])]
    assert others == []  # projector and language model untouched
    head_before = load_file(work / "init" / "findings_head.safetensors")
    head_after = load_file(work / "stages" / "films" / "findings_head.safetensors")
    assert all(torch.equal(head_before[k], head_after[k]) for k in head_before)
    card = json.loads((out / "model_card.json").read_text())
    ssl = card["stages"][0]
    assert ssl["kind"] == "self_supervised" and ssl["objective"] == "masked_image"
    assert ssl["films"] + ssl["films_held_out"] == 8 and ssl["films_unreadable"] == 1
    assert len(ssl["films_sha256"]) == 64 and "ssl.masked_loss" in ssl["metrics"]
    assert [s["kind"] for s in card["stages"]] == ["self_supervised", "encoder"]


def test_interrupted_stage_resumes_to_the_same_weights(films: Path, tmp_path: Path) -> None:
    loaded = load_curriculum(_curriculum(tmp_path, SSL_STAGE.format(films=films)))
    stage = loaded.curriculum.stages[0]

    def run(work: Path, stop_at: int | None = None) -> dict[str, torch.Tensor]:
        bundle = _micro()

        def on_step(name: str, done: int, steps: int) -> None:
            if done == stop_at:
                raise KeyboardInterrupt

        try:
            run_self_supervised(stage, 0, bundle, tmp_path, work, 0, DistInfo(), False, on_step)  # type: ignore[arg-type]
        except KeyboardInterrupt:
            bundle = _micro()  # a killed process: the next run starts from the saved bundle again
            run_self_supervised(stage, 0, bundle, tmp_path, work, 0, DistInfo(), False)  # type: ignore[arg-type]
        return {k: v.detach().clone() for k, v in bundle.model.state_dict().items()}

    whole = run(tmp_path / "whole")
    resumed = run(tmp_path / "resumed", stop_at=5)  # last checkpoint at step 3
    assert all(torch.allclose(whole[k], resumed[k], atol=1e-6) for k in whole)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("    sources: [labels]\n", "unknown key at stages.0.sources"),
        ("    objective: contrastive\n", "stages.0.objective"),
        ("    mask_ratio: 1.0\n", "stages.0.mask_ratio"),
        ("    warmup_steps: 6\n", "warmup_steps 6 >= steps 6"),
    ],
)
def test_refused_stage_configs(tmp_path: Path, edit: str, message: str) -> None:
    stage = SSL_STAGE.format(films="films").replace("    objective: masked_image\n", "") + edit
    with pytest.raises(CurriculumError, match=message):
        load_curriculum(_curriculum(tmp_path, stage))


def test_missing_or_empty_films_folder_is_refused_or_skipped(synth_data: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(synth_data, data)
    loaded = load_curriculum(_curriculum(tmp_path, SSL_STAGE.format(films="films")))
    with pytest.raises(CurriculumError, match=r"stage 'films': films folder .*films does not exist"):
        plan_curriculum(loaded, data, 10**9, 0)
    (data / "films").mkdir()
    (data / "films" / "one.png").write_bytes(b"x")
    with pytest.raises(CurriculumError, match="holds 1 PNG or DICOM films"):
        plan_curriculum(loaded, data, 10**9, 0)
    optional = SSL_STAGE.format(films="elsewhere") + "    required: false\n"
    plan = plan_curriculum(load_curriculum(_curriculum(tmp_path, optional)), data, 10**9, 0)
    assert "does not exist" in plan.skipped["films"] and [s.name for s in plan.run] == ["encoder"]


def test_token_grid_must_be_square() -> None:
    assert token_grid(16, 64) == (4, 16)
    with pytest.raises(ModelInputError, match="square grid of vision tokens"):
        token_grid(12, 64)
