"""CLI commands: ``medvlm audit verify`` checks the hash-chained audit trail."""

from __future__ import annotations

from typing import Annotated

import typer

audit_app = typer.Typer(help="The append-only audit trail.", no_args_is_help=True)


@audit_app.command("verify")
def verify_command(
    database_url: Annotated[str | None, typer.Option(
        "--database-url", help="SQLAlchemy URL (default: the settings database).",
    )] = None,
) -> None:
    """Walk the audit chain; exit 1 naming the first edited, deleted or reordered row."""
    from medvlm.compliance.audit import verify
    from medvlm.compliance.errors import AuditChainBrokenError
    from medvlm.db import get_engine, session_scope

    with session_scope(get_engine(database_url)) as session:
        result = verify(session)
    if not result.ok:
        # MedVLMError -> `error: <message>` and exit 1 (medvlm.cli.main.run).
        raise AuditChainBrokenError(result.summary())
    typer.echo(result.summary())


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.add_typer(audit_app, name="audit")
