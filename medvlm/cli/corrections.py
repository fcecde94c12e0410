"""``medvlm corrections export``: signed clinician corrections -> a de-identified training dataset.

The folder it writes is a ``manifest.jsonl`` dataset; put it under a training dataset's ``corrections/``
folder and the curriculum's corrections stage trains on it (see ``curricula/chest_xr.yaml``).
"""

from __future__ import annotations

from pathlib import Path

import typer

corrections_app = typer.Typer(help="Clinicians' signed corrections as training data.", no_args_is_help=True)


@corrections_app.command("export")
def export_command(
    out_dir: Path = typer.Argument(..., help="New (or empty) folder to write the dataset into."),
    key_file: Path = typer.Option(..., "--key-file", help="De-identification key (>= 16 bytes)."),
) -> None:
    """Export every signed report (model ORIGINAL and clinician FINAL) de-identified, with its image."""
    from medvlm.db import migrate
    from medvlm.service.exports.corrections import CorrectionsExportError, export_corrections

    migrate()  # a fresh installation has nothing signed yet, but the tables must exist
    try:
        key = key_file.read_bytes().strip()
    except OSError as exc:
        raise CorrectionsExportError(f"cannot read the key file {key_file}: {exc.strerror}") from exc
    typer.echo(export_corrections(out_dir, key, actor="cli:corrections-export").summary())


@corrections_app.command("retrain")
def retrain_command(
    data: Path = typer.Option(..., "--data", help="Dataset with corrections/ inside."),
    out: Path = typer.Option(..., "--out", help="New model directory for the candidate."),
    base: Path | None = typer.Option(None, "--base", help="Model to start from (default: production)."),
    curriculum: Path | None = typer.Option(None, "--curriculum", help="Default: curricula/corrections.yaml."),
    promote: bool = typer.Option(False, "--promote", help="Promote if the gate passes."),
    tolerance: float | None = typer.Option(None, "--tolerance", help="Gate tolerance (default: settings)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Retrain from signed corrections; production changes only through the registry's gate (audited)."""
    from medvlm.training.retrain import RetrainOptions, retrain

    options = RetrainOptions(data, out, actor="cli:corrections-retrain", base=base, promote=promote,
                             tolerance=tolerance, progress=progress)
    if curriculum is not None:
        options.curriculum = curriculum
    result = retrain(options)
    typer.echo(result.summary())
    if result.refused:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(corrections_app, name="corrections")
