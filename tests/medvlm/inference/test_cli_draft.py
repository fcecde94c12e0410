"""``medvlm draft`` through the real entry point: a folder, an ingested study UID, a batch, and errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydicom.uid import generate_uid

from medvlm.settings import Settings
from tests.medvlm.inference.dicom_files import chest_film, write_cr


def _medvlm(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"MEDVLM_DATA_DIR": str(settings.data_dir), "MEDVLM_DATABASE_URL": settings.resolved_database_url,
           "MEDVLM_ENVIRONMENT": "test", "PATH": "/usr/bin:/bin", "COLUMNS": "160"}
    return subprocess.run([sys.executable, "-m", "medvlm", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_draft_folder_and_ingested_study(sqlite_settings: Settings, tiny_model_dir: Path,
                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from medvlm.registry import promote, register_version
    from tests.support.floors import allow_untrained_models

    allow_untrained_models(tmp_path, monkeypatch)  # an untrained model is below the real floors

    uid = generate_uid()
    write_cr(tmp_path / "s1" / "pa.dcm", study_uid=uid, view="PA", seed=1, pixels=chest_film(1))
    ingested = _medvlm(sqlite_settings, "ingest", str(tmp_path / "s1"))  # the real `medvlm ingest`
    assert ingested.returncode == 0, ingested.stderr
    promote(register_version(tiny_model_dir).id)  # the default model is the production version

    # one batch: the ingested study by UID, and the same file by path
    batch = _medvlm(sqlite_settings, "draft", uid, str(tmp_path / "s1"), "--json")
    assert batch.returncode == 0, batch.stderr
    by_uid, by_path = json.loads(batch.stdout)
    assert (by_uid["study"], by_path["study"]) == (uid, str(tmp_path / "s1"))
    assert by_uid["input_hashes"] == by_path["input_hashes"]  # the stored bytes are the file's bytes
    assert set(by_path) >= {"findings", "findings_text", "impression", "model_version", "consistency_flags"}
    assert by_path["model_version"] == json.loads((tiny_model_dir / "model_card.json").read_text())["version"]
    assert {"label", "probability", "presence"} <= set(by_path["findings"][0])

    human = _medvlm(sqlite_settings, "draft", uid, "--model", str(tiny_model_dir))
    assert human.returncode == 0, human.stderr
    assert "Impression:" in human.stdout and "probability" in human.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("draft", "1.2.3.999"), "error: no file or folder '1.2.3.999', and no ingested study"),
        (("draft", "/nonexistent/study/folder"), "error: no file or folder '/nonexistent/study/folder'"),
    ],
)
def test_draft_errors_are_one_line(sqlite_settings: Settings, tiny_model_dir: Path, args: tuple[str, ...],
                                   message: str) -> None:
    result = _medvlm(sqlite_settings, *args, "--model", str(tiny_model_dir))
    assert result.returncode == 1 and result.stderr.strip().startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1


def test_draft_without_any_model(sqlite_settings: Settings, tmp_path: Path) -> None:
    write_cr(tmp_path / "s" / "pa.dcm", study_uid=generate_uid())
    result = _medvlm(sqlite_settings, "draft", str(tmp_path / "s"))
    assert result.returncode == 1 and "no production model in the registry" in result.stderr


def test_gate_refuses_force_overrides_and_bad_files_are_listed(
        sqlite_settings: Settings, tiny_model_dir: Path, tmp_path: Path) -> None:
    """Outside intended use: not drafted, with the reason; --force drafts it under a warning; a truncated
    file is named with its problem; one bad study does not stop the others."""
    model = ("--model", str(tiny_model_dir))
    noise = write_cr(tmp_path / "noise" / "x.dcm", study_uid=generate_uid())  # CR CHEST attributes, no chest
    mr = write_cr(tmp_path / "mr" / "x.dcm", study_uid=generate_uid(), pixels=chest_film(2), modality="MR")
    good = write_cr(tmp_path / "good" / "pa.dcm", study_uid=generate_uid(), pixels=chest_film(3))
    truncated = tmp_path / "bad.dcm"
    truncated.write_bytes(good.read_bytes()[:3000])
    (good.parent / "cut.dcm").write_bytes(good.read_bytes()[:3000])  # a bad file beside the good one

    refused = _medvlm(sqlite_settings, "draft", str(mr), *model)
    assert refused.returncode == 1 and "not drafted: outside intended use: modality MR" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1

    forced = _medvlm(sqlite_settings, "draft", str(noise), "--force", "--json", *model)
    assert forced.returncode == 0, forced.stderr
    body = json.loads(forced.stdout)
    assert body["drafted"] and body["intended_use"]["accepted"] is False
    assert body["warnings"][0].startswith("DRAFTED OUTSIDE INTENDED USE")

    bad = _medvlm(sqlite_settings, "draft", str(truncated), *model)
    assert bad.returncode == 1 and "object at 0x" not in bad.stderr
    assert bad.stderr.startswith(f"error: {truncated}: not drafted: bad.dcm: pixels cannot be decoded")
    assert len(bad.stderr.strip().splitlines()) == 1

    batch = _medvlm(sqlite_settings, "draft", str(truncated), str(good.parent), str(mr), "--json", *model)
    assert batch.returncode == 1
    out = json.loads(batch.stdout)
    assert [o["drafted"] for o in out] == [False, True, False]
    assert any(w.startswith("skipped cut.dcm: pixels cannot be decoded") for w in out[1]["warnings"])
    assert "bad.dcm: pixels cannot be decoded" in out[0]["error"] and "modality MR" in out[2]["error"]
    probabilities = [f["probability"] for f in out[1]["findings"]]
    thresholds = [f["threshold"] for f in out[1]["findings"]]
    assert len(probabilities) == len(thresholds) == len(out[1]["findings"])  # every value, 0 included
    assert all(f.get("laterality") is None and f.get("severity") is None
               for f in out[1]["findings"] if f["presence"] == "absent")
