"""Two evaluations of the same split, compared study by study: is model B better than model A, or is the
difference what a different draw of test studies would give?

``medvlm eval`` writes ``predictions.jsonl`` (each study's finding probabilities and its truth) beside
metrics.json. ``compare_runs`` joins two such folders on the study, resamples the studies 1000 times (the
same resamples for both models: a paired bootstrap) and reports each finding's AUROC difference and the
macro difference with their 95 % intervals. An interval that holds 0 is no evidence of a difference.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medvlm.errors import ConfigError, NotFoundError
from medvlm.evaluation.classification import (
    auroc,
    interval_of,
    is_supported,
    known_only,
    macro,
    resampled_aurocs,
)
from medvlm.findings import Finding
from medvlm.registry.gate import FINDING_MIN_POSITIVES

PREDICTIONS = "predictions.jsonl"


def write_predictions(path: Path, records: Sequence[Any], drafts: Sequence[Any]) -> None:
    """One line per study: its id, the truth's findings and the model's probability per finding."""
    with path.open("w") as out:
        for record, draft in zip(records, drafts, strict=True):
            out.write(json.dumps({
                "study_id": record.study_id,
                "truth": [f.to_dict() for f in record.findings],
                "probabilities": {f.label: f.probability for f in draft.findings},
            }, sort_keys=True) + "\n")


def _read(run_dir: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    metrics_path, predictions_path = run_dir / "metrics.json", run_dir / PREDICTIONS
    for path in (metrics_path, predictions_path):
        if not path.is_file():
            raise NotFoundError(f"{path} does not exist: compare reads two `medvlm eval --out` folders")
    try:
        metrics = json.loads(metrics_path.read_text())
        rows = [json.loads(line) for line in predictions_path.read_text().splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{run_dir}: unreadable evaluation output ({exc})") from None
    return metrics, {row["study_id"]: row for row in rows}


def compare_runs(a_dir: Path, b_dir: Path, *, resamples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """AUROC of A and B per finding and macro, B - A, and the paired-bootstrap 95 % interval of B - A."""
    from medvlm.evaluation.scoring import known_matrix, truth_matrix

    (ma, pa), (mb, pb) = _read(Path(a_dir)), _read(Path(b_dir))
    # the split's own films decide (builds that differ only in train films pair); older evaluations
    # carry only the whole manifest's hash
    both_split = all("data_split_sha256" in m for m in (ma, mb))
    same_films = "data_split_sha256" if both_split else "data_manifest_sha256"
    for key in (same_films, "split"):
        if ma.get(key) != mb.get(key):
            raise ConfigError(f"the two evaluations differ in {key} ({ma.get(key)!r} vs {mb.get(key)!r}): "
                              "a paired comparison needs the same studies")
    studies = sorted(set(pa) & set(pb))
    if not studies:
        raise ConfigError(f"{a_dir} and {b_dir} share no study")
    names = [n for n in pa[studies[0]]["probabilities"] if n in pb[studies[0]]["probabilities"]]
    truth = [[Finding.from_dict(f) for f in pa[s]["truth"]] for s in studies]
    t, k = truth_matrix(names, truth), known_matrix(names, truth)
    probs = [np.array([[run[s]["probabilities"][n] for n in names] for s in studies]) for run in (pa, pb)]
    boot = resampled_aurocs(t, probs, k, resamples=resamples, seed=seed)
    per_finding: dict[str, Any] = {}
    for j, name in enumerate(names):
        a, b = (auroc(*known_only(t[:, j], p[:, j], k[:, j])) for p in probs)
        if a is None or b is None:
            continue
        per_finding[name] = {"a": round(a, 4), "b": round(b, 4), "difference": round(b - a, 4),
                             "interval": interval_of(boot[:, 1, j] - boot[:, 0, j]),
                             "positives": int(t[k[:, j], j].sum())}
    supported = [n for n, v in per_finding.items() if is_supported(v["positives"])]
    result = {
        "a": {"model_version": ma.get("model_version"), "dir": str(a_dir)},
        "b": {"model_version": mb.get("model_version"), "dir": str(b_dir)},
        "split": ma.get("split"), "n_studies": len(studies), "resamples": resamples,
        "macro": _paired_macro(per_finding, list(per_finding), names, boot),
        "per_finding": per_finding,
    }
    if supported:
        # the macro over the findings with enough positives to measure (training selects on it); its
        # difference is not moved by a finding whose 2 positives happen to rank well in one run
        result["macro_supported"] = _paired_macro(per_finding, supported, names, boot)
        result["macro_supported"]["findings"] = len(supported)
    return result


def _paired_macro(
    per_finding: dict[str, Any], chosen: list[str], names: list[str], boot: np.ndarray
) -> dict[str, Any]:
    """Macro AUROC of A and B over ``chosen``, B - A and the paired-bootstrap interval of that difference."""
    macro_a = macro([per_finding[n]["a"] for n in chosen])
    macro_b = macro([per_finding[n]["b"] for n in chosen])
    scored = [names.index(n) for n in chosen]
    # which labels a resample can score depends on the truth alone, so it is the same for both models
    scorable = ~np.isnan(boot[:, 0, scored]).all(axis=1)
    per_model = np.nanmean(boot[scorable][:, :, scored], axis=2)  # (resamples x 2) macro AUROCs
    return {"a": macro_a, "b": macro_b,
            "difference": None if macro_a is None or macro_b is None else round(macro_b - macro_a, 4),
            "interval": interval_of(per_model[:, 1] - per_model[:, 0])}


def format_comparison(c: dict[str, Any]) -> str:
    def verdict(interval: tuple[float, float] | None) -> str:
        if interval is None:
            return "n/a"
        lo, hi = interval
        return "B better" if lo > 0 else "A better" if hi < 0 else "no evidence of a difference"

    def line(name: str, row: dict[str, Any]) -> str:
        lo, hi = row["interval"] or (float("nan"), float("nan"))
        extra = f"  ({row['positives']} positives)" if "positives" in row else ""
        # with fewer positives a bootstrap of the studies understates the spread (most resamples hold the same
        # two or three): the difference is shown but not called either way
        few = "positives" in row and not is_supported(row["positives"])
        called = "too few positives to tell" if few else verdict(row["interval"])
        return (f"{name:<22}{row['a']:.3f}  {row['b']:.3f}  {row['difference']:+.3f}  "
                f"[{lo:+.3f}, {hi:+.3f}]  {called}{extra}")

    head = (f"A {c['a']['model_version']} vs B {c['b']['model_version']} on {c['n_studies']} "
            f"{c['split']} studies; AUROC, B - A and its paired-bootstrap 95 % interval "
            f"({c['resamples']} resamples of the studies)")
    rows = [line(name, row) for name, row in c["per_finding"].items()]
    rows.append(line("macro", c["macro"]))
    if "macro_supported" in c:
        n = c["macro_supported"]["findings"]
        rows.append(line(f"macro, {n} with >={FINDING_MIN_POSITIVES}", c["macro_supported"]))
    return "\n".join([head, f"{'finding':<22}A      B      B-A     interval", *rows])
