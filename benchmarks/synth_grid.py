"""Contact sheet of synthetic films for checking by eye (normals, each finding by severity, devices).

Run: PYTHONPATH=. .venv/bin/python benchmarks/synth_grid.py OUT_DIR [--data-dir DIR] [--size 256]
Writes normals.png, findings.png and devices.png (each film labelled in its file's row order).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from medvlm.findings import Finding, Laterality, Presence
from medvlm.synth.atlas import load_atlas
from medvlm.synth.compose import render_film
from medvlm.synth.devices import DEVICES

L, R = Laterality.LEFT, Laterality.RIGHT
FINDINGS = [
    Finding("cardiomegaly", severity="borderline"),
    Finding("cardiomegaly", severity="moderate"),
    Finding("cardiomegaly", severity="severe"),
    Finding("pleural_effusion", Presence.UNCERTAIN, L),
    Finding("pleural_effusion", laterality=L, severity="small"),
    Finding("pleural_effusion", laterality=R, severity="moderate"),
    Finding("pleural_effusion", laterality=Laterality.BILATERAL, severity="large"),
    Finding("pneumothorax", laterality=R, severity="small"),
    Finding("pneumothorax", laterality=L, severity="large"),
    Finding("consolidation", laterality=R, location="lower lobe", severity="mild"),
    Finding("consolidation", laterality=L, location="upper lobe", severity="severe"),
    Finding("lung_opacity", Presence.UNCERTAIN, R, location="base"),
    Finding("lung_opacity", laterality=L, severity="moderate"),
    Finding("atelectasis", laterality=L, location="base", severity="mild"),
    Finding("atelectasis", laterality=R, location="lower lobe", severity="severe"),
    Finding("pulmonary_edema", severity="mild"),
    Finding("pulmonary_edema", severity="severe"),
    Finding("nodule", laterality=R, severity="small"),
    Finding("nodule", laterality=L),
    Finding("mass", laterality=R, severity="large"),
    Finding("calcified_granuloma", laterality=L),
    Finding("hyperinflation", severity="mild"),
    Finding("hyperinflation", severity="severe"),
]


def tile(films: list[tuple[str, np.ndarray]], cols: int) -> Image.Image:
    size = films[0][1].shape[0]
    rows = -(-len(films) // cols)
    sheet = Image.new("L", (cols * size, rows * size))
    for i, (name, px) in enumerate(films):
        im = Image.fromarray((px / 16).astype(np.uint8))
        ImageDraw.Draw(im).text((3, 3), name[:40], fill=255)
        sheet.paste(im, ((i % cols) * size, (i // cols) * size))
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    atlas = load_atlas(args.data_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    normals = []
    for s in range(12):
        film = render_film([], seed=s, size=args.size, atlas=atlas)
        normals.append((f"normal s{s} ctr {film.ctr:.2f}", film.pixels))
    tile(normals, 6).save(args.out / "normals.png")
    found = []
    for i, f in enumerate(FINDINGS):
        film = render_film([f], seed=100 + i, size=args.size, atlas=atlas)
        tag = "?" if f.presence == Presence.UNCERTAIN else ""
        found.append((f"{tag}{f.label[:12]} {f.severity or ''} {f.laterality or ''}", film.pixels))
    tile(found, 6).save(args.out / "findings.png")
    dev = []
    for i, kind in enumerate(DEVICES):
        for s in range(4):
            film = render_film(
                [Finding("support_device", location=kind)], seed=200 + 4 * i + s, size=args.size, atlas=atlas
            )
            variant = film.details[0].get("variant", "")
            dev.append((f"{kind} {variant}", film.pixels))
    tile(dev, 7).save(args.out / "devices.png")


if __name__ == "__main__":
    main()
