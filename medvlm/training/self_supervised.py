"""The self-supervised stage: masked-image modelling on a folder of unlabelled films.

Why masked-image modelling and not a contrastive objective (SimCLR) for the small CPU-trained tower:
SimCLR learns from negatives in the batch and needs large batches (hundreds) and strong augmentation that
changes colour and crops hard; here batches are 16-32 films on 2 cores, the films are grey, and the
augmentations that keep a chest film a chest film (small shifts, exposure) are weak, so the contrastive
task is easy without learning much. Masked reconstruction gives a dense signal from every hidden patch of
every film at any batch size, and what it asks for (ribs, vessels, device lines and lung texture from their
surround) is exactly the real films' appearance the synthetic films lack.

The stage trains the vision tower only, with a decoder that exists for the stage alone: it is checkpointed
for resume, but the bundle the stage saves has no decoder in it. Progress, ``last.pt`` checkpoints and
``--resume`` work as for the other stages; the selected weights are the last step's (the masked loss on
held-out films is reported, but a lower reconstruction loss is not a better encoder for findings).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from medvlm.curriculum.schema import Modules
from medvlm.curriculum.self_supervised import SelfSupervisedStage
from medvlm.errors import CurriculumError
from medvlm.model.bundle import ModelBundle
from medvlm.model.mae_decoder import MaskedImageDecoder, mask_images, masked_loss, random_masks, token_grid
from medvlm.training import checkpoint as ckpt
from medvlm.training.distributed import DistInfo, barrier
from medvlm.training.films import films_digest, list_films, load_films
from medvlm.training.images import augment
from medvlm.training.modules import apply_modules, merge_lora
from medvlm.training.stage import batch_indices, lr_at


def films_folder(stage: SelfSupervisedStage, data_dir: Path) -> Path:
    return (data_dir / stage.films).resolve()  # an absolute ``films`` stays as it is


class MaskedImageModule(torch.nn.Module):
    """The bundle's vision path + the throw-away decoder; forward = the masked reconstruction loss."""

    def __init__(self, bundle: ModelBundle, patch: int, feature_dim: int) -> None:
        super().__init__()
        self.bundle = bundle
        self.model = bundle.model
        self.decoder = MaskedImageDecoder(feature_dim, patch)

    def forward(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b = self.bundle
        tokens, _ = b.vision_features(b.pixel_values(mask_images(images, mask, self.decoder.patch)))
        return masked_loss(self.decoder(tokens), images, mask, self.decoder.patch)


def _module(bundle: ModelBundle, device: torch.device) -> MaskedImageModule:
    with torch.no_grad():
        probe = torch.zeros(1, 1, bundle.image_size, bundle.image_size)
        tokens, _ = bundle.vision_features(bundle.pixel_values(probe.to(device)))
    _, patch = token_grid(tokens.shape[1], bundle.image_size)
    return MaskedImageModule(bundle, patch, tokens.shape[-1]).to(device)


def run_self_supervised(
    stage: SelfSupervisedStage,
    stage_index: int,
    bundle: ModelBundle,
    data_dir: Path,
    work: Path,
    seed: int,
    info: DistInfo,
    progress: bool,
    on_step: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Train the vision tower on the films; returns the stage summary (for state.json and the card)."""
    from tqdm import tqdm

    if info.enabled and not info.main:  # one process trains (the stage is small); the others wait
        barrier(info)
        return {}
    folder = films_folder(stage, data_dir)
    paths = list_films(folder, stage.limit)
    images, skipped = load_films(paths, bundle.image_size, work / "cache", progress and info.main)
    if images.shape[0] < 2:
        raise CurriculumError(f"stage {stage.name!r}: {folder} holds {images.shape[0]} readable films; "
                              "masked-image training needs at least 2 (one is held out)")
    held = min(stage.eval_films, max(images.shape[0] // 10, 1))
    eval_images, train_images = images[:held], images[held:]  # sorted by path: the same split on resume
    stage_dir = work / stage.name
    apply_modules(bundle, Modules(vision="full"), None)
    bundle.to(info.device)
    bundle.model.train()
    module = _module(bundle, info.device)
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=stage.lr, weight_decay=stage.weight_decay)
    summary: dict[str, Any] = {
        "name": stage.name, "kind": stage.kind, "objective": stage.objective, "select_on": stage.select_on,
        "steps": stage.steps, "films": int(train_images.shape[0]), "films_held_out": held,
        "films_unreadable": len(skipped), "films_sha256": films_digest(folder, paths),
        "mask_ratio": stage.mask_ratio, "patch": module.decoder.patch, "history": [], "evals": [],
    }
    start = 0
    last = ckpt.load(stage_dir / "last.pt")
    if last is not None:
        ckpt.load_trainable(module, last["trainable"])
        optimizer.load_state_dict(last["optimizer"])
        summary, start = last["summary"], last["step"]
    bar = tqdm(total=stage.steps, initial=start, desc=stage.name, disable=not progress, dynamic_ncols=True)
    grid = bundle.image_size // module.decoder.patch
    for step in range(start, stage.steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(stage, step)  # type: ignore[arg-type]  # reads steps / lr / warmup only
        g = torch.Generator().manual_seed(seed * 7919 + stage_index * 104_729 + step * 31)
        idx = batch_indices(seed, stage_index, step, stage.batch_size, train_images.shape[0])
        loss = _masked_step(module, train_images[idx].float(), stage, grid, g, optimizer, params, info.device)
        done = step + 1
        summary["history"].append({"step": done, "loss": round(loss, 5)})
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}")
        if on_step is not None:
            on_step(stage.name, done, stage.steps)
        if done % stage.eval_every == 0 or done == stage.steps:
            value = held_out_loss(module, eval_images, grid, stage.mask_ratio, seed, info.device)
            summary["evals"].append({"step": done, stage.select_on: round(value, 5)})
            bar.write(f"[{stage.name}] step {done}: {stage.select_on}={value:.4f}")
        if done % stage.checkpoint_every == 0 or done == stage.steps:
            state = {"step": done, "trainable": ckpt.trainable_state(module),
                     "optimizer": optimizer.state_dict(), "summary": summary}
            ckpt.atomic_save(state, stage_dir / "last.pt")
    bar.close()
    summary["metrics"] = {stage.select_on: summary["evals"][-1][stage.select_on]} if summary["evals"] else {}
    merge_lora(bundle)  # freezes every parameter again; the decoder goes with ``module``
    bundle.eval()
    if info.enabled:
        barrier(info)
    return summary


@torch.no_grad()
def held_out_loss(module: MaskedImageModule, images: torch.Tensor, grid: int, ratio: float, seed: int,
                  device: torch.device) -> float:
    """Masked loss on the held-out films with fixed masks (the same at every evaluation)."""
    module.eval()
    mask = random_masks(images.shape[0], grid, ratio, torch.Generator().manual_seed(seed + 17))
    value = float(module(images.float().to(device), mask))
    module.train()
    return value


def _masked_step(module: Any, batch: torch.Tensor, stage: SelfSupervisedStage, grid: int, g: torch.Generator,
                 optimizer: torch.optim.Optimizer, params: list, device: Any) -> float:
    """One optimiser step of masked-patch reconstruction on ``batch`` (augmented first when asked)."""
    if stage.augment:
        batch, _ = augment(batch, g)
        batch = batch.clamp(0.0, 1.0)
    mask = random_masks(batch.shape[0], grid, stage.mask_ratio, g)
    optimizer.zero_grad(set_to_none=True)
    loss = module(batch.to(device), mask)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    optimizer.step()
    return float(loss.detach())
