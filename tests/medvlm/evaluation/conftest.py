"""A small dataset in the real manifest format (real DICOM files); the tiny model of the inference tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.uid import generate_uid

from medvlm.findings import Finding, Laterality
from tests.medvlm.inference.conftest import tiny_bundle, tiny_model_dir  # noqa: F401  (shared fixtures)
from tests.medvlm.inference.dicom_files import write_cr

CASES = [
    ("test", [Finding("pleural_effusion", laterality=Laterality.LEFT, severity="small")],
     "Small left pleural effusion.", "Left pleural effusion."),
    ("test", [Finding("cardiomegaly", severity="moderate")], "The heart is moderately enlarged.",
     "Cardiomegaly."),
    ("test", [], "Heart size is normal. The lungs are clear.", "No acute cardiopulmonary abnormality."),
    ("test", [Finding("pneumothorax", laterality=Laterality.RIGHT, severity="large", critical=True)],
     "Large right pneumothorax.", "Right pneumothorax."),
    ("train", [], "The lungs are clear.", "Normal chest."),
]


@pytest.fixture(scope="session")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from medvlm.dataset.manifest import ManifestRecord, write_record

    root = tmp_path_factory.mktemp("dataset")
    with (root / "manifest.jsonl").open("w") as fh:
        for i, (split, findings, text, impression) in enumerate(CASES):
            uid = generate_uid()
            path = write_cr(root / "dicom" / uid / "1.dcm", study_uid=uid, seed=i)
            acquisition = {"projection": ("AP", "PA")[i % 2]}  # two subgroups for the subgroup scores
            record = ManifestRecord(study_id=f"s{i}", study_instance_uid=uid, split=split, files=[path],
                                    findings=findings, findings_text=text, impression=impression,
                                    report_source="template",
                                    provenance={"render": {"acquisition": acquisition}})
            write_record(fh, record, root)
    return root
