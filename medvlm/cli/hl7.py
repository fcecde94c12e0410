"""CLI commands: ``hl7 outbox`` (what waits, what failed and why) and ``hl7 retry`` (requeue the failed)."""

from __future__ import annotations

from typing import Annotated

import typer

hl7_app = typer.Typer(help="HL7 results to the RIS: the outbox of ORU^R01 messages.", no_args_is_help=True)


@hl7_app.command("outbox")
def outbox_command(
    status: Annotated[str | None, typer.Option(help="Only pending, sending, sent or failed.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """List outbox messages, newest first, with their ACK code and last error."""
    from sqlmodel import Session, col, select

    from medvlm.cli.ingest import ready_settings
    from medvlm.db import get_engine
    from medvlm.service.hl7.tables import Hl7Message

    if status is not None and status not in ("pending", "sending", "sent", "failed"):
        typer.echo(f"error: --status {status!r}: expected pending, sending, sent or failed", err=True)
        raise typer.Exit(2)
    engine = get_engine(ready_settings().resolved_database_url)
    with Session(engine) as session:
        query = select(Hl7Message).order_by(col(Hl7Message.id).desc()).limit(limit)
        if status is not None:
            query = query.where(Hl7Message.status == status)
        rows = session.exec(query).all()
    for row in rows:
        error = f"  {row.last_error}" if row.last_error else ""
        typer.echo(f"{row.id}\t{row.control_id}\t{row.event}\t{row.status}\tattempts={row.attempts}\t"
                   f"ack={row.ack_code or '-'}\treport={row.report_id}{error}")
    typer.echo(f"{len(rows)} message(s)", err=True)


@hl7_app.command("retry")
def retry_command(
    report: Annotated[str | None, typer.Option(help="Only this report's failed messages.")] = None,
) -> None:
    """Requeue failed messages (after the receiving side was fixed); the sender delivers them in order."""
    from medvlm.cli.ingest import ready_settings
    from medvlm.db import get_engine
    from medvlm.service.hl7.outbox import retry_failed

    count = retry_failed(get_engine(ready_settings().resolved_database_url), report)
    typer.echo(f"requeued {count} failed message(s)")


def register(app: typer.Typer) -> None:
    """Add the ``hl7`` group to the top-level app."""
    app.add_typer(hl7_app, name="hl7")
