"""A contact sheet of synthetic films (mixed projections) beside real films, for looking at them.

Run: .venv/bin/python benchmarks/contact_sheet.py --out /tmp/sheet.png [--data-dir DIR]
The real films come from ../shared/realfilm (internal evaluation only: the sheet must stay outside the
repository) and from the pydicom-data wheel's RG1_UNCI. Synthetic films go through the DICOM writer and
back through medvlm.dicom.pixels.display_frame, so the sheet shows what the model would see.
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image

from medvlm.dicom.pixels import display_frame
from medvlm.findings import Finding, Laterality
from medvlm.synth.acquisition import Acquisition
from medvlm.synth.atlas import load_atlas
from medvlm.synth.compose import render_film
from medvlm.synth.dicom_writer import StudyIdentity, default_window, film_dataset

REALFILM = Path(__file__).resolve().parents[1] / ".." / "shared" / "realfilm"
TILE = 256
FINDINGS = [
    [],
    [Finding("cardiomegaly", severity="moderate")],
    [Finding("pleural_effusion", laterality=Laterality.LEFT, severity="moderate")],
    [Finding("consolidation", laterality=Laterality.RIGHT, location="lower lobe")],
    [Finding("support_device", location="endotracheal tube")],
    [Finding("nodule", laterality=Laterality.LEFT)],
]


def _tile(img: np.ndarray, label: str) -> Image.Image:
    from PIL import ImageDraw

    im = Image.fromarray(np.clip(img * 255, 0, 255).astype(np.uint8))
    im.thumbnail((TILE, TILE))
    canvas = Image.new("L", (TILE, TILE + 14), 40)
    canvas.paste(im, ((TILE - im.width) // 2, 14 + (TILE - im.height) // 2))
    ImageDraw.Draw(canvas).text((2, 1), label, fill=255)
    return canvas


def _real(n: int) -> list[tuple[np.ndarray, str]]:
    with open(REALFILM / "labels.csv") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for view in ("PA", "AP", "AP Supine", "PA", "AP", "L")[:n]:
        row = next(r for r in rows if r["view"] == view and r not in [o[2] for o in out])
        img = np.asarray(Image.open(REALFILM / "images" / row["file"].split("/")[-1]).convert("L")) / 255.0
        out.append((img, f"real {view} {row['source'][:6]}", row))
    return [(a, b) for a, b, _ in out]


def _rg1() -> tuple[np.ndarray, str]:
    from pydicom.data import get_testdata_file

    ds = pydicom.dcmread(get_testdata_file("RG1_UNCI.dcm"))
    return display_frame(ds), "real RG1_UNCI CR"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--n", type=int, default=12)
    args = parser.parse_args()
    atlas = load_atlas(args.data_dir)
    tiles = []
    for i in range(args.n):
        kind = ("PA", "AP", "AP_SUPINE")[i % 3]
        acq = Acquisition.sample(np.random.default_rng(100 + i), kind)
        film = render_film(FINDINGS[i % len(FINDINGS)], seed=100 + i, size=512, atlas=atlas, acquisition=acq)
        who = StudyIdentity.synthetic(f"sheet-{i}", np.random.default_rng(i))
        buf = io.BytesIO()
        window = default_window(film.pixels)
        ds = film_dataset(film.pixels, film.pixel_spacing_mm, who, window, film.acquisition)
        ds.save_as(buf, enforce_file_format=True)
        ds = pydicom.dcmread(io.BytesIO(buf.getvalue()))
        a = film.acquisition
        label = f"syn {a.projection} {a.modality} M{ds.PhotometricInterpretation[-1]} {a.bits_stored}b"
        tiles.append(_tile(display_frame(ds), label))
    tiles += [_tile(img, label) for img, label in [*_real(5), _rg1()]]
    cols = 6
    rows = (len(tiles) + cols - 1) // cols
    sheet = Image.new("L", (cols * TILE, rows * (TILE + 14)), 0)
    for k, t in enumerate(tiles):
        sheet.paste(t, ((k % cols) * TILE, (k // cols) * (TILE + 14)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"wrote {args.out} ({len(tiles)} tiles)")


if __name__ == "__main__":
    main()
