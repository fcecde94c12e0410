"""Checkpoints with their own Python code: refused with the digest to review, loaded once that digest is on
the site's allow-list (MEDVLM_TRUSTED_REMOTE_CODE), refused again when the code changes; code in another
repository is always refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from medvlm.errors import ConfigError
from medvlm.model import build_model
from medvlm.model.remote_code import code_digest
from medvlm.model.tiny_checkpoints import save_checkpoint
from medvlm.ontology import load_ontology
from medvlm.settings import get_settings

CODE = """
from transformers import LlavaConfig, LlavaForConditionalGeneration


class ReviewedLlavaConfig(LlavaConfig):
    model_type = "reviewed_llava"


class ReviewedLlava(LlavaForConditionalGeneration):
    config_class = ReviewedLlavaConfig
"""


@pytest.fixture(scope="module")
def remote_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = save_checkpoint("llava", tmp_path_factory.mktemp("remote") / "ckpt")
    (directory / "reviewed_llava.py").write_text(CODE)
    config = json.loads((directory / "config.json").read_text())
    config["model_type"] = "reviewed_llava"
    config["auto_map"] = {
        "AutoConfig": "reviewed_llava.ReviewedLlavaConfig",
        "AutoModelForImageTextToText": "reviewed_llava.ReviewedLlava",
    }
    (directory / "config.json").write_text(json.dumps(config))
    return directory


def _allow(monkeypatch: pytest.MonkeyPatch, digests: list[str]) -> None:
    monkeypatch.setenv("MEDVLM_TRUSTED_REMOTE_CODE", json.dumps(digests))
    get_settings.cache_clear()


def test_refused_until_reviewed_then_loaded(remote_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    digest = code_digest(remote_dir)
    _allow(monkeypatch, [])
    with pytest.raises(ConfigError, match=f"needs its own Python code.*{digest}.*MEDVLM_TRUSTED_REMOTE_CODE"):
        build_model(f"path:{remote_dir}", load_ontology())
    _allow(monkeypatch, ["0" * 64, digest.upper()])
    try:
        bundle = build_model(f"path:{remote_dir}", load_ontology())
        assert type(bundle.model).__name__ == "ReviewedLlava"
        assert bundle.config.architecture == "llava"  # handled as the family whose parts it has
        assert len(bundle.predict_findings(torch.rand(1, 1, 32, 32))[0]) == len(load_ontology().names)
    finally:
        get_settings.cache_clear()


def test_changed_code_is_refused_again(
    remote_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    copy = Path(shutil.copytree(remote_dir, tmp_path / "copy"))
    _allow(monkeypatch, [code_digest(copy)])
    (copy / "reviewed_llava.py").write_text(CODE + "\nimport os  # added after the review\n")
    with pytest.raises(ConfigError, match="needs its own Python code"):
        build_model(f"path:{copy}", load_ontology())
    get_settings.cache_clear()


def test_code_from_another_repository_is_always_refused(
    tmp_path: Path, remote_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    copy = Path(shutil.copytree(remote_dir, tmp_path / "hub"))
    config = json.loads((copy / "config.json").read_text())
    config["auto_map"]["AutoModelForImageTextToText"] = "someone/repo--modeling.Model"
    (copy / "config.json").write_text(json.dumps(config))
    _allow(monkeypatch, [code_digest(copy)])
    with pytest.raises(ConfigError, match=r"code in another repository.*would be downloaded"):
        build_model(f"path:{copy}", load_ontology())
    get_settings.cache_clear()
