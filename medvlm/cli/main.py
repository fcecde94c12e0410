"""The ``medvlm`` command line: one Typer app, each command group in its own module.

Modules import heavy libraries (torch, transformers) inside their commands, so that ``medvlm studies``
starts fast. Errors of the library become one readable line and exit code 1; usage errors exit 2.
"""

from __future__ import annotations

import sys

import typer

from medvlm.errors import MedVLMError

app = typer.Typer(
    name="medvlm",
    help="MedVLM: DICOM ingestion, training, drafting and the review service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Each module registers its commands on ``app``; see the module for what it owns.
from medvlm.cli import (  # noqa: E402
    audit,
    corrections,
    data,
    demo,
    draft,
    evaluate,
    hl7,
    ingest,
    models,
    pacs,
    serve,
    train,
)

for _module in (ingest, data, train, draft, evaluate, models, corrections, serve, pacs, hl7, audit, demo):
    _module.register(app)


def run() -> None:
    command = typer.main.get_command(app)
    try:
        command.main(prog_name="medvlm", standalone_mode=True)
    except MedVLMError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
