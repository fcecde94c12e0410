"""Drafting latency on CPU: findings only, and a full draft (findings + report + consistency guard).

    .venv/bin/python benchmarks/draft.py [--model DIR] [--runs 20] [--threads 2]

Input: a real chest CR from the pydicom-data wheel (RG1_UNCR, 1955x1841, 15-bit MONOCHROME1), so the
figures include DICOM decode and preprocessing. Without --model the production model in the registry is
used, else a fresh (untrained) tiny model; an untrained model never emits end-of-text and generates the
full max_new_tokens, so its full-draft figure is a worst case. Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import resource
import statistics
import sys
import time
from pathlib import Path

TARGET_FULL_P50_MS = 300.0


def _cr_file() -> Path:
    dist = importlib.metadata.distribution("pydicom-data")
    for item in dist.files or []:
        if str(item).endswith("RG1_UNCR.dcm"):
            return Path(str(dist.locate_file(item)))
    sys.exit("pydicom-data (RG1_UNCR.dcm) is not installed: pip install pydicom-data")


def _bundle(model: Path | None):  # type: ignore[no-untyped-def]
    from medvlm.model import build_model, load_bundle
    from medvlm.ontology import load_ontology

    if model is not None:
        return load_bundle(model), str(model)
    try:
        from medvlm.registry import production_version

        production = production_version()
    except Exception:  # no database here: fall back to a fresh model
        production = None
    if production is not None:
        return load_bundle(Path(production.model_dir)), f"production {production.id}"
    return build_model("tiny", load_ontology(), seed=0).eval(), "fresh untrained tiny (worst case)"


def _percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    from medvlm.inference.draft import draft_study
    from medvlm.inference.inputs import load_study

    torch.set_num_threads(args.threads)
    path = _cr_file()
    bundle, which = _bundle(args.model)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    params = sum(p.numel() for m in (bundle.model, bundle.head) for p in m.parameters())
    print(f"model: {which}, version {bundle.version}, {params / 1e6:.2f} M parameters, "
          f"image {bundle.image_size}px, max_new_tokens {bundle.config.max_new_tokens}, "
          f"torch threads {torch.get_num_threads()}")
    print(f"input: {path.name} ({path.stat().st_size / 1e6:.1f} MB)")

    findings_ms, load_ms, full_ms, parts = [], [], [], []
    for run in range(args.runs + 2):  # two warm-up runs
        t0 = time.perf_counter()
        image = load_study(path, bundle.image_size).image
        t1 = time.perf_counter()
        bundle.predict_findings(image.unsqueeze(0))
        t2 = time.perf_counter()
        result = draft_study(bundle, path)
        t3 = time.perf_counter()
        if run >= 2:
            load_ms.append((t1 - t0) * 1000)
            findings_ms.append((t2 - t0) * 1000)
            full_ms.append((t3 - t2) * 1000)
            parts.append(result.timings_ms)
    tokens = len(bundle.tokenizer(f"{result.generated[0]} {result.generated[1]}")["input_ids"])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"\n{'':28}{'p50 ms':>10}{'p95 ms':>10}   ({args.runs} runs)")
    for name, values in (("DICOM load + preprocess", load_ms), ("findings only (incl. load)", findings_ms),
                         ("full draft", full_ms)):
        p50, p95 = _percentiles(values)
        print(f"{name:28}{p50:10.1f}{p95:10.1f}")
    for key in ("findings", "report", "guard"):
        p50, _ = _percentiles([p[key] for p in parts])
        print(f"  full draft: {key:16}{p50:10.1f}")
    full_p50 = _percentiles(full_ms)[0]
    print(f"\nfull draft p50 / target {TARGET_FULL_P50_MS:.0f} ms = {full_p50 / TARGET_FULL_P50_MS:.2f}"
          f" ({'meets' if full_p50 <= TARGET_FULL_P50_MS else 'misses'} the target)")
    print(f"full draft / findings only = {full_p50 / _percentiles(findings_ms)[0]:.1f}x;"
          f" last draft generated about {tokens} tokens")
    print(f"peak resident memory {peak:.0f} MiB (after model load {rss_before:.0f} MiB)")


if __name__ == "__main__":
    main()
