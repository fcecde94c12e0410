"""The AI results as a TID 1500 Measurement Report: dciodvfy-clean, read back with highdicom, coded in
SNOMED CT / DICOM where codes exist, the algorithm and Contributing Equipment named."""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import pytest
from pydicom.sr.codedict import codes

from medvlm.findings import Finding, Laterality, Presence
from medvlm.service.exports.context import InstanceRef, ReportContext, SeriesRef
from medvlm.service.exports.fhir_imaging_study import imaging_study
from medvlm.service.exports.tid1500 import build_tid1500
from tests.service.exports.report_fixtures import chest_film_path, dciodvfy, make_context


def pydicom_uid(path: Path) -> str:
    import pydicom

    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def _written(tmp_path: Path, ctx: ReportContext) -> Path:
    path = tmp_path / "tid1500.dcm"
    path.write_bytes(build_tid1500(ctx))
    return path


def _groups(path: Path) -> dict[str, hd.sr.MeasurementsAndQualitativeEvaluations]:
    sr = hd.sr.srread(path)
    assert isinstance(sr, hd.sr.Comprehensive3DSR)
    return {g.tracking_identifier: g for g in sr.content.get_image_measurement_groups()}


def _texts(group: hd.sr.MeasurementsAndQualitativeEvaluations, code: object) -> list[str]:
    return [
        item.TextValue
        for item in group[0].ContentSequence
        if item.ConceptNameCodeSequence[0].CodeValue == code.value
    ]  # type: ignore[attr-defined]


@pytest.mark.parametrize("signed", [True, False])
def test_measurement_report_validates_and_reads_back(tmp_path: Path, signed: bool) -> None:
    ctx = make_context(chest_film_path(), signed=signed)
    path = _written(tmp_path, ctx)
    errors, _ = dciodvfy(path)
    assert errors == []
    sr = hd.sr.srread(path)
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    assert sr.VerificationFlag == ("VERIFIED" if signed else "UNVERIFIED")
    assert sr.StudyInstanceUID == ctx.study_instance_uid
    groups = _groups(path)
    assert sorted(groups) == ["nodule", "pleural_effusion", "pneumothorax"]  # absent cardiomegaly not listed
    effusion = groups["pleural_effusion"]
    assert (effusion.finding_type.value, effusion.finding_type.scheme_designator) == ("60046008", "SCT")
    site = effusion.finding_sites[0]
    assert site.value.value == codes.SCT.Pleura.value and site.laterality.value == codes.SCT.Left.value
    evaluations = {q.name.value: q.value.value for q in effusion.get_qualitative_evaluations()}
    assert evaluations == {
        codes.DCM.PresenceOfProperty.value: codes.DCM.Present.value,
        codes.SCT.Severity.value: codes.SCT.Small.value,
    }
    assert [(m.value, m.unit.value) for m in effusion.get_measurements()] == [(87.0, "%")]
    assert _texts(effusion, codes.DCM.AlgorithmName) == ["MedVLM"]
    assert _texts(effusion, codes.DCM.AlgorithmVersion) == ["tiny-2026.03.1"]
    pneumothorax = {q.name.value: q.value.value for q in groups["pneumothorax"].get_qualitative_evaluations()}
    assert pneumothorax[codes.DCM.LevelOfSignificance.value] == codes.SCT.HighlySignificant.value
    nodule = {q.name.value: q.value.value for q in groups["nodule"].get_qualitative_evaluations()}
    assert nodule[codes.DCM.PresenceOfProperty.value] == codes.DCM.PresenceUndetermined.value
    ours = [e for e in sr.ContributingEquipmentSequence if e.Manufacturer == "MedVLM"]
    assert len(ours) == 1 and ours[0].SoftwareVersions == "tiny-2026.03.1"
    assert ours[0].PurposeOfReferenceCodeSequence[0].CodeValue == codes.DCM.ProcessingEquipment.value
    people = [
        c for c in sr.content.get_observer_contexts() if c.observer_type.value == codes.DCM.Person.value
    ]
    assert len(people) == (1 if signed else 0)


def test_finding_without_a_standard_code_uses_the_declared_local_scheme(tmp_path: Path) -> None:
    findings = [Finding("calcified_granuloma", Presence.PRESENT, Laterality.RIGHT, probability=0.7)]
    path = _written(tmp_path, make_context(chest_film_path(), signed=True, findings=findings))
    assert dciodvfy(path)[0] == []
    group = _groups(path)["calcified_granuloma"]
    assert (group.finding_type.value, group.finding_type.scheme_designator) == (
        "calcified_granuloma",
        "99MEDVLM",
    )
    assert hd.sr.srread(path).CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == "99MEDVLM"


def test_no_findings_is_one_coded_normal_group(tmp_path: Path) -> None:
    path = _written(tmp_path, make_context(chest_film_path(), signed=True, findings=[Finding("no_finding")]))
    assert dciodvfy(path)[0] == []
    groups = _groups(path)
    assert list(groups) == ["no_finding"]
    normal = groups["no_finding"]
    assert normal.finding_type.value == codes.SCT.Abnormal.value
    assert [q.value.value for q in normal.get_qualitative_evaluations()] == [codes.DCM.Absent.value]
    assert normal.source_images[0].referenced_sop_instance_uid == pydicom_uid(chest_film_path())


def test_imaging_study_lists_every_series_and_instance() -> None:
    series = (
        SeriesRef("1.2.3.1", "CR", 1, "PA", (InstanceRef("1.2.3.1.1", "1.2.840.10008.5.1.4.1.1.1", 1),)),
        SeriesRef(
            "1.2.3.2",
            "CR",
            2,
            "LAT",
            (
                InstanceRef("1.2.3.2.1", "1.2.840.10008.5.1.4.1.1.1", 1),
                InstanceRef("1.2.3.2.2", "1.2.840.10008.5.1.4.1.1.1", 2),
            ),
        ),
    )
    study = imaging_study(make_context(chest_film_path(), signed=True, series=series))
    assert (study["numberOfSeries"], study["numberOfInstances"]) == (2, 3)
    assert study["modality"] == [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CR"}]
    assert [s["uid"] for s in study["series"]] == ["1.2.3.1", "1.2.3.2"]
    assert study["series"][1]["instance"][1]["sopClass"]["code"] == "urn:oid:1.2.840.10008.5.1.4.1.1.1"
    assert study["contained"][0]["resourceType"] == "Patient" and study["subject"] == {
        "reference": "#patient"
    }
