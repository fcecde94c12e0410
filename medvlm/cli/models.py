"""``medvlm models``: list, show, register and promote model versions in the registry; refit a saved
model's familiarity."""

from __future__ import annotations

import json
from pathlib import Path

import typer

models_app = typer.Typer(help="Model registry: versions, provenance, promotion.", no_args_is_help=True)


def _metric(metrics: dict, key: str) -> str:
    value = metrics.get(key)
    return f"{value:.3f}" if isinstance(value, int | float) else "-"


@models_app.command("list")
def list_command(
    status: str = typer.Option(None, "--status", help="Only candidate, production or retired."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List registered model versions, newest first."""
    from rich.console import Console
    from rich.table import Table

    from medvlm.registry import list_versions

    versions = list_versions(status=status)
    if as_json:
        typer.echo(json.dumps([v.model_dump(mode="json") for v in versions], indent=2))
        return
    table = Table(title="Model versions")
    for column in ("id", "status", "preset", "parent", "macro-AUROC", "CE-F1", "halluc.", "registered"):
        table.add_column(column)
    for v in versions:
        style = "bold green" if v.status == "production" else ("dim" if v.status == "retired" else None)
        table.add_row(v.id, v.status, v.preset, v.parent or "-", _metric(v.metrics, "findings.macro_auroc"),
                      _metric(v.metrics, "report.ce_f1"), _metric(v.metrics, "report.hallucination_rate"),
                      v.registered_at.strftime("%Y-%m-%d %H:%M"), style=style)
    Console().print(table if versions else "no model versions registered; `medvlm train` registers one")


@models_app.command("show")
def show_command(version_id: str = typer.Argument(..., help="Version id.")) -> None:
    """Print a version's full record (config, curriculum and data hashes, parent, metrics) as JSON."""
    from medvlm.registry import get_version

    typer.echo(json.dumps(get_version(version_id).model_dump(mode="json"), indent=2))


@models_app.command("register")
def register_command(
    model_dir: Path = typer.Argument(..., help="Directory written by `medvlm train`."),
) -> None:
    """Register the model in MODEL_DIR (read from its model_card.json) as a candidate."""
    from medvlm.registry import register_version

    record = register_version(model_dir)
    typer.echo(f"registered {record.id} ({record.status}) from {record.model_dir}")


@models_app.command("add-metrics")
def add_metrics_command(
    version_id: str = typer.Argument(..., help="Version id."),
    metrics_file: Path = typer.Argument(..., help="metrics.json written by `medvlm eval` for this version."),
) -> None:
    """Merge an evaluation's metrics into a candidate's record (the promotion gate reads them)."""
    from medvlm.registry import attach_metrics

    record = attach_metrics(version_id, metrics_file)
    typer.echo(f"{record.id}: CE-F1 {_metric(record.metrics, 'report.ce_f1')}, "
               f"macro-AUROC {_metric(record.metrics, 'findings.macro_auroc')} "
               f"({record.metrics.get('eval.split')} split, {record.metrics.get('eval.n_studies')} studies)")


@models_app.command("promote")
def promote_command(
    version_id: str = typer.Argument(..., help="Version id to make production."),
    tolerance: float = typer.Option(None, "--tolerance", help="Allowed drop in CE-F1 / macro-AUROC "
                                    "(default: MEDVLM_PROMOTION_TOLERANCE)."),
) -> None:
    """Promote a version to production, retiring the current one; refused if it regresses."""
    from medvlm.registry import production_version, promote

    previous = production_version()
    record = promote(version_id, tolerance)
    retired = f"; retired {previous.id}" if previous and previous.id != record.id else ""
    typer.echo(f"{record.id} is now production{retired}")


@models_app.command("fit-familiarity")
def fit_familiarity_command(
    model_dir: Path = typer.Argument(..., help="Directory written by `medvlm train`."),
    data: Path = typer.Option(..., "--data", help="The data directory the model trained on."),
    curriculum: Path = typer.Option(None, "--curriculum", help="Its curriculum (default: the model card's)."),
) -> None:
    """Fit the model's familiarity again on its own training films (input pixels and the tower's features);
    drafts on films stranger than 99 % of them carry an unfamiliar-film flag. Weights and version stay."""
    from medvlm.inference.uncertainty import flag_can_fire
    from medvlm.training.familiarity import refit_familiarity

    fitted = refit_familiarity(model_dir, data, curriculum)
    typer.echo(f"{model_dir}: familiarity fitted on {fitted['films']} training films "
               f"({fitted['embedding_dims']} feature dimensions); wrote {', '.join(fitted['files'])}")
    if not flag_can_fire(fitted["calibration_films"]):
        typer.echo(f"note: {fitted['calibration_films']} calibration films are too few for the "
                   "unfamiliar-film flag to fire; familiarity still orders the worklist", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
