"""``medvlm eval --real DIR``: gate acceptance, AUROC where labelled (with n), probabilities, inputs.

The folder is made here in the realfilm format (labels.csv + PNG): synthetic frontal films, the same film
labelled lateral, and a limb. ``../shared/realfilm`` itself is measured by the command, not in CI.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from medvlm.errors import NotFoundError
from medvlm.evaluation.real_films import evaluate_real, read_films
from medvlm.gate.samples import limb
from tests.medvlm.inference.dicom_files import chest_film

COLUMNS = ["id", "file", "view", "frontal", "lung_opacity", "edema", "no_finding", "intubation_present"]


def _png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    scaled = (255 * (image - image.min()) / max(float(np.ptp(image)), 1e-6)).astype(np.uint8)
    Image.fromarray(scaled).save(path)


@pytest.fixture(scope="module")
def real_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("realfilm")
    rows = []
    for i in range(6):
        _png(root / "images" / f"f{i}.png", chest_film(seed=20 + i, size=192).astype(np.float32))
        rows.append({"id": f"f{i}", "file": f"images/f{i}.png", "view": "PA" if i % 2 else "AP Supine",
                     "frontal": "1", "lung_opacity": str(i % 2), "edema": "" if i else "1", "no_finding": "",
                     "intubation_present": ["Y", "N", "Not visible", "", "Y", "N"][i]})
    _png(root / "images" / "lat.png", chest_film(seed=30, size=192).astype(np.float32))
    rows.append({"id": "lat", "file": "images/lat.png", "view": "L", "frontal": "0"})
    _png(root / "images" / "limb.png", limb(np.random.default_rng(1)))
    rows.append({"id": "limb", "file": "images/limb.png", "view": "PA", "frontal": "1"})
    with (root / "labels.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_real_film_metrics(real_dir: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    summary = evaluate_real(tiny_model_dir, real_dir, tmp_path / "out", progress=False)
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert m["real.n_films"] == 8 and m["real.n_frontal"] == 7 and m["real.n_lateral"] == 1
    assert m["real.accepted"] == 6  # the six films; not the limb, not the lateral
    assert m["real.gate_acceptance"] == round(6 / 7, 4) and m["real.lateral_drafted"] == 0
    assert (m["real.n_pos.lung_opacity"], m["real.n_neg.lung_opacity"]) == (3, 3)
    assert 0.0 <= m["real.auroc.lung_opacity"] <= 1.0
    lo, hi = m["real.auroc_ci.lung_opacity"]  # three against three: a wide interval around the estimate
    assert lo <= m["real.auroc.lung_opacity"] <= hi and hi - lo > 0.2
    assert "real.auroc.pulmonary_edema" not in m and m["real.n_pos.pulmonary_edema"] == 1  # one class only
    assert 0 <= m["real.share_drafted_normal"] <= 1
    called = {k.removeprefix("real.called."): v for k, v in m.items() if k.startswith("real.called.")}
    assert set(called) == {k.removeprefix("real.prob.").removesuffix(".p50") for k in m if k.endswith(".p50")}
    assert all(0 <= n <= m["real.accepted"] for n in called.values())
    # the films a finding is drafted on, by side: never more than the films it is drafted on
    for name, n in called.items():
        assert m[f"real.called_right.{name}"] + m[f"real.called_left.{name}"] <= n
    assert "drafted on the right / left" in summary
    assert f"drafted on (of {m['real.accepted']})" in summary
    # intubated (Y) vs not (N) films ranked by the support-device probability; "Not visible"/blank left out
    assert (m["real.n_pos.intubated"], m["real.n_neg.intubated"]) == (2, 2)
    assert 0.0 <= m["real.auroc.intubated"] <= 1.0
    assert m["real.prob.nodule.p10"] <= m["real.prob.nodule.p50"] <= m["real.prob.nodule.p90"]
    assert {"real.input.mean", "real.input.p10", "real.input.p90", "model_version"} <= set(m)
    html = (tmp_path / "out" / "report.html").read_text()
    assert "lung_opacity" in html and "weak labels" in html and "intubated" in html and "drafted on" in html
    assert "on the right" in html
    assert "frontal acceptance 0.8571" in summary and "lung_opacity" in summary and "[95 % " in summary


def test_real_films_by_view(real_dir: Path, tiny_model_dir: Path, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("medvlm.evaluation.real_groups.MIN_FILMS", 3)
    summary = evaluate_real(tiny_model_dir, real_dir, tmp_path / "out", progress=False)
    by = json.loads((tmp_path / "out" / "metrics.json").read_text())["real.by_group"]
    assert {value: s["films"] for value, s in by["view"].items()} == {"AP Supine": 3, "PA": 3}
    assert "by view (films, unfamiliar, drafted normal): AP Supine 3, " in summary
    assert "By view and source" in (tmp_path / "out" / "report.html").read_text()


def test_cli_eval_real_and_errors(real_dir: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    from medvlm.cli.main import app

    result = CliRunner().invoke(app, ["eval", "--real", str(real_dir), "--model", str(tiny_model_dir),
                                      "--out", str(tmp_path / "cli"), "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "cli" / "metrics.json").read_text())["real.n_films"] == 2
    with pytest.raises(NotFoundError, match="no folder"):
        read_films(tmp_path / "missing")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "labels.csv").write_text("id,file\nx,images/x.png\n")
    with pytest.raises(NotFoundError, match="missing file"):
        read_films(broken)


def test_input_statistics_leave_the_square_padding_out() -> None:
    """A landscape film padded to a square: its black bands would put p10 at 0.0."""
    from medvlm.evaluation.real_films import _film_pixels

    film = np.zeros((1, 8, 8), dtype=np.float32)
    film[0, 2:6, :] = np.linspace(0.2, 0.9, 32).reshape(4, 8)  # rows 0-1 and 6-7 are padding
    pixels = _film_pixels([film])
    assert pixels.size == 32 and float(np.percentile(pixels, 10)) > 0.2
    assert _film_pixels([]).size == 1  # no accepted film: a placeholder, as before
