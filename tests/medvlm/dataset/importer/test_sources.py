"""Report readers (CSV, JSONL, HL7 ORU^R01, DICOM SR), the intended-use check and the pairing rules."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from medvlm.dataset.importer.hl7 import read_hl7
from medvlm.dataset.importer.intended_use import chest_view
from medvlm.dataset.importer.pairing import pair
from medvlm.dataset.importer.reports import ImportInputError, SourceReport, read_reports, split_sections
from medvlm.dataset.importer.sr import sr_report
from medvlm.dataset.importer.studies import Study
from medvlm.synth.hospital import basic_text_sr, oru_message
from tests.medvlm.dataset.importer.archive import fake_study


def test_csv_splits_sections_and_reads_identifiers(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("Accession_Number,patient_id,signed_date,text\n"
                    'A1,P1,2021-03-04,"FINDINGS: Heart normal.\nIMPRESSION: Normal chest."\n')
    (report,) = list(read_reports(path))
    assert (report.accession, report.patient_id, report.date) == ("A1", "P1", dt.date(2021, 3, 4))
    assert (report.findings_text, report.impression) == ("Heart normal.", "Normal chest.")
    assert report.where == f"{path}:3"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.csv", "accession,signed_date\nA1,2021-01-01\n", "no report text column"),
        ("b.csv", "text,signed_date\nhello,2021-01-01\n", "no identifier column"),
        ("c.csv", "accession,signed_date,text\nA1,yesterday,hello\n", "c.csv:2: date 'yesterday'"),
        ("d.jsonl", '{"accession": "A1", "text": "x"}\n{not json\n', "d.jsonl:2: not JSON"),
        ("e.jsonl", "[1, 2]\n", "e.jsonl:1: expected a JSON object"),
        ("f.txt", "hello", "not a report export"),
        ("g.hl7", "MSH|^~\\&|RIS|H|||20240101||ADT^A01|1|P|2.5.1\rPID|1||1\r", "expected ORU.R01"),
    ],
)
def test_unreadable_exports_name_file_and_line(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ImportInputError, match=message):
        list(read_reports(path))


def test_hl7_batch_with_escapes_and_study_uid(tmp_path: Path) -> None:
    first, second = fake_study(1), fake_study(2)
    path = tmp_path / "batch.hl7"
    path.write_text(oru_message(first, "Heart | lungs normal.", "Normal.", "1", with_study_uid=True).replace(
        "\r", "\n") + oru_message(second, "Cardiomegaly.", "Big heart.", "2"))
    a, b = list(read_hl7(path))
    assert a.study_uid == first.study_uid and a.accession == first.accession
    assert "Heart | lungs normal." in a.findings_text and a.impression.startswith("Normal.")
    assert a.patient_id == first.patient_id and a.date == first.date
    assert "Dupont^Mariebp"[:6] in a.names[0] and "Moreau" in a.names
    assert b.study_uid == "" and b.where.endswith("#message2")


def test_sr_text_items_become_findings_and_impression() -> None:
    study = fake_study(3)
    report = sr_report(basic_text_sr(study, "Cardiomegaly.", "Enlarged heart."), "sr.dcm")
    assert report.findings_text.endswith("Cardiomegaly.") and report.impression.startswith("Enlarged heart.")
    assert (report.study_uid, report.accession, report.date) == (study.study_uid, study.accession, study.date)
    assert "Moreau^Claire" in report.names


def test_split_sections_without_heading() -> None:
    assert split_sections("Lungs clear.") == ("Lungs clear.", "")


def _film(view: str = "PA", modality: str = "DX", body_part: str = "CHEST") -> Dataset:
    from medvlm.synth.hospital import film
    from tests.medvlm.dataset.importer.archive import pixels

    return film(fake_study(0), pixels(0), view, modality=modality, body_part=body_part)


@pytest.mark.parametrize(
    ("attrs", "view", "reason"),
    [
        ({"view": "PA"}, "PA", ""),
        ({"view": "AP", "modality": "CR"}, "AP", ""),
        ({"view": "LL"}, "LATERAL", ""),
        ({"view": ""}, "FRONTAL", ""),  # no ViewPosition: the gate's image check says frontal
        ({"modality": "CT"}, None, "modality CT"),
        ({"body_part": "HAND"}, None, "body part HAND"),
        ({"view": "OBL"}, None, "view position OBL"),
    ],
)
def test_chest_view_is_the_gates_verdict(attrs: dict[str, str], view: str | None, reason: str) -> None:
    got_view, got_reason = chest_view(_film(**attrs))
    assert got_view == view and reason in got_reason


def test_chest_view_reads_pixels_only_when_the_attributes_pass() -> None:
    full = _film()
    header = Dataset()
    header.update({k: v for k, v in full.items() if k != 0x7FE00010})  # a header-only read
    reads: list[int] = []

    def read() -> Dataset:
        reads.append(1)
        return full

    assert chest_view(header, read) == ("PA", "")
    ct = _film(modality="CT")
    del ct.PixelData
    assert chest_view(ct, read)[0] is None and len(reads) == 1


def test_noise_in_chest_attributes_is_refused_by_the_image_check() -> None:
    import numpy as np

    ds = _film()
    noise = np.random.default_rng(0).integers(0, 4095, (ds.Rows, ds.Columns), dtype=np.uint16)
    ds.PixelData = noise.tobytes()
    view, reason = chest_view(ds)
    assert view is None and "does not look like a chest radiograph" in reason


def _study(uid: str, accession: str = "", patient: str = "", day: int = 1) -> Study:
    return Study(uid, accession, patient, dt.date(2021, 1, day))


def _report(uid: str = "", accession: str = "", patient: str = "", day: int = 1,
            text: str = "x") -> SourceReport:
    return SourceReport("here", "csv", text, "", uid, accession, patient, dt.date(2021, 1, day))


@pytest.mark.parametrize(
    ("studies", "reports", "paired", "reason"),
    [
        ([_study("1")], [_report(uid="1")], [("1", "study_uid")], ""),
        ([_study("1", "A")], [_report(uid="9", accession="A")], [("1", "accession")], ""),
        ([_study("1", patient="P", day=3)], [_report(patient="P", day=4)], [("1", "patient_date")], ""),
        ([_study("1", patient="P", day=3)], [_report(patient="P", day=6)], [], "within 1 day"),
        ([_study("1", patient="P", day=3), _study("2", patient="P", day=5)],
         [_report(patient="P", day=4)], [], "equally near"),
        ([_study("1", "A"), _study("2", "A")], [_report(accession="A")], [], "several studies"),
        ([_study("1")], [_report(uid="1"), _report(uid="1")], [("1", "study_uid")], "already paired"),
        ([_study("1")], [_report(uid="1", text="")], [], "empty report text"),
        ([_study("1")], [_report(accession="Z")], [], "no study with"),
    ],
)
def test_pairing_rules(studies: list[Study], reports: list[SourceReport], paired: list[tuple[str, str]],
                       reason: str) -> None:
    result = pair(studies, reports, window_days=1)
    assert [(s.study_uid, rule) for s, _, rule in result.pairs] == paired
    if reason:
        assert any(reason in why for _, why in result.unpaired_reports)
    assert len(result.unpaired_studies) == len(studies) - len(paired)


def test_jsonl_reads_findings_and_impression_columns(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"study_instance_uid": "1.2", "findings": "F.", "impression": "I."}) + "\n")
    (report,) = list(read_reports(path))
    got = (report.study_uid, report.findings_text, report.impression, report.date)
    assert got == ("1.2", "F.", "I.", None)
