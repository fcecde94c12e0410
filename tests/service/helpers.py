"""Helpers for the service tests: real DICOM files with chosen identities, drafters, API login.

The drafters read the real stored DICOM files; they stand in for the model only where a test is about
the queue, retries or the workflow, never where a test claims to test the model.
"""

from __future__ import annotations

import functools
import io
import os
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from sqlmodel import Session

from medvlm.findings import Finding, Presence
from medvlm.service.auth.security import create_token, hash_password
from medvlm.service.db.tables import User, UserSession
from medvlm.service.jobs.worker import Worker
from medvlm.service.workflow.draft_output import DraftOutput

_BASE = pydicom.dcmread(get_testdata_file("CT_small.dcm"))


def dicom_bytes(
    *,
    study_uid: str | None = None,
    patient_id: str = "P001",
    accession: str = "A001",
    study_date: str = "20240102",
    modality: str = "CT",
    series_uid: str | None = None,
) -> bytes:
    """A real CT instance (pydicom's CT_small) re-identified as a new instance of the given study."""
    ds = _BASE.copy()
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientID, ds.AccessionNumber, ds.StudyDate, ds.Modality = patient_id, accession, study_date, modality
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@functools.cache
def _chest_film(seed: int) -> np.ndarray:
    from tests.medvlm.inference.dicom_files import chest_film

    return chest_film(seed)


def chest_dicom_bytes(*, study_uid: str | None = None, seed: int = 7) -> bytes:
    """A synthetic frontal chest CR (medvlm.synth): a study the intended-use gate lets the model draft."""
    import tempfile

    from tests.medvlm.inference.dicom_files import write_cr

    with tempfile.TemporaryDirectory() as folder:
        uid = study_uid or generate_uid()
        path = write_cr(Path(folder) / "cr.dcm", study_uid=uid, pixels=_chest_film(seed))
        return path.read_bytes()


@functools.cache
def _hash(password: str) -> str:  # argon2 is slow on purpose; hash each test password once
    return hash_password(password)


def make_user(session: Session, username: str, role: str, password: str = "correct horse battery") -> User:
    user = User(username=username, password_hash=_hash(password), role=role)
    session.add(user)
    session.flush()
    return user


def token_for(session: Session, secret: str, user: User) -> str:
    """A session token made the way /auth/login makes it (login itself is tested in test_auth)."""
    row = UserSession(user_id=user.id)
    session.add(row)
    session.flush()
    return create_token(secret, user_id=user.id, session_id=row.id)


class PixelDrafter:
    """Reads every image; 'finds' cardiomegaly with a probability from the mean pixel value."""

    version = "test-drafter-1"

    def __init__(self) -> None:
        self.calls = 0

    def draft(self, paths: list[Path], edited_findings: list[Finding] | None = None) -> DraftOutput:
        self.calls += 1
        means = [float(np.mean(pydicom.dcmread(p).pixel_array)) for p in paths]
        if edited_findings is None:
            p = float(1.0 / (1.0 + np.exp(-np.mean(means) / 1000.0)))
            findings = [
                Finding(
                    "cardiomegaly",
                    presence=Presence.PRESENT if p >= 0.5 else Presence.ABSENT,
                    probability=round(p, 4),
                )
            ]
        else:
            findings = list(edited_findings)
        present = [f.label.replace("_", " ") for f in findings if f.presence is not Presence.ABSENT]
        text = " ".join(f"There is {label}." for label in present) or "No acute abnormality."
        impression = ", ".join(present).capitalize() + "." if present else "Normal study."
        return DraftOutput(
            findings=findings,
            findings_text=text,
            impression=impression,
            model_version=self.version,
            consistency_flags=[],
            input_hashes=[f"n={len(paths)}"],
        )


class FailingDrafter:
    def __init__(self, message: str = "decoder exploded") -> None:
        self.message = message
        self.calls = 0

    def draft(self, paths: list[Path], edited_findings: list[Finding] | None = None) -> DraftOutput:
        self.calls += 1
        raise RuntimeError(self.message)


class HangingDrafter:
    """Marks that it started (file named by MEDVLM_TEST_MARKER), then hangs: the test kills the process."""

    def draft(self, paths: list[Path], edited_findings: list[Finding] | None = None) -> DraftOutput:
        Path(os.environ["MEDVLM_TEST_MARKER"]).write_text("started")
        time.sleep(600)
        raise AssertionError("the test should have killed this worker")


def hanging_drafter() -> HangingDrafter:
    """Factory for ``python -m service.jobs.worker --drafter tests.service.helpers:hanging_drafter``."""
    return HangingDrafter()


def run_jobs(worker: Worker, limit: int = 20) -> int:
    done = 0
    while done < limit and worker.run_once():
        done += 1
    return done


def related(*parts: tuple[str, bytes], boundary: str = "b0undary") -> tuple[bytes, dict[str, str]]:
    """A STOW-RS body: multipart/related of ``(content type, bytes)`` parts, and its Content-Type header."""
    body = b"".join(
        f"--{boundary}\r\nContent-Type: {t}\r\n\r\n".encode() + data + b"\r\n" for t, data in parts
    )
    body += f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'}
