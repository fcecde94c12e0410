"""Which parameters a stage trains: frozen / full per module, LoRA on the language model via peft."""

from __future__ import annotations

from typing import Any

from medvlm.curriculum.schema import Lora, Modules
from medvlm.model.bundle import ModelBundle

# LLaVA attribute paths (the same for tiny, small and LLaVA checkpoints loaded with path:).
PARTS = {
    "vision": ("vision_tower",),
    "projector": ("multi_modal_projector",),
    "language": ("language_model", "lm_head"),
}


def _base(model: Any) -> Any:
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def apply_modules(bundle: ModelBundle, modules: Modules, lora: Lora | None) -> None:
    """Set ``requires_grad`` per module; wrap the model with LoRA adapters when language is ``lora``."""
    if modules.language == "lora":
        from peft import LoraConfig, get_peft_model

        cfg = lora or Lora()
        targets = "|".join(cfg.target_modules)
        bundle.model = get_peft_model(
            bundle.model,
            LoraConfig(
                r=cfg.r,
                lora_alpha=cfg.alpha,  # type: ignore[arg-type]  # peft scales by alpha / r; a float is fine
                lora_dropout=cfg.dropout,
                target_modules=rf".*language_model.*\.({targets})",
            ),
        )
    base = _base(bundle.model)
    for p in base.parameters():
        p.requires_grad_(False)
    for name, mode in modules.model_dump().items():
        if name == "findings_head":
            bundle.head.requires_grad_(mode == "full")
            continue
        if mode != "full":
            continue
        for attr in PARTS[name]:
            module = getattr(base.model, attr, None) if attr != "lm_head" else getattr(base, attr, None)
            if module is None:
                raise AttributeError(f"model has no {attr}; is it a LLaVA-style checkpoint?")
            module.requires_grad_(True)
    if modules.language == "lora":
        for n, p in bundle.model.named_parameters():
            if "lora_" in n:
                p.requires_grad_(True)


def merge_lora(bundle: ModelBundle) -> None:
    """Fold adapters into the weights so the next stage (and the saved model) is a plain LLaVA."""
    if hasattr(bundle.model, "merge_and_unload"):
        bundle.model = bundle.model.merge_and_unload()
    for p in bundle.model.parameters():
        p.requires_grad_(False)
    bundle.head.requires_grad_(False)
