"""``medvlm eval --real DIR``: the model and the intended-use gate on a folder of real films.

DIR holds PNG or DICOM films, optionally with a ``labels.csv`` in the ``../shared/realfilm`` format (``file``,
``view``, ``frontal``, the ontology columns with 1 / 0 / blank = unknown). A PNG is read as what such a
site would send: a CR film (MONOCHROME2, chest) with ViewPosition from ``view``, through the same
preprocessing as every DICOM film. What is measured: gate acceptance of the frontal films (and what
happens to laterals), per-finding AUROC where a label has both classes (with n), the share of accepted
films the model calls normal, the probability distribution of every finding, and the model's input
statistics. Real films carry weak labels: the AUROCs say how the model ranks them, not its accuracy.
"""

from __future__ import annotations

import csv
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medvlm.errors import NotFoundError
from medvlm.evaluation.classification import auroc, auroc_interval, interval_text
from medvlm.evaluation.real_groups import by_group, film_groups, group_lines

IMAGE_SUFFIXES = {".png", ".dcm", ""}
LABEL_ALIASES = {"edema": "pulmonary_edema"}
# Labels that are not findings, scored by the finding that should rank them: an intubated film (the
# realfilm ``intubation_present`` Y / N field) by the support-device probability.
PROXIES = {"intubated": "support_device"}
INTUBATION = {"Y": 1, "N": 0}  # "Not visible" and blank say nothing
VIEW_POSITION = {"PA": "PA", "AP": "AP", "AP SUPINE": "AP", "L": "LL", "LATERAL": "LL"}


@dataclass
class Film:
    name: str
    path: Path
    view: str = ""  # the labels' view, as ViewPosition; "" when unknown
    frontal: bool | None = None  # from the labels; None when not stated
    labels: dict[str, int] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)  # view as written, source (``real_groups``)


def read_films(real_dir: Path) -> list[Film]:
    real_dir = Path(real_dir)
    if not real_dir.is_dir():
        raise NotFoundError(f"no folder {real_dir}")
    labels_csv = real_dir / "labels.csv"
    if not labels_csv.is_file():
        files = sorted(p for p in real_dir.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                       and not p.name.startswith("."))
        return [Film(p.name, p) for p in files]
    films = []
    with labels_csv.open(newline="") as fh:
        for row in csv.DictReader(fh):
            path = real_dir / (row.get("file") or "")
            if not row.get("file") or not path.is_file():
                raise NotFoundError(f"{labels_csv}: row {row.get('id') or '?'} names a missing file {path}")
            view = VIEW_POSITION.get((row.get("view") or "").strip().upper(), "")
            frontal = {"1": True, "0": False}.get((row.get("frontal") or "").strip())
            labels = {}
            for key, value in row.items():
                name = LABEL_ALIASES.get(key, key)
                if value in ("0", "1") and key not in ("frontal", "split_bucket"):
                    labels[name] = int(value)
            intubated = INTUBATION.get((row.get("intubation_present") or "").strip().upper())
            if intubated is not None:
                labels["intubated"] = intubated
            films.append(Film(row.get("id") or path.stem, path, view, frontal, labels, film_groups(row)))
    return films


def _png_dataset(path: Path, view: str) -> Any:
    """A PNG film as the in-memory CR dataset a site would send (8-bit MONOCHROME2, chest, ``view``)."""
    from PIL import Image
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    pixels = np.asarray(Image.open(path).convert("L"), dtype=np.uint8)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1"  # CR Image Storage
    ds.SOPInstanceUID = generate_uid()
    ds.Modality, ds.BodyPartExamined, ds.ViewPosition = "CR", "CHEST", view
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = pixels.tobytes()
    ds.filename = str(path)
    return ds


def _dataset(film: Film) -> Any:
    if film.path.suffix.lower() == ".png":
        return _png_dataset(film.path, film.view)
    from medvlm.dicom.pixels import read_dataset

    return read_dataset(film.path)


