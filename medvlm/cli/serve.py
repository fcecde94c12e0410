"""CLI commands: ``serve`` (API + drafting workers + UI in one process) and ``users add``.

Heavy imports (FastAPI app, uvicorn, the model) happen inside the commands so ``medvlm --help`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from medvlm.compliance.policy import Role

if TYPE_CHECKING:
    from medvlm.settings import Settings

# The access policy's roles that a person's account may hold: integrations use API keys, not accounts.
ROLES = tuple(role.value for role in Role if role != Role.INTEGRATION)


def serve_command(
    host: Annotated[
        str, typer.Option(help="Address to bind; keep 127.0.0.1 behind a reverse proxy.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=0, max=64, help="Drafting worker threads (0: API only).")] = 1,
    api_processes: Annotated[
        int, typer.Option(min=1, max=64, help="HTTP server processes (more use more CPU cores).")
    ] = 1,
    draft_pending: Annotated[
        bool,
        typer.Option(help="Queue a draft for stored studies that have none (e.g. from `medvlm ingest`)."),
    ] = True,
    access_log: Annotated[
        bool, typer.Option(help="Log every request (costs CPU per request; a reverse proxy usually logs).")
    ] = False,
    dicom_port: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=65535,
            help="Also accept C-STORE / C-ECHO on this port, drafting what arrives (default: "
            "MEDVLM_DICOM_PORT; 0: no DICOM listener).",
        ),
    ] = None,
    dicom_ae_title: Annotated[
        str | None, typer.Option(help="The listener's AE title (default: MEDVLM_DICOM_AE_TITLE, MEDVLM).")
    ] = None,
) -> None:
    """Run the review service: HTTP API, drafting workers, the browser UI and, if asked, a DICOM listener."""
    import threading

    from medvlm.db import get_engine
    from medvlm.service.app import create_app
    from medvlm.service.processes import check_port_free
    from medvlm.settings import get_settings

    settings = get_settings()
    app = create_app(settings)  # refuses unsafe secrets before anything starts
    check_port_free(host, port)
    engine = get_engine(settings.resolved_database_url)
    workers = _prepare_store(settings, engine, workers, draft_pending)
    dicom_port = settings.dicom_port if dicom_port is None else dicom_port
    dicom = _start_dicom_listener(settings, host, dicom_port, dicom_ae_title) if dicom_port else None
    stop = threading.Event()
    drafter, threads = _start_background(app, settings, engine, workers, stop)
    typer.echo(
        f"MedVLM serving on http://{host}:{port} ({api_processes} API process(es), "
        f"{workers} drafting worker(s), "
        f"model: {_model_description(settings, drafter)})"
    )
    try:
        _run_http(app, host, port, api_processes, access_log)
    finally:
        if dicom is not None:
            dicom.stop()
        stop.set()
        for thread in threads:
            thread.join(timeout=30)


def _prepare_store(settings: Settings, engine: Any, workers: int, draft_pending: bool) -> int:
    """Migrate, clean what a killed process left, requeue its jobs and queue undrafted studies; returns the
    number of drafting workers the database allows (SQLite: one)."""
    from medvlm.db import migrate
    from medvlm.dicom.cleanup import clean_store
    from medvlm.service.intake.intake import queue_undrafted
    from medvlm.service.jobs import queue

    migrate(settings.resolved_database_url)
    cleaned = clean_store(settings)  # what a killed process left: .part files, orphans, rows without files
    if cleaned.changed:
        typer.echo(f"store cleanup: removed {len(cleaned.partial_files)} partial and "
                   f"{len(cleaned.orphan_files)} orphan file(s), {len(cleaned.rows_without_files)} "
                   "row(s) without a file", err=True)
    if engine.dialect.name == "sqlite":
        if workers > 1:
            typer.echo("note: SQLite allows a single drafting worker; use PostgreSQL for more", err=True)
            workers = 1
        queue.requeue_after_restart(engine)  # jobs of a previous, killed process run again
    if draft_pending:
        queued = queue_undrafted(engine, settings)
        if queued:
            typer.echo(f"queued {queued} stored study(ies) for drafting")
    return workers


def _start_dicom_listener(settings: Settings, host: str, port: int, ae_title: str | None) -> Any:
    """A modality or PACS sends here; the studies are queued for drafting like uploads."""
    from medvlm.service.dicom_listener.listener import start_dicom_listener

    dicom = start_dicom_listener(settings, ae_title=ae_title or settings.dicom_ae_title, host=host, port=port)
    typer.echo(f"DICOM listener {dicom.ae_title} on {host}:{dicom.port}")
    if not settings.dicom_allowed_ae_list and settings.environment != "development":
        typer.echo("warning: any calling AE may store studies; set MEDVLM_DICOM_ALLOWED_AES to the "
                   "modalities' and PACS' AE titles", err=True)
    return dicom


def _start_background(
    app: Any, settings: Settings, engine: Any, workers: int, stop: Any
) -> tuple[Any, list[Any]]:
    """Drafting workers, the model warm-up, the HL7 sender and the PostgreSQL wake-up listener; returns the
    drafter the workers use (for the start-up line) and the threads to join at exit."""
    import threading

    from medvlm.service.hl7.sender import start_sender
    from medvlm.service.jobs.listen import start_wakeup_listener
    from medvlm.service.jobs.worker import Worker

    threads = [
        threading.Thread(
            target=Worker(engine, app.state.drafter, wake=app.state.wake).run,
            args=(stop,),
            daemon=True,
            name=f"draft-worker-{i}",
        )
        for i in range(workers)
    ]
    drafter = app.state.drafter()
    if workers and hasattr(drafter, "warm"):  # load the weights now, not on the first upload
        threads.append(threading.Thread(target=drafter.warm, daemon=True, name="model-warm-up"))
    for thread in threads:
        thread.start()
    if workers:  # admins' retraining jobs (queued in the database), beside the drafting workers
        from medvlm.service.jobs.retrain_worker import start_retrain_worker

        threads.append(start_retrain_worker(engine, settings, stop))
    hl7 = start_sender(engine, settings, stop)  # signed reports to the RIS, when MEDVLM_HL7_HOST is set
    if hl7 is not None:
        threads.append(hl7)
        typer.echo(f"HL7 results to {settings.hl7_host}:{settings.hl7_port} (MLLP)")
    if workers:  # uploads handled by other API processes wake these workers through PostgreSQL
        listener = start_wakeup_listener(engine, app.state.wake, stop)
        if listener is not None:
            threads.append(listener)
    return drafter, threads


def _run_http(app: Any, host: str, port: int, api_processes: int, access_log: bool) -> None:
    import uvicorn

    # uvloop + httptools: the C event loop and HTTP parser (both installed) cost less CPU per request.
    server = {
        "host": host,
        "port": port,
        "log_level": "info",
        "access_log": access_log,
        "loop": "uvloop",
        "http": "httptools",
    }
    if api_processes == 1:
        uvicorn.run(app, **server)  # type: ignore[arg-type]
        return
    # Each process builds its own app from the same settings; drafting workers stay in this one.
    from medvlm.service.processes import run_api_processes

    options = {k: v for k, v in server.items() if k not in ("host", "port")}
    code = run_api_processes(host, port, api_processes, options)
    if code:
        typer.echo(f"error: an API process exited with status {code}; stopped the others", err=True)
        raise typer.Exit(1)


users_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="MEDVLM_NEW_USER_PASSWORD",
            help="Prompted for when not given (or from MEDVLM_NEW_USER_PASSWORD).",
        ),
    ],
) -> None:
    """Create a user (the first admin is made this way)."""
    from pydantic import ValidationError

    from medvlm.db import migrate, session_scope
    from medvlm.db.engine import get_engine
    from medvlm.service.api.routes.users import create_user
    from medvlm.service.audit import audit
    from medvlm.service.schemas.auth import UserCreate
    from medvlm.settings import get_settings

    if role not in ROLES:
        raise typer.BadParameter(f"role must be one of {', '.join(ROLES)}, got {role!r}", param_hint="--role")
    try:
        body = UserCreate(username=username, password=password, role=role)  # type: ignore[arg-type]
    except ValidationError as exc:  # one readable line: the first problem, without the value given
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "user"
        raise typer.BadParameter(f"{where}: {first['msg'].removeprefix('Value error, ')}") from None
    settings = get_settings()
    migrate(settings.resolved_database_url)
    with session_scope(get_engine(settings.resolved_database_url)) as session:
        user = create_user(session, body.username, body.password, body.role)
        audit(
            session,
            actor="cli",
            action="user.create",
            resource_type="user",
            resource_id=user.id,
            detail={"username": user.username, "role": user.role},
        )
    typer.echo(f"created {role} '{username}'")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command("serve")(serve_command)
    app.add_typer(users_app, name="users")


def _model_description(settings: Settings, drafter: object) -> str:
    if settings.model_dir is not None:
        return f"{settings.model_dir} (MEDVLM_MODEL_DIR)"
    if drafter is None:
        return "none yet (promote one with `medvlm models promote ID`)"
    return f"the registry's production version, {getattr(drafter, 'model_dir', '?')}"
