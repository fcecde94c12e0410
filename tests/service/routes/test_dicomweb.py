"""DICOMweb: STOW-RS stores and answers per instance, QIDO-RS finds, WADO-RS returns the stored bytes.

Bodies are read back with the standard library's MIME parser and pydicom, not with the service's own
multipart code, so the wire format itself is checked.
"""

from __future__ import annotations

import email
import email.policy
import io

import pydicom
from fastapi.testclient import TestClient
from pydicom.dataset import Dataset
from sqlmodel import Session, select

from medvlm.compliance.audit import AuditEvent
from tests.service.helpers import dicom_bytes, related, run_jobs

WEB = "/api/v1/dicomweb"
DICOM_JSON = "application/dicom+json"


def mime_parts(response) -> list[tuple[str, bytes]]:  # type: ignore[no-untyped-def]
    head = f"Content-Type: {response.headers['content-type']}\r\n\r\n".encode()
    message = email.message_from_bytes(head + response.content, policy=email.policy.HTTP)
    return [(p.get_content_type(), bytes(p.get_payload(decode=True))) for p in message.iter_parts()]


def _study(uid: str, patient: str = "PWEB", date: str = "20240510") -> list[bytes]:
    series = uid + ".1"
    return [
        dicom_bytes(study_uid=uid, series_uid=series, patient_id=patient, study_date=date, modality="CR")
        for _ in range(2)
    ]


def test_stow_stores_each_instance_and_names_each_failure(client: TestClient, callers, worker) -> None:  # type: ignore[no-untyped-def]
    films = _study("1.2.60")
    body, headers = related(
        ("application/dicom", films[0]),
        ("application/dicom", films[1]),
        ("application/dicom", b"not a dicom file at all"),
        ("text/plain", b"hello"),
    )
    answer = client.post(f"{WEB}/studies", content=body, headers={**headers, **callers.integration})
    assert answer.status_code == 202 and answer.headers["content-type"] == DICOM_JSON
    result = Dataset.from_json(answer.json())
    stored = [str(item.ReferencedSOPInstanceUID) for item in result.ReferencedSOPSequence]
    assert stored == [pydicom.dcmread(io.BytesIO(f)).SOPInstanceUID for f in films]
    assert all(
        item.RetrieveURL.endswith(f"/series/1.2.60.1/instances/{item.ReferencedSOPInstanceUID}")
        for item in result.ReferencedSOPSequence
    )
    assert [int(item.FailureReason) for item in result.FailedSOPSequence] == [0xC000, 0xC000]
    assert "not application/dicom" in result.FailedSOPSequence[1][0x00000902].value
    # Stored like an upload: on the worklist, drafted, owned by the integration that sent it.
    study = client.get("/api/v1/studies/1.2.60", headers=callers.integration).json()
    assert study["status"] == "drafting" and len(study["series"][0]["instances"]) == 2
    run_jobs(worker)
    assert client.get("/api/v1/studies/1.2.60", headers=callers.integration).json()["status"] == "draft_ready"

    again, headers = related(("application/dicom", films[0]))
    assert (
        client.post(f"{WEB}/studies", content=again, headers={**headers, **callers.integration}).status_code
        == 200
    )
    nothing, headers = related(("application/dicom", b"garbage"))
    assert (
        client.post(f"{WEB}/studies", content=nothing, headers={**headers, **callers.radiologist}).status_code
        == 409
    )


def test_stow_refuses_what_is_not_a_dicom_multipart(client: TestClient, callers) -> None:  # type: ignore[no-untyped-def]
    h = callers.integration
    form = client.post(f"{WEB}/studies", files=[("files", ("a.dcm", dicom_bytes()))], headers=h)
    assert form.status_code == 415 and "multipart/related" in form.json()["detail"]
    no_boundary = {**h, "Content-Type": 'multipart/related; type="application/dicom"'}
    assert client.post(f"{WEB}/studies", content=b"x", headers=no_boundary).status_code == 422
    body, headers = related(("application/dicom", dicom_bytes()))
    unclosed = client.post(
        f"{WEB}/studies", content=body[: -len(b"--b0undary--\r\n")], headers={**headers, **h}
    )
    assert unclosed.status_code == 422 and "not closed" in unclosed.json()["detail"]
    pdf = {**h, "Content-Type": 'multipart/related; type="application/pdf"; boundary=x'}
    assert client.post(f"{WEB}/studies", content=b"--x--\r\n", headers=pdf).status_code == 415
    assert (
        client.post(f"{WEB}/studies", content=body, headers={**headers, **callers.researcher}).status_code
        == 403
    )


