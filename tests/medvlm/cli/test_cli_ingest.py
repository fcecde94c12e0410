"""``medvlm ingest`` / ``studies`` / ``show``: JSON output, exit codes 0/1/2, table, summary and preview."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from medvlm.cli.main import app
from medvlm.settings import Settings
from tests.medvlm.dicom.dicom_factory import make_image, pydicom_data_file, write

runner = CliRunner()
REPO = Path(__file__).resolve().parents[3]


def _two_images(folder: Path) -> str:
    first = make_image(seed=1, AccessionNumber="ACC42", StudyDescription="CHEST PA")
    write(first, folder / "a.dcm")
    write(make_image(seed=2, study_uid=first.StudyInstanceUID, series_uid=first.SeriesInstanceUID,
                     InstanceNumber=2), folder / "b.dcm")
    return str(first.StudyInstanceUID)


def test_ingest_json_then_duplicates(settings: Settings, tmp_path: Path) -> None:
    study = _two_images(tmp_path / "in")
    result = runner.invoke(app, ["ingest", "--json", str(tmp_path / "in")])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert {k: body[k] for k in ("ingested", "duplicates", "conflicts", "rejected")} == {
        "ingested": 2, "duplicates": 0, "conflicts": 0, "rejected": []}
    assert body["study_instance_uids"] == [study]
    again = json.loads(runner.invoke(app, ["ingest", "--json", str(tmp_path / "in")]).stdout)
    assert (again["ingested"], again["duplicates"]) == (0, 2)


def test_ingest_with_a_rejection_exits_1(settings: Settings, tmp_path: Path) -> None:
    _two_images(tmp_path / "in")
    (tmp_path / "in" / "notes.txt").write_text("not dicom")
    result = runner.invoke(app, ["ingest", "--json", str(tmp_path / "in")])
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["ingested"] == 2 and [Path(r["path"]).name for r in body["rejected"]] == ["notes.txt"]
    plain = runner.invoke(app, ["ingest", str(tmp_path / "in" / "notes.txt")])
    assert plain.exit_code == 1 and "rejected: " in plain.output and "not a DICOM file" in plain.output


@pytest.mark.parametrize(("args", "needle"), [
    (["ingest"], "Missing argument"),
    (["show", "1.2.3", "--window", "wide"], "expected CENTER,WIDTH"),
    (["show", "1.2.3", "--window", "40,-1"], "window width must be positive"),
])
def test_usage_errors_exit_2(sqlite_settings: Settings, args: list[str], needle: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and needle in result.output


def test_studies_and_show_with_preview(settings: Settings, tmp_path: Path) -> None:
    study = _two_images(tmp_path / "in")
    runner.invoke(app, ["ingest", "--json", str(tmp_path / "in")])
    table = runner.invoke(app, ["studies"])
    assert table.exit_code == 0 and study in table.output and "ACC42" in table.output
    png = tmp_path / "preview.png"
    shown = runner.invoke(app, ["show", study, "--png", str(png), "--window", "2000,4000"])
    assert shown.exit_code == 0, shown.output
    assert "CHEST PA" in shown.output and "2 instance(s)" in shown.output
    image = Image.open(io.BytesIO(png.read_bytes()))
    assert image.format == "PNG" and image.size == (24, 32)


def test_unknown_study_exits_1(sqlite_settings: Settings) -> None:
    result = runner.invoke(app, ["show", "1.2.3.4"])
    assert result.exit_code == 1 and "error: no study with Study Instance UID '1.2.3.4'" in result.output


def test_chest_films_through_the_real_entry_point(sqlite_settings: Settings, tmp_path: Path) -> None:
    """The issue's 'done when': ingest the pydicom-data chest films with --json, then show them."""
    films = [str(pydicom_data_file(f"RG1_{kind}.dcm")) for kind in ("UNCR", "J2KR", "UNCI", "J2KI")]
    run = subprocess.run([sys.executable, "-m", "medvlm", "ingest", "--json", *films], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    body = json.loads(run.stdout)
    # UNCI and J2KI carry the same SOP Instance UID with different bytes: the second is a conflict.
    assert (body["ingested"], body["conflicts"], body["rejected"]) == (3, 1, [])
    png = tmp_path / "chest.png"
    show = subprocess.run([sys.executable, "-m", "medvlm", "show", body["study_instance_uids"][0], "--png",
                           str(png)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert show.returncode == 0, show.stderr
    assert "MONOCHROME1" in show.stdout and Image.open(png).size == (1841, 1955)


def test_each_conflict_is_named_with_its_reason(sqlite_settings: Settings, tmp_path: Path) -> None:
    first = make_image(seed=5)
    write(first, tmp_path / "a" / "one.dcm")
    assert runner.invoke(app, ["ingest", "--json", str(tmp_path / "a")]).exit_code == 0
    changed = make_image(seed=5)
    changed.SOPInstanceUID = first.SOPInstanceUID  # same instance, other bytes
    changed.file_meta.MediaStorageSOPInstanceUID = first.SOPInstanceUID
    changed.StudyInstanceUID, changed.SeriesInstanceUID = first.StudyInstanceUID, first.SeriesInstanceUID
    changed.AccessionNumber = "OTHER"
    other = write(changed, tmp_path / "b" / "two.dcm")
    result = runner.invoke(app, ["ingest", "--json", str(tmp_path / "b")])
    body = json.loads(result.stdout)
    assert body["conflicts"] == 1 and body["conflict_details"][0]["path"].endswith("two.dcm")
    reason = body["conflict_details"][0]["reason"]
    assert f"other content already stored as SOP Instance UID {first.SOPInstanceUID}" in reason
    human = runner.invoke(app, ["ingest", str(other)])
    assert f"conflict: {other}: other content already stored" in human.output
