"""Per architecture: parameters, weight memory, LoRA training step time and draft latency of a ``path:``
checkpoint built from config with random weights (``medvlm.model.tiny_checkpoints``).

    .venv/bin/python benchmarks/checkpoint.py [--arch llava gemma3 ...] [--steps 5] [--runs 5] [--threads 2]
    .venv/bin/python benchmarks/checkpoint.py --scale 4b --device cuda     # on a GPU machine only

``tiny`` (default): 1-layer, hidden-32 models on 32-px films, CPU; the figures measure our code's overhead
per architecture (processor, chat template, findings head, LoRA, generate), not model quality. ``4b``: the
layer sizes of a 4B-class model in bf16 on a GPU (tokens/s and peak GPU memory). A train step is one LoRA
step on the language model (batch 2, 16 answer tokens); a draft is findings + ``generate`` of exactly
``--tokens`` new tokens (random weights never stop on their own). Times are the best of N runs (the
median beside them): on a shared CPU the minimum is the least disturbed figure. Prints a table; asserts
nothing.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def _measure(arch: str, scale: str, device: str, steps: int, runs: int, tokens: int, root: Path) -> dict:
    import torch

    from medvlm.curriculum.schema import Lora, Modules
    from medvlm.findings import Finding
    from medvlm.model import build_model
    from medvlm.model.tiny_checkpoints import save_checkpoint
    from medvlm.ontology import load_ontology
    from medvlm.training.modules import apply_modules, merge_lora

    checkpoint = save_checkpoint(arch, root / f"{arch}-{scale}", scale=scale)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    bundle = build_model(f"path:{checkpoint}", load_ontology())
    if device == "cuda":
        bundle.model.to(torch.bfloat16)
    bundle.to(device)
    params = sum(p.numel() for p in [*bundle.model.parameters(), *bundle.head.parameters()])
    weights_mib = sum(p.numel() * p.element_size() for p in bundle.model.parameters()) / 2**20
    size = bundle.image_size
    images = torch.rand(2, 1, size, size, generator=torch.Generator().manual_seed(0))

    apply_modules(bundle, Modules(language="lora"), Lora(r=8, alpha=16))
    bundle.model.train()
    trainable = [p for p in bundle.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    targets = ["heart size is normal the lungs are clear no pleural effusion"] * 2
    times = []
    warm = 2  # the first steps warm up (lazy imports, allocations, kernels)
    for step in range(steps + warm):
        _sync(device)
        start = time.perf_counter()
        with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
            loss = bundle.lm_forward(images, ["findings: none report:"] * 2, targets, 16).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        _sync(device)
        if step >= warm:
            times.append(time.perf_counter() - start)
    merge_lora(bundle)
    bundle.eval()

    model = bundle.model
    model.generation_config.min_new_tokens = tokens  # a fixed length: random weights never stop
    drafts, findings = [], []
    for run in range(runs + warm):
        _sync(device)
        start = time.perf_counter()
        predicted = bundle.predict_findings(images[:1])
        _sync(device)
        mid = time.perf_counter()
        bundle.generate_report(images[:1], [[Finding("cardiomegaly")]], max_new_tokens=tokens)
        _sync(device)
        if run >= warm:
            findings.append(mid - start)
            drafts.append(time.perf_counter() - start)
    assert predicted
    # best of N: on a shared machine the minimum is the figure least disturbed by other processes
    draft = min(drafts)
    generate = draft - min(findings)
    peak = (
        torch.cuda.max_memory_allocated() / 2**20
        if device == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    return {
        "arch": arch,
        "params_m": params / 1e6,
        "weights_mib": weights_mib,
        "peak_mib": peak,
        "step_ms": min(times) * 1000,
        "step_median_ms": statistics.median(times) * 1000,
        "findings_ms": min(findings) * 1000,
        "draft_median_ms": statistics.median(drafts) * 1000,
        "draft_ms": draft * 1000,
        "tokens_s": tokens / generate if generate > 0 else float("nan"),
        "image_tokens": bundle.config.num_image_tokens,
    }


def main() -> None:
    import torch

    from medvlm.model.tiny_checkpoints import ARCHITECTURES, SIZES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", nargs="*", default=ARCHITECTURES, choices=ARCHITECTURES)
    parser.add_argument("--scale", default="tiny", choices=sorted(SIZES))
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda but no CUDA GPU is visible")
    if args.scale != "tiny" and args.device == "cpu":
        raise SystemExit(f"error: --scale {args.scale} is a GPU benchmark; pass --device cuda")
    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for arch in args.arch:
            row = _measure(arch, args.scale, args.device, args.steps, args.runs, args.tokens, Path(tmp))
            rows.append(row)
    memory = "peak GPU MiB" if args.device == "cuda" else "peak RSS MiB"
    print(f"\npath: checkpoints, scale {args.scale}, {args.device}, {args.threads} threads, random weights; "
          f"train step = LoRA, batch 2; draft = findings + {args.tokens} new tokens; best of {args.runs} "
          "(median in brackets)")
    header = (f"{'architecture':<12} {'params (M)':>10} {'weights MiB':>11} {memory:>13} {'img tok':>7} "
              f"{'step ms':>16} {'findings ms':>11} {'draft ms':>17} {'tokens/s':>9}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['arch']:<12} {r['params_m']:>10.2f} {r['weights_mib']:>11.1f} {r['peak_mib']:>13.0f} "
              f"{r['image_tokens']:>7} {r['step_ms']:>7.1f} [{r['step_median_ms']:>6.1f}] "
              f"{r['findings_ms']:>11.1f} {r['draft_ms']:>7.1f} [{r['draft_median_ms']:>7.1f}] "
              f"{r['tokens_s']:>9.1f}")
    fastest = min(rows, key=lambda r: r["draft_ms"])
    print(f"\ndraft latency relative to the fastest ({fastest['arch']}): "
          + ", ".join(f"{r['arch']} {r['draft_ms'] / fastest['draft_ms']:.2f}x" for r in rows))


if __name__ == "__main__":
    main()
