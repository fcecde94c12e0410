"""Q&A from labels with sampled negatives, findings targets, batch order and the LR schedule."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from medvlm.curriculum.schema import Stage
from medvlm.findings import Finding, Laterality, Presence
from medvlm.model.configuration import slots_from_ontology
from medvlm.model.processing import report_target
from medvlm.ontology import load_ontology
from medvlm.training.examples import findings_targets, load_templates, qa_examples, report_examples
from medvlm.training.manifest import Record
from medvlm.training.stage import batch_indices, lr_at

ROOT = Path(__file__).resolve().parents[3]
SLOTS = slots_from_ontology(load_ontology())
TEMPLATES = load_templates(ROOT / "curricula" / "templates" / "questions.yaml")


def record(*findings: Finding, text: str = "Heart normal.", impression: str = "Normal.") -> Record:
    return Record("s", "1.2.3", "train", [Path("/x.dcm")], list(findings), text, impression)


@pytest.mark.parametrize(
    ("findings", "answers"),
    [
        ((), []),
        ((Finding("cardiomegaly", severity="mild"),), ["yes", "mild"]),
        (
            (Finding("pleural_effusion", laterality=Laterality.LEFT, severity="small"),),
            ["yes", "left", "small"],
        ),
        ((Finding("nodule", presence=Presence.ABSENT),), []),
    ],
)
@pytest.mark.parametrize("negatives", [0, 2, 5])
def test_qa_from_labels_with_sampled_negatives(findings, answers, negatives) -> None:
    examples = qa_examples([record(*findings)], [7], SLOTS, TEMPLATES, negatives, seed=3)
    assert [e.target for e in examples if e.target != "no"] == answers
    noes = [e for e in examples if e.target == "no"]
    assert len(noes) == negatives
    present = {f.label.replace("_", " ") for f in findings if f.presence == Presence.PRESENT}
    for e in noes:  # a sampled negative never asks about a finding that is there
        assert not any(p in e.question for p in present)
        assert "no finding" not in e.question
    assert all(e.image == 7 and e.question.endswith("?") for e in examples)


def test_findings_targets_mark_no_finding_and_attributes() -> None:
    names = [s.name for s in SLOTS]
    t = findings_targets(
        [record(), record(Finding("pleural_effusion", laterality=Laterality.RIGHT, severity="large"))], SLOTS
    )
    i_nf, i_pe = names.index("no_finding"), names.index("pleural_effusion")
    assert t["presence"][0, i_nf] == 1 and t["presence"][0].sum() == 1
    assert t["presence"][1, i_nf] == 0 and t["presence"][1, i_pe] == 1
    assert SLOTS[i_pe].lateralities[int(t["laterality"][1, i_pe])] == "right"
    assert SLOTS[i_pe].severities[int(t["severity"][1, i_pe])] == "large"
    assert int(t["laterality"][0, i_pe]) == -1


def test_report_examples_skip_records_without_text() -> None:
    examples = report_examples([record(text="", impression=""), record(Finding("cardiomegaly"))], [0, 1])
    assert len(examples) == 1
    assert examples[0].target == " Heart normal. impression: Normal."
    assert [f.label for f in examples[0].prompt_findings] == ["cardiomegaly"]


def test_report_examples_never_teach_the_placeholder() -> None:
    """IU's "The XXXX are intact." would be written into drafts: such sentences leave the target."""
    examples = report_examples([
        record(text="Heart size normal. The XXXX are intact. No effusion.", impression="No acute disease."),
        record(text="XXXX XXXX.", impression="Stable XXXX granuloma."),  # nothing left: no example
        record(text="", impression="No acute XXXX abnormality. Normal chest."),
    ], [0, 1, 2])
    assert [e.target for e in examples] == [
        " Heart size normal. No effusion. impression: No acute disease.",
        "  impression: Normal chest.",
    ]
    assert [e.image for e in examples] == [0, 2]


def test_batches_are_a_function_of_the_step() -> None:
    first = [batch_indices(0, 1, s, 8, 20) for s in range(5)]
    assert first == [batch_indices(0, 1, s, 8, 20) for s in range(5)]  # resume sees the same batches
    flat = [i for b in first for i in b]
    assert sorted(flat[:20]) == list(range(20))  # one epoch covers every example once
    assert batch_indices(1, 1, 0, 8, 20) != first[0]


def test_lr_warms_up_then_decays() -> None:
    stage = Stage.model_validate(
        {
            "name": "s",
            "kind": "encoder",
            "sources": ["a"],
            "modules": {"vision": "full"},
            "steps": 100,
            "lr": 1.0,
            "warmup_steps": 10,
            "eval_tasks": ["loss"],
            "select_on": "loss",
        }
    )
    lrs = [lr_at(stage, s) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in pairwise(lrs[10:])) and lrs[-1] < 0.1


@pytest.mark.parametrize(
    ("findings", "rendered", "expected"),
    [
        ((), 2, 1),  # a normal study: its real report only
        ((Finding("cardiomegaly"),), 0, 1),
        ((Finding("cardiomegaly"),), 2, 3),
        ((Finding("pleural_effusion", laterality=Laterality.LEFT, severity="large"),), 1, 2),
    ],
)
def test_rendered_reports_state_the_prompted_findings(findings, rendered, expected) -> None:
    from medvlm.labeler import label_report

    examples = report_examples([record(*findings)], [4], rendered, load_ontology())
    assert len(examples) == expected
    assert examples[0].target == report_target("Heart normal.", "Normal.")
    for e in examples[1:]:  # the rendered copies: same prompt, a target the labeler reads back
        assert e.prompt_findings == examples[0].prompt_findings and e.image == 4
        stated = {f.label for f in label_report(e.target) if f.presence == Presence.PRESENT}
        assert stated == {f.label for f in findings}


def test_rendered_reports_are_a_stage_option() -> None:
    base = {
        "name": "specialism",
        "kind": "specialism",
        "sources": ["reports"],
        "modules": {"language": "full"},
        "steps": 10,
        "lr": 1e-3,
        "eval_tasks": ["report"],
        "select_on": "report.ce_f1",
    }
    assert Stage(**base).rendered_reports == 0
    assert Stage(**base, rendered_reports=2).rendered_reports == 2
    with pytest.raises(ValueError, match="rendered_reports"):
        Stage(**base, rendered_reports=-1)
