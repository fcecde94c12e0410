"""``medvlm draft``: findings and a draft report for a study (DICOM files / folder, or an ingested UID).

Every study passes the intended-use gate (``medvlm.gate``) first: a study that is not a frontal chest
radiograph is not drafted and its reason is printed; ``--force`` drafts it anyway under a warning. A
study that cannot be read or drafted is listed with its reason and the others go on; the command exits 1
when any study was not drafted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

FORCED = "DRAFTED OUTSIDE INTENDED USE at the user's request"


def _study_files(target: str) -> list[Path]:
    path = Path(target)
    if path.exists():
        return [path]
    from medvlm.inference.studies import study_files

    return study_files(target)  # NotFoundError names both readings of TARGET


@dataclass
class Outcome:
    target: str
    gate: Any  # medvlm.gate.GateDecision
    result: Any = None  # DraftResult when drafted
    error: str | None = None  # why it was not drafted
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        head: dict[str, Any] = {"study": self.target, "drafted": self.result is not None,
                                "intended_use": self.gate.to_dict(), "warnings": self.warnings}
        if self.result is None:
            return {**head, "error": self.error}
        read = {"source": self.result.source, "lateral": self.result.lateral_source,
                "indication": self.result.indication}  # what the model read of the study
        return {**head, **read, **self.result.to_dict()}


def _print(outcome: Outcome) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    if outcome.result is None:
        reason = escape(outcome.error or "")
        console.print(f"[bold]{escape(outcome.target)}[/bold]  [red]not drafted:[/red] {reason}")
        return
    result = outcome.result
    console.print(f"[bold]{escape(outcome.target)}[/bold]  model {result.model_version}  "
                  f"image {escape(result.source)}")
    for warning in outcome.warnings:
        console.print(f"[bold yellow]WARNING: {escape(warning)}[/bold yellow]")
    table = Table("finding", "probability", "threshold", "presence", "laterality", "severity", "critical")
    for f in sorted(result.findings, key=lambda f: -(f.probability or 0)):
        style = "bold red" if f.critical else ("bold" if f.presence != "absent" else "dim")
        probability = "-" if f.probability is None else f"{f.probability:.3f}"
        threshold = f.threshold
        table.add_row(f.label, probability, "-" if threshold is None else f"{threshold:.3f}", str(f.presence),
                      str(f.laterality or "-"), f.severity or "-", "yes" if f.critical else "", style=style)
    console.print(table)
    console.print(f"[bold]Findings:[/bold] {escape(result.findings_text)}")
    console.print(f"[bold]Impression:[/bold] {escape(result.impression)}")
    for flag in result.consistency_flags:
        console.print(f"[yellow]consistency ({flag.kind}):[/yellow] {escape(flag.message)}")
    if result.repairs:
        console.print(f"[dim]guard repaired {len(result.repairs)} disagreement(s) in the model's text[/dim]")


def _gate(target: str, files: list[Path], force: bool) -> tuple[Outcome, list[Path] | None]:
    """The study's outcome so far and the files to draft from (None: do not draft)."""
    from medvlm.gate import assess_study

    decision = assess_study(files)
    outcome = Outcome(target, decision)
    skipped = [f"{Path(v.source).name}: {'; '.join(v.reasons)}" for v in decision.images
               if v.kind in ("unreadable", "other")]
    if decision.accepted:
        if decision.laterals:
            outcome.warnings.append(decision.reason)
        outcome.warnings += [f"skipped {why}" for why in skipped]  # the study's other files, each named
        # the frontal and the laterals the gate recognised: a model that reads laterals takes the first
        return outcome, [Path(decision.frontal), *map(Path, decision.laterals)]  # type: ignore[arg-type]
    readable = [Path(v.source) for v in decision.images if v.kind != "unreadable"]
    if not force or not readable:
        problems = [f"{Path(v.source).name}: {'; '.join(v.reasons)}" for v in decision.images
                    if v.kind == "unreadable"]
        outcome.error = decision.reason if readable or not problems else "; ".join(problems[:3])
        return outcome, None
    outcome.warnings.append(f"{FORCED}: {decision.reason}")
    return outcome, readable


def draft_command(
    targets: list[str] = typer.Argument(..., metavar="PATH_OR_STUDY_UID...",
                                        help="DICOM file(s) or folder(s), or study UIDs ingested with "
                                             "`medvlm ingest`; several targets are drafted as a batch."),
    model: Path = typer.Option(None, "--model", help="Model directory (default: the production model)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (one object, or a list for several)."),
    guard: str = typer.Option("repair", "--guard", help="repair: fix text that contradicts the findings; "
                              "flag: keep the model's text and only flag."),
    batch_size: int = typer.Option(8, "--batch-size", help="Studies per model batch."),
    force: bool = typer.Option(False, "--force", help="Draft studies outside intended use too (under a "
                               "warning); unreadable files are never drafted."),
    indication: str = typer.Option(None, "--indication", help="The study's indication (one target "
                                   "only; default: from its DICOM request attributes); used when the model "
                                   "reads indications."),
) -> None:
    """Draft findings and a report for each study."""
    from medvlm.registry.resolve import resolve_model_dir

    if guard not in ("repair", "flag"):
        raise typer.BadParameter("must be 'repair' or 'flag'", param_hint="--guard")
    if indication is not None and len(targets) != 1:
        raise typer.BadParameter(f"gives one study's indication; expected 1 target, got {len(targets)}",
                                 param_hint="--indication")
    # Resolve every target and the model before importing torch: a wrong UID fails in a fraction of a second.
    studies = [_study_files(t) for t in targets]
    model_dir = resolve_model_dir(model)
    gated = [_gate(t, files, force) for t, files in zip(targets, studies, strict=True)]
    todo = [(outcome, files) for outcome, files in gated if files is not None]
    if todo:
        from medvlm.model import load_bundle

        bundle = load_bundle(model_dir)
        for start in range(0, len(todo), batch_size):
            part = todo[start : start + batch_size]
            _draft_part(bundle, part, guard, progress=len(todo) > 1 and not as_json, indication=indication)
    outcomes = [outcome for outcome, _ in gated]
    if as_json:
        payload = [o.to_dict() for o in outcomes]
        typer.echo(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
    else:
        for outcome in outcomes:
            _print(outcome)
    failed = [o for o in outcomes if o.result is None]
    if failed:
        if len(outcomes) > 1 and not as_json:
            typer.echo(f"{len(failed)} of {len(outcomes)} studies not drafted", err=True)
        elif len(outcomes) == 1:
            typer.echo(f"error: {failed[0].target}: not drafted: {failed[0].error}", err=True)
        raise typer.Exit(1)


def _draft_part(bundle: Any, part: list[tuple[Outcome, list[Path]]], guard: str, progress: bool,
                indication: str | None = None) -> None:
    """Draft a batch; when it fails, draft its studies one by one so one bad study stops only itself."""
    from medvlm.errors import MedVLMError
    from medvlm.inference.draft import draft_batch

    try:
        results = draft_batch(bundle, [files for _, files in part], guard=guard,  # type: ignore[arg-type]
                              batch_size=len(part), progress=progress,
                              indications=None if indication is None else [indication] * len(part))
    except MedVLMError as exc:
        if len(part) == 1:
            part[0][0].error = f"{part[0][1][0]}: {exc}"
            return
        for item in part:
            _draft_part(bundle, [item], guard, progress=False, indication=indication)
        return
    for (outcome, _), result in zip(part, results, strict=True):
        outcome.result = result


def register(app: typer.Typer) -> None:
    app.command("draft")(draft_command)
