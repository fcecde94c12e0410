"""QLoRA: a LoRA-only stage trains adapters on a 4-bit copy of the model; the adapters then go back onto
the full-precision model, where ``merge_lora`` folds them in (the saved bundle is never quantised).

Needs a CUDA GPU and bitsandbytes (``medvlm.model.quantize`` says which is missing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medvlm.curriculum.schema import Stage
from medvlm.model.bundle import ModelBundle


def applies(stage: Stage, quantize: str) -> bool:
    """Only stages that train LoRA adapters alone: a fully trained part cannot stay 4-bit."""
    return (
        quantize == "4bit" and stage.modules.trainable() == {"language"} and stage.modules.language == "lora"
    )


def quantize_for_stage(bundle: ModelBundle, stage_dir: Path, gradient_checkpointing: bool) -> Any:
    """Swap in a 4-bit copy of the bundle's model; returns the full-precision model to restore later."""
    from peft import prepare_model_for_kbit_training

    from medvlm.model.presets import load_checkpoint

    full = bundle.model
    base_dir = stage_dir / "qlora_base"
    bundle.plain_model().save_pretrained(base_dir, safe_serialization=True)
    quantized, _ = load_checkpoint(base_dir, with_tokenizer=False, quantize="4bit")
    bundle.model = prepare_model_for_kbit_training(
        quantized, use_gradient_checkpointing=gradient_checkpointing
    )
    return full


def restore_full_precision(bundle: ModelBundle, full: Any) -> None:
    """Put the trained adapters onto the full-precision model (merged afterwards by ``merge_lora``)."""
    from peft import get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict

    adapters = get_peft_model_state_dict(bundle.model)
    config = bundle.model.peft_config["default"]
    wrapped = get_peft_model(full.to(next(iter(adapters.values())).device), config)
    set_peft_model_state_dict(wrapped, adapters)
    bundle.model = wrapped
