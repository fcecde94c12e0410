"""``path:DIR``: a tiny LLaVA (CLIP vision + Llama) saved with save_pretrained, trained one LoRA stage from
disk, saved as a bundle, loaded back and drafting."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from medvlm.errors import ConfigError, NotFoundError
from medvlm.findings import Finding
from medvlm.model import build_model, load_bundle
from medvlm.ontology import load_ontology
from tests.medvlm.model.conftest import CORPUS

CURRICULUM = """
name: lora_from_disk
seed: 0
data:
  reports: {split: train}
  validation: {split: validation}
stages:
  - name: specialism
    kind: specialism
    sources: [reports]
    eval_source: validation
    modules: {language: lora}
    lora: {r: 4, alpha: 8, target_modules: [q_proj, v_proj]}
    steps: 6
    batch_size: 4
    lr: 5.0e-3
    max_answer_tokens: 48
    eval_every: 6
    eval_samples: 4
    checkpoint_every: 3
    augment: false
    eval_tasks: [loss]
    select_on: loss
"""


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    from medvlm.model.tokenizer import IMAGE, train_tokenizer

    tok = train_tokenizer(CORPUS, vocab_size=300)
    torch.manual_seed(0)
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(
            image_size=32,
            patch_size=8,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_channels=3,
        ),
        text_config=LlamaConfig(
            vocab_size=len(tok),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=256,
            pad_token_id=tok.pad_token_id,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
        ),
        image_token_index=tok.convert_tokens_to_ids(IMAGE),
        image_seq_length=16,
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    directory = tmp_path_factory.mktemp("llava-ckpt")
    LlavaForConditionalGeneration(config).save_pretrained(directory)
    tok.save_pretrained(directory)
    return directory


def test_path_preset_loads_a_saved_llava(checkpoint_dir: Path) -> None:
    bundle = build_model(f"path:{checkpoint_dir}", load_ontology())
    assert bundle.image_size == 32
    assert bundle.config.num_channels == 3  # 1-channel radiographs are replicated
    assert bundle.config.num_image_tokens == 16  # 4x4 patches, CLS dropped by the "default" strategy
    rows = bundle.predict_findings(torch.randn(1, 1, 32, 32))
    assert [f.label for f in rows[0]] == load_ontology().names


def test_lora_stage_from_disk_then_drafting(checkpoint_dir: Path, tmp_path: Path) -> None:
    from medvlm.training.runner import TrainOptions, train
    from tests.medvlm.training.synthdata import build_dataset

    data = build_dataset(tmp_path / "data", n_train=12, n_validation=4)
    (tmp_path / "c.yaml").write_text(CURRICULUM)
    out = tmp_path / "model"
    before = {
        n: p.clone()
        for n, p in build_model(f"path:{checkpoint_dir}", load_ontology()).model.named_parameters()
    }
    train(
        TrainOptions(
            tmp_path / "c.yaml", data, out, preset=f"path:{checkpoint_dir}", progress=False, register=False
        )
    )
    bundle = load_bundle(out)
    after = dict(bundle.model.named_parameters())
    changed = [n for n in before if not torch.equal(before[n], after[n])]
    assert changed and all("language_model" in n for n in changed)  # LoRA merged into the LM only
    assert bundle.card["preset"] == f"path:{checkpoint_dir}"
    assert [s["name"] for s in bundle.card["stages"]] == ["specialism"]
    ((text, impression),) = bundle.generate_report(
        torch.randn(1, 1, 32, 32), [[Finding("cardiomegaly")]], max_new_tokens=8
    )
    assert isinstance(text, str) and isinstance(impression, str)


def test_path_without_weights_or_not_llava(tmp_path: Path, checkpoint_dir: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotFoundError, match="no model weights"):
        build_model(f"path:{tmp_path / 'empty'}", load_ontology())
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text('{"model_type": "no_such_model"}')
    (bad / "model.safetensors").write_bytes(b"")
    with pytest.raises(ConfigError, match="not a loadable image-text-to-text checkpoint"):
        build_model(f"path:{bad}", load_ontology())
