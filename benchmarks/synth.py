"""Synthetic film throughput: films per second at 512x512 (target >= 10 on 2 cores), by stage.

Run: .venv/bin/python benchmarks/synth.py [--n 100] [--size 512] [--data-dir DIR]
Films are drawn with sampled acquisitions (PA / AP / AP supine; scatter, dose noise, processing,
shutters, markers) and written as taken (CR/DX, MONOCHROME1/2, 10-16 bits). Prints wall-clock and CPU
rates (the CPU rate is what a 2-core machine sustains with one process per core when nothing else runs)
and the one-off atlas cost. Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from medvlm.findings import Finding, Laterality
from medvlm.synth.atlas import atlas_path, load_atlas
from medvlm.synth.compose import render_film
from medvlm.synth.dicom_writer import StudyIdentity, write_dicom

MIX = [
    [],
    [Finding("cardiomegaly", severity="moderate")],
    [Finding("pleural_effusion", laterality=Laterality.LEFT, severity="moderate")],
    [Finding("pneumothorax", laterality=Laterality.RIGHT, severity="small")],
    [Finding("consolidation", laterality=Laterality.RIGHT, location="lower lobe")],
    [
        Finding("nodule", laterality=Laterality.LEFT),
        Finding("calcified_granuloma", laterality=Laterality.RIGHT),
    ],
    [Finding("pulmonary_edema", severity="mild"), Finding("support_device", location="central line")],
    [Finding("atelectasis", laterality=Laterality.BILATERAL, location="base"), Finding("hyperinflation")],
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="where the atlas is cached (default: settings)"
    )
    args = parser.parse_args()

    cached = atlas_path(args.data_dir).is_file()
    t0, c0 = time.perf_counter(), time.process_time()
    atlas = load_atlas(args.data_dir)
    print(
        f"atlas: {'loaded from cache' if cached else 'built'} in {time.perf_counter() - t0:.1f} s wall, "
        f"{time.process_time() - c0:.1f} s CPU ({atlas_path(args.data_dir)})"
    )

    render_wall = render_cpu = write_wall = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.n):
            t, c = time.perf_counter(), time.process_time()
            film = render_film(MIX[i % len(MIX)], seed=i, size=args.size, atlas=atlas)
            render_wall += time.perf_counter() - t
            render_cpu += time.process_time() - c
            t = time.perf_counter()
            who = StudyIdentity.synthetic(f"bench-{i}", np.random.default_rng(i))
            write_dicom(Path(tmp) / f"{i}.dcm", film.pixels, film.pixel_spacing_mm, who, film.acquisition)
            write_wall += time.perf_counter() - t
    n = args.n
    total = render_wall + write_wall
    print(f"films: {n} at {args.size}x{args.size}, mix of {len(MIX)} finding sets")
    print(
        f"render:      {1000 * render_wall / n:6.1f} ms/film wall, {1000 * render_cpu / n:6.1f} ms/film CPU"
    )
    print(f"DICOM write:    {1000 * write_wall / n:6.1f} ms/film wall")
    print(f"throughput:     {n / total:6.1f} films/s wall, one process")
    print(
        f"CPU-bound rate: {n / (render_cpu + write_wall):6.1f} films/s per core "
        f"(x2 cores = {2 * n / (render_cpu + write_wall):.1f}); target 10 films/s on 2 cores"
    )
    print(f"ratio to target (one process, wall): {n / total / 10:.2f}x")


if __name__ == "__main__":
    main()
