"""Curriculum validation: every bad file is one CurriculumError, raised before any training."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from medvlm.curriculum import load_curriculum, plan_curriculum
from medvlm.errors import CurriculumError
from tests.medvlm.training.synthdata import build_dataset

ROOT = Path(__file__).resolve().parents[3]
DEFAULT = ROOT / "curricula" / "chest_xr.yaml"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dataset(tmp_path_factory.mktemp("data"), n_train=6, n_validation=3)


def write(tmp_path: Path, raw: dict[str, Any]) -> Path:
    (tmp_path / "templates").mkdir(exist_ok=True)
    shutil.copy(
        ROOT / "curricula" / "templates" / "questions.yaml", tmp_path / "templates" / "questions.yaml"
    )
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def default_raw() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT.read_text())


def mutate(fn):
    raw = default_raw()
    fn(raw)
    return raw


def _set(path: str, value: Any):
    def apply(raw: dict[str, Any]) -> None:
        keys = path.split(".")
        node: Any = raw
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        node[keys[-1]] = value

    return apply


BAD = [
    ("unknown-top-key", _set("bogus", 1), "unknown key at bogus"),
    ("unknown-stage-key", _set("stages.0.learning_rate", 0.1), "unknown key at stages.0.learning_rate"),
    ("unknown-module", _set("stages.0.modules.decoder", "full"), "unknown key at stages.0.modules.decoder"),
    ("missing-source", _set("stages.1.sources", ["labels", "nope"]), "names data source 'nope'"),
    ("missing-eval-source", _set("stages.0.eval_source", "holdout"), "names data source 'holdout'"),
    ("zero-lr", _set("stages.0.lr", 0), "stages.0.lr"),
    ("huge-lr", _set("stages.0.lr", 5), "stages.0.lr"),
    ("zero-steps", _set("stages.0.steps", 0), "stages.0.steps"),
    ("zero-threshold-beta", _set("stages.0.threshold_beta", 0), "stages.0.threshold_beta"),
    ("sparse-threshold-above-one", _set("stages.0.sparse_threshold", 1.5), "stages.0.sparse_threshold"),
    (
        "negative-threshold-min-positives",
        _set("stages.0.threshold_min_positives", -1),
        "stages.0.threshold_min_positives",
    ),
    ("negative-localize", _set("stages.0.localize", -1), "stages.0.localize"),
    ("localize-not-encoder", _set("stages.1.localize", 1.0), "localize applies to encoder stages only"),
    ("measures-not-encoder", _set("stages.1.measures", 1.0), "measures applies to encoder stages only"),
    ("outline-not-encoder", _set("stages.1.outline", 1.0), "outline applies to encoder stages only"),
    ("negative-outline", _set("stages.0.outline", -1), "stages.0.outline"),
    ("negative-measures", _set("stages.0.measures", -1), "stages.0.measures"),
    (
        "thresholds-not-encoder",
        _set("stages.1.threshold_min_positives", 20),
        "threshold_min_positives apply to encoder stages only",
    ),
    ("bad-mode", _set("stages.0.modules.vision", "half"), "stages.0.modules.vision"),
    (
        "metric-not-measured",
        _set("stages.0.select_on", "report.ce_f1"),
        "select_on 'report.ce_f1' is not measured",
    ),
    ("trains-nothing", _set("stages.0.modules", {"vision": "frozen"}), "trains nothing"),
    ("loss-cannot-reach", _set("stages.0.modules.language", "full"), "cannot train ['language']"),
    ("lora-on-vision", _set("stages.1.modules.vision", "lora"), "only 'language' can be lora"),
    ("warmup-too-long", _set("stages.0.warmup_steps", 5000), "warmup_steps 5000 >= steps"),
    ("no-templates", _set("stages.1.templates", None), "needs question templates"),
    ("missing-templates-file", _set("stages.1.templates", "templates/none.yaml"), "none.yaml does not exist"),
    ("duplicate-stage", lambda r: r["stages"].append(copy.deepcopy(r["stages"][0])), "repeated: ['encoder']"),
    ("no-stages", _set("stages", []), "stages"),
    ("bad-stage-kind", _set("stages.0.kind", "pretraining"), "stages.0.kind"),
    ("unknown-input", _set("stages.1.inputs", ["frontal", "prior"]),
     "stage 'introduction': unknown input(s) ['prior']; expected some of "
     "['frontal', 'lateral', 'indication']"),
    ("no-frontal-input", _set("stages.0.inputs", ["lateral"]),
     "inputs must include 'frontal', got ['lateral']"),
]


def test_inputs_default_to_the_frontal_and_the_union_is_the_model_s(tmp_path: Path) -> None:
    def edit(raw: dict[str, Any]) -> None:
        for stage in raw["stages"]:
            stage.pop("inputs", None)
        raw["stages"][2]["inputs"] = ["indication", "frontal"]

    cur = load_curriculum(write(tmp_path, mutate(edit))).curriculum
    assert cur.stages[0].inputs == ["frontal"]
    assert cur.inputs == ["frontal", "indication"]
    default = load_curriculum(write(tmp_path, default_raw())).curriculum
    assert default.inputs == ["frontal", "lateral", "indication"]


def test_curriculum_inputs_are_the_model_s() -> None:
    from medvlm.curriculum.schema import INPUTS as CURRICULUM_INPUTS
    from medvlm.model.configuration import INPUTS

    assert CURRICULUM_INPUTS == INPUTS


def test_the_self_supervised_curriculum_is_the_default_after_its_films_stage() -> None:
    """chest_xr_ssl.yaml says it is chest_xr.yaml with a stage in front: a change to the default that is not
    copied there (as the default's lateral and indication inputs once were not) would compare two
    different curricula in every with/without run."""
    ssl = yaml.safe_load((ROOT / "curricula" / "chest_xr_ssl.yaml").read_text())
    default = default_raw()
    assert [s["kind"] for s in ssl["stages"][:1]] == ["self_supervised"]
    assert ssl["stages"][1:] == default["stages"]
    assert {k: v for k, v in ssl.items() if k not in ("name", "description", "stages")} == {
        k: v for k, v in default.items() if k not in ("name", "description", "stages")
    }


@pytest.mark.parametrize(("mutation", "message"), [pytest.param(m, msg, id=i) for i, m, msg in BAD])
def test_bad_curriculum_is_one_clear_error(tmp_path: Path, mutation, message: str) -> None:
    path = write(tmp_path, mutate(mutation))
    with pytest.raises(CurriculumError) as info:
        load_curriculum(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [("name: [unclosed", "not valid YAML"), ("- a\n- b\n", "must hold a mapping")],
)
def test_unreadable_file(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(CurriculumError, match=message):
        load_curriculum(tmp_path / "c.yaml")
    with pytest.raises(CurriculumError, match="does not exist"):
        load_curriculum(tmp_path / "absent.yaml")


def test_default_curriculum_plans_and_skips_corrections_without_data(data_dir: Path) -> None:
    loaded = load_curriculum(DEFAULT)
    assert [s.name for s in loaded.curriculum.stages] == [
        "encoder",
        "introduction",
        "specialism",
        "corrections",
    ]
    plan = plan_curriculum(loaded, data_dir, max_positions=512, image_tokens=64)
    assert [s.name for s in plan.run] == ["encoder", "introduction", "specialism"]
    assert "corrections" in plan.skipped["corrections"]
    assert len(plan.records["labels"]) == 6 and len(plan.records["validation"]) == 3


def test_corrections_stage_runs_when_corrections_exist(data_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(data_dir, data)
    (data / "corrections").mkdir()
    lines = [json.loads(x) for x in (data / "manifest.jsonl").read_text().splitlines()[:2]]
    for line in lines:
        line["files"] = ["../" + f for f in line["files"]]
    (data / "corrections" / "manifest.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    plan = plan_curriculum(load_curriculum(DEFAULT), data, max_positions=512, image_tokens=64)
    assert [s.name for s in plan.run][-1] == "corrections"
    assert len(plan.records["corrections"]) == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("data.labels.path", "elsewhere"), "data source 'labels'"),
        (_set("data.validation.split", "test"), "no records with split 'test'"),
        (_set("data.labels.report_source", ["iu"]), "report_source ['iu']"),
    ],
)
def test_data_source_problems(tmp_path: Path, data_dir: Path, change, message: str) -> None:
    loaded = load_curriculum(write(tmp_path, mutate(change)))
    with pytest.raises(CurriculumError) as info:
        plan_curriculum(loaded, data_dir, max_positions=512, image_tokens=64)
    assert message in str(info.value)


def test_answer_tokens_must_fit_the_context(data_dir: Path) -> None:
    with pytest.raises(CurriculumError, match="exceed the model's context of 200 tokens"):
        plan_curriculum(load_curriculum(DEFAULT), data_dir, max_positions=200, image_tokens=64)


def test_missing_data_directory(tmp_path: Path) -> None:
    with pytest.raises(CurriculumError, match=r"data directory .* does not exist"):
        plan_curriculum(load_curriculum(DEFAULT), tmp_path / "nope", max_positions=512, image_tokens=64)


def test_pretrained_curriculum_loads_and_plans(data_dir: Path) -> None:
    """curricula/chest_xr_pretrained.yaml (docs/checkpoints.md): frozen vision, LoRA, scale options."""
    loaded = load_curriculum(ROOT / "curricula" / "chest_xr_pretrained.yaml")
    cur = loaded.curriculum
    model = cur.model
    assert (model.precision, model.gradient_checkpointing, model.quantize) == ("auto", True, "none")
    assert all(s.modules.vision == "frozen" for s in cur.stages)
    assert all(s.modules.language in ("lora", "frozen") for s in cur.stages)
    plan = plan_curriculum(loaded, data_dir, max_positions=4096, image_tokens=256)
    assert [s.name for s in plan.run] == ["encoder", "introduction", "specialism"]


@pytest.mark.parametrize(
    ("model", "stage", "message"),
    [
        ({"quantize": "8bit"}, {}, "quantize"),
        ({"precision": "fp8"}, {}, "precision"),
        ({}, {"grad_accumulation": 64}, "grad_accumulation 64 is larger than batch_size"),
    ],
)
def test_scale_options_are_checked(tmp_path: Path, model: dict, stage: dict, message: str) -> None:
    raw = yaml.safe_load((ROOT / "curricula" / "chest_xr_pretrained.yaml").read_text())
    raw["model"].update(model)
    raw["stages"][0].update(stage)
    with pytest.raises(CurriculumError, match=message):
        load_curriculum(write(tmp_path, raw))
