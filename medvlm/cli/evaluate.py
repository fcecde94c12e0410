"""``medvlm eval``: evaluate a model on a dataset split; ``medvlm eval labeler``: score the report labeler."""

from __future__ import annotations

from pathlib import Path

import typer

eval_app = typer.Typer(help="Evaluate a model (default) or the report labeler.", invoke_without_command=True)


@eval_app.callback()
def evaluate_model(
    ctx: typer.Context,
    model: Path = typer.Option(None, "--model", help="Model directory (default: production model)."),
    data: Path = typer.Option(None, "--data", help="Dataset directory written by `medvlm data build`."),
    split: str = typer.Option("test", "--split", help="train, validation, test or test_cross_patient."),
    out: Path = typer.Option(Path("eval-out"), "--out", help="Folder for metrics.json and report.html."),
    limit: int = typer.Option(0, "--limit", help="Evaluate at most this many studies (0 = all)."),
    real: Path = typer.Option(None, "--real", help="A folder of real films (PNG or DICOM, labels.csv in the "
                              "realfilm format): gate acceptance, AUROC where labelled, probabilities."),
) -> None:
    """Write OUT/metrics.json and OUT/report.html for MODEL on the SPLIT of DATA (or on --real DIR)."""
    if ctx.invoked_subcommand is not None:
        return
    if real is not None:
        from medvlm.evaluation.real_films import evaluate_real

        typer.echo(evaluate_real(model, real, out, limit=limit or None))
        return
    if data is None:
        raise typer.BadParameter("--data or --real is required", param_hint="--data")
    from medvlm.evaluation.run import evaluate_to_folder

    summary = evaluate_to_folder(
        model_dir=model, data_dir=data, split=split, out_dir=out, limit=limit or None
    )
    typer.echo(summary)


@eval_app.command("labeler")
def evaluate_labeler(
    splits: str = typer.Option("train,validation", "--splits", help="IU buckets to score on (never test)."),
    min_examples: int = typer.Option(
        30, "--min-examples", help="Findings with fewer examples are listed apart."
    ),
) -> None:
    """Score the report labeler against the IU MeSH tags: per-finding precision / recall / F1."""
    from medvlm.labeler.mesh_agreement import format_table, run_labeler_eval

    result = run_labeler_eval(splits=tuple(s.strip() for s in splits.split(",")), min_examples=min_examples)
    typer.echo(format_table(result))


@eval_app.command("compare")
def compare_evaluations(
    a: Path = typer.Argument(..., help="An `medvlm eval --out` folder (model A)."),
    b: Path = typer.Argument(..., help="Another, of the same split of the same data (model B)."),
    json_out: Path = typer.Option(None, "--json", help="Also write the comparison as JSON here."),
) -> None:
    """Per-finding and macro AUROC of B against A on the same studies, with paired-bootstrap intervals."""
    import json

    from medvlm.evaluation.compare import compare_runs, format_comparison

    comparison = compare_runs(a, b)
    if json_out is not None:
        json_out.write_text(json.dumps(comparison, indent=2))
    typer.echo(format_comparison(comparison))


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")
