"""Round trip with a real PACS (Orthanc, loopback-only network namespace): Orthanc sends a study to our
listener, we ingest and draft it, and send the DICOM SR and the encapsulated PDF back, where Orthanc's
REST API finds them in the same study. Bad input sent by the PACS is refused with a failure status that
the PACS sees."""

from __future__ import annotations

import io
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import highdicom
import pydicom
import pytest
from pydicom.data import get_testdata_file
from sqlmodel import Session, select

from medvlm.db import get_engine
from medvlm.db.models import Instance
from medvlm.findings import Finding, Presence
from medvlm.pacs import scu
from medvlm.pacs.errors import PacsError
from medvlm.service.db.tables import DraftJob, Report
from medvlm.service.dicom_listener.listener import start_dicom_listener
from medvlm.service.workflow.draft_output import DraftOutput
from medvlm.settings import Settings
from tests.support.orthanc import OrthancServer, inside, running_orthanc
from tests.support.services import missing_service

pytestmark = pytest.mark.integration

LISTENER_PORT = 11112  # fixed: the namespace is private, and Orthanc's modality entry names it


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    """One Orthanc for the module (each test uses its own studies); stopped, namespace deleted after."""
    modalities = {"medvlm": ("MEDVLM", "127.0.0.1", LISTENER_PORT)}
    with running_orthanc(tmp_path_factory.mktemp("orthanc"), modalities) as server:
        if server is None:
            missing_service("Orthanc (Debian orthanc) in a loopback-only network namespace (ip netns)")
        yield server


class MeanPixelDrafter:
    """A stand-in for the model that still reads every received image from the store (decoded)."""

    def __init__(self) -> None:
        self.images = 0

    def draft(self, paths: list[Path], edited_findings: list[Finding] | None = None) -> DraftOutput:
        means = [float(pydicom.dcmread(p).pixel_array.mean()) for p in paths]
        self.images += len(means)
        finding = Finding("cardiomegaly", Presence.ABSENT, probability=0.1)
        return DraftOutput(findings=[finding], findings_text=f"Mean pixel value {means[0]:.0f}.",
                           impression="Normal study.", model_version="pacs-test-1")


def _testfile(name: str) -> Path:
    found = get_testdata_file(name, download=False)
    assert found is not None, f"pydicom test file {name} missing"
    return Path(str(found))


def _find_instance(orthanc: OrthancServer, sop_uid: str) -> list[str]:
    query = {"Level": "Instance", "Query": {"SOPInstanceUID": sop_uid}}
    return list(orthanc.rest("POST", "/tools/find", query))


