"""DICOMweb as a viewer uses it, checked with a maintained client (dicomweb-client, as OHIF-style tools
call it) against the service on a real loopback HTTP server: QIDO at study, series and instance level,
metadata, frames, rendered, WADO-RS instances and STOW-RS."""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pydicom
import pytest
from dicomweb_client.api import DICOMwebClient
from fastapi import FastAPI
from pydicom.uid import generate_uid
from requests.exceptions import HTTPError

from tests.service.helpers import dicom_bytes
from tests.support.app_server import serve_in_thread

STUDY = "1.2.826.0.1.77.1"
SERIES = ["1.2.826.0.1.77.1.1", "1.2.826.0.1.77.1.2"]


@pytest.fixture
def base_url(app: FastAPI) -> Iterator[str]:
    with serve_in_thread(app) as base:
        yield f"{base}/api/v1/dicomweb"


@pytest.fixture
def client(base_url: str, callers) -> DICOMwebClient:  # type: ignore[no-untyped-def]
    return DICOMwebClient(url=base_url, headers=callers.radiologist)


@pytest.fixture
def films(base_url: str, callers) -> list[pydicom.Dataset]:  # type: ignore[no-untyped-def]
    """Three instances in two series of one study, stored with STOW-RS by the client."""
    data = [
        dicom_bytes(study_uid=STUDY, series_uid=SERIES[i // 2], modality="CR" if i < 2 else "DX")
        for i in range(3)
    ]
    datasets = [pydicom.dcmread(io.BytesIO(d)) for d in data]
    for number, ds in enumerate(datasets, start=1):
        ds.InstanceNumber = number
    stored = DICOMwebClient(url=base_url, headers=callers.integration).store_instances(datasets)
    assert len(stored.ReferencedSOPSequence) == 3
    return datasets


def test_qido_at_every_level(client: DICOMwebClient, films: list[pydicom.Dataset]) -> None:
    [study] = client.search_for_studies(search_filters={"StudyInstanceUID": STUDY})
    assert pydicom.Dataset.from_json(study).NumberOfStudyRelatedSeries == 2
    series = [pydicom.Dataset.from_json(s) for s in client.search_for_series(STUDY)]
    assert [(s.SeriesInstanceUID, s.Modality, s.NumberOfSeriesRelatedInstances) for s in series] == [
        (SERIES[0], "CR", 2),
        (SERIES[1], "DX", 1),
    ]
    assert [
        s["0020000E"]["Value"][0] for s in client.search_for_series(STUDY, search_filters={"Modality": "DX"})
    ] == [SERIES[1]]
    instances = [pydicom.Dataset.from_json(i) for i in client.search_for_instances(STUDY, SERIES[0])]
    assert [i.SOPInstanceUID for i in instances] == [films[0].SOPInstanceUID, films[1].SOPInstanceUID]
    assert instances[0].Rows == films[0].Rows and instances[0].NumberOfFrames == 1
    every = client.search_for_instances(STUDY, search_filters={"InstanceNumber": "3"}, fields=["all"])
    assert [pydicom.Dataset.from_json(i).SOPInstanceUID for i in every] == [films[2].SOPInstanceUID]


def test_metadata_frames_rendered_and_instances(client: DICOMwebClient, films: list[pydicom.Dataset]) -> None:
    film = films[0]
    ids = (STUDY, SERIES[0], film.SOPInstanceUID)
    study_meta = client.retrieve_study_metadata(STUDY)
    assert sorted(pydicom.Dataset.from_json(m, lambda *_: b"").SOPInstanceUID for m in study_meta) == sorted(
        f.SOPInstanceUID for f in films
    )
    assert len(client.retrieve_series_metadata(STUDY, SERIES[0])) == 2
    meta = client.retrieve_instance_metadata(*ids)  # the client unwraps the one-item array
    assert meta["00100020"]["Value"] == [film.PatientID] and meta["7FE00010"]["BulkDataURI"].endswith(
        "/frames/1"
    )

    [frame] = client.retrieve_instance_frames(*ids, frame_numbers=[1])
    values = np.frombuffer(frame, dtype="<i2" if film.PixelRepresentation else "<u2").reshape(
        film.Rows, film.Columns
    )
    assert np.array_equal(values, film.pixel_array)
    png = client.retrieve_instance_rendered(*ids, media_types=("image/png",))
    assert png.startswith(b"\x89PNG")
    assert client.retrieve_instance(*ids).SOPInstanceUID == film.SOPInstanceUID


@pytest.mark.parametrize(
    ("call", "status"),
    [
        (lambda c: c.retrieve_instance_frames(STUDY, SERIES[0], "1.2.3", frame_numbers=[1]), 404),
        (lambda c: c.search_for_series(STUDY, search_filters={"PatientName": "x"}), 400),
        (lambda c: c.retrieve_study_metadata(generate_uid()), 404),
    ],
)
def test_errors_reach_the_client(
    client: DICOMwebClient, films: list[pydicom.Dataset], call, status: int
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(HTTPError) as info:
        call(client)
    assert info.value.response.status_code == status


def test_frame_out_of_range_is_refused(client: DICOMwebClient, films: list[pydicom.Dataset]) -> None:
    with pytest.raises(HTTPError) as info:
        client.retrieve_instance_frames(STUDY, SERIES[0], films[0].SOPInstanceUID, frame_numbers=[2])
    assert info.value.response.status_code == 422 and "numbered from 1" in info.value.response.text
