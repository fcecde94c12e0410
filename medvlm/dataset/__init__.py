"""Image-report datasets: synthetic DX films with ground-truth findings, paired with real (IU) or templated
reports, written as DICOM files plus ``manifest.jsonl`` (see docs/ARCHITECTURE.md, "Dataset")."""
