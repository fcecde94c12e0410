"""Report baselines: fixed normal report, findings-to-template, nearest-train-report retrieval."""

from __future__ import annotations

import pytest
import torch

from medvlm.evaluation.baselines import (
    NORMAL_REPORT,
    image_embeddings,
    nearest,
    normal_reports,
    retrieval_reports,
    template_report,
)
from medvlm.findings import Finding, Laterality, Presence
from medvlm.labeler import label_report
from medvlm.ontology import load_ontology


def test_normal_report_states_no_finding() -> None:
    assert normal_reports(3) == [NORMAL_REPORT] * 3
    stated = {f.label: f.presence for f in label_report(" ".join(NORMAL_REPORT))}
    assert stated["no_finding"] == Presence.PRESENT
    assert all(p == Presence.ABSENT for label, p in stated.items() if label != "no_finding")


def test_template_report_reads_back_as_the_predicted_findings() -> None:
    onto = load_ontology()
    predicted = [Finding("pleural_effusion", laterality=Laterality.LEFT, severity="small"),
                 Finding("cardiomegaly", presence=Presence.ABSENT),
                 Finding("no_finding", presence=Presence.ABSENT)]
    findings_text, impression = template_report(predicted, onto)
    read = {f.label: f for f in label_report(findings_text) if f.presence == Presence.PRESENT}
    assert set(read) == {"pleural_effusion"} and read["pleural_effusion"].laterality == Laterality.LEFT
    assert impression == findings_text
    assert template_report([Finding("cardiomegaly", presence=Presence.ABSENT)], onto) == NORMAL_REPORT


def test_nearest_and_retrieval() -> None:
    pool = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]]), dim=-1)
    queries = torch.nn.functional.normalize(torch.tensor([[0.1, 1.0], [1.0, 0.05]]), dim=-1)
    assert nearest(queries, pool) == [1, 0]
    reports = [("a", "A"), ("b", "B"), ("c", "C")]
    assert retrieval_reports(queries, pool, reports) == [("b", "B"), ("a", "A")]
    with pytest.raises(ValueError, match="3 pool embeddings but 2 pool reports"):
        retrieval_reports(queries, pool, reports[:2])
    with pytest.raises(ValueError, match="at least one train study"):
        nearest(queries, torch.zeros(0, 2))


class _Tower:
    """Stands in for a ModelBundle: tokens are the image's pixels, so similar images embed alike."""

    def pixel_values(self, images: torch.Tensor) -> torch.Tensor:
        return images

    def vision_features(self, pixels: torch.Tensor) -> tuple[torch.Tensor, None]:
        return pixels.flatten(2).transpose(1, 2).repeat(1, 1, 2), None


def test_image_embeddings_are_unit_vectors_per_image() -> None:
    images = torch.rand(5, 1, 4, 4)
    embeddings = image_embeddings(_Tower(), images, batch_size=2)
    assert embeddings.shape == (5, 2)
    assert torch.allclose(embeddings.norm(dim=1), torch.ones(5))
    with pytest.raises(ValueError, match="at least one image"):
        image_embeddings(_Tower(), torch.zeros(0, 1, 4, 4))
