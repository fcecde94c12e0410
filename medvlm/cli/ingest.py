"""CLI commands: ``ingest`` (files, folders, zips, DICOMDIRs), ``studies`` (the index) and ``show``.

Exit codes: 0 when nothing was rejected, 1 when something was (or on any library error), 2 for usage.
The database is migrated on first use, so a fresh checkout works without a set-up step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from medvlm.errors import MedVLMError

if TYPE_CHECKING:
    from medvlm.settings import Settings


def fail(exc: MedVLMError) -> typer.Exit:
    """Print a library error as the one line ``error: <message>``; raise the returned Exit (code 1)."""
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


def _parse_window(value: str | None) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        center, width = (float(v) for v in value.split(","))
    except ValueError:
        raise typer.BadParameter(f"expected CENTER,WIDTH (two numbers), got {value!r}") from None
    if width <= 0:
        raise typer.BadParameter(f"window width must be positive, got {width}")
    return center, width


def ready_settings() -> Settings:
    """The settings, with the database migrated (so a fresh checkout needs no set-up step)."""
    from medvlm.db import migrate
    from medvlm.settings import get_settings

    settings = get_settings()
    migrate(settings.resolved_database_url)
    return settings


def ingest_command(
    paths: list[Path] = typer.Argument(..., help="DICOM files, folders, .zip archives, DICOMDIRs."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a summary."),
) -> None:
    """Ingest DICOM into the study store and the index."""
    from medvlm.dicom.ingest import ingest_paths

    try:
        report = ingest_paths(paths, settings=ready_settings(), progress=not as_json)
    except MedVLMError as exc:
        raise fail(exc) from exc
    if as_json:
        typer.echo(json.dumps(report.to_json()))
    else:
        for rejection in report.rejected:
            typer.echo(f"rejected: {rejection.path}: {rejection.reason}", err=True)
        for path, reason in report.conflict_details:
            typer.echo(f"conflict: {path}: {reason}", err=True)
        typer.echo(f"ingested {report.ingested}, duplicates {report.duplicates}, "
                   f"conflicts {report.conflicts}, rejected {len(report.rejected)}; "
                   f"studies: {len(report.study_instance_uids)}")
    raise typer.Exit(1 if report.rejected else 0)


def studies_command() -> None:
    """List the indexed studies."""
    from rich.console import Console
    from rich.table import Table

    from medvlm.dicom.queries import list_studies

    try:
        rows = list_studies(ready_settings())
    except MedVLMError as exc:
        raise fail(exc) from exc
    table = Table(title=f"{len(rows)} studies")
    for column in ("Study Instance UID", "Patient ID", "Patient", "Date", "Accession", "Modalities",
                   "Series", "Instances", "Description"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row.study_instance_uid, row.patient_id, row.patient_name, row.study_date,
                      row.accession_number, ",".join(row.modalities), str(row.series), str(row.instances),
                      row.description)
    console = Console()
    if not console.is_terminal:  # piped: do not fold UIDs to 80 columns
        console = Console(width=220)
    console.print(table)


def show_command(
    study_uid: str = typer.Argument(..., help="Study Instance UID (see `medvlm studies`)."),
    png: Path | None = typer.Option(None, "--png", help="Write a preview of the first image here."),
    window: str | None = typer.Option(None, "--window", help="VOI window CENTER,WIDTH for the preview."),
) -> None:
    """Summarise one study; optionally render a PNG preview of its first image."""
    from medvlm.dicom.queries import study_detail

    parsed_window = _parse_window(window)
    try:
        detail = study_detail(ready_settings(), study_uid)
        typer.echo(detail.summary())
        if png is not None:
            from medvlm.dicom.pixels import read_dataset
            from medvlm.dicom.render import render_png

            first = detail.first_instance()
            png.write_bytes(render_png(read_dataset(first.path), window=parsed_window))
            typer.echo(f"preview of {first.sop_instance_uid} written to {png}")
    except MedVLMError as exc:
        raise fail(exc) from exc


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command("ingest")(ingest_command)
    app.command("studies")(studies_command)
    app.command("show")(show_command)
