"""Generation through transformers' ``generate``: max tokens, greedy / beam, stop strings, and the optional
vLLM backend behind the same ``generate_text``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from medvlm.errors import ConfigError
from medvlm.model import processing
from medvlm.model.generation import GenerationOptions
from medvlm.model.vllm_backend import available as vllm_available


@pytest.fixture(scope="module")
def varied(micro_bundle):
    """The micro bundle with its language model shaken, so greedy text varies token to token."""
    torch.manual_seed(5)
    with torch.no_grad():
        for p in micro_bundle.model.model.language_model.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    return micro_bundle


def _images(n: int) -> torch.Tensor:
    return torch.rand(n, 1, 64, 64, generator=torch.Generator().manual_seed(1))


def _prompts(bundle, n: int) -> list[str]:
    return [processing.report_prompt(bundle.config, [])] * n


def test_max_new_tokens_and_batch_shape(varied) -> None:
    from medvlm.model.generation import hf_generate

    batch = varied.codec.batch(_images(2), _prompts(varied, 2), None, 0, "left", varied.device, varied.dtype)
    new = hf_generate(varied.model, batch, varied.tokenizer, 5, GenerationOptions())
    assert new.shape[0] == 2 and 1 <= new.shape[1] <= 5
    assert len(varied.generate_text(_images(2), _prompts(varied, 2), max_new_tokens=5)) == 2


def test_beam_search_options_reach_generate(varied, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict = {}
    original = varied.model.generate

    def spy(**kwargs):
        seen.update(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(varied.model, "generate", spy)
    varied.configure_generation(num_beams=3)
    try:
        beams = varied.generate_text(_images(1), _prompts(varied, 1), max_new_tokens=8)
    finally:
        varied.configure_generation(num_beams=1)
    assert seen["num_beams"] == 3 and seen["use_cache"] is True and seen["do_sample"] is False
    assert isinstance(beams[0], str)


def test_stop_strings_cut_the_text(varied) -> None:
    (full,) = varied.generate_text(_images(1), _prompts(varied, 1), max_new_tokens=24)
    words = full.split()
    assert len(words) >= 3, full
    stop = words[2]
    varied.configure_generation(stop_strings=[stop])
    try:
        (cut,) = varied.generate_text(_images(1), _prompts(varied, 1), max_new_tokens=24)
    finally:
        varied.configure_generation(stop_strings=[])
    assert stop not in cut and full.startswith(cut.rstrip()) and len(cut) < len(full)


def test_bad_options_and_missing_vllm(varied) -> None:
    with pytest.raises(ConfigError, match="num_beams must be at least 1, got 0"):
        GenerationOptions(num_beams=0)
    with pytest.raises(ConfigError, match="'transformers' or 'vllm', got 'tgi'"):
        GenerationOptions(backend="tgi")  # type: ignore[arg-type]
    if vllm_available():
        pytest.skip("vllm is installed here")
    with pytest.raises(ConfigError, match="needs the vllm package, which is not installed"):
        from medvlm.model.vllm_backend import VllmGenerator

        VllmGenerator(Path("."), [], 1)
    with pytest.raises(ConfigError, match="serves saved path: bundles"):
        varied.configure_generation(backend="vllm")
    varied.configure_generation(backend="transformers")


@pytest.mark.parametrize("arch", ["gemma3", "qwen2_vl", "idefics3"])
def test_beam_search_on_checkpoint_architectures(arch: str, tmp_path: Path) -> None:
    """Beam search and stop strings through each family's own generate (mrope, token types, tiles)."""
    from medvlm.findings import Finding
    from medvlm.model import build_model
    from medvlm.model.tiny_checkpoints import save_checkpoint
    from medvlm.ontology import load_ontology

    bundle = build_model(f"path:{save_checkpoint(arch, tmp_path / arch)}", load_ontology())
    size = bundle.image_size
    images = torch.rand(2, 1, size, size, generator=torch.Generator().manual_seed(0))
    findings = [[Finding("cardiomegaly")], []]  # prompts of different lengths: left padding
    greedy = bundle.generate_report(images, findings, max_new_tokens=6)
    bundle.configure_generation(num_beams=3, stop_strings=["impression:"])
    beams = bundle.generate_report(images, findings, max_new_tokens=6)
    assert len(greedy) == len(beams) == 2
    assert all(isinstance(text, str) and impression == "" for text, impression in beams)
