"""ModelBundle: the interface drafting uses (findings, drafts, save/load) and its clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from medvlm.errors import ConfigError, ModelInputError, NotFoundError
from medvlm.findings import Finding, Laterality, Presence
from medvlm.model import build_model, load_bundle
from medvlm.model.processing import render_findings, report_prompt
from medvlm.ontology import load_ontology


def images(n: int = 2, size: int = 64) -> torch.Tensor:
    return torch.randn(n, 1, size, size, generator=torch.Generator().manual_seed(1))


def test_predict_findings_lists_every_label_in_head_order(micro_bundle) -> None:
    ontology = load_ontology()
    result = micro_bundle.predict_findings(images(2))
    assert len(result) == 2
    for row in result:
        assert [f.label for f in row] == ontology.names
        for f in row:
            spec = ontology.get(f.label)
            assert 0.0 <= f.probability <= 1.0
            assert (f.presence == Presence.PRESENT) == (
                f.probability >= micro_bundle.config.threshold(f.label)
            )
            present = f.presence == Presence.PRESENT  # an absent finding carries no side or size
            assert (f.laterality is not None) == (present and bool(spec.lateralities))
            assert (f.severity is not None) == (present and bool(spec.severities))
            assert f.threshold == pytest.approx(micro_bundle.config.threshold(f.label))
            if f.critical:
                assert f.presence == Presence.PRESENT and spec.is_critical(f)


@pytest.mark.parametrize(
    ("label", "severity", "critical"),
    [
        ("pleural_effusion", "large", True),
        ("pleural_effusion", "moderate", False),
        ("pulmonary_edema", "severe", True),
        ("pulmonary_edema", "mild", False),
        ("pneumothorax", "small", True),
    ],
)
def test_critical_follows_the_ontology_rule(micro_bundle, label: str, severity: str, critical: bool) -> None:
    """A large effusion is critical though effusion is not always critical (FindingSpec.is_critical)."""
    ontology = load_ontology()
    head, i = micro_bundle.head, ontology.names.index(label)
    sl = head.severity_slices[i]
    saved = head.out.weight.detach().clone(), head.out.bias.detach().clone()
    micro_bundle.config.thresholds = {name: 0.0 for name in micro_bundle.names}
    try:
        with torch.no_grad():  # force the severity: zero weights, a bias on the wanted level
            head.out.weight[sl] = 0.0
            head.out.bias[sl] = -10.0
            head.out.bias[sl.start + ontology.get(label).severities.index(severity)] = 10.0
        row = {f.label: f for f in micro_bundle.predict_findings(images(1))[0]}
        assert row[label].severity == severity and row[label].critical is critical
        for f in row.values():
            assert f.critical == ontology.get(f.label).is_critical(f)
    finally:
        micro_bundle.config.thresholds = {}
        with torch.no_grad():
            head.out.weight.copy_(saved[0])
            head.out.bias.copy_(saved[1])


def test_thresholds_decide_presence(micro_bundle) -> None:
    micro_bundle.config.thresholds = {name: 0.0 for name in micro_bundle.names}
    try:
        row = micro_bundle.predict_findings(images(1))[0]
        assert all(f.presence == Presence.PRESENT for f in row)
    finally:
        micro_bundle.config.thresholds = {}


@pytest.mark.parametrize(
    ("findings", "expected"),
    [
        ([], "none"),
        ([Finding("no_finding")], "none"),
        ([Finding("cardiomegaly", presence=Presence.ABSENT)], "none"),
        (
            [Finding("nodule", laterality=Laterality.RIGHT), Finding("cardiomegaly", severity="mild")],
            "mild cardiomegaly; right nodule",
        ),
        (
            [
                Finding(
                    "pleural_effusion",
                    presence=Presence.UNCERTAIN,
                    laterality=Laterality.LEFT,
                    severity="small",
                )
            ],
            "possible left small pleural effusion",
        ),
    ],
)
def test_draft_prompt_renders_the_findings(micro_bundle, findings, expected) -> None:
    assert render_findings(findings, micro_bundle.config.slots) == expected
    prompt = report_prompt(micro_bundle.config, findings)
    assert prompt.count(micro_bundle.config.image_token) == micro_bundle.config.num_image_tokens
    assert prompt.endswith(f"findings: {expected} report:")


def test_generate_report_returns_findings_and_impression(micro_bundle) -> None:
    drafts = micro_bundle.generate_report(images(2), [[], [Finding("cardiomegaly")]], max_new_tokens=6)
    assert len(drafts) == 2
    assert all(isinstance(t, str) and isinstance(i, str) for t, i in drafts)


def test_save_and_load_round_trip(micro_bundle, tmp_path: Path) -> None:
    micro_bundle.card["metrics"] = {"findings.macro_auroc": 0.5}
    micro_bundle.save(tmp_path / "m")
    loaded = load_bundle(tmp_path / "m")
    x = images(2)
    assert torch.allclose(loaded.findings_logits(x), micro_bundle.findings_logits(x), atol=1e-6)
    card = json.loads((tmp_path / "m" / "model_card.json").read_text())
    for key in ("version", "parent", "preset", "config", "metrics", "stages", "created_at"):
        assert key in card
    assert card["version"] == loaded.version != "unsaved"
    assert card["config"]["findings"] == load_ontology().names
    assert list((tmp_path / "m" / "model").glob("*.safetensors"))
    micro_bundle.save(tmp_path / "again")
    assert load_bundle(tmp_path / "again").version == loaded.version  # content hash: same weights, same id


def test_pooled_head_round_trips_and_older_configs_read_the_full_grid(tmp_path: Path) -> None:
    from medvlm.model.configuration import BundleConfig
    from medvlm.model.heads import head_for
    from tests.medvlm.model.conftest import CORPUS

    bundle = build_model("micro", load_ontology(), tokenizer_corpus=CORPUS, seed=0).eval()
    bundle.config.head_pool = 2
    bundle.head = head_for(bundle.config).eval()
    bundle.save(tmp_path / "m")
    loaded = load_bundle(tmp_path / "m")
    assert loaded.head.pool == 2
    x = images(2)
    assert torch.allclose(loaded.findings_logits(x), bundle.findings_logits(x), atol=1e-6)
    assert json.loads((tmp_path / "m" / "medvlm_config.json").read_text())["head_pool"] == 2
    older = bundle.config.to_dict()
    del older["head_pool"]  # a bundle saved before the option
    assert BundleConfig.from_dict(older).head_pool == 0 and head_for(BundleConfig.from_dict(older)).pool == 0


def test_tiny_preset_is_a_few_million_parameters() -> None:
    from tests.medvlm.model.conftest import CORPUS

    bundle = build_model("tiny", load_ontology(), tokenizer_corpus=CORPUS)
    count = sum(p.numel() for p in bundle.model.parameters()) + sum(
        p.numel() for p in bundle.head.parameters()
    )
    assert 1_000_000 < count < 10_000_000
    assert bundle.image_size == 256 and bundle.config.num_image_tokens == 64
    assert bundle.config.head_pool == bundle.head.pool == 4  # the head reads 4x4 cells of the 8x8 grid
    assert type(bundle.model).__name__ == "LlavaForConditionalGeneration"


BAD_SHAPES = [
    pytest.param((1, 1, 32, 32), id="wrong-size"),
    pytest.param((1, 3, 64, 64), id="three-channels"),
    pytest.param((64, 64), id="no-batch-no-channel"),
    pytest.param((1, 1, 64, 48), id="not-square"),
]


@pytest.mark.parametrize("shape", BAD_SHAPES)
def test_wrong_image_shape_is_a_clear_error(micro_bundle, shape) -> None:
    with pytest.raises(ModelInputError, match=r"expected images of shape \(B, 1, 64, 64\)"):
        micro_bundle.predict_findings(torch.zeros(shape))
    with pytest.raises(ModelInputError, match="expected images of shape"):
        micro_bundle.generate_report(torch.zeros(shape), [[]] * (shape[0] if len(shape) == 4 else 1))


def test_non_finite_image_is_refused(micro_bundle) -> None:
    x = images(1)
    x[0, 0, 0, 0] = float("nan")
    with pytest.raises(ModelInputError, match="NaN"):
        micro_bundle.predict_findings(x)


def test_image_token_count_mismatch_is_a_clear_error(micro_bundle) -> None:
    n = micro_bundle.config.num_image_tokens
    short = micro_bundle.config.image_token * (n - 3) + " findings: none report:"
    with pytest.raises(ModelInputError, match=f"has {n - 3} image tokens, the vision tower yields {n}"):
        micro_bundle.lm_forward(images(1), [short], [" normal"])


def test_feature_count_mismatch_from_transformers_is_translated(micro_bundle) -> None:
    """Bypassing our own check, transformers' LLaVA check still ends as a ModelInputError."""
    tok = micro_bundle.tokenizer
    ids = torch.tensor([[micro_bundle.image_token_id] * 5 + tok("x", add_special_tokens=False)["input_ids"]])
    with pytest.raises(ModelInputError, match="image tokens and image features do not match"):
        micro_bundle._call(input_ids=ids, pixel_values=micro_bundle.pixel_values(images(1)))


def test_findings_count_must_match_images(micro_bundle) -> None:
    with pytest.raises(ModelInputError, match="2 images but 1 findings"):
        micro_bundle.generate_report(images(2), [[]])


@pytest.mark.parametrize("layout", ["empty", "config-only", "missing-model"])
def test_model_dir_without_weights_is_not_found(micro_bundle, tmp_path: Path, layout: str) -> None:
    target = tmp_path / "m"
    target.mkdir()
    if layout != "empty":
        micro_bundle.save(target)
        if layout == "config-only":
            (target / "findings_head.safetensors").unlink()
        else:
            for f in (target / "model").glob("*.safetensors"):
                f.unlink()
    with pytest.raises(NotFoundError, match="no model weights"):
        load_bundle(target)


def test_missing_directory_and_unknown_preset() -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        load_bundle(Path("/nonexistent/model"))
    with pytest.raises(ConfigError, match="unknown model preset 'huge'"):
        build_model("huge", load_ontology(), ["x"])
    with pytest.raises(NotFoundError, match="does not exist"):
        build_model("path:/nonexistent/ckpt", load_ontology())
