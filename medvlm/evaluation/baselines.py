"""Report baselines scored beside the model in ``medvlm eval`` (issue #22): what a report generator has
to beat to be one.

- normal: one fixed normal report for every study (reads no image).
- retrieval: the report of the nearest train study, nearest by the model's own image embedding (its
  vision tokens, mean-pooled, cosine similarity): the model's eyes without its language model.
- template: the model's predicted findings written out with the ontology's phrases (the findings head
  without the language model).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from medvlm.findings import NO_FINDING, Finding, Presence
from medvlm.ontology import Ontology

NORMAL_REPORT = (
    "The heart size and mediastinal contours are within normal limits. The lungs are clear. "
    "No pleural effusion or pneumothorax.",
    "No acute cardiopulmonary abnormality.",
)


def normal_reports(n: int) -> list[tuple[str, str]]:
    return [NORMAL_REPORT] * n


def template_report(findings: Sequence[Finding], ontology: Ontology) -> tuple[str, str]:
    """(findings section, impression) stating each predicted positive finding in the ontology's words."""
    sentences = []
    for f in findings:
        if f.label == NO_FINDING or f.presence == Presence.ABSENT or f.label not in ontology:
            continue
        side = f.laterality.value if f.laterality else None
        sentences.append(ontology.get(f.label).render(Presence.PRESENT, side, f.severity, f.location))
    text = " ".join(s for s in sentences if s)
    if not text:
        return NORMAL_REPORT
    return text, text


@torch.no_grad()
def image_embeddings(bundle: Any, images: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """(N, D) unit vectors: the vision tower's tokens, mean-pooled."""
    out = []
    for i in range(0, images.shape[0], batch_size):
        tokens, _ = bundle.vision_features(bundle.pixel_values(images[i : i + batch_size].float()))
        out.append(torch.nn.functional.normalize(tokens.float().mean(dim=1), dim=-1).cpu())
    if not out:
        raise ValueError("image_embeddings needs at least one image")
    return torch.cat(out)


def nearest(queries: torch.Tensor, pool: torch.Tensor) -> list[int]:
    """Index into ``pool`` of each query's most similar row (cosine; ties: the first)."""
    if pool.shape[0] == 0:
        raise ValueError("retrieval needs at least one train study")
    return (queries @ pool.T).argmax(dim=1).tolist()


def retrieval_reports(query: torch.Tensor, pool: torch.Tensor,
                      pool_reports: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """For each query embedding, the report of its nearest pool study."""
    if pool.shape[0] != len(pool_reports):
        raise ValueError(f"{pool.shape[0]} pool embeddings but {len(pool_reports)} pool reports")
    return [pool_reports[i] for i in nearest(query, pool)]
