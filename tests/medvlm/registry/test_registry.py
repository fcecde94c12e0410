"""The registry on SQLite and PostgreSQL: registration with provenance, listing, the promotion gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from medvlm.db import get_engine, session_scope
from medvlm.errors import ConfigError, NotFoundError, PromotionRefusedError
from medvlm.registry import (
    attach_metrics,
    get_version,
    list_versions,
    production_version,
    promote,
    register_version,
)
from medvlm.registry.tables import ModelVersion
from medvlm.settings import Settings
from tests.medvlm.registry.conftest import CardFactory


def test_register_records_everything_needed_to_rebuild(
    settings: Settings, model_dir_factory: CardFactory
) -> None:
    directory = model_dir_factory("v1", parent="v0")
    record = register_version(directory)
    assert record.status == "candidate"
    assert (record.id, record.parent, record.preset) == ("v1", "v0", "tiny")
    assert record.curriculum == "curricula/chest_xray.yaml"
    assert record.curriculum_sha256 == "c" * 64 and record.data_manifest_sha256 == "d" * 64
    assert record.config == {"hidden_size": 64, "image_size": 128}
    assert record.metrics == {"report.ce_f1": 0.8, "findings.macro_auroc": 0.9,
                              "report.hallucination_rate": 0.1}
    assert record.stages == [{"name": "encoder", "best_step": 10}]
    assert record.model_dir == str(directory.resolve())
    assert record.created_at.utcoffset() is not None and record.created_at.hour == 1
    assert get_version("v1") == record


def test_register_again_refreshes_metrics_but_not_provenance(
    settings: Settings, model_dir_factory: CardFactory
) -> None:
    register_version(model_dir_factory("v1", ce_f1=0.5))
    assert register_version(model_dir_factory("v1", ce_f1=0.7)).metrics["report.ce_f1"] == 0.7
    with pytest.raises(ConfigError, match=r"different \['curriculum_sha256'\]"):
        register_version(model_dir_factory("v1", curriculum_sha256="e" * 64))
    assert len(list_versions()) == 1


def test_first_promotion_then_gate_and_retirement(settings: Settings, model_dir_factory: CardFactory) -> None:
    register_version(model_dir_factory("v1", ce_f1=0.80, auroc=0.90))
    register_version(model_dir_factory("v2", ce_f1=0.81, auroc=0.89, parent="v1"))
    assert production_version() is None
    assert promote("v1").status == "production"
    promoted = promote("v2", tolerance=0.02)  # AUROC 0.01 lower: within tolerance
    assert promoted.status == "production" and promoted.promoted_at is not None
    old = get_version("v1")
    assert old.status == "retired" and old.retired_at is not None
    assert production_version() is not None and production_version().id == "v2"  # type: ignore[union-attr]
    assert [v.id for v in list_versions(status="production")] == ["v2"]


@pytest.mark.parametrize(
    ("ce_f1", "auroc", "tolerance", "refused", "why"),
    [
        (0.70, 0.90, 0.01, True, "report.ce_f1 0.7000 is 0.1000 below"),
        (0.80, 0.85, 0.01, True, "findings.macro_auroc 0.8500 is 0.0500 below"),
        (0.795, 0.895, 0.01, False, ""),  # within the tolerance
        (0.78, 0.90, 0.01, True, "report.ce_f1"),  # 0.02 below a 0.01 tolerance
        (0.78, 0.90, 0.05, False, ""),  # the same drop under a wider tolerance
        (None, 0.95, 0.01, True, "report.ce_f1 not measured"),  # the floors ask for it first
        (0.95, 0.95, 0.0, False, ""),  # better on both
    ],
)
def test_promotion_gate(settings: Settings, model_dir_factory: CardFactory, ce_f1: float | None,
                        auroc: float, tolerance: float, refused: bool, why: str) -> None:
    register_version(model_dir_factory("prod", ce_f1=0.80, auroc=0.90))
    promote("prod")
    register_version(model_dir_factory("cand", ce_f1=ce_f1, auroc=auroc))
    if refused:
        with pytest.raises(PromotionRefusedError, match=why):
            promote("cand", tolerance=tolerance)
        assert production_version().id == "prod"  # type: ignore[union-attr]
        assert get_version("cand").status == "candidate"
    else:
        promote("cand", tolerance=tolerance)
        assert production_version().id == "cand"  # type: ignore[union-attr]


def test_tolerance_defaults_to_settings(
    settings: Settings, model_dir_factory: CardFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_version(model_dir_factory("prod", ce_f1=0.80))
    promote("prod")
    register_version(model_dir_factory("cand", ce_f1=0.77))
    with pytest.raises(PromotionRefusedError):
        promote("cand")  # settings default 0.01
    promote("cand", settings=settings.model_copy(update={"promotion_tolerance": 0.05}))
    assert production_version().id == "cand"  # type: ignore[union-attr]


def test_rollback_to_a_retired_version(settings: Settings, model_dir_factory: CardFactory) -> None:
    register_version(model_dir_factory("v1"))
    register_version(model_dir_factory("v2"))
    promote("v1")
    promote("v2")
    assert promote("v1").status == "production"
    assert get_version("v2").status == "retired"
    assert promote("v1").status == "production"  # already production: unchanged


def test_promotion_refuses_a_changed_model_directory(
    settings: Settings, model_dir_factory: CardFactory
) -> None:
    directory = model_dir_factory("v1")
    register_version(directory)
    card = json.loads((directory / "model_card.json").read_text())
    card["metrics"]["report.ce_f1"] = 0.99
    (directory / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(PromotionRefusedError, match="model card changed"):
        promote("v1")
    (directory / "model_card.json").unlink()
    with pytest.raises(PromotionRefusedError, match="cannot be served"):
        promote("v1")


def test_database_allows_one_production_only(settings: Settings, model_dir_factory: CardFactory) -> None:
    register_version(model_dir_factory("v1"))
    register_version(model_dir_factory("v2"))
    promote("v1")
    with pytest.raises(IntegrityError), session_scope(get_engine(settings.resolved_database_url)) as session:
        row = session.get(ModelVersion, "v2")
        assert row is not None
        row.status = "production"
        session.add(row)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: promote("nope"), NotFoundError, "no model version 'nope'; the registry is empty"),
        (lambda: get_version("nope"), NotFoundError, "no model version"),
        (lambda: list_versions(status="shiny"), ConfigError, "unknown status 'shiny'"),
        (lambda: promote("x", tolerance=-0.1), ConfigError, "tolerance"),
    ],
)
def test_bad_requests_are_named(settings: Settings, call, error, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize(
    ("write", "error", "message"),
    [
        (None, NotFoundError, "holds no model_card.json"),
        ("{not json", ConfigError, "not valid JSON"),
        ("[1, 2]", ConfigError, "JSON object"),
        ('{"version": "v"}', ConfigError, "lacks"),
        ('{"version": "", "preset": "tiny", "config": {}, "metrics": {}, "created_at": "2026-01-01"}',
         ConfigError, "non-empty"),
        ('{"version": "v", "preset": "tiny", "config": [], "metrics": {}, "created_at": "2026-01-01"}',
         ConfigError, "config must be a JSON dict"),
        ('{"version": "v", "preset": "tiny", "config": {}, "metrics": {}, "created_at": "yesterday"}',
         ConfigError, "ISO-8601"),
    ],
)
def test_bad_model_cards_are_named(sqlite_settings: Settings, tmp_path: Path, write: str | None,
                                   error: type[Exception], message: str) -> None:
    directory = tmp_path / "m"
    directory.mkdir()
    if write is not None:
        (directory / "model_card.json").write_text(write)
    with pytest.raises(error, match=message):
        register_version(directory)


def test_missing_directory(sqlite_settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        register_version(tmp_path / "absent")


def _eval_file(tmp_path: Path, version: str, **metrics: float) -> Path:
    path = tmp_path / f"metrics-{version}.json"
    path.write_text(json.dumps({"model_version": version, "split": "test", "n_studies": 10,
                                "data_manifest_sha256": "f" * 64, "findings.per_finding": {"x": {}},
                                "definitions": {"a": "b"}, **metrics}))
    return path


def test_evaluation_metrics_let_a_candidate_pass_the_gate(
    settings: Settings, model_dir_factory: CardFactory, tmp_path: Path
) -> None:
    register_version(model_dir_factory("prod", ce_f1=0.80, auroc=0.90))
    promote("prod")
    register_version(model_dir_factory("cand", ce_f1=None, auroc=0.95))
    with pytest.raises(PromotionRefusedError, match=r"report\.ce_f1 not measured"):
        promote("cand")
    record = attach_metrics("cand", _eval_file(tmp_path, "cand", **{"report.ce_f1": 0.85}))
    assert record.metrics["report.ce_f1"] == 0.85 and record.metrics["findings.macro_auroc"] == 0.95
    assert record.metrics["eval.split"] == "test" and "findings.per_finding" not in record.metrics
    assert promote("cand").status == "production"


@pytest.mark.parametrize(
    ("version_in_file", "target", "error", "message"),
    [
        ("other", "cand", ConfigError, "evaluates version 'other', not 'cand'"),
        ("prod", "prod", ConfigError, "in production"),
        ("ghost", "ghost", NotFoundError, "no model version 'ghost'"),
    ],
)
def test_attach_metrics_refusals(settings: Settings, model_dir_factory: CardFactory, tmp_path: Path,
                                 version_in_file: str, target: str, error: type[Exception],
                                 message: str) -> None:
    register_version(model_dir_factory("prod"))
    promote("prod")
    register_version(model_dir_factory("cand"))
    with pytest.raises(error, match=message):
        attach_metrics(target, _eval_file(tmp_path, version_in_file, **{"report.ce_f1": 0.1}))


@pytest.mark.parametrize(("content", "error"), [(None, NotFoundError), ("{oops", ConfigError)])
def test_attach_metrics_bad_files(sqlite_settings: Settings, tmp_path: Path, content: str | None,
                                  error: type[Exception]) -> None:
    path = tmp_path / "m.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(error):
        attach_metrics("v", path)


@pytest.mark.parametrize(
    ("metrics", "why"),
    [
        ({"ce_f1": 0.077, "hallucination": 1.2}, "report.ce_f1 0.0770 below the floor 0.4"),  # the quick demo
        ({"hallucination": 1.2}, "report.hallucination_rate 1.2000 above the ceiling 0.3"),
        ({"auroc": 0.6}, "findings.macro_auroc 0.6000 below the floor 0.85"),
        ({"hallucination": None}, "report.hallucination_rate not measured"),
    ],
)
def test_floors_refuse_even_the_first_promotion(settings: Settings, model_dir_factory: CardFactory,
                                                metrics: dict, why: str) -> None:
    register_version(model_dir_factory("first", **metrics))
    with pytest.raises(PromotionRefusedError, match=why):
        promote("first", tolerance=1.0)
    assert production_version() is None and get_version("first").status == "candidate"


def test_floors_prefer_own_text_and_real_film_acceptance_when_measured(
        settings: Settings, model_dir_factory: CardFactory, tmp_path: Path) -> None:
    register_version(model_dir_factory("v", ce_f1=0.9))
    attach_metrics("v", _eval_file(tmp_path, "v", **{"report.raw.ce_f1": 0.2, "real.gate_acceptance": 0.99}))
    with pytest.raises(PromotionRefusedError, match=r"report\.raw\.ce_f1 0\.2000 below"):
        promote("v")  # the delivered (guarded) 0.9 does not hide the model's own 0.2
    attach_metrics("v", _eval_file(tmp_path, "v", **{"report.raw.ce_f1": 0.5, "real.gate_acceptance": 0.9}))
    with pytest.raises(PromotionRefusedError, match=r"real\.gate_acceptance 0\.9000 below the floor 0\.98"):
        promote("v")
    attach_metrics("v", _eval_file(tmp_path, "v", **{"real.gate_acceptance": 0.985}))
    assert promote("v").status == "production"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("floors: []", "non-empty list"),
        ("floors: [{metric: a, min: 0.1, max: 0.2}]", "exactly one number"),
        ("floors: [{metric: a, min: high}]", "exactly one number"),
        ("floors: [{metric: a, min: 0.1, colour: red}]", "unknown keys"),
        ("floors: [{min: 0.1}]", "'metric' name"),
        ("floors: [", "not valid YAML"),
    ],
)
def test_bad_floors_file(tmp_path: Path, text: str, message: str) -> None:
    from medvlm.registry.floors import load_floors

    path = tmp_path / "floors.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_floors(path)


def _with_findings(aurocs: dict[str, float], positives: float = 40) -> dict[str, float]:
    out = {f"findings.auroc.{k}": v for k, v in aurocs.items()}
    out.update({f"findings.positives.{k}": positives for k in aurocs})
    return out


@pytest.mark.parametrize(
    ("candidate", "positives", "refused", "why"),
    [
        ({"cardiomegaly": 0.83, "nodule": 0.70}, 40, True,
         r"findings\.auroc\.cardiomegaly 0\.8300 is 0\.0700"),
        ({"cardiomegaly": 0.87, "nodule": 0.70}, 40, False, ""),  # within the per-finding tolerance (0.05)
        ({"nodule": 0.70}, 40, True, r"findings\.auroc\.cardiomegaly missing"),
        ({"cardiomegaly": 0.60, "nodule": 0.70}, 5, False, ""),  # 5 positives: production's AUROC is noise
    ],
)
def test_one_finding_lost_is_refused_although_the_macro_figures_hold(
    settings: Settings, model_dir_factory: CardFactory, candidate: dict[str, float], positives: float,
    refused: bool, why: str,
) -> None:
    production = _with_findings({"cardiomegaly": 0.90, "nodule": 0.70}, positives)
    register_version(model_dir_factory("prod", metrics={"report.ce_f1": 0.8, "findings.macro_auroc": 0.9,
                                                        "report.hallucination_rate": 0.1, **production}))
    promote("prod")
    register_version(model_dir_factory("cand", metrics={"report.ce_f1": 0.8, "findings.macro_auroc": 0.9,
                                                        "report.hallucination_rate": 0.1,
                                                        **_with_findings(candidate)}))
    if refused:
        with pytest.raises(PromotionRefusedError, match=why):
            promote("cand")
        assert production_version().id == "prod"  # type: ignore[union-attr]
    else:
        assert promote("cand").status == "production"


def test_attached_evaluation_carries_per_finding_auroc_to_the_gate(
    settings: Settings, model_dir_factory: CardFactory, tmp_path: Path
) -> None:
    table = {"cardiomegaly": {"auroc": 0.8, "f1": 0.5, "support": 94},
             "fracture": {"auroc": None, "support": 0}}
    record = attach_metrics(
        register_version(model_dir_factory("cand")).id,
        _eval_file(tmp_path, "cand", **{"findings.per_finding": table}),
    )
    assert record.metrics["findings.auroc.cardiomegaly"] == 0.8
    assert record.metrics["findings.positives.cardiomegaly"] == 94
    assert "findings.auroc.fracture" not in record.metrics
