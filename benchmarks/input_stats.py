"""Model-input statistics: synthetic films vs real films vs RG1, before and after the robust normalisation.

Run: PYTHONPATH=. .venv/bin/python benchmarks/input_stats.py --synthetic DATASET_DIR
     [--real ../shared/realfilm] [--limit 200] [--size 256]
``display`` is Modality LUT + VOI + MONOCHROME1 alone (the old model input), ``model`` the input in use.
Real PNG films are first written as CR DICOM (8-bit MONOCHROME2), as a site would send them. Prints a
table (whole-film statistics, then the mean of four zones: right and left lung fields, mediastinum, right
base) and the gap of each real set to the synthetic set; asserts nothing. ``--frontal-only`` keeps the
realfilm set to frontal films (zones mean nothing on a lateral).
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

from medvlm.dataset.manifest import read_manifest
from medvlm.evaluation.real_films import read_films
from medvlm.imaging.input_stats import SetStats, pngs_as_cr, rg1_files, set_stats

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--synthetic", type=Path, required=True, help="A dataset built by medvlm data build.")
    parser.add_argument("--real", type=Path, default=REPO.parent / "shared" / "realfilm")
    parser.add_argument("--limit", type=int, default=200, help="Films per set (a seeded sample).")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frontal-only", action="store_true",
                        help="Keep the realfilm films its labels.csv marks frontal.")
    args = parser.parse_args()
    rng = random.Random(0)
    synthetic = [r.files[0] for r in read_manifest(args.synthetic)]
    sets = {"synthetic": rng.sample(synthetic, min(args.limit, len(synthetic)))}
    pngs = sorted((args.real / "images").glob("*.png")) if args.real.is_dir() else []
    if pngs and args.frontal_only:  # the labels.csv reading `medvlm eval --real` uses
        frontal = {film.path for film in read_films(args.real) if film.frontal}
        pngs = [p for p in pngs if p in frontal]
    if pngs:
        sample = rng.sample(pngs, min(args.limit, len(pngs)))
        sets["realfilm"] = pngs_as_cr(sample, Path(tempfile.mkdtemp(prefix="realfilm-cr-")))
    else:
        print(f"no PNG films under {args.real}/images: realfilm row left out")
    sets["RG1 (pydicom-data)"] = rg1_files()
    rows: dict[tuple[str, str], SetStats] = {}
    for pipeline in ("display", "model"):
        for name, paths in sets.items():
            rows[name, pipeline] = set_stats(name, paths, args.size, pipeline)
            print(rows[name, pipeline].row(), flush=True)
    for pipeline in ("display", "model"):
        base = rows["synthetic", pipeline]
        for name in sets:
            if name != "synthetic":
                r = rows[name, pipeline]
                zones = "  ".join(f"{z} {r.zones[z] - base.zones[z]:+.3f}" for z in r.zones)
                print(f"{pipeline:8s} {name:18s} - synthetic: mean {r.mean - base.mean:+.3f}  "
                      f"p10 {r.p10 - base.p10:+.3f}  p90 {r.p90 - base.p90:+.3f}  | {zones}")


if __name__ == "__main__":
    main()