def gate_films(
    films: list[Film], size: int, progress: bool = False
) -> tuple[list[str], list[tuple[Film, Any]]]:
    """The intended-use gate's verdict on each film ("unreadable" when it cannot be read), and the frontal
    ones with their model input at ``size`` (what a model is scored on)."""
    from medvlm.errors import MedVLMError
    from medvlm.gate.policy import assess_image
    from medvlm.imaging.transforms import model_input

    verdicts: list[str] = []
    rows: list[tuple[Film, Any]] = []
    iterator: Any = films
    if progress:
        from tqdm import tqdm

        iterator = tqdm(films, desc="real films", unit="film")
    for film in iterator:
        try:
            ds = _dataset(film)
        except MedVLMError:
            verdicts.append("unreadable")
            continue
        verdict = assess_image(ds)
        verdicts.append(verdict.kind)
        if verdict.kind == "frontal":
            rows.append((film, model_input(ds, size)))
    return verdicts, rows


def evaluate_real(model_dir: Path | None, real_dir: Path, out_dir: Path, *, limit: int | None = None,
                  progress: bool = True) -> str:
    """Write ``out_dir/metrics.json`` and ``out_dir/report.html``; return a short summary."""
    import torch

    from medvlm.inference.uncertainty import unfamiliar_film_flag
    from medvlm.model import load_bundle
    from medvlm.registry.resolve import resolve_model_dir

    films = read_films(real_dir)[: limit or None]
    if not films:
        raise NotFoundError(f"no PNG or DICOM films in {real_dir}")
    resolved = resolve_model_dir(model_dir)
    bundle = load_bundle(resolved)
    verdicts, rows = gate_films(films, bundle.image_size, progress)
    probabilities: dict[str, list[float]] = {name: [] for name in bundle.names}
    called = dict.fromkeys(bundle.names, 0)  # films on which each finding would be drafted
    called_typical = dict.fromkeys(bundle.names, 0)  # ... without the unfamiliar-film flag beside it
    # by side: a finding with no recorded cause drafted nearly always on one side is a learnt place, not
    # a reading (docs/performance.md: real films' calls lean right)
    sided = {side: dict.fromkeys(bundle.names, 0) for side in ("right", "left")}
    flags: list[bool] = []  # per accepted film: the unfamiliar-film flag, and drafted as normal
    normals: list[bool] = []
    for start in range(0, len(rows), 16):
        images = torch.stack([image for _, image in rows[start : start + 16]])
        predicted, familiarity = bundle.read_films(images)
        for findings, typical in zip(predicted, familiarity or [None] * len(predicted), strict=True):
            flagged = unfamiliar_film_flag(typical) is not None
            flags.append(flagged)
            for f in findings:
                probabilities[f.label].append(float(f.probability or 0.0))
                called[f.label] += f.presence != "absent"
                called_typical[f.label] += f.presence != "absent" and not flagged
                side = f.laterality.value if f.laterality is not None else ""
                if f.presence != "absent" and side in sided:
                    sided[side][f.label] += 1
            normals.append(not any(f.presence != "absent" and f.label != "no_finding" for f in findings))
    inputs = _film_pixels([image.numpy() for _, image in rows])
    metrics = _metrics(films, verdicts, rows, probabilities, sum(normals), inputs)
    metrics.update({f"real.called.{name}": count for name, count in called.items()})
    metrics.update({f"real.called_unflagged.{name}": count for name, count in called_typical.items()})
    for side, counts in sided.items():
        metrics.update({f"real.called_{side}.{name}": count for name, count in counts.items()})
    metrics["real.unfamiliar"] = round(sum(flags) / len(rows), 4) if rows else None
    metrics["real.by_group"] = by_group([film.groups for film, _ in rows], flags, normals)
    metrics.update({"model_version": bundle.version, "model_dir": str(Path(resolved).resolve()),
                    "split": "real", "real_dir": str(Path(real_dir).resolve()), "n_studies": len(films)})
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    (out_dir / "report.html").write_text(_html(metrics, [*bundle.names, *PROXIES]))
    return _summary(metrics, out_dir)


