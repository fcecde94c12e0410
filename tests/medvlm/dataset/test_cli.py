"""``medvlm data build`` and ``medvlm data show`` from the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from medvlm.cli.main import app
from medvlm.dataset.errors import DatasetError
from medvlm.dataset.manifest import read_manifest
from medvlm.settings import get_settings


@pytest.fixture
def data_dir(atlas, atlas_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MEDVLM_DATA_DIR", str(atlas_dir))  # reuse the session's atlas
    get_settings.cache_clear()
    yield atlas_dir
    get_settings.cache_clear()


def test_build_then_show(data_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "ds"
    result = runner.invoke(
        app,
        [
            "data",
            "build",
            "--out",
            str(out),
            "--n",
            "6",
            "--seed",
            "3",
            "--reports",
            "mixed",
            "--size",
            "128",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "wrote 6 studies" in result.output and "films/s" in result.output
    assert len(read_manifest(out)) == 6
    png = tmp_path / "sheet.png"
    result = runner.invoke(app, ["data", "show", str(out), "--png", str(png), "--count", "6"])
    assert result.exit_code == 0, result.output
    with Image.open(png) as img:
        assert img.format == "PNG" and img.size[0] == 4 * 256 and img.size[1] > 2 * 256
        first_tile = np.asarray(img.convert("L").crop((0, 0, 256, 256)), dtype=np.float32)
    assert first_tile.std() > 10, "the first tile shows no film"
    broken = read_manifest(out)[0].files[0]
    broken.chmod(0o644)
    broken.write_bytes(b"not a DICOM file")
    result = runner.invoke(app, ["data", "show", str(out), "--png", str(png), "--count", "6"])
    # In-process the error object comes back as is; `medvlm` (main.run) prints it as one line.
    assert isinstance(result.exception, DatasetError)
    assert str(result.exception).startswith(f"{broken}: cannot read DICOM pixels (not a DICOM file")


def test_build_passes_workers_min_positives_and_train_renders(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medvlm.dataset import builder

    seen: dict = {}
    real = builder.build_dataset

    def spy(*args, **kwargs):  # the real build; only the keyword arguments are recorded
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(builder, "build_dataset", spy)
    out = tmp_path / "ds"
    argv = ["data", "build", "--out", str(out), "--n", "12", "--reports", "iu", "--size", "64"]
    argv += ["--workers", "2", "--min-positives", "5", "--train-renders", "2", "--no-progress"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert seen["workers"] == 2 and seen["min_positives"] == 5 and seen["train_renders"] == 2
    assert "extra train films for rare findings:" in result.output
    assert "extra train films, each train report rendered again" in result.output
    assert len(read_manifest(out)) > 12


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "build", "--out", "{tmp}/x", "--n", "2", "--reports", "nope"], "--reports must be"),
        (["data", "show", "{tmp}/empty", "--png", "{tmp}/s.png"], "no manifest.jsonl"),
    ],
)
def test_errors_print_one_line_and_exit_1(
    data_dir: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "empty").mkdir()
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = subprocess.run(
        [sys.executable, "-m", "medvlm", *argv], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
