"""Training at scale on CPU: precision stays fp32, QLoRA is refused before any work without a GPU, gradient
checkpointing gives the same gradients, and micro-batches split a batch evenly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from medvlm.errors import ConfigError
from medvlm.training.scale import resolve_precision
from medvlm.training.stage import _micro_batches

CPU = torch.device("cpu")


@pytest.mark.parametrize(
    ("requested", "note"),
    [
        ("auto", ""),
        ("fp32", ""),
        ("bf16", "precision bf16 needs a GPU; the CPU trains in fp32"),
        ("fp16", "precision fp16 needs a GPU; the CPU trains in fp32"),
    ],
)
def test_cpu_trains_in_fp32(requested: str, note: str) -> None:
    precision = resolve_precision(requested, CPU)
    assert (precision.name, precision.dtype, precision.note) == ("fp32", None, note)
    assert precision.scaler(CPU) is None


def test_unknown_precision_is_refused() -> None:
    with pytest.raises(ConfigError, match="precision must be auto, fp32, bf16 or fp16, got 'fp8'"):
        resolve_precision("fp8", CPU)


@pytest.mark.parametrize(
    ("n", "parts", "sizes"), [(8, 1, [8]), (8, 2, [4, 4]), (7, 3, [3, 2, 2]), (2, 4, [1, 1])]
)
def test_micro_batches(n: int, parts: int, sizes: list[int]) -> None:
    chunks = _micro_batches(list(range(n)), parts)
    assert [len(c) for c in chunks] == sizes and [i for c in chunks for i in c] == list(range(n))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without a GPU")
def test_qlora_without_gpu_is_refused_before_any_work(tmp_path: Path, synth_data: Path) -> None:
    from medvlm.training.runner import TrainOptions, train
    from tests.medvlm.training.conftest import write_curriculum

    path = write_curriculum(tmp_path, encoder_steps=4, text_stages=False)
    path.write_text(
        path.read_text().replace("model: {preset: micro}", "model: {preset: micro, quantize: 4bit}")
    )
    with pytest.raises(ConfigError, match=r"QLoRA \(quantize: 4bit\) needs a CUDA GPU"):
        train(TrainOptions(path, synth_data, tmp_path / "out", progress=False, register=False))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("arch", ["llava", "qwen2_vl"])
def test_gradient_checkpointing_same_gradients(arch: str, tmp_path: Path) -> None:
    from medvlm.curriculum.schema import Lora, Modules
    from medvlm.model import build_model
    from medvlm.model.tiny_checkpoints import save_checkpoint
    from medvlm.ontology import load_ontology
    from medvlm.training.modules import apply_modules
    from medvlm.training.scale import enable_gradient_checkpointing

    checkpoint = save_checkpoint(arch, tmp_path / arch)
    grads = []
    for checkpointing in (False, True):
        bundle = build_model(f"path:{checkpoint}", load_ontology())
        apply_modules(bundle, Modules(language="lora"), Lora(r=2, alpha=4))
        if checkpointing:
            enable_gradient_checkpointing(bundle.model)
        bundle.model.train()
        images = torch.rand(
            2, 1, bundle.image_size, bundle.image_size, generator=torch.Generator().manual_seed(0)
        )
        loss = bundle.lm_forward(
            images, ["findings: none report:"] * 2, ["heart normal", "small left effusion"]
        )
        loss.loss.backward()
        grads.append({n: p.grad.clone() for n, p in bundle.model.named_parameters() if p.grad is not None})
        assert bool(bundle.model.base_model.model.is_gradient_checkpointing) is checkpointing
    assert grads[0].keys() == grads[1].keys() and grads[0]
    assert all(torch.allclose(grads[0][n], grads[1][n], atol=1e-6) for n in grads[0])
