"""Which parameters a stage trains: frozen / full per module, LoRA on the language model via peft.

The parts (vision, projector, language) and the LoRA target names come from
``medvlm.model.architectures``, so the same curriculum trains a tiny LLaVA, Gemma 3, Qwen2-VL or Idefics3.
"""

from __future__ import annotations

from typing import Any

from medvlm.curriculum.schema import Lora, Modules
from medvlm.model.architectures import base_model, lora_target_regex, part_modules
from medvlm.model.bundle import ModelBundle


def apply_modules(bundle: ModelBundle, modules: Modules, lora: Lora | None) -> None:
    """Set ``requires_grad`` per module; wrap the model with LoRA adapters when language is ``lora``."""
    if modules.language == "lora":
        from peft import LoraConfig, get_peft_model

        cfg = lora or Lora()
        bundle.model = get_peft_model(
            bundle.model,
            LoraConfig(
                r=cfg.r,
                lora_alpha=cfg.alpha,  # type: ignore[arg-type]  # peft scales by alpha / r; a float is fine
                lora_dropout=cfg.dropout,
                target_modules=lora_target_regex(bundle.model, cfg.target_modules),
            ),
        )
    base = base_model(bundle.model)
    for p in base.parameters():
        p.requires_grad_(False)
    for name, mode in modules.model_dump().items():
        if name == "findings_head":
            bundle.head.requires_grad_(mode == "full")
            continue
        if mode != "full":
            continue
        for item in part_modules(base, name):  # modules, or a bare parameter (LLaVA-NeXT's image_newline)
            item.requires_grad_(True)
    if modules.language == "lora":
        for n, p in bundle.model.named_parameters():
            if "lora_" in n:
                p.requires_grad_(True)


def merge_lora(bundle: ModelBundle) -> None:
    """Fold adapters into the weights so the next stage (and the saved model) is a plain model."""
    if hasattr(bundle.model, "merge_and_unload"):
        bundle.model = bundle.model.merge_and_unload()
    for p in bundle.model.parameters():
        p.requires_grad_(False)
    bundle.head.requires_grad_(False)


def trainable_count(model: Any) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
