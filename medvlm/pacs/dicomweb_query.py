"""Query / retrieve from a DICOMweb PACS (QIDO-RS + WADO-RS) with dicomweb-client, for PACSs reached over
HTTP rather than DIMSE. Same results as ``medvlm.pacs.query``: ``StudyMatch`` rows and Part 10 bytes."""

from __future__ import annotations

from io import BytesIO

from pydicom import dcmwrite
from pydicom.dataset import Dataset

from medvlm.pacs.errors import PacsError
from medvlm.pacs.query import StudyMatch, _check_patient_id


def _client(url: str, timeout: float, headers: dict[str, str] | None):  # type: ignore[no-untyped-def]
    import requests
    from dicomweb_client.api import DICOMwebClient

    session = requests.Session()
    session.request = _with_timeout(session.request, timeout)  # type: ignore[method-assign]
    return DICOMwebClient(url=url, session=session, headers=headers)


def _with_timeout(request, timeout: float):  # type: ignore[no-untyped-def]
    def call(*args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("timeout", timeout)
        return request(*args, **kwargs)

    return call


def _value(item: dict, tag: str) -> str:
    values = item.get(tag, {}).get("Value", [])
    return str(values[0]) if values else ""


def find_studies_web(
    url: str, *, patient_id: str, timeout: float = 30.0, headers: dict[str, str] | None = None
) -> list[StudyMatch]:
    """Every study the DICOMweb server holds for ``patient_id`` (exact match), newest first."""
    import requests

    client = _client(url, timeout, headers)
    try:
        found = client.search_for_studies(
            search_filters={"PatientID": _check_patient_id(patient_id)},
            fields=["ModalitiesInStudy", "StudyDescription"],
        )
    except requests.RequestException as exc:
        raise PacsError(f"QIDO-RS at {url} failed: {exc}") from exc
    matches = [
        StudyMatch(
            _value(i, "0020000D"),
            _value(i, "00080020"),
            _value(i, "00080050"),
            _value(i, "00081030"),
            tuple(str(m) for m in i.get("00080061", {}).get("Value", [])),
        )
        for i in found
        if _value(i, "00100020") in ("", patient_id)
    ]  # a server ignoring the key
    return sorted((m for m in matches if m.study_instance_uid), key=lambda m: m.study_date, reverse=True)


def retrieve_study_web(
    url: str, study_instance_uid: str, *, timeout: float = 60.0, headers: dict[str, str] | None = None
) -> list[bytes]:
    """The study's instances (Part 10 bytes) by WADO-RS."""
    import requests

    client = _client(url, timeout, headers)
    try:
        datasets: list[Dataset] = client.retrieve_study(study_instance_uid)
    except requests.RequestException as exc:
        raise PacsError(f"WADO-RS of study {study_instance_uid} from {url} failed: {exc}") from exc
    if not datasets:
        raise PacsError(f"WADO-RS of study {study_instance_uid} from {url} returned no instance")
    out = []
    for ds in datasets:
        buffer = BytesIO()
        dcmwrite(buffer, ds, enforce_file_format=True)
        out.append(buffer.getvalue())
    return out