def test_study_from_orthanc_is_drafted_and_results_go_back(orthanc: OrthancServer, sqlite_settings: Settings,
                                                        ) -> None:
    from medvlm.service.exports import encapsulated_pdf
    from medvlm.service.exports.context_builder import build_context
    from medvlm.service.exports.sr import build_sr
    from medvlm.service.exports.tid1500 import build_tid1500
    from medvlm.service.jobs.worker import Worker

    image = _testfile("CT_small.dcm")
    source = pydicom.dcmread(image, stop_before_pixels=True)
    engine = get_engine(sqlite_settings.resolved_database_url)
    with inside(orthanc), start_dicom_listener(sqlite_settings, port=LISTENER_PORT) as listener:
        # the PACS holds the study, and can reach us
        uploaded = orthanc.rest("POST", "/instances", image.read_bytes())
        orthanc.rest("POST", "/modalities/medvlm/echo", {})
        # the PACS pushes it (C-STORE); Success comes only once it is stored and indexed
        orthanc.rest("POST", "/modalities/medvlm/store", {"Resources": [uploaded["ParentStudy"]],
                                                          "Synchronous": True})
        store_assoc = listener.wait_for_associations(2)[-1]
        assert (store_assoc.calling_ae, store_assoc.stored, store_assoc.failed) == ("ORTHANC", 1, 0)
        with Session(engine) as session:
            assert session.exec(select(Instance.sop_instance_uid)).all() == [str(source.SOPInstanceUID)]
            [job] = session.exec(select(DraftJob)).all()
        assert job.study_instance_uid == str(source.StudyInstanceUID) and job.id in store_assoc.jobs

        # the service's worker drafts it
        drafter = MeanPixelDrafter()
        assert Worker(engine, lambda: drafter).run_once()
        assert drafter.images == 1
        with Session(engine) as session:
            report = session.exec(select(Report)).one()
            context = build_context(session, report)
        exports = [build_sr(context), encapsulated_pdf.build(context), build_tid1500(context)]

        # the SR, the encapsulated PDF and the TID 1500 AI results go back to the PACS, into the same study
        uids = [str(pydicom.dcmread(io.BytesIO(data)).SOPInstanceUID) for data in exports]
        results = scu.send("127.0.0.1", orthanc.dicom_port, exports, called_ae=orthanc.ae_title)
        assert [r.status for r in results] == [0x0000, 0x0000, 0x0000]
        tags = [orthanc.rest("GET", f"/instances/{found}/simplified-tags")
                for uid in uids for found in _find_instance(orthanc, uid)]
        assert [t["Modality"] for t in tags] == ["SR", "DOC", "SR"]
        assert {t["StudyInstanceUID"] for t in tags} == {str(source.StudyInstanceUID)}
        assert tags[0]["VerificationFlag"] == "UNVERIFIED"  # a draft, not signed
        pdf = orthanc.rest("GET", f"/instances/{_find_instance(orthanc, uids[1])[0]}/pdf")
        assert pdf.startswith(b"%PDF")
        assert len(orthanc.rest("GET", f"/studies/{uploaded['ParentStudy']}/instances")) == 4
        # what the PACS now holds is a TID 1500 measurement report highdicom reads, naming the algorithm
        stored = orthanc.rest("GET", f"/instances/{_find_instance(orthanc, uids[2])[0]}/file")
        tid = highdicom.sr.srread(io.BytesIO(stored))
        assert tid.ContentTemplateSequence[0].TemplateIdentifier == "1500"
        [group] = tid.content.get_image_measurement_groups()
        assert group.tracking_identifier == "no_finding"  # the drafter reported cardiomegaly absent only
        assert any(e.Manufacturer == "MedVLM" and e.SoftwareVersions == "pacs-test-1"
                   for e in tid.ContributingEquipmentSequence)


def test_pacs_sees_failure_for_input_we_cannot_store(orthanc: OrthancServer, sqlite_settings: Settings,
                                                     ) -> None:
    plan = _testfile("rtplan.dcm")  # a valid DICOM object, but no image to draft from
    engine = get_engine(sqlite_settings.resolved_database_url)
    with inside(orthanc), start_dicom_listener(sqlite_settings, port=LISTENER_PORT) as listener:
        uploaded = orthanc.rest("POST", "/instances", plan.read_bytes())
        with pytest.raises(urllib.error.HTTPError):  # Orthanc's store job fails on our failure status
            orthanc.rest("POST", "/modalities/medvlm/store", {"Resources": [uploaded["ID"]],
                                                              "Synchronous": True})
        [assoc] = listener.wait_for_associations(1)
        assert (assoc.stored, assoc.failed, assoc.jobs) == (0, 1, [])
    with Session(engine) as session:
        assert session.exec(select(Instance)).all() == [] and session.exec(select(DraftJob)).all() == []
    store = sqlite_settings.store_dir
    assert not (store.exists() and any(p.is_file() for p in store.rglob("*")))


def test_orthanc_echo_and_rejection_of_wrong_called_ae(orthanc: OrthancServer) -> None:
    with inside(orthanc):
        scu.echo("127.0.0.1", orthanc.dicom_port, called_ae=orthanc.ae_title)
        with pytest.raises(PacsError, match="called AE title not recognized"):
            scu.echo("127.0.0.1", orthanc.dicom_port, called_ae="NOTORTHANC")