def _film_pixels(images: list[np.ndarray]) -> np.ndarray:
    """Every input pixel of the films, without the square padding (border rows and columns that are all
    zero), as ``benchmarks/input_stats.py`` measures the synthetic films: padding would pull p10 to 0."""
    kept = []
    for image in images:
        x = image.reshape(image.shape[-2:])
        rows, cols = np.nonzero(x.any(axis=1))[0], np.nonzero(x.any(axis=0))[0]
        if rows.size and cols.size:
            kept.append(x[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].ravel())
    return np.concatenate(kept) if kept else np.zeros(1)


def _metrics(films: list[Film], verdicts: list[str], rows: list, probabilities: dict[str, list[float]],
             called_normal: int, inputs: np.ndarray) -> dict[str, Any]:
    def is_frontal(film: Film) -> bool:
        return bool(film.frontal) or (film.frontal is None and film.view in ("PA", "AP"))

    frontal = [v for f, v in zip(films, verdicts, strict=True) if is_frontal(f)]
    lateral = [v for f, v in zip(films, verdicts, strict=True) if f.view == "LL"]
    m: dict[str, Any] = {
        "real.n_films": len(films),
        "real.n_frontal": len(frontal),
        "real.gate_acceptance": round(frontal.count("frontal") / len(frontal), 4) if frontal else None,
        "real.n_lateral": len(lateral),
        "real.lateral_recognised": round(lateral.count("lateral") / len(lateral), 4) if lateral else None,
        "real.lateral_drafted": lateral.count("frontal"),
        "real.accepted": verdicts.count("frontal"),
        "real.unreadable": verdicts.count("unreadable"),
        "real.share_drafted_normal": round(called_normal / len(rows), 4) if rows else None,
        "real.input.mean": round(float(inputs.mean()), 4),
        "real.input.p10": round(float(np.percentile(inputs, 10)), 4),
        "real.input.p90": round(float(np.percentile(inputs, 90)), 4),
    }
    accepted = [film for film, _ in rows]
    for name, values in probabilities.items():
        if not values:
            continue
        p = np.asarray(values)
        for q in (10, 50, 90):
            m[f"real.prob.{name}.p{q}"] = round(float(np.percentile(p, q)), 4)
        m[f"real.prob.{name}.std"] = round(float(p.std()), 4)
        m.update(_ranked(name, accepted, values))
    for label, finding in PROXIES.items():
        if probabilities.get(finding):
            m.update(_ranked(label, accepted, probabilities[finding]))
    return m


def _ranked(label: str, films: list[Film], scores: list[float]) -> dict[str, Any]:
    """n+, n- and (with both classes) the AUROC of ``scores`` for the films labelled ``label``."""
    labelled = [(film.labels[label], v) for film, v in zip(films, scores, strict=True)
                if label in film.labels]
    if not labelled:
        return {}
    truth = [t for t, _ in labelled]
    out: dict[str, Any] = {f"real.n_pos.{label}": sum(truth), f"real.n_neg.{label}": len(truth) - sum(truth)}
    auc = auroc(truth, [v for _, v in labelled])
    if auc is not None:
        out[f"real.auroc.{label}"] = round(auc, 4)
        out[f"real.auroc_ci.{label}"] = auroc_interval(truth, [v for _, v in labelled])
    return out


def _called(m: dict[str, Any], prefix: str = "real.called.") -> str:
    counts = {k.removeprefix(prefix): v for k, v in m.items() if k.startswith(prefix) and v}
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items(), key=lambda kv: -kv[1])) or "none"


def _sides(m: dict[str, Any]) -> str:
    names = [k.removeprefix("real.called_right.") for k in m if k.startswith("real.called_right.")]
    pairs = {n: (m[f"real.called_right.{n}"], m[f"real.called_left.{n}"]) for n in names}
    return ", ".join(f"{n} {r} / {left}" for n, (r, left) in sorted(pairs.items()) if r or left) or "none"


