"""Which IU reports become films, with which findings, and why others are skipped."""

from __future__ import annotations

import pytest

from medvlm.corpus.iu import IUReport
from medvlm.dataset.iu_source import iu_study
from medvlm.findings import Laterality
from medvlm.ontology import load_ontology


def report(mesh: list[str], findings: str, impression: str = "") -> IUReport:
    return IUReport(
        study_id="CXR1",
        indication="",
        comparison="",
        findings=findings,
        impression=impression,
        mesh=mesh,
        split="train",
    )


@pytest.mark.parametrize(
    ("mesh", "text", "labels", "skip"),
    [
        (["normal"], "The lungs are clear. No pneumothorax or pleural effusion.", ["no_finding"], None),
        (["Pleural Effusion/left/small"], "Small left pleural effusion.", ["pleural_effusion"], None),
        (["Fractures, Bone/ribs/left"], "Healed left rib fractures.", None, "unrenderable:fracture"),
        (["normal"], "There is a large right pleural effusion.", None, "text-not-in-mesh:pleural_effusion"),
    ],
)
def test_ground_truth_and_skips(mesh, text, labels, skip) -> None:
    study = iu_study(report(mesh, text), load_ontology())
    assert study.skip_reason == skip
    assert (None if study.findings is None else [f.label for f in study.findings]) == labels


def test_labeler_fills_in_what_mesh_leaves_out() -> None:
    # MeSH says "Cardiomegaly" with no grade; the text says how much.
    study = iu_study(report(["Cardiomegaly"], "The heart is moderately enlarged."), load_ontology())
    assert study.findings is not None and study.findings[0].severity == "moderate"


def test_effusion_side_comes_from_mesh() -> None:
    study = iu_study(
        report(["Pleural Effusion/right/large"], "Large right pleural effusion."), load_ontology()
    )
    assert study.findings is not None and study.findings[0].laterality == Laterality.RIGHT


@pytest.mark.parametrize(
    ("mesh", "text", "labels", "disagreement"),
    [
        # a test report the labeler reads more in is drawn from MeSH, the disagreement recorded
        (["normal"], "There is a large right pleural effusion.", ["no_finding"], ("pleural_effusion",)),
        (
            ["Cardiomegaly"],
            "Cardiomegaly. Small left pleural effusion.",
            ["cardiomegaly"],
            ("pleural_effusion",),
        ),
        (["normal"], "The lungs are clear.", ["no_finding"], ()),
        # an undrawable finding still skips: the film could not show it
        (["Fractures, Bone/ribs/left"], "Healed left rib fractures.", None, ()),
    ],
)
def test_keep_disagreement_draws_mesh_truth(mesh, text, labels, disagreement) -> None:
    study = iu_study(report(mesh, text), load_ontology(), keep_disagreement=True)
    assert (None if study.findings is None else [f.label for f in study.findings]) == labels
    assert study.disagreement == disagreement


@pytest.mark.parametrize(
    ("mesh", "text", "device"),
    [
        # "Tube, Inserted" only says "a tube": the one the text names is drawn
        (
            ["Tube, Inserted/trachea, carina"],
            "The tracheostomy tube tip is 5 cm above the carina.",
            "tracheostomy",
        ),
        (["Tube, Inserted"], "Enteric tube courses below the diaphragm.", "enteric tube"),
        (["Tube, Inserted/thorax/right"], "Right-sided chest tube in place.", "chest tube"),
        # a text that names no type keeps the heading's usual meaning
        (["Tube, Inserted"], "Tube in place.", "endotracheal tube"),
        (["Catheters, Indwelling"], "Lines and tubes are unchanged.", "central line"),
    ],
)
def test_the_device_the_text_names_is_the_one_drawn(mesh, text, device) -> None:
    study = iu_study(report(mesh, text), load_ontology())
    assert study.findings is not None
    assert [f.location for f in study.findings if f.label == "support_device"] == [device]
