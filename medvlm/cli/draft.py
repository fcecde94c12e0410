"""``medvlm draft``: findings and a draft report for a study (DICOM files / folder, or an ingested UID)."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def _study_files(target: str) -> list[Path]:
    path = Path(target)
    if path.exists():
        return [path]
    from medvlm.inference.studies import study_files

    return study_files(target)  # NotFoundError names both readings of TARGET


def _print(result, target: str) -> None:  # type: ignore[no-untyped-def]
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{target}[/bold]  model {result.model_version}  image {result.source}")
    table = Table("finding", "probability", "presence", "laterality", "severity", "critical")
    for f in sorted(result.findings, key=lambda f: -(f.probability or 0)):
        style = "bold red" if f.critical else ("bold" if f.presence != "absent" else "dim")
        probability = "-" if f.probability is None else f"{f.probability:.3f}"
        table.add_row(f.label, probability, str(f.presence), str(f.laterality or "-"), f.severity or "-",
                      "yes" if f.critical else "", style=style)
    console.print(table)
    console.print(f"[bold]Findings:[/bold] {result.findings_text}")
    console.print(f"[bold]Impression:[/bold] {result.impression}")
    for flag in result.consistency_flags:
        console.print(f"[yellow]consistency ({flag.kind}):[/yellow] {flag.message}")
    if result.repairs:
        console.print(f"[dim]guard repaired {len(result.repairs)} disagreement(s) in the model's text[/dim]")


def draft_command(
    targets: list[str] = typer.Argument(..., metavar="PATH_OR_STUDY_UID...",
                                        help="DICOM file(s) or folder(s), or study UIDs ingested with "
                                             "`medvlm ingest`; several targets are drafted as a batch."),
    model: Path = typer.Option(None, "--model", help="Model directory (default: the production model)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (one object, or a list for several)."),
    guard: str = typer.Option("repair", "--guard", help="repair: fix text that contradicts the findings; "
                              "flag: keep the model's text and only flag."),
    batch_size: int = typer.Option(8, "--batch-size", help="Studies per model batch."),
) -> None:
    """Draft findings and a report for each study."""
    from medvlm.registry.resolve import resolve_model_dir

    if guard not in ("repair", "flag"):
        raise typer.BadParameter("must be 'repair' or 'flag'", param_hint="--guard")
    # Resolve every target and the model before importing torch: a wrong UID fails in a fraction of a second.
    studies = [_study_files(t) for t in targets]
    model_dir = resolve_model_dir(model)
    from medvlm.inference.draft import draft_batch
    from medvlm.model import load_bundle

    bundle = load_bundle(model_dir)
    results = draft_batch(bundle, studies, guard=guard, batch_size=batch_size,  # type: ignore[arg-type]
                          progress=len(studies) > 1 and not as_json)
    if as_json:
        pairs = zip(targets, results, strict=True)
        payload = [{"study": t, "source": r.source, **r.to_dict()} for t, r in pairs]
        typer.echo(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
        return
    for target, result in zip(targets, results, strict=True):
        _print(result, target)


def register(app: typer.Typer) -> None:
    app.command("draft")(draft_command)
