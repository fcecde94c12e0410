"""Training at scale: mixed precision on a GPU, gradient checkpointing, and per-stage memory / throughput.

A CPU always trains in fp32 (autocast there is slower and changes results); on CUDA ``auto`` picks bf16
where the GPU has it, else fp16 with a gradient scaler.
"""

from __future__ import annotations

import contextlib
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from medvlm.errors import ConfigError


@dataclass(frozen=True)
class Precision:
    name: str  # fp32 | bf16 | fp16
    dtype: torch.dtype | None  # autocast dtype (None = no autocast)
    note: str = ""  # why the request was changed, printed once

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager[Any]:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=self.dtype)

    def scaler(self, device: torch.device) -> Any:
        """A gradient scaler for fp16 (bf16 and fp32 need none)."""
        return torch.amp.GradScaler(device.type) if self.name == "fp16" else None


def resolve_precision(requested: str, device: torch.device) -> Precision:
    if requested not in ("auto", "fp32", "bf16", "fp16"):
        raise ConfigError(f"precision must be auto, fp32, bf16 or fp16, got {requested!r}")
    if device.type != "cuda":
        note = (
            ""
            if requested in ("auto", "fp32")
            else f"precision {requested} needs a GPU; the CPU trains in fp32"
        )
        return Precision("fp32", None, note)
    if requested == "fp32":
        return Precision("fp32", None)
    bf16_ok = torch.cuda.is_bf16_supported()
    if requested == "bf16" and not bf16_ok:
        raise ConfigError("precision bf16 was requested but this GPU has no bf16; use fp16 or auto")
    if requested == "fp16" or (requested == "auto" and not bf16_ok):
        return Precision("fp16", torch.float16)
    return Precision("bf16", torch.bfloat16)


def enable_gradient_checkpointing(model: Any) -> None:
    """Recompute activations during backward (non-reentrant, so frozen inputs and LoRA both work)."""
    if not getattr(model, "supports_gradient_checkpointing", False):
        raise ConfigError(f"{type(model).__name__} does not support gradient checkpointing")
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if hasattr(model, "enable_input_require_grads"):
        model.enable_input_require_grads()  # LoRA on a frozen base: gradients must reach the checkpoints


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


@dataclass
class StageMeter:
    """Examples/s and tokens/s over a stage's steps, and its peak memory (GPU allocator or process RSS)."""

    device: torch.device
    examples: int = 0
    tokens: int = 0
    seconds: float = 0.0
    _start: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    def timed(
        self, examples: int, tokens: Callable[[], int] | int = 0
    ) -> contextlib.AbstractContextManager[None]:
        meter = self

        @contextlib.contextmanager
        def _run() -> Any:
            if meter.device.type == "cuda":
                torch.cuda.synchronize(meter.device)
            start = time.perf_counter()
            yield
            if meter.device.type == "cuda":
                torch.cuda.synchronize(meter.device)
            meter.seconds += time.perf_counter() - start
            meter.examples += examples
            meter.tokens += tokens() if callable(tokens) else tokens

        return _run()

    def peak_mib(self) -> float:
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        return _peak_rss_mib()

    def summary(self) -> dict[str, float]:
        seconds = max(self.seconds, 1e-9)
        return {
            "examples_per_s": round(self.examples / seconds, 3),
            "tokens_per_s": round(self.tokens / seconds, 1),
            "seconds": round(self.seconds, 3),
            "peak_memory_mib": round(self.peak_mib(), 1),
        }

    def line(self, stage: str, precision: str) -> str:
        s = self.summary()
        where = "GPU peak allocated" if self.device.type == "cuda" else "process peak RSS"
        return (
            f"[{stage}] {s['examples_per_s']:.2f} examples/s, {s['tokens_per_s']:.0f} tokens/s, "
            f"{where} {s['peak_memory_mib']:.0f} MiB, {precision}"
        )
