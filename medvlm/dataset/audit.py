"""``medvlm data audit DIR``: what a built dataset teaches, before any model is trained on it.

Five checks, written to ``OUT/audit.json`` and ``OUT/contact_sheet.png`` and printed as a table:
- a pixel-level linear probe per finding (``pixel_probe.py``): test and cross-patient test AUROC;
- exact-duplicate report text between splits (``text_overlap.py``);
- films per split and CT patient (the held-out patient must appear in ``test_cross_patient`` only);
- a contact sheet of synthetic films next to real films (``--real``), as the model sees them;
- the mean model input in four zones of a frontal film (lung fields, mediastinum, right base) over synthetic
  films and, with ``--real``, real ones: the normalisation matches whole-film histograms, not where the
  lungs sit on the scale (``medvlm.imaging.input_stats.ZONES``).
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
ZONE_FILMS = 150  # films per set for the zone means: a spread sample


@dataclass
class AuditResult:
    out: Path
    probe: dict[str, Any] = field(default_factory=dict)
    overlap: dict[str, Any] = field(default_factory=dict)
    patients: dict[str, dict[str, int]] = field(default_factory=dict)
    real_films: int = 0
    zones: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"probe_auroc": self.probe, "text_overlap": self.overlap, "films_per_split_and_ct_patient":
                self.patients, "real_films_on_sheet": self.real_films, "input_zone_means": self.zones}

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
        if self.zones:
            names = next(iter(self.zones.values()))
            out.append("model input zone means (" + " / ".join(names) + "):")
            for kind, zones in self.zones.items():
                out.append(f"  {kind:10s} " + " ".join(f"{v:.3f}" for v in zones.values()))
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


def _spread(items: list, count: int) -> list:
    return items[:: max(len(items) // count, 1)][:count]


def _real_films(real: Path) -> list[Any]:
    """The folder's films (PNG as an 8-bit CR, or DICOM); frontal ones when labelled."""
    from medvlm.evaluation.real_films import read_films

    films = [f for f in read_films(real) if f.frontal is not False]
    if not films:
        raise DatasetError(f"--real {real}: no PNG or DICOM films")
    return films


def _read_real(film: Any, read: Any) -> np.ndarray:
    from medvlm.evaluation.real_films import _dataset

    try:
        return read(_dataset(film))
    except MedVLMError as exc:
        raise DatasetError(f"--real: {film.path}: cannot read the film ({exc})") from None


def _unpadded(source: Any) -> np.ndarray:
    from medvlm.imaging.input_stats import film_input

    return film_input(source, INPUT_SIZE, "model")


def _zone_means(inputs: list[np.ndarray]) -> dict[str, float]:
    """Mean model input per zone over unpadded films, rounded for audit.json."""
    from medvlm.imaging.input_stats import average_zones, zone_means

    return {z: round(v, 4) for z, v in average_zones([zone_means(x) for x in inputs]).items()}


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
    result.zones["synthetic"] = _zone_means([_unpadded(r.files[0]) for r in _spread(records, ZONE_FILMS)])
    real_rows = []
    if real is not None:
        films = _real_films(Path(real))
        real_rows = [(f"real {film.view or '?'}: {film.name}", _read_real(film, _input))
                     for film in _spread(films, SHEET_FILMS)]
        zone_films = _spread(films, ZONE_FILMS)
        result.zones["real"] = _zone_means([_read_real(film, _unpadded) for film in zone_films])
    result.real_films = len(real_rows)
    result.out.mkdir(parents=True, exist_ok=True)
    audit_sheet(synthetic, real_rows, result.out / "contact_sheet.png")
    (result.out / "audit.json").write_text(json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n")
    return result
