"""QIDO-RS at every level as a viewer (OHIF) calls it, with dicomweb-client against the running service:
top-level /series and /instances, matching (single value, UID list, wildcards, date ranges, PN without
regard to case, study keys on lower levels), paging, includefield (keyword, tag, ``all``); and the
errors over plain HTTP (400 naming the key or value)."""

from __future__ import annotations

import io

import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient

from tests.service.helpers import dicom_bytes

STUDIES = ["1.2.826.0.1.88.1", "1.2.826.0.1.88.2"]
SERIES = ["1.2.826.0.1.88.1.1", "1.2.826.0.1.88.1.2", "1.2.826.0.1.88.2.1"]


@pytest.fixture
def client(base_url: str, callers) -> DICOMwebClient:  # type: ignore[no-untyped-def]
    return DICOMwebClient(url=base_url, headers=callers.radiologist)


@pytest.fixture
def films(base_url: str, callers) -> list[pydicom.Dataset]:  # type: ignore[no-untyped-def]
    """Two patients: study 1 (2024-01-05, Doe^Jane) with a CR series of two and a DX series of one;
    study 2 (2024-06-10, Roe^Richard) with one CT series of one. Stored by STOW-RS."""
    plan = [  # study, series, modality, patient, name, date, description
        (0, 0, "CR", "PQ1", "Doe^Jane", "20240105", "PA CHEST"),
        (0, 0, "CR", "PQ1", "Doe^Jane", "20240105", "PA CHEST"),
        (0, 1, "DX", "PQ1", "Doe^Jane", "20240105", "LAT CHEST"),
        (1, 2, "CT", "PQ2", "Roe^Richard", "20240610", "CT THORAX"),
    ]
    datasets = []
    for number, (study, series, modality, pid, name, date, description) in enumerate(plan, start=1):
        ds = pydicom.dcmread(io.BytesIO(dicom_bytes(study_uid=STUDIES[study], series_uid=SERIES[series],
                                                    modality=modality, patient_id=pid, study_date=date)))
        ds.PatientName, ds.SeriesDescription, ds.InstanceNumber = name, description, number
        ds.SeriesNumber = series + 1
        ds.BodyPartExamined = "CHEST"
        datasets.append(ds)
    stored = DICOMwebClient(url=base_url, headers=callers.integration).store_instances(datasets)
    assert len(stored.ReferencedSOPSequence) == len(plan)
    return datasets


def _uids(results: list[dict], tag: str) -> list[str]:
    return [r[tag]["Value"][0] for r in results]


def test_top_level_series_search(client: DICOMwebClient, films: list[pydicom.Dataset]) -> None:
    everything = client.search_for_series()
    assert sorted(_uids(everything, "0020000E")) == sorted(SERIES)
    first = pydicom.Dataset.from_json(everything[0])  # newest study first: it carries its study's attributes
    assert (first.StudyInstanceUID, first.PatientID, first.Modality) == (STUDIES[1], "PQ2", "CT")
    assert first.NumberOfSeriesRelatedInstances == 1 and first.NumberOfStudyRelatedSeries == 1
    assert first.RetrieveURL.endswith(f"/studies/{STUDIES[1]}/series/{SERIES[2]}")
    cases = [  # (filters, expected series)
        ({"Modality": "CR"}, [SERIES[0]]),
        ({"Modality": "CR,DX"}, SERIES[:2]),  # list of values
        ({"PatientID": "PQ2"}, [SERIES[2]]),  # a study key on the series level
        ({"PatientName": "doe*"}, SERIES[:2]),  # PN without regard to case, wildcard
        ({"StudyDate": "20240601-"}, [SERIES[2]]),  # open range
        ({"StudyDate": "20240101-20240131"}, SERIES[:2]),
        ({"SeriesInstanceUID": f"{SERIES[0]},{SERIES[2]}"}, [SERIES[2], SERIES[0]]),  # UID list
        ({"SeriesDescription": "?at chest"}, [SERIES[1]]),  # ? one character
        ({"00080060": "DX"}, [SERIES[1]]),  # by tag
        ({"Modality": "MR"}, []),
    ]
    for filters, expected in cases:
        assert _uids(client.search_for_series(search_filters=filters), "0020000E") == expected, filters
    paged = client.search_for_series(limit=1, offset=1)
    assert _uids(paged, "0020000E") == _uids(everything, "0020000E")[1:2]


