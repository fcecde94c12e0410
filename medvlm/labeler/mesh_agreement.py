"""Score the labeler against the IU MeSH tags (``medvlm eval labeler``).

For each report, the labeler reads the findings and impression sections; the reference is
``mesh_findings`` of its MeSH major tags. A label counts as predicted when the labeler calls it present;
hedged mentions ("possible", "may represent", the alternative after "versus") are uncertain and, like
the IU indexers, not counted (on train+validation, counting them costs 0.03 macro F1). Per finding:
precision, recall, F1 and support (reference positives); the macro F1 is over findings with at least
``min_examples`` reference positives. The test buckets are refused: they are for final evaluation only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from medvlm.corpus.iu import SPLITS, IUReport, load_iu_reports, mesh_findings
from medvlm.errors import ConfigError
from medvlm.findings import Finding, Presence
from medvlm.labeler.labeler import label_report
from medvlm.ontology import Ontology, load_ontology


def predicted_findings(text: str, ontology: Ontology) -> dict[str, Finding]:
    return {f.label: f for f in label_report(text, ontology) if f.presence == Presence.PRESENT}


def attribute_agreement(
    pairs: Iterable[tuple[dict[str, Finding], dict[str, Finding]]],
) -> dict[str, dict[str, float]]:
    """For labels found by both, how often the labeler's side / severity equals the MeSH qualifier
    (counted where the MeSH tag has one; a missing reading counts as a disagreement)."""
    out: dict[str, dict[str, float]] = {}
    for attribute in ("laterality", "severity"):
        agree = total = 0
        for reference, predicted in pairs:
            for label, truth in reference.items():
                if label in predicted and getattr(truth, attribute) is not None:
                    total += 1
                    agree += getattr(predicted[label], attribute) == getattr(truth, attribute)
        out[attribute] = {"agreement": agree / total if total else 0.0, "n": total}
    return out


def score(pairs: Iterable[tuple[set[str], set[str]]], names: list[str], min_examples: int) -> dict[str, Any]:
    """Per-label and macro scores from (reference, predicted) label sets."""
    counts = {name: {"tp": 0, "fp": 0, "fn": 0} for name in names}
    n = 0
    for reference, predicted in pairs:
        n += 1
        for name in names:
            ref, pred = name in reference, name in predicted
            if ref and pred:
                counts[name]["tp"] += 1
            elif pred:
                counts[name]["fp"] += 1
            elif ref:
                counts[name]["fn"] += 1
    per: dict[str, dict[str, float]] = {}
    for name, c in counts.items():
        precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
        recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per[name] = {"precision": precision, "recall": recall, "f1": f1, "support": c["tp"] + c["fn"], **c}
    scored = [name for name in names if per[name]["support"] >= min_examples]
    macro = sum(per[name]["f1"] for name in scored) / len(scored) if scored else 0.0
    return {
        "n_reports": n,
        "per_finding": per,
        "macro_f1": macro,
        "macro_over": scored,
        "min_examples": min_examples,
    }


def run_labeler_eval(
    splits: tuple[str, ...] = ("train", "validation"),
    min_examples: int = 30,
    progress: bool = True,
    ontology: Ontology | None = None,
    allow_test: bool = False,
) -> dict[str, Any]:
    """Label every IU report of ``splits`` and score against its MeSH tags (see the module docstring)."""
    bad = [s for s in splits if s not in SPLITS]
    if bad or not splits:
        raise ConfigError(f"unknown IU split {bad[0] if bad else ''!r}; expected train and/or validation")
    if "test" in splits and not allow_test:
        raise ConfigError(
            "the IU test buckets (8-9) are held out for final evaluation; score on train,validation"
        )
    if min_examples < 1:
        raise ConfigError(f"min_examples must be at least 1, got {min_examples}")
    onto = ontology or load_ontology()
    everything = load_iu_reports(tuple(splits))
    reports = [r for r in everything if r.text]
    iterator: Iterable[IUReport] = reports
    if progress:
        from tqdm import tqdm

        iterator = tqdm(reports, desc="labeling IU reports", unit="report")
    found = [
        ({f.label: f for f in mesh_findings(r, onto)}, predicted_findings(r.text, onto)) for r in iterator
    ]
    result = score(((set(ref), set(pred)) for ref, pred in found), onto.names, min_examples)
    result["attributes"] = attribute_agreement(found)
    result["splits"] = list(splits)
    result["skipped_empty"] = len(everything) - len(reports)
    return result


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table: one row per finding, then the macro F1 and what it covers."""
    lines = [
        f"IU reports: {result['n_reports']} ({', '.join(result['splits'])}; "
        f"{result.get('skipped_empty', 0)} without findings/impression skipped)",
        f"{'finding':<22}{'precision':>10}{'recall':>8}{'F1':>8}{'support':>9}",
    ]
    scored = set(result["macro_over"])
    for name, row in result["per_finding"].items():
        mark = "" if name in scored else "  (below min examples)"
        lines.append(
            f"{name:<22}{row['precision']:>10.3f}{row['recall']:>8.3f}{row['f1']:>8.3f}"
            f"{row['support']:>9d}{mark}"
        )
    lines.append(
        f"macro F1 over {len(scored)} findings with >= {result['min_examples']} examples: "
        f"{result['macro_f1']:.3f}"
    )
    for attribute, row in result.get("attributes", {}).items():
        lines.append(
            f"{attribute} agreement with MeSH on findings both report: {row['agreement']:.3f} (n={row['n']})"
        )
    return "\n".join(lines)
