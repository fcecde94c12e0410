"""``medvlm data audit DIR``: what a built dataset teaches, before any model is trained on it.

Four checks, written to ``OUT/audit.json`` and ``OUT/contact_sheet.png`` and printed as a table:
- a pixel-level linear probe per finding (``pixel_probe.py``): test and cross-patient test AUROC;
- exact-duplicate report text between splits (``text_overlap.py``);
- films per split and CT patient (the held-out patient must appear in ``test_cross_patient`` only);
- a contact sheet of synthetic films next to real films (``--real``), as the model sees them.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medvlm.dataset.errors import DatasetError
from medvlm.dataset.manifest import ManifestRecord, read_manifest
from medvlm.dataset.pixel_probe import INPUT_SIZE, FilmFeatures, film_features, labels_of, probe_aurocs
from medvlm.dataset.text_overlap import normalise_text, split_overlap
from medvlm.errors import MedVLMError

SHEET_FILMS = 12


@dataclass
class AuditResult:
    out: Path
    probe: dict[str, Any] = field(default_factory=dict)
    overlap: dict[str, Any] = field(default_factory=dict)
    patients: dict[str, dict[str, int]] = field(default_factory=dict)
    real_films: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"probe_auroc": self.probe, "text_overlap": self.overlap, "films_per_split_and_ct_patient":
                self.patients, "real_films_on_sheet": self.real_films}

    def lines(self) -> list[str]:
        out = ["films per split and CT patient:"]
        out += [f"  {split:20s} " + ", ".join(f"{p} {n}" for p, n in sorted(c.items()))
                for split, c in sorted(self.patients.items())]
        out.append("exact-duplicate text between splits (shared distinct texts):")
        out += [f"  {pair:32s} {c['shared_texts']}" for pair, c in self.overlap.items()]
        for variant, rows in self.probe.items():
            splits = sorted({k for r in rows.values() for k in r if not k.startswith("n_pos")})
            out.append(f"linear probe on {variant}: test AUROC per finding (positives in train)")
            out.append(f"  {'finding':22s} {'train+':>6s} " + " ".join(f"{s:>18s}" for s in splits))
            for name, r in sorted(rows.items()):
                cells = " ".join(f"{'-' if r.get(s) is None else format(r[s], '.3f'):>18s}" for s in splits)
                out.append(f"  {name:22s} {r['n_pos_train']:6d} {cells}")
        out.append(f"wrote {self.out / 'audit.json'} and {self.out / 'contact_sheet.png'}")
        return out


def _input(source: Any) -> np.ndarray:
    from medvlm.imaging.transforms import model_input

    return model_input(source, INPUT_SIZE)[0].numpy()


def _bar(items: list, desc: str, enabled: bool) -> Any:
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="film")


def _real_inputs(real: Path, count: int) -> list[tuple[str, np.ndarray]]:
    """Real films (PNG as an 8-bit CR, or DICOM) through the model input; frontal ones when labelled."""
    from medvlm.evaluation.real_films import _dataset, read_films

    films = [f for f in read_films(real) if f.frontal is not False]
    if not films:
        raise DatasetError(f"--real {real}: no PNG or DICOM films")
    step = max(len(films) // count, 1)
    out = []
    for film in films[::step][:count]:
        try:
            out.append((f"real {film.view or '?'}: {film.name}", _input(_dataset(film))))
        except MedVLMError as exc:
            raise DatasetError(f"--real: {film.path}: cannot read the film ({exc})") from None
    return out


def audit_dataset(directory: Path, out: Path | None = None, real: Path | None = None,
                  progress: bool = True) -> AuditResult:
    records = read_manifest(directory)
    by_split: dict[str, list[ManifestRecord]] = {}
    for r in records:
        by_split.setdefault(r.split, []).append(r)
    if "train" not in by_split or not ({"test", "test_cross_patient"} & set(by_split)):
        raise DatasetError(f"{directory}: the audit needs a train split and a test split, has "
                           f"{', '.join(sorted(by_split)) or 'none'}")
    if real is not None and not Path(real).is_dir():
        raise DatasetError(f"--real {real}: no such folder")
    result = AuditResult(out=Path(out) if out else Path(directory) / "audit")
    counts: dict[str, Counter] = {}
    for r in records:
        counts.setdefault(r.split, Counter())[str(r.provenance.get("ct_patient") or "unrecorded")] += 1
    result.patients = {s: dict(c) for s, c in counts.items()}
    result.overlap = split_overlap((r.split, normalise_text(r.findings_text, r.impression)) for r in records)
    features: dict[str, list[FilmFeatures]] = {}
    images: dict[str, np.ndarray] = {}
    for split, rows in sorted(by_split.items()):
        features[split] = []
        for r in _bar(rows, f"reading {split}", progress):
            try:
                image = _input(r.files[0])
            except MedVLMError as exc:
                raise DatasetError(f"{r.files[0]}: cannot read the film ({exc})") from None
            images[r.study_id] = image
            features[split].append(film_features(image))
    labels = {s: [labels_of(r) for r in rows] for s, rows in by_split.items()}
    names = sorted({n for ls in labels["train"] for n in ls})
    result.probe = probe_aurocs(features, labels, names)
    from medvlm.dataset.audit_sheet import audit_sheet, pick_synthetic

    synthetic = [(r, images[r.study_id]) for r in pick_synthetic(records, SHEET_FILMS)]
    real_rows = _real_inputs(Path(real), SHEET_FILMS) if real is not None else []
    result.real_films = len(real_rows)
    result.out.mkdir(parents=True, exist_ok=True)
    audit_sheet(synthetic, real_rows, result.out / "contact_sheet.png")
    (result.out / "audit.json").write_text(json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n")
    return result
