"""The import reads what MedVLM itself sends a RIS / PACS: the ORU^R01 of ``service/hl7/oru.py`` and the
DICOM SR of ``service/exports/sr.py`` (a site re-importing its signed MedVLM reports)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from medvlm.dataset.importer.hl7 import read_hl7
from medvlm.dataset.importer.sr import sr_report
from medvlm.service.exports.sr import build_sr_dataset
from medvlm.service.hl7.oru import Endpoints, build_oru
from tests.service.exports.report_fixtures import FINDINGS_TEXT, IMPRESSION, chest_film_path, make_context


def test_reads_the_services_oru(tmp_path: Path) -> None:
    ctx = make_context(chest_film_path(), signed=True, accession_number="ACC|42")
    path = tmp_path / "out.hl7"
    path.write_text(build_oru(ctx, event="signed", control_id="C1", endpoints=Endpoints(),
                              now=datetime(2026, 3, 14, 10, 0, tzinfo=UTC)))
    (report,) = list(read_hl7(path))
    assert report.study_uid == ctx.study_instance_uid and report.accession == "ACC|42"
    assert report.patient_id == ctx.patient_id and report.date == ctx.signed_at.date()
    assert FINDINGS_TEXT in report.findings_text and report.impression == IMPRESSION
    assert "Dr. Ada Lovelace" in report.names


def test_reads_the_services_sr() -> None:
    ctx = make_context(chest_film_path(), signed=True)
    report = sr_report(build_sr_dataset(ctx), "sr.dcm")
    assert report.study_uid == ctx.study_instance_uid
    for line in FINDINGS_TEXT.splitlines():
        assert line in report.findings_text
    assert IMPRESSION.splitlines()[0] in report.impression
