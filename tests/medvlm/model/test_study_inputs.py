"""The model reads a study: frontal film, lateral film (view embedding), indication in the prompt.

A model that does not read the lateral (inputs [frontal]) ignores one; turning the lateral on changes
nothing until a stage trains it (zero-initialised); ``path:`` checkpoints take it as a second image or
refuse it when their processor cannot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from medvlm.errors import ConfigError, ModelInputError
from medvlm.findings import Finding, Laterality
from medvlm.model.processing import report_prompt
from medvlm.model.views import enable_inputs
from tests.medvlm.model.conftest import CORPUS

FINDINGS = [Finding("pleural_effusion", laterality=Laterality.LEFT, severity="small")]


def _micro() -> Any:
    from medvlm.model import build_model
    from medvlm.ontology import load_ontology

    return build_model("micro", load_ontology(), tokenizer_corpus=CORPUS, seed=0).eval()


@pytest.fixture(scope="module")
def frontal_only() -> Any:
    return _micro()


@pytest.fixture(scope="module")
def study_model() -> Any:
    bundle = _micro()
    enable_inputs(bundle, ["frontal", "lateral", "indication"])
    return bundle


def _films(bundle: Any, n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, bundle.image_size, bundle.image_size, generator=g)


PATTERNS = [
    pytest.param([False, False], id="no-laterals"),
    pytest.param([True, False], id="first-has-lateral"),
    pytest.param([False, True], id="second-has-lateral"),
    pytest.param([True, True], id="both-have-laterals"),
]


def _laterals(bundle: Any, pattern: list[bool]) -> list[torch.Tensor | None]:
    films = _films(bundle, len(pattern), 7)
    return [films[i] if has else None for i, has in enumerate(pattern)]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_forward_shapes_with_and_without_laterals(study_model: Any, pattern: list[bool]) -> None:
    b = study_model
    images, laterals = _films(b, len(pattern), 1), _laterals(b, pattern)
    logits = b.findings_logits(images, laterals)
    assert logits.shape == (len(pattern), b.head.num_outputs)
    prompts = b.report_prompts([FINDINGS] * len(pattern), laterals, ["cough", ""])
    tokens = [p.count(b.config.image_token) for p in prompts]
    assert tokens == [b.config.num_image_tokens * (2 if has else 1) for has in pattern]
    out = b.lm_forward(images, prompts, ["Small left effusion."] * len(pattern), 16, laterals)
    assert torch.isfinite(out.loss)
    drafts = b.generate_report(images, [FINDINGS] * len(pattern), 4, laterals, ["cough", None])
    assert len(drafts) == len(pattern)


def test_turning_the_lateral_on_changes_nothing_until_trained(frontal_only: Any, study_model: Any) -> None:
    images, laterals = _films(frontal_only, 2, 1), _laterals(frontal_only, [True, False])
    before = frontal_only.findings_logits(images)
    assert torch.allclose(study_model.findings_logits(images), before)
    assert torch.allclose(study_model.findings_logits(images, laterals), before)  # zero-initialised term


def test_a_frontal_only_model_ignores_a_lateral_and_an_indication(frontal_only: Any) -> None:
    b = frontal_only
    assert b.config.inputs == ["frontal"] and b.views is None
    images, laterals = _films(b, 2, 1), _laterals(b, [True, True])
    assert torch.equal(b.findings_logits(images, laterals), b.findings_logits(images))
    plain = b.report_prompts([FINDINGS, FINDINGS])
    assert b.report_prompts([FINDINGS, FINDINGS], laterals, ["cough", "fever"]) == plain
    assert plain[0] == report_prompt(b.config, FINDINGS)  # the prompt of bundles before #22 item 3
    with_study = b.generate_report(images, [FINDINGS] * 2, 4, laterals, ["cough", "fever"])
    assert with_study == b.generate_report(images, [FINDINGS] * 2, 4)


def test_the_lateral_is_told_apart_by_its_view_embedding(study_model: Any) -> None:
    """The learned view embedding reaches the findings head and the language model (projector hook), for
    the rows with a lateral only."""
    b = study_model
    images, laterals = _films(b, 2, 1), _laterals(b, [True, False])
    prompts = b.report_prompts([FINDINGS] * 2, laterals)
    targets = ["Small left effusion."] * 2
    b.head.lateral.weight.data.normal_(0, 0.1)
    before_head = b.findings_logits(images, laterals)
    before_lm = b.lm_forward(images, prompts, targets, 16, laterals).logits
    try:
        with torch.no_grad():
            b.views.vision.fill_(0.5)
            b.views.text.fill_(0.5)
        after_head = b.findings_logits(images, laterals)
        after_lm = b.lm_forward(images, prompts, targets, 16, laterals).logits
    finally:
        with torch.no_grad():
            b.views.vision.zero_()
            b.views.text.zero_()
            b.head.lateral.weight.zero_()
    assert not torch.allclose(after_head[0], before_head[0]) and torch.allclose(after_head[1], before_head[1])
    assert not torch.allclose(after_lm[0], before_lm[0]) and torch.allclose(after_lm[1], before_lm[1])
    assert b.projector_views.active is None  # the hook is off outside a call


def test_the_indication_is_cut_to_its_token_budget(study_model: Any) -> None:
    b = study_model
    long = " ".join(["heart size is normal"] * 40)
    b.config.indication_tokens = 5
    try:
        text = b.indication_text(long)
        assert len(b.tokenizer(text, add_special_tokens=False)["input_ids"]) <= 5
        assert text and long.startswith(text)
        assert "indication: " + text in b.report_prompts([FINDINGS], None, [long])[0]
    finally:
        b.config.indication_tokens = 32


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        pytest.param(["frontal", "prior"], r"unknown input\(s\) \['prior'\]; expected some of", id="unknown"),
        pytest.param(["lateral"], "every model reads the frontal view", id="no-frontal"),
    ],
)
def test_unknown_inputs_are_refused(inputs: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        enable_inputs(_micro(), inputs)


def test_lateral_without_its_image_tokens_is_a_clear_error(study_model: Any) -> None:
    b = study_model
    images, laterals = _films(b, 1, 1), _laterals(b, [True])
    prompt = b.report_prompts([FINDINGS])  # built without the lateral
    with pytest.raises(ModelInputError, match=r"row 0 has .* image tokens.* for its 2 image"):
        b.lm_forward(images, prompt, ["x"], 4, laterals)
    with pytest.raises(ModelInputError, match="got 2 lateral entries for 1 frontal images"):
        b.findings_logits(images, [laterals[0], None])


def test_saved_and_loaded_the_model_keeps_its_inputs(study_model: Any, tmp_path: Path) -> None:
    from medvlm.model import load_bundle

    images, laterals = _films(study_model, 2, 1), _laterals(study_model, [True, False])
    study_model.head.lateral.weight.data.normal_(0, 0.1)
    try:
        expected = study_model.findings_logits(images, laterals)
        study_model.save(tmp_path / "m")
    finally:
        study_model.head.lateral.weight.data.zero_()
    loaded = load_bundle(tmp_path / "m")
    assert loaded.config.inputs == ["frontal", "lateral", "indication"]
    assert loaded.card["config"]["inputs"] == ["frontal", "lateral", "indication"]
    assert loaded.views is not None and loaded.projector_views is not None
    assert torch.allclose(loaded.findings_logits(images, laterals), expected, atol=1e-5)


@pytest.mark.parametrize("arch", ["llava", "gemma3", "idefics3"])
def test_path_checkpoints_take_the_lateral_as_a_second_image(arch: str, tmp_path: Path) -> None:
    from medvlm.model import build_model
    from medvlm.model.tiny_checkpoints import save_checkpoint
    from medvlm.ontology import load_ontology

    directory = save_checkpoint(arch, tmp_path / arch)
    b = build_model(f"path:{directory}", load_ontology()).eval()
    images = _films(b, 2, 1)
    before = b.findings_logits(images)
    enable_inputs(b, ["frontal", "lateral", "indication"])
    laterals = _laterals(b, [True, False])
    assert torch.allclose(b.findings_logits(images, laterals), before, atol=1e-5)
    prompts = b.report_prompts([FINDINGS] * 2, laterals, ["cough", ""])
    out = b.lm_forward(images, prompts, ["Small left effusion."] * 2, 8, laterals)
    assert torch.isfinite(out.loss)
    assert len(b.generate_report(images, [FINDINGS] * 2, 2, laterals)) == 2


@pytest.mark.parametrize("arch", ["qwen2_vl", "llava_next"])
def test_path_checkpoints_that_cannot_take_a_lateral_refuse_it(arch: str, tmp_path: Path) -> None:
    from medvlm.model import build_model
    from medvlm.model.tiny_checkpoints import save_checkpoint
    from medvlm.ontology import load_ontology

    b = build_model(f"path:{save_checkpoint(arch, tmp_path / arch)}", load_ontology())
    refusal = f"input 'lateral' needs a processor .* this checkpoint is '{arch}'"
    with pytest.raises(ConfigError, match=refusal):
        enable_inputs(b, ["frontal", "lateral"])
    enable_inputs(b, ["frontal", "indication"])  # the indication is text: every checkpoint takes it
    assert b.config.inputs == ["frontal", "indication"]
