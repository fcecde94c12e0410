"""Curricula mixing sources: per-stage shares (``mix``), a validation source that falls back when the
imported real split is absent, and a data hash pinning every source directory."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from medvlm.curriculum import load_curriculum, plan_curriculum
from medvlm.curriculum.validate import data_hash
from medvlm.dataset.manifest import manifest_hash
from medvlm.errors import CurriculumError
from medvlm.training.mix import mixed_records
from tests.medvlm.curriculum.test_curriculum import _set, mutate, write
from tests.medvlm.curriculum.test_curriculum import data_dir as data_dir  # the fixture

REAL_VAL = {"path": "imported", "split": "validation", "fallback": "validation"}


def _with_real_val(raw: dict) -> None:
    raw["data"]["real_val"] = dict(REAL_VAL)
    raw["stages"][0]["eval_source"] = "real_val"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("stages.0.mix", {"labels": 1.0, "x": 2.0}), "mix must weigh exactly the sources ['labels']"),
        (_set("stages.0.mix", {"labels": 0}), "mix weights must be > 0"),
        (_set("data.validation.fallback", "nowhere"), "fallback 'nowhere' is not defined"),
        (_set("data.validation.fallback", "validation"), "must be another source"),
    ],
)
def test_bad_mix_or_fallback_is_one_clear_error(tmp_path: Path, change, message: str) -> None:
    with pytest.raises(CurriculumError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_curriculum(write(tmp_path, mutate(change)))


def test_validation_falls_back_without_an_import_and_uses_it_when_there(tmp_path: Path,
                                                                         data_dir: Path) -> None:
    loaded = load_curriculum(write(tmp_path, mutate(_with_real_val)))
    plan = plan_curriculum(loaded, data_dir, max_positions=512, image_tokens=64)
    assert plan.substituted == {"real_val": "validation"}
    assert plan.records["real_val"] is plan.records["validation"]
    data = tmp_path / "data"
    shutil.copytree(data_dir, data)
    (data / "imported").mkdir()
    lines = [json.loads(x) for x in (data / "manifest.jsonl").read_text().splitlines()[:4]]
    for line in lines:
        line["files"] = ["../" + f for f in line["files"]]
        line["split"], line["report_source"] = "validation", "import"
    (data / "imported" / "manifest.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    plan = plan_curriculum(loaded, data, max_positions=512, image_tokens=64)
    assert plan.substituted == {} and len(plan.records["real_val"]) == 4
    assert {r.report_source for r in plan.records["real_val"]} == {"import"}
    # the card's data hash pins the import too: it differs from the top manifest's and follows the import
    before = data_hash(loaded, data)
    assert before != manifest_hash(data) and data_hash(loaded, data_dir) != before
    (data / "imported" / "manifest.jsonl").write_text(json.dumps(lines[0]))
    assert data_hash(loaded, data) != before


def test_single_directory_hash_is_the_manifest_hash(tmp_path: Path, data_dir: Path) -> None:
    loaded = load_curriculum(write(tmp_path, mutate(lambda raw: None)))
    assert data_hash(loaded, data_dir) == manifest_hash(data_dir)


def test_mix_sets_each_sources_share_and_keeps_the_epoch() -> None:
    records = {"real": [f"r{i}" for i in range(4)], "rendered": [f"s{i}" for i in range(36)]}
    assert mixed_records(["real", "rendered"], records, None, 0) == records["real"] + records["rendered"]
    mixed = mixed_records(["real", "rendered"], records, {"real": 1.0, "rendered": 1.0}, 0)
    counts = Counter(r[0] for r in mixed)
    assert len(mixed) == 40 and counts == {"r": 20, "s": 20}
    assert Counter(r for r in mixed if r[0] == "r") == {f"r{i}": 5 for i in range(4)}  # repeated evenly
    assert mixed == mixed_records(["real", "rendered"], records, {"real": 1.0, "rendered": 1.0}, 0)
    heavy = mixed_records(["real", "rendered"], records, {"real": 3.0, "rendered": 1.0}, 0)
    assert Counter(r[0] for r in heavy) == {"r": 30, "s": 10}
    assert len(set(r for r in heavy if r[0] == "s")) == 10  # subsampled without repeats


def test_site_curriculum_mixes_the_import_and_validates_on_it(tmp_path: Path, data_dir: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(data_dir, data)
    (data / "imported").mkdir()
    lines = [json.loads(x) for x in (data / "manifest.jsonl").read_text().splitlines()]
    for n, line in enumerate(lines):
        line["files"] = ["../" + f for f in line["files"]]
        line["split"], line["report_source"] = ("train", "validation")[n % 2], "import"
    (data / "imported" / "manifest.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    loaded = load_curriculum(Path(__file__).resolve().parents[3] / "curricula" / "chest_xr_site.yaml")
    plan = plan_curriculum(loaded, data, max_positions=512, image_tokens=64)
    assert [s.name for s in plan.run] == ["encoder", "introduction", "specialism"]
    assert plan.substituted == {}
    assert {r.report_source for r in plan.records["validation"]} == {"import"}
    encoder = plan.run[0]
    mixed = mixed_records(encoder.sources, plan.records, encoder.mix, 0)
    assert Counter(r.report_source for r in mixed)["import"] == len(mixed) // 2
