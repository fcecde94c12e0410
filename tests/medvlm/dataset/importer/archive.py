"""A small made-up hospital archive on disk (films + CSV, HL7, SR reports) for the import tests."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom

from medvlm.synth.hospital import FakeStudy, basic_text_sr, csv_row, film, oru_message, save

KEY = b"import-test-key-0123456789"
# Every identity string the archive contains: none may survive the import.
PHI = ("Dupont", "Marie", "MRN-", "ACC-", "Moreau", "Claire", "Okafor", "Daniel", "Lindqvist", "Elsewhere",
       "19520314", "2021-03", "202103")


def fake_study(i: int, patient: int | None = None) -> FakeStudy:
    p = i if patient is None else patient
    return FakeStudy(f"study{i}", f"MRN-{7000 + p}", f"Dupont^Marie{'abcdefghijklmnop'[p % 16]}",
                     f"ACC-{9000 + i}", dt.date(2021, 3, 1 + i))


def pixels(seed: int, size: int = 64) -> np.ndarray:
    """A CT-grounded synthetic chest film (``medvlm.synth``), so the intended-use gate's image check
    accepts it as the chest radiograph it stands for (random noise is refused, rightly)."""
    from medvlm.synth.compose import render_film

    return render_film([], seed=seed, size=size).pixels.astype(np.uint16)


def write_archive(root: Path, image: Callable[[int], np.ndarray] = pixels) -> list[FakeStudy]:
    """Studies 0-9 (patients 0-4, two studies each); reports: 0-3 CSV (accession), 4-5 HL7 (one with the
    study UID), 6-7 SR in the DICOM folder, 8 patient + date only (JSONL); study 9 has none. Study 1 also
    has a lateral; study 10 is a CT with a report, study 11 a lateral only with a report."""
    studies = [fake_study(i, patient=i // 2) for i in range(10)]
    for s in studies:
        save(film(s, image(int(s.key[5:]))), root / "dicom" / s.key / "pa.dcm")
    save(film(studies[1], image(100), "LL"), root / "dicom" / "study1" / "lat.dcm")
    ct, lateral = fake_study(10), fake_study(11)
    save(film(ct, image(10), "", modality="CT"), root / "dicom" / "ct" / "ct.dcm")
    save(film(lateral, image(11), "LL"), root / "dicom" / "lat" / "lat.dcm")
    texts = {0: ("Small left pleural effusion.", "Possible pneumonia in the right lower lobe."),
             1: ("The heart is enlarged.", "Cardiomegaly."),
             2: ("Heart size is normal. Lungs are clear.", "No acute cardiopulmonary abnormality."),
             3: ("Right apical pneumothorax.", "Pneumothorax."),
             4: ("There is a large right pleural effusion.", "Effusion."),
             5: ("Lungs are clear.", "Normal chest."),
             6: ("Cardiomegaly.", "Enlarged heart."),
             7: ("Lungs are clear.", "Normal."),
             8: ("Possible left lower lobe atelectasis.", "Cannot exclude pneumonia."),
             10: ("Normal.", "Normal."), 11: ("Normal.", "Normal.")}
    reports = root / "reports"
    reports.mkdir()
    rows = [csv_row(studies[i], *texts[i]) for i in range(4)] + [csv_row(ct, *texts[10]),
                                                                  csv_row(lateral, *texts[11])]
    with (reports / "ris.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (reports / "r4.hl7").write_text(oru_message(studies[4], *texts[4]))
    (reports / "r5.hl7").write_text(oru_message(studies[5], *texts[5], with_study_uid=True))
    for i in (6, 7):
        save(basic_text_sr(studies[i], *texts[i]), root / "dicom" / studies[i].key / "report.dcm")
    import json

    row = csv_row(studies[8], *texts[8])
    row.pop("accession_number")
    (reports / "dates.jsonl").write_text(json.dumps(row) + "\n")
    return studies


def output_text(path: Path) -> str:
    """Every text an output file carries: JSON and Markdown as they are, DICOM elements other than pixels."""
    if path.suffix != ".dcm":
        return path.read_text()
    ds = pydicom.dcmread(path)
    out: list[str] = []
    ds.walk(lambda _ds, elem: out.append(str(elem.value)) if elem.keyword != "PixelData" else None)
    return "\n".join(out + [str(v.value) for v in ds.file_meta])
