"""Every coded concept the synthetic writers put in a file means what its CodeMeaning says, by pydicom's
copy of the DICOM concept dictionaries (and sits in the context group the attribute calls for)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sr._cid_dict import cid_concepts
from pydicom.sr._concepts_dict import concepts

from medvlm.synth.acquisition import PROJECTIONS, Acquisition
from medvlm.synth.dicom_writer import StudyIdentity, film_dataset
from medvlm.synth.hospital import FakeStudy, basic_text_sr
from medvlm.synth.hospital import film as hospital_film

# attribute holding the code -> the CID its value set is (PS3.3 DX/CR modules)
CONTEXT_GROUP = {
    "ViewCodeSequence": 4010,
    "AnatomicRegionSequence": 4031,
    "PatientOrientationCodeSequence": 19,
    "PatientOrientationModifierCodeSequence": 20,
}


def coded(ds: Dataset, attribute: str = "") -> Iterator[tuple[str, str, str, str]]:
    """(attribute, scheme, value, meaning) of every code item anywhere in ``ds``."""
    if "CodeValue" in ds:
        yield attribute, ds.CodingSchemeDesignator, ds.CodeValue, ds.CodeMeaning
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value:
                yield from coded(item, elem.keyword)


def meanings(scheme: str, value: str) -> dict[str, list[int]]:
    """Every meaning pydicom knows for the code, with the CIDs it is listed in under that meaning."""
    return {m: cids for entry in concepts.get(scheme, {}).values() for code, (m, cids) in entry.items()
            if code == value}


def datasets() -> Iterator[tuple[str, Dataset]]:
    film = np.zeros((16, 16), np.uint16)
    who = StudyIdentity.synthetic("codes", np.random.default_rng(0))
    for projection in PROJECTIONS:
        for modality in ("CR", "DX"):
            acq = Acquisition(projection=projection, modality=modality)
            yield f"writer-{projection}-{modality}", film_dataset(film, 0.5, who, (100.0, 200.0), acq)
    study = FakeStudy("codes", "P1", "Doe^Jane", "A1", dt.date(2024, 1, 2))
    for view in ("PA", "AP", "LL", ""):
        yield f"hospital-film-{view or 'unknown'}", hospital_film(study, film, view)
    yield "hospital-sr", basic_text_sr(study, "Lungs clear.", "Normal.")


CODES = sorted({(name, *code) for name, ds in datasets() for code in coded(ds)})


def test_the_writers_use_codes_at_all() -> None:
    attributes = {c[1] for c in CODES}
    assert {"ViewCodeSequence", "AnatomicRegionSequence", "PatientOrientationCodeSequence"} <= attributes


@pytest.mark.parametrize(("where", "attribute", "scheme", "value", "meaning"), CODES)
def test_every_code_means_what_it_says(where: str, attribute: str, scheme: str, value: str,
                                       meaning: str) -> None:
    known = meanings(scheme, value)
    assert known, f"{where}: {scheme} {value} ({meaning}) is not in pydicom's concept dictionary"
    assert meaning.lower() in {m.lower() for m in known}, f"{where}: {scheme} {value} means {list(known)}"
    if (cid := CONTEXT_GROUP.get(attribute)) is not None:
        in_group = [m for m, cids in known.items() if cid in cids and m.lower() == meaning.lower()]
        assert in_group, f"{where}: {attribute} {scheme} {value} ({meaning}) is not in CID {cid}"
        assert scheme in cid_concepts[cid]


@pytest.mark.parametrize("view", ["PA", "AP", "LL"])
def test_hospital_films_code_the_view_they_state(view: str) -> None:
    study = FakeStudy("codes", "P1", "Doe^Jane", "A1", dt.date(2024, 1, 2))
    ds = hospital_film(study, np.zeros((8, 8), np.uint8), view)
    expected = {"PA": "postero-anterior", "AP": "antero-posterior", "LL": "left lateral"}[view]
    assert (ds.ViewPosition, ds.ViewCodeSequence[0].CodeMeaning) == (view, expected)


@pytest.mark.parametrize(
    ("projection", "value", "meaning"),
    [("PA", "272479007", "postero-anterior"), ("AP", "399348003", "antero-posterior"),
     ("AP_SUPINE", "399348003", "antero-posterior"), ("LL", "399173006", "left lateral")],
)
def test_the_view_code_names_the_projection(projection: str, value: str, meaning: str) -> None:
    who = StudyIdentity.synthetic("c", np.random.default_rng(0))
    acq = Acquisition(projection=projection)
    ds = film_dataset(np.zeros((8, 8), np.uint16), 0.5, who, (100.0, 200.0), acq)
    code = ds.ViewCodeSequence[0]
    assert (code.CodeValue, code.CodeMeaning) == (value, meaning)
