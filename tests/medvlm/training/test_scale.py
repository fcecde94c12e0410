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


def test_qlora_adapters_go_back_onto_the_full_precision_model(
    tmp_path: Path, synth_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The QLoRA flow with bitsandbytes stubbed out (no GPU here): the stage trains on a reloaded copy,
    its adapters are moved onto the full-precision model and merged into the language model only."""
    from medvlm.model import load_bundle, presets
    from medvlm.model.tiny_checkpoints import save_checkpoint
    from medvlm.training import runner
    from medvlm.training.runner import TrainOptions, train

    monkeypatch.setattr(presets, "quantization_config", lambda mode: None)
    monkeypatch.setattr(runner, "quantization_config", lambda mode: None)
    load = presets.load_checkpoint

    def lossy(directory, with_tokenizer=True, *, quantize=None, dtype=None):  # rounding, as 4-bit would
        model, tok = load(directory, with_tokenizer, quantize=quantize, dtype=dtype)
        if quantize:
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(0.01)
        return model, tok

    monkeypatch.setattr(presets, "load_checkpoint", lossy)
    checkpoint = save_checkpoint("llava", tmp_path / "llava")
    path = tmp_path / "q.yaml"
    path.write_text(QLORA_CURRICULUM)
    out = tmp_path / "out"
    train(TrainOptions(path, synth_data, out, preset=f"path:{checkpoint}", progress=False, register=False))
    assert (out / "training" / "specialism" / "qlora_base" / "config.json").is_file()
    before = dict(load_bundle(out / "training" / "init").model.named_parameters())
    after = dict(load_bundle(out).model.named_parameters())
    assert after.keys() == before.keys()  # a plain model again: no lora_ or 4-bit leftovers
    changed = [n for n in after if not torch.equal(after[n], before[n])]
    assert changed and all("language_model" in n for n in changed)  # vision kept its exact weights


QLORA_CURRICULUM = """
name: qlora
seed: 0
model: {preset: tiny, quantize: 4bit}
data:
  reports: {split: train, limit: 8}
stages:
  - name: specialism
    kind: specialism
    sources: [reports]
    modules: {language: lora}
    lora: {r: 2, alpha: 4}
    steps: 2
    batch_size: 4
    lr: 1.0e-2
    max_answer_tokens: 12
    eval_every: 2
    checkpoint_every: 2
    augment: false
    eval_tasks: [loss]
    select_on: loss
"""