def test_top_level_instance_search(client: DICOMwebClient, films: list[pydicom.Dataset]) -> None:
    sops = [f.SOPInstanceUID for f in films]
    assert sorted(_uids(client.search_for_instances(), "00080018")) == sorted(sops)
    cases = [
        ({"PatientID": "PQ1", "Modality": "CR"}, sops[:2]),  # study + series keys
        ({"InstanceNumber": "3"}, [sops[2]]),
        ({"SOPInstanceUID": f"{sops[0]},{sops[3]}"}, [sops[3], sops[0]]),
        ({"SOPClassUID": films[0].SOPClassUID, "StudyDate": "-20240131"}, sops[:3]),
        ({"StudyInstanceUID": STUDIES[1]}, [sops[3]]),
    ]
    for filters, expected in cases:
        assert _uids(client.search_for_instances(search_filters=filters), "00080018") == expected, filters
    one = pydicom.Dataset.from_json(client.search_for_instances(search_filters={"InstanceNumber": "4"})[0])
    # Table 10.6.3-5 plus the series' and the study's attributes for a search not scoped to a study
    assert (one.SOPClassUID, one.Rows, one.Columns, one.NumberOfFrames) == (
        films[3].SOPClassUID, films[3].Rows, films[3].Columns, 1)
    assert (one.InstanceAvailability, one.Modality, one.PatientID, one.StudyDate) == (
        "ONLINE", "CT", "PQ2", "20240610")
    within = client.search_for_instances(STUDIES[0], search_filters={"Modality": "DX"})
    assert _uids(within, "00080018") == [sops[2]]


def test_includefield_is_honoured(client: DICOMwebClient, films: list[pydicom.Dataset]) -> None:
    plain = client.search_for_series(STUDIES[0])
    assert "00180015" not in plain[0]  # BodyPartExamined: not a required return attribute
    named = client.search_for_series(STUDIES[0], fields=["BodyPartExamined", "00080070"])
    assert named[0]["00180015"] == {"vr": "CS", "Value": ["CHEST"]}
    assert "00080070" in named[0]  # Manufacturer, by tag: present (empty when the header has none)
    studies = client.search_for_studies(search_filters={"PatientID": "PQ2"}, fields=["PatientAge",
                                                                                     "StudyTime"])
    assert "00101010" in studies[0] and "00080030" in studies[0]
    every = client.search_for_instances(STUDIES[1], SERIES[2], fields=["all"])
    header = films[3]
    full = pydicom.Dataset.from_json(every[0])
    assert full.SliceThickness == header.SliceThickness and full.KVP == header.KVP  # instance: whole header
    assert "7FE00010" not in every[0]  # pixel data is never inlined
    series_all = pydicom.Dataset.from_json(client.search_for_series(STUDIES[1], fields=["all"])[0])
    assert series_all.BodyPartExamined == "CHEST" and "SliceThickness" not in series_all  # series level only


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/series", {"NotAKeyword": "x"}, "cannot match on 'NotAKeyword'"),
        ("/instances", {"StudyDate": "2024"}, "StudyDate must be YYYYMMDD"),
        ("/series", {"StudyDate": "20240231"}, "not a calendar date"),
        ("/studies", {"StudyDate": "20240601-20240101"}, "ends before it starts"),
        ("/instances", {"InstanceNumber": "one"}, "InstanceNumber must be an integer"),
        ("/series", {"includefield": "NoSuchAttribute"}, "neither a DICOM keyword nor a tag"),
        (f"/studies/{STUDIES[0]}/series", {"PatientID": "PQ1"}, "cannot match on 'PatientID'"),
        ("/series", {"Modality": ","}, "Modality needs a value"),
    ],
)
def test_bad_queries_are_400_naming_the_problem(base_url: str, callers, films, path: str,  # type: ignore[no-untyped-def]
                                                params: dict, message: str) -> None:
    answer = requests.get(base_url + path, params=params, headers=callers.radiologist, timeout=30)
    assert answer.status_code == 400 and message in answer.json()["detail"], answer.text


def test_a_key_sees_only_what_it_sent(base_url: str, callers, films) -> None:  # type: ignore[no-untyped-def]
    for path in ("/series", "/instances"):
        other = requests.get(base_url + path, headers=callers.other_integration, timeout=30)
        assert other.status_code == 204, other.text
        own = requests.get(base_url + path, headers=callers.integration, timeout=30)
        assert own.status_code == 200 and own.headers["content-type"] == "application/dicom+json"