def _summary(m: dict[str, Any], out_dir: Path) -> str:
    aurocs = []
    for key, value in sorted(m.items()):
        if key.startswith("real.auroc."):
            name = key.removeprefix("real.auroc.")
            ci = interval_text(m[f"real.auroc_ci.{name}"])
            aurocs.append(f"{name} {value:.3f} [95 % {ci}] (n+ {m[f'real.n_pos.{name}']}, "
                          f"n- {m[f'real.n_neg.{name}']})")
    return "\n".join([
        f"real films: {m['real.n_films']} ({m['real.n_frontal']} frontal, {m['real.n_lateral']} lateral)",
        f"gate: {m['real.accepted']} accepted; frontal acceptance {m['real.gate_acceptance']}; "
        f"laterals drafted {m['real.lateral_drafted']}; unreadable {m['real.unreadable']}",
        f"drafted as normal: {m['real.share_drafted_normal']} of accepted films",
        f"films each finding is drafted on (of {m['real.accepted']}): {_called(m)}",
        f"drafts flagged as on a film unlike the training films: {m['real.unfamiliar']}; findings drafted "
        f"without that flag: {_called(m, 'real.called_unflagged.')}",
        "... of them drafted on the right / left: " + _sides(m),
        f"model input: mean {m['real.input.mean']} p10 {m['real.input.p10']} p90 {m['real.input.p90']}",
        *group_lines(m.get("real.by_group") or {}),
        "AUROC where labels exist (weak labels): " + ("; ".join(aurocs) or "none"),
        f"wrote {out_dir / 'metrics.json'} and {out_dir / 'report.html'}",
    ])


def _html(m: dict[str, Any], names: list[str]) -> str:
    def cell(key: str) -> str:
        value = m.get(key)
        return "" if value is None else html.escape(str(value))

    in_own_tables = ("real.prob.", "real.auroc", "real.n_pos.", "real.n_neg.", "real.called",
                     "real.by_group")  # per finding and by group, below
    head = "".join(f"<tr><th>{html.escape(k)}</th><td>{cell(k)}</td></tr>" for k in sorted(m)
                   if not k.startswith(in_own_tables))
    rows = "".join(
        f"<tr><td>{html.escape(n)}</td><td>{cell(f'real.auroc.{n}')}</td>"
        f"<td>{interval_text(m.get(f'real.auroc_ci.{n}'), '')}</td>"
        f"<td>{cell(f'real.n_pos.{n}')}</td>"
        f"<td>{cell(f'real.n_neg.{n}')}</td><td>{cell(f'real.prob.{n}.p10')}</td>"
        f"<td>{cell(f'real.prob.{n}.p50')}</td><td>{cell(f'real.prob.{n}.p90')}</td>"
        f"<td>{cell(f'real.prob.{n}.std')}</td><td>{cell(f'real.called.{n}')}</td>"
        f"<td>{cell(f'real.called_unflagged.{n}')}</td><td>{cell(f'real.called_right.{n}')}</td>"
        f"<td>{cell(f'real.called_left.{n}')}</td></tr>" for n in names)
    return (
        "<!doctype html><meta charset='utf-8'><title>MedVLM: real films</title>"
        "<h1>Real films: gate and model</h1><p>Real films with weak labels: AUROCs rank films, they are not "
        "accuracies. Probabilities are over the films the gate accepted.</p>"
        f"<table border=1>{head}</table><h2>Per finding</h2><table border=1><tr><th>finding</th>"
        "<th>AUROC</th><th>95 % interval</th><th>n+</th><th>n-</th><th>p10</th><th>p50</th><th>p90</th>"
        "<th>std</th><th>drafted on (films)</th><th>... without the unfamiliar-film flag</th>"
        "<th>... on the right</th><th>... on the left</th></tr>"
        f"{rows}</table>{_group_table(m.get('real.by_group') or {})}"
    )


def _group_table(groups: dict[str, dict[str, dict[str, Any]]]) -> str:
    if not groups:
        return ""
    rows = "".join(f"<tr><td>{html.escape(column)}</td><td>{html.escape(value)}</td><td>{s['films']}</td>"
                   f"<td>{s['unfamiliar']}</td><td>{s['drafted_normal']}</td></tr>"
                   for column, values in groups.items() for value, s in values.items())
    return ("<h2>By view and source</h2><table border=1><tr><th>column</th><th>value</th>"
            "<th>films accepted</th><th>unfamiliar-film flag</th><th>drafted normal</th></tr>"
            f"{rows}</table>")
