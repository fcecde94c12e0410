"""The training-curve PNG: loss per stage and the selection metric at each evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_curves(stages: list[dict[str, Any]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [s for s in stages if s.get("history")]
    fig, axes = plt.subplots(1, max(len(shown), 1), figsize=(4.5 * max(len(shown), 1), 3.4), squeeze=False)
    for ax, stage in zip(axes[0], shown, strict=False):
        steps = [h["step"] for h in stage["history"]]
        ax.plot(steps, [h["loss"] for h in stage["history"]], lw=0.8, color="tab:blue", label="train loss")
        ax.set_title(f"{stage['name']} ({stage['kind']})")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        evals = [e for e in stage.get("evals", []) if stage["select_on"] in e]
        if evals:
            twin = ax.twinx()
            twin.plot(
                [e["step"] for e in evals],
                [e[stage["select_on"]] for e in evals],
                "o-",
                color="tab:red",
                label=stage["select_on"],
            )
            twin.set_ylabel(stage["select_on"], color="tab:red")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
