"""CLI: ``medvlm train CURRICULUM --data DIR --out MODEL_DIR [--preset tiny] [--resume]``."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""

    @app.command("train")
    def train_command(
        curriculum: Path = typer.Argument(..., help="Curriculum YAML, e.g. curricula/chest_xr.yaml."),
        data: Path = typer.Option(..., "--data", help="Dataset directory written by `medvlm data build`."),
        out: Path = typer.Option(..., "--out", help="Model directory to write (the bundle + training/)."),
        preset: str | None = typer.Option(
            None, "--preset", help="tiny | small | path:DIR (default: the curriculum's model.preset)."
        ),
        resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run in --out."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
    ) -> None:
        """Train a model through the curriculum's stages (checkpoints, resume, DDP under torchrun)."""
        from medvlm.training.runner import TrainOptions, train

        options = TrainOptions(curriculum, data, out, preset=preset, resume=resume, progress=progress)
        model_dir = train(options)
        typer.echo(f"model written to {model_dir}")
