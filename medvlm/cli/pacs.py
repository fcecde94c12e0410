"""CLI commands: ``pacs listen`` (the DICOM listener), ``pacs echo`` and ``pacs send`` (C-ECHO / C-STORE out).

Exit codes: 0 on success, 1 on a library error (peer unreachable, association rejected, a failure
status; one line naming it), 2 for usage errors.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import typer

from medvlm.cli.ingest import fail, ready_settings
from medvlm.errors import MedVLMError

pacs_app = typer.Typer(help="DICOM networking: receive studies from a PACS, send results back.",
                       no_args_is_help=True)


def _log_associations() -> None:
    """One line per association and per refused instance on stderr (pynetdicom's own chatter stays off)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    for name in ("medvlm.pacs", "medvlm.service.dicom_listener"):
        log = logging.getLogger(name)
        log.addHandler(handler)
        log.setLevel(logging.INFO)


@pacs_app.command("listen")
def listen_command(
    port: int = typer.Option(11112, "--port", help="TCP port (0: any free port, printed at start)."),
    ae_title: str = typer.Option("MEDVLM", "--ae-title", help="Our AE title (the called AE for senders)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; loopback unless told otherwise."),
    allow: list[str] = typer.Option([], "--allow", help="Calling AE titles allowed (repeat); default any."),
    no_queue: bool = typer.Option(False, "--no-queue", help="Store only; do not queue draft jobs."),
) -> None:
    """Run the C-ECHO / C-STORE listener until interrupted; received studies are queued for drafting."""
    from medvlm.service.dicom_listener.listener import start_dicom_listener

    try:
        settings = ready_settings()
        _log_associations()
        handle = start_dicom_listener(settings, ae_title=ae_title, host=host, port=port,
                                allowed_calling_aes=allow, queue_drafts=not no_queue)
    except MedVLMError as exc:
        raise fail(exc) from exc
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    typer.echo(f"listening as {handle.ae_title} on {host}:{handle.port}", err=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
        signal.signal(signal.SIGTERM, previous)
    typer.echo(f"stopped after {len(handle.associations)} association(s)", err=True)


@pacs_app.command("echo")
def echo_command(
    host: str = typer.Argument(..., help="Peer host."),
    port: int = typer.Argument(..., help="Peer DICOM port."),
    called_ae: str = typer.Option("ANY-SCP", "--called-ae", help="The peer's AE title."),
    ae_title: str = typer.Option("MEDVLM", "--ae-title", help="Our (calling) AE title."),
    timeout: float = typer.Option(10.0, "--timeout", min=0.1, help="Seconds to wait for the peer."),
) -> None:
    """Verify a DICOM peer with C-ECHO."""
    from medvlm.pacs.scu import echo

    try:
        echo(host, port, called_ae=called_ae, calling_ae=ae_title, timeout=timeout)
    except MedVLMError as exc:
        raise fail(exc) from exc
    typer.echo(f"C-ECHO {called_ae} at {host}:{port}: Success")


@pacs_app.command("send")
def send_command(
    host: str = typer.Argument(..., help="Peer host."),
    port: int = typer.Argument(..., help="Peer DICOM port."),
    files: list[Path] = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                       help="DICOM files (SR, encapsulated PDF, images)."),
    called_ae: str = typer.Option("ANY-SCP", "--called-ae", help="The peer's AE title."),
    ae_title: str = typer.Option("MEDVLM", "--ae-title", help="Our (calling) AE title."),
    timeout: float = typer.Option(30.0, "--timeout", min=0.1, help="Seconds to wait for the peer."),
) -> None:
    """Send DICOM files to a peer with C-STORE (one association); exit 1 unless every file was stored."""
    from medvlm.pacs.scu import PacsSendError, send

    try:
        results = send(host, port, files, called_ae=called_ae, calling_ae=ae_title, timeout=timeout)
    except PacsSendError as exc:
        for result in exc.results:
            typer.echo(result.describe(), err=not result.ok)
        raise fail(exc) from exc
    except MedVLMError as exc:
        raise fail(exc) from exc
    for result in results:
        typer.echo(result.describe())
    typer.echo(f"sent {len(results)} instance(s) to {called_ae} at {host}:{port}")


def register(app: typer.Typer) -> None:
    """Add the ``pacs`` group to the top-level app."""
    app.add_typer(pacs_app, name="pacs")
