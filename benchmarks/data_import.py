"""Import throughput and memory: ``medvlm data import`` on a generated archive of N studies.

    .venv/bin/python benchmarks/data_import.py [--studies 10000] [--size 128] [--keep DIR]

Generates N synthetic chest studies (one DX film each, SIZE px, a made-up identity: ``medvlm.synth.
hospital``), their reports split over a CSV export (80%), HL7 ORU^R01 files (10%) and Basic Text SR
documents in the study folder (10%), and one study in 20 with a report whose accession is missing (paired
by patient + date). Then one ``import_dataset`` (scan, pair, de-identify, label, split, write) in this
process. Prints studies/s of the import, the peak RSS of the process (generation included) and the
imported counts. All data synthetic; nothing is asserted about time.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FINDINGS = [("Heart size is normal. Lungs are clear.", "No acute cardiopulmonary abnormality."),
            ("Small left pleural effusion.", "Possible left lower lobe pneumonia."),
            ("The heart is enlarged.", "Cardiomegaly."),
            ("Right apical pneumothorax.", "Small right pneumothorax."),
            ("Streaky opacity at the right base.", "Likely atelectasis.")]


def generate(root: Path, n: int, size: int) -> None:
    import numpy as np

    from medvlm.synth.hospital import FakeStudy, basic_text_sr, csv_row, film, oru_message, save

    rng = np.random.default_rng(0)
    base = (rng.random((size, size)) * 4000).astype(np.uint16)
    (root / "reports" / "hl7").mkdir(parents=True)
    rows = []
    for i in range(n):
        study = FakeStudy(f"bench{i}", f"MRN-{i // 3:07d}", f"Doe^Pat{i // 3}", f"ACC-{i:08d}",
                          dt.date(2015, 1, 1) + dt.timedelta(days=i % 3000))
        save(film(study, base), root / "dicom" / f"{i // 1000:03d}" / f"{i}.dcm")
        text = FINDINGS[i % len(FINDINGS)]
        if i % 10 == 1:
            (root / "reports" / "hl7" / f"{i}.hl7").write_text(oru_message(study, *text))
        elif i % 10 == 2:
            save(basic_text_sr(study, *text), root / "dicom" / f"{i // 1000:03d}" / f"{i}.sr.dcm")
        else:
            row = csv_row(study, *text)
            if i % 20 == 0:
                row["accession_number"] = ""  # paired by patient + date
            rows.append(row)
    with (root / "reports" / "ris.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=128, help="film size in pixels (square)")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = parser.parse_args()
    from medvlm.compliance.deid import DeidOptions
    from medvlm.dataset.importer import import_dataset

    root = args.keep or Path(tempfile.mkdtemp(prefix="medvlm-import-bench-"))
    try:
        start = time.perf_counter()
        generate(root / "archive", args.studies, args.size)
        generated = time.perf_counter() - start
        print(f"generated {args.studies} synthetic studies + reports in {generated:.1f} s")
        start = time.perf_counter()
        summary = import_dataset(root / "data", [root / "archive" / "dicom"], [root / "archive" / "reports"],
                                 b"benchmark-key-0123456789", options=DeidOptions(), progress=False)
        seconds = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"imported {summary.imported} of {args.studies} synthetic studies in {seconds:.1f} s: "
              f"{summary.imported / seconds:.1f} studies/s; peak RSS {peak_mb:.0f} MB; "
              f"splits {summary.splits}; not imported {len(summary.refused)}")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