def test_qido_finds_studies_by_the_standard_keys(client: TestClient, callers) -> None:  # type: ignore[no-untyped-def]
    h = callers.radiologist
    for uid, patient, date in (("1.2.61", "PQ1", "20240105"), ("1.2.62", "PQ2", "20240620")):
        body, headers = related(*[("application/dicom", f) for f in _study(uid, patient, date)])
        assert client.post(f"{WEB}/studies", content=body, headers={**headers, **h}).status_code == 200

    def found(**query: str) -> list[str]:
        answer = client.get(f"{WEB}/studies", params=query, headers=h)
        if answer.status_code == 204:
            return []
        assert answer.status_code == 200 and answer.headers["content-type"] == DICOM_JSON, answer.text
        return [str(Dataset.from_json(item).StudyInstanceUID) for item in answer.json()]

    assert found() == ["1.2.62", "1.2.61"]  # newest first
    assert found(PatientID="PQ1") == ["1.2.61"]
    assert found(**{"00100020": "PQ2"}) == ["1.2.62"]  # by tag
    assert found(StudyDate="20240601-") == ["1.2.62"]
    assert found(StudyDate="-20240131") == ["1.2.61"]
    assert found(StudyDate="20240105") == ["1.2.61"]
    assert found(ModalitiesInStudy="MR") == []
    assert found(StudyInstanceUID="1.2.61,1.2.62", limit="1", offset="1") == ["1.2.61"]
    study = Dataset.from_json(client.get(f"{WEB}/studies", params={"PatientID": "PQ2"}, headers=h).json()[0])
    assert (study.PatientID, study.ModalitiesInStudy, study.NumberOfStudyRelatedInstances) == ("PQ2", "CR", 2)
    assert study.NumberOfStudyRelatedSeries == 1 and study.RetrieveURL.endswith(f"{WEB}/studies/1.2.62")

    # wildcards (PS3.4 C.2.2.2.4): * any run, ? one character; Patient Name without regard to case
    assert found(PatientID="PQ*") == ["1.2.62", "1.2.61"] and found(PatientID="P?2") == ["1.2.62"]
    assert found(PatientID="PQ") == [] and found(PatientID="P%*") == [] and found(PatientID="P_?") == []
    assert found(PatientName="compressedsamples*") == ["1.2.62", "1.2.61"]
    assert found(PatientName="nobody*") == []
    for bad in ({"NotAKey": "X*"}, {"StudyDate": "2024"}):  # PS3.18 8.3.4: a query it cannot run is 400
        assert client.get(f"{WEB}/studies", params=bad, headers=h).status_code == 400, bad
    assert client.get(f"{WEB}/studies", params={"limit": "0"}, headers=h).status_code == 422
    assert client.get(f"{WEB}/studies", headers={**h, "Accept": "text/html"}).status_code == 406
    # A caller that sent none of them sees none of them.
    assert client.get(f"{WEB}/studies", headers=callers.other_integration).status_code == 204
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "study.search")).first() is not None


def test_wado_returns_the_stored_instances(client: TestClient, callers) -> None:  # type: ignore[no-untyped-def]
    h = callers.integration
    films = _study("1.2.63")
    body, headers = related(*[("application/dicom", f) for f in films])
    assert client.post(f"{WEB}/studies", content=body, headers={**headers, **h}).status_code == 200

    study = client.get(
        f"{WEB}/studies/1.2.63", headers={**h, "Accept": 'multipart/related; type="application/dicom"'}
    )
    assert study.status_code == 200 and study.headers["content-type"].startswith("multipart/related")
    parts = mime_parts(study)
    assert [t for t, _ in parts] == ["application/dicom", "application/dicom"]
    assert sorted(data for _, data in parts) == sorted(films)  # byte for byte what was sent
    sop = pydicom.dcmread(io.BytesIO(films[1])).SOPInstanceUID
    one = client.get(f"{WEB}/studies/1.2.63/series/1.2.63.1/instances/{sop}", headers=h)
    assert one.status_code == 200 and [data for _, data in mime_parts(one)] == [films[1]]

    assert client.get(f"{WEB}/studies/1.2.63/series/1.2.99/instances/{sop}", headers=h).status_code == 404
    assert client.get(f"{WEB}/studies/1.2.63", headers=callers.other_integration).status_code == 404
    assert client.get(f"{WEB}/studies/1.2.63", headers={**h, "Accept": "application/json"}).status_code == 406
    explicit = 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1'
    assert client.get(f"{WEB}/studies/1.2.63", headers={**h, "Accept": explicit}).status_code == 406
    assert client.get(f"{WEB}/studies/not-a-uid", headers=h).status_code == 422
