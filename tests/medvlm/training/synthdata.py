"""A small dataset in the ``medvlm data build`` format, drawn in-process for training tests.

Real DICOM files (pydicom, MONOCHROME2, 16-bit) of simple chest-like pictures whose findings are visible:
a wide heart (cardiomegaly), a bright base on one side (pleural effusion, side and size), a bright spot
(nodule, side), with their masks as a build writes them. Reports are written from the ontology's phrases,
so the labeler reads them back.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from medvlm.dataset.masks import write_masks
from medvlm.findings import Finding, Laterality

SIZE = 64


NODULE_ROW, NODULE_RADIUS = 0.35, 0.04  # fractions of the side
THORAX_WIDTH = 0.76  # the two lungs' outer edges, 0.12 to 0.88 of the side
MM_PER_PIXEL = 5.0


def _nodule_col(nodule: Finding) -> float:
    return 0.3 if nodule.laterality == Laterality.RIGHT else 0.7


def _heart_half_width(findings: list[Finding]) -> float:
    return 0.22 if any(f.label == "cardiomegaly" for f in findings) else 0.12


def _effusion_level(finding: Finding) -> float:
    return 0.72 if finding.severity == "small" else 0.55


def _render_info(findings: list[Finding]) -> dict:
    """What was drawn, as ``medvlm.synth.compose`` records it: each nodule's position (``spots[].pixel``),
    the film's cardiothoracic ratio and each effusion's sides and fluid height (``level_mm``)."""
    drawn: list[dict] = []
    for f in findings:
        if f.label == "nodule":
            pixel = [NODULE_ROW * SIZE, _nodule_col(f) * SIZE, NODULE_RADIUS * SIZE]
            drawn.append({"label": "nodule", "spots": [{"pixel": pixel}]})
        if f.label == "pleural_effusion":
            sides = [s for s in ("right", "left") if f.laterality in (Laterality(s), Laterality.BILATERAL)]
            height_mm = round((1 - _effusion_level(f)) * SIZE * MM_PER_PIXEL, 1)
            drawn.append({"label": "pleural_effusion", "sides": sides, "level_mm": [height_mm] * len(sides)})
    ctr = round(2 * _heart_half_width(findings) / THORAX_WIDTH, 3)
    return {"findings": drawn, "ctr": ctr}


def _masks(findings: list[Finding]) -> dict[str, np.ndarray]:
    """Where ``_draw`` puts the lungs, the heart, each effusion and the nodule (``medvlm.dataset.masks``)."""
    y, x = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    labels = {f.label: f for f in findings}
    heart = _heart_half_width(findings)
    lungs = [((x - cx) / 0.18) ** 2 + ((y - 0.5) / 0.32) ** 2 < 1 for cx in (0.3, 0.7)]
    out = {
        "lungs": np.logical_or.reduce(lungs),
        "heart": ((x - 0.52) / heart) ** 2 + ((y - 0.65) / 0.13) ** 2 < 1,
    }
    if "pleural_effusion" in labels:
        f = labels["pleural_effusion"]
        out["pleural_effusion"] = np.logical_or.reduce([
            (np.abs(x - cx) < 0.18) & (y > _effusion_level(f))
            for side, cx in (("right", 0.3), ("left", 0.7))
            if f.laterality in (Laterality(side), Laterality.BILATERAL)
        ] or [np.zeros((SIZE, SIZE), bool)])
    if "nodule" in labels:
        cx = _nodule_col(labels["nodule"])
        out["nodule"] = ((x - cx) ** 2 + (y - NODULE_ROW) ** 2) < NODULE_RADIUS**2
    return out


def _draw(findings: list[Finding], rng: np.random.Generator) -> np.ndarray:
    y, x = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    img = 0.25 + 0.05 * rng.standard_normal((SIZE, SIZE))
    for cx in (0.3, 0.7):  # dark lungs
        img -= 0.15 * (((x - cx) / 0.18) ** 2 + ((y - 0.5) / 0.32) ** 2 < 1)
    labels = {f.label: f for f in findings}
    heart = _heart_half_width(findings)
    img += 0.3 * (((x - 0.52) / heart) ** 2 + ((y - 0.65) / 0.13) ** 2 < 1)
    if "pleural_effusion" in labels:
        f = labels["pleural_effusion"]
        level = _effusion_level(f)
        for side, cx in (("right", 0.3), ("left", 0.7)):  # patient's right on image left
            if f.laterality in (Laterality(side), Laterality.BILATERAL):
                img += 0.35 * ((np.abs(x - cx) < 0.18) & (y > level))
    if "nodule" in labels:
        cx = _nodule_col(labels["nodule"])
        img += 0.6 * (((x - cx) ** 2 + (y - NODULE_ROW) ** 2) < NODULE_RADIUS**2)
    return np.clip(img, 0, 1)


def _sample_findings(rng: random.Random) -> list[Finding]:
    out = []
    if rng.random() < 0.35:
        out.append(Finding("cardiomegaly", severity="mild"))
    if rng.random() < 0.35:
        side = rng.choice([Laterality.LEFT, Laterality.RIGHT, Laterality.BILATERAL])
        out.append(Finding("pleural_effusion", laterality=side, severity=rng.choice(["small", "large"])))
    if rng.random() < 0.3:
        out.append(Finding("nodule", laterality=rng.choice([Laterality.LEFT, Laterality.RIGHT])))
    return out


def _report(findings: list[Finding]) -> tuple[str, str]:
    from medvlm.ontology import load_ontology

    ont = load_ontology()
    sentences, labels = [], {f.label for f in findings}
    for f in findings:
        sentences.append(ont.get(f.label).render("present", str(f.laterality or ""), f.severity))
    for name in ("cardiomegaly", "pleural_effusion", "pneumothorax"):
        if name not in labels:
            sentences.append(ont.get(name).render("absent"))
    impression = "; ".join(ont.get(f.label).display for f in findings) or "No acute cardiopulmonary disease."
    return " ".join(s for s in sentences if s), impression


def _write_dicom(path: Path, pixels: np.ndarray, study_uid: str, sop_uid: str) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = SecondaryCaptureImageStorage, sop_uid
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, generate_uid()
    ds.PatientID, ds.PatientName, ds.Modality = "SYNTH", "Synthetic^Test", "DX"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = (pixels * 4000).astype(np.uint16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    pydicom.dcmwrite(path, ds, enforce_file_format=True)


def build_dataset(
    out: Path, n_train: int = 96, n_validation: int = 32, n_test: int = 0, seed: int = 0
) -> Path:
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    lines = []
    for split, count in (("train", n_train), ("validation", n_validation), ("test", n_test)):
        for i in range(count):
            findings = _sample_findings(rng)
            study_uid, sop_uid = generate_uid(), generate_uid()
            rel = f"dicom/{study_uid}/{sop_uid}.dcm"
            _write_dicom(out / rel, _draw(findings, nrng), study_uid, sop_uid)
            masks = f"masks/{sop_uid}.npz"
            write_masks(out / masks, _masks(findings))
            text, impression = _report(findings)
            lines.append(
                json.dumps(
                    {
                        "study_id": f"{split}-{i}",
                        "study_instance_uid": study_uid,
                        "split": split,
                        "files": [rel],
                        "findings": [f.to_dict() for f in findings],
                        "findings_text": text,
                        "impression": impression,
                        "report_source": "template",
                        "provenance": {
                            "seed": seed,
                            "generator": "tests.synthdata",
                            "size": SIZE,
                            "render": _render_info(findings),
                            "masks": masks,
                        },
                    }
                )
            )
    (out / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return out
