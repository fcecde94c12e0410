"""CLI: ``medvlm data build`` (synthetic DX films + manifest), ``medvlm data show`` (contact sheet)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add the ``data`` group to the top-level app."""
    data = typer.Typer(
        help="Build and inspect image-report datasets (synthetic films from a real CT).", no_args_is_help=True
    )

    @data.command("build")
    def build(
        out: Path = typer.Option(..., "--out", help="Directory to write dicom/ and manifest.jsonl into."),
        n: int = typer.Option(..., "--n", help="Number of studies."),
        seed: int = typer.Option(0, "--seed", help="Seed: the same seed writes the same dataset."),
        reports: str = typer.Option("mixed", "--reports", help="iu (real IU reports), template, or mixed."),
        size: int = typer.Option(512, "--size", help="Film size in pixels (square)."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace a dataset already in --out."),
        workers: int = typer.Option(
            1, "--workers", help="Render processes (films are the same for any count)."
        ),
        min_positives: int = typer.Option(
            0,
            "--min-positives",
            help="Train split: render extra films (new synthetic patients) of the reports of each finding "
            "with fewer train films than this, until it has this many. 0: off.",
        ),
        progress: bool = typer.Option(True, "--progress/--no-progress"),
    ) -> None:
        """Render N films showing known findings, paired with real or templated reports."""
        from medvlm.dataset.builder import build_dataset

        summary = build_dataset(
            out,
            n,
            seed=seed,
            reports=reports,
            size=size,
            overwrite=overwrite,
            progress=progress,
            workers=workers,
            min_positives=min_positives,
        )
        for line in summary.lines():
            typer.echo(line)

    @data.command("show")
    def show(
        directory: Path = typer.Argument(..., help="A dataset directory (with manifest.jsonl)."),
        png: Path = typer.Option(..., "--png", help="Where to write the contact sheet PNG."),
        count: int = typer.Option(16, "--count", help="How many films."),
    ) -> None:
        """Draw a contact sheet of films with their ground-truth findings."""
        from medvlm.dataset.contact_sheet import contact_sheet

        if count < 1:
            raise typer.BadParameter("--count must be at least 1")
        typer.echo(f"wrote {contact_sheet(directory, png, count=count)}")

    app.add_typer(data, name="data")
