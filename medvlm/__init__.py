"""MedVLM: on-prem radiology report drafting (DICOM in, findings and draft reports out)."""

__version__ = "0.1.0"
