"""Worklist (filters, search, paging, critical first), study detail, frames, and object-level visibility."""

from __future__ import annotations

import io

import numpy as np
import pydicom
from fastapi.testclient import TestClient
from PIL import Image
from pydicom.data import get_testdata_file

from tests.service.helpers import dicom_bytes, run_jobs

API = "/api/v1"


def upload(client: TestClient, headers: dict[str, str], *files: bytes) -> dict:
    parts = [("files", (f"f{i}.dcm", data, "application/dicom")) for i, data in enumerate(files)]
    response = client.post(f"{API}/studies", files=parts, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()


STUDIES = [  # uid, patient, accession, date, modality
    ("1.2.10", "P1", "ACC1", "20240101", "CT"),
    ("1.2.11", "P2", "ACC2", "20240301", "MR"),
    ("1.2.12", "P1", "ACC3", "20240201", "CT"),
]


def _seed(client: TestClient, headers: dict[str, str]) -> None:
    upload(
        client,
        headers,
        *[
            dicom_bytes(study_uid=u, patient_id=p, accession=a, study_date=d, modality=m)
            for u, p, a, d, m in STUDIES
        ],
    )


def _uids(client: TestClient, headers: dict[str, str], **params: object) -> list[str]:
    response = client.get(f"{API}/studies", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [item["study_instance_uid"] for item in response.json()["items"]]


def test_worklist_filters_and_order(client: TestClient, callers, worker) -> None:  # type: ignore[no-untyped-def]
    h = callers.radiologist
    _seed(client, h)
    assert _uids(client, h) == ["1.2.11", "1.2.12", "1.2.10"]  # newest first
    assert _uids(client, h, q="P1") == ["1.2.12", "1.2.10"]
    assert _uids(client, h, q="ACC2") == ["1.2.11"]
    assert _uids(client, h, modality="mr") == ["1.2.11"]
    assert _uids(client, h, date_from="2024-01-15", date_to="2024-02-15") == ["1.2.12"]
    assert _uids(client, h, status="drafting") == ["1.2.11", "1.2.12", "1.2.10"]
    page = client.get(f"{API}/studies", params={"page": 2, "page_size": 2}, headers=h).json()
    assert (
        page["total"] == 3
        and page["page"] == 2
        and [i["study_instance_uid"] for i in page["items"]] == ["1.2.10"]
    )
    past_the_end = client.get(f"{API}/studies", params={"page": 5, "page_size": 2}, headers=h).json()
    assert past_the_end["items"] == [] and past_the_end["total"] == 3

    run_jobs(worker)
    assert _uids(client, h, status="draft_ready") == ["1.2.11", "1.2.12", "1.2.10"]
    item = client.get(f"{API}/studies", headers=h).json()["items"][2]
    assert item["patient_id"] == "P1" and item["modalities"] == ["CT"] and item["report_id"]
    # A critical finding moves the oldest study to the top.
    report = client.get(f"{API}/studies/1.2.10/report", headers=h).json()
    client.put(
        f"{API}/reports/{report['id']}",
        headers=h,
        json={"base_version": report["version"], "findings": [{"label": "pneumothorax", "critical": True}]},
    )
    assert _uids(client, h) == ["1.2.10", "1.2.11", "1.2.12"]
    assert _uids(client, h, status="in_review") == ["1.2.10"]


def _totals(client: TestClient, headers: dict[str, str], **params: object) -> tuple[int, int, int]:
    """The total on a page listing every match, the total past the last page, and how many were listed."""
    url = f"{API}/studies"
    listed = client.get(url, params={**params, "page_size": 500}, headers=headers).json()
    past = client.get(url, params={**params, "page": 9, "page_size": 500}, headers=headers).json()
    assert past["items"] == []
    return listed["total"], past["total"], len(listed["items"])


def test_worklist_total_is_exact_for_every_filter(  # type: ignore[no-untyped-def]
    client: TestClient, callers, worker, app_settings, tmp_path
) -> None:
    """The total is the number of matches for every filter shape, on a full page and past the last one."""
    from medvlm.dicom.ingest import ingest_paths

    h = callers.radiologist
    _seed(client, h)  # three studies, drafting
    upload(client, callers.integration, dicom_bytes(study_uid="1.2.13", study_date="20240401"))
    path = tmp_path / "cli.dcm"
    path.write_bytes(dicom_bytes(study_uid="1.2.14", study_date="20240501", modality="MR"))
    assert ingest_paths([path], settings=app_settings).ingested == 1  # received
    expected: list[tuple[dict[str, str], int]] = [
        ({}, 5),
        ({"status": "drafting"}, 4),
        ({"status": "received"}, 1),
        ({"status": "signed"}, 0),  # no study has ever been signed
        ({"status": "drafting", "modality": "CT"}, 3),
        ({"status": "drafting", "q": "P1"}, 2),
        ({"date_from": "2024-02-01"}, 4),
    ]
    for params, n in expected:
        assert _totals(client, h, **params) == (n, n, n), params
    assert _totals(client, callers.integration) == (1, 1, 1)  # its own studies only: counted
    assert _totals(client, callers.integration, status="received") == (0, 0, 0)

    run_jobs(worker)
    assert _totals(client, h, status="drafting") == (0, 0, 0)  # a status everyone has left
    assert _totals(client, h, status="draft_ready") == (4, 4, 4)
    assert _totals(client, h) == (5, 5, 5)


def test_study_detail_and_frames(client: TestClient, callers) -> None:  # type: ignore[no-untyped-def]
    h = callers.radiologist
    upload(client, h, dicom_bytes(study_uid="1.2.20", patient_id="P9", accession="A9"))
    detail = client.get(f"{API}/studies/1.2.20", headers=h).json()
    assert detail["patient"]["patient_id"] == "P9" and detail["accession_number"] == "A9"
    instance = detail["series"][0]["instances"][0]
    original = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    assert (instance["rows"], instance["columns"], instance["frames"]) == (original.Rows, original.Columns, 1)
    sop = instance["sop_instance_uid"]

    png = client.get(f"{API}/instances/{sop}/frames/0.png", headers=h)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    image = np.asarray(Image.open(io.BytesIO(png.content)))
    assert image.shape[:2] == (original.Rows, original.Columns) and image.std() > 0
    narrow = client.get(
        f"{API}/instances/{sop}/frames/0.png", params={"window": "40,80", "max_size": 64}, headers=h
    )
    small = np.asarray(Image.open(io.BytesIO(narrow.content)))
    assert max(small.shape[:2]) == 64 and not np.array_equal(small, image[:64, :64])

    raw = client.get(f"{API}/instances/{sop}/frames/0/raw", headers=h)
    assert raw.status_code == 200
    dtype = {"int16": "<i2", "uint16": "<u2", "uint8": "u1", "float32": "<f4"}[raw.headers["x-pixel-dtype"]]
    values = np.frombuffer(raw.content, dtype=dtype).reshape(
        int(raw.headers["x-rows"]), int(raw.headers["x-columns"])
    )
    assert np.array_equal(values, original.pixel_array)
    assert float(raw.headers["x-rescale-slope"]) == float(original.RescaleSlope)
    assert float(raw.headers["x-rescale-intercept"]) == float(original.RescaleIntercept)
    assert raw.headers["x-photometric"] == original.PhotometricInterpretation

    assert client.get(f"{API}/instances/{sop}/frames/1.png", headers=h).status_code == 422  # one frame only
    assert (
        client.get(f"{API}/instances/{sop}/frames/0.png", params={"window": "40"}, headers=h).status_code
        == 422
    )


def _numbered(series_uid: str, series_number: int, instance_number: int, description: str) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(dicom_bytes(study_uid="1.2.21", modality="MR", series_uid=series_uid)))
    ds.SeriesNumber, ds.InstanceNumber, ds.SeriesDescription = series_number, instance_number, description
    ds.StudyDescription = "BRAIN"
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def test_study_detail_groups_series_and_orders_instances(client: TestClient, callers) -> None:  # type: ignore[no-untyped-def]
    h = callers.radiologist
    upload(client, h, _numbered("1.2.21.2", 2, 2, "T2"), _numbered("1.2.21.1", 1, 2, "T1"),
           _numbered("1.2.21.2", 2, 1, "T2"), _numbered("1.2.21.1", 1, 1, "T1"))
    detail = client.get(f"{API}/studies/1.2.21", headers=h).json()
    assert detail["description"] == "BRAIN"
    assert [(s["series_instance_uid"], s["modality"], s["description"]) for s in detail["series"]] == [
        ("1.2.21.1", "MR", "T1"), ("1.2.21.2", "MR", "T2")]
    assert [[i["instance_number"] for i in s["instances"]] for s in detail["series"]] == [[1, 2], [1, 2]]


def test_integration_keys_see_only_their_studies(client: TestClient, callers, worker) -> None:  # type: ignore[no-untyped-def]
    mine = upload(client, callers.integration, dicom_bytes(study_uid="1.2.30"))
    upload(client, callers.radiologist, dicom_bytes(study_uid="1.2.31"))
    run_jobs(worker)
    other = callers.other_integration
    assert _uids(client, callers.integration) == ["1.2.30"]
    assert _uids(client, other) == []
    assert sorted(_uids(client, callers.radiologist)) == ["1.2.30", "1.2.31"]
    report = client.get(f"{API}/studies/1.2.30/report", headers=callers.integration).json()
    sop = client.get(f"{API}/studies/1.2.30", headers=callers.integration).json()["series"][0]["instances"][0]
    for path in (
        "/studies/1.2.30",
        "/studies/1.2.30/report",
        f"/reports/{report['id']}",
        f"/reports/{report['id']}/versions",
        f"/instances/{sop['sop_instance_uid']}/frames/0.png",
        f"/jobs/{mine['jobs'][0]}",
    ):
        assert client.get(f"{API}{path}", headers=callers.integration).status_code == 200, path
        hidden = client.get(f"{API}{path}", headers=other)
        assert hidden.status_code == 404 and "not found" in hidden.json()["detail"], path
    assert client.get(f"{API}/jobs", headers=other).json() == []
    # Radiologists can sign what integrations sent; integrations cannot write reports at all.
    assert (
        client.post(
            f"{API}/reports/{report['id']}/sign", json={"confirm": True}, headers=callers.integration
        ).status_code
        == 403
    )


def test_duplicate_upload_does_not_redraft(client: TestClient, callers, worker) -> None:  # type: ignore[no-untyped-def]
    data = dicom_bytes(study_uid="1.2.40")
    first = upload(client, callers.radiologist, data)
    run_jobs(worker)
    again = upload(client, callers.radiologist, data)
    assert first["ingested"] == 1 and again["ingested"] == 0 and again["duplicates"] == 1
    assert again["jobs"] == []


def test_worklist_lists_studies_indexed_outside_the_service(  # type: ignore[no-untyped-def]
    client: TestClient, callers, app_settings, tmp_path
) -> None:
    """`medvlm ingest` (or any other writer of the DICOM index) puts a study straight on the worklist."""
    from medvlm.dicom.ingest import ingest_paths

    upload(client, callers.radiologist, dicom_bytes(study_uid="1.2.50", study_date="20240101"))
    path = tmp_path / "cli.dcm"
    path.write_bytes(dicom_bytes(study_uid="1.2.51", study_date="20240601", accession="CLI1"))
    assert ingest_paths([path], settings=app_settings).ingested == 1
    page = client.get(f"{API}/studies", headers=callers.radiologist).json()
    assert page["total"] == 2
    assert [(i["study_instance_uid"], i["status"]) for i in page["items"]] == [
        ("1.2.51", "received"),
        ("1.2.50", "drafting"),
    ]
    assert _uids(client, callers.radiologist, q="CLI1", status="received") == ["1.2.51"]
    assert _uids(client, callers.integration) == []  # nobody's API key sent it
