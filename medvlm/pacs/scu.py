"""The sender: C-ECHO a peer, C-STORE files (SR, encapsulated PDF, images) to a remote AE such as a PACS.

Errors name the peer and the reason: connection refused, association rejected (with the DICOM reason),
aborted, a presentation context the peer did not accept, or a failure status with its Error Comment.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pynetdicom import AE, Association
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from medvlm.pacs import status as st
from medvlm.pacs.ae import DEFAULT_AE_TITLE, validate_ae_title
from medvlm.pacs.errors import PacsError

# A-ASSOCIATE-RJ reasons (PS3.8 9.3.4) a person can act on.
_REJECT_REASONS = {
    (1, 1): "no reason given",
    (1, 2): "application context name not supported",
    (1, 3): "calling AE title not recognized (register our AE title on the peer)",
    (1, 7): "called AE title not recognized (check --called-ae)",
    (2, 1): "no reason given (ACSE)",
    (2, 2): "protocol version not supported",
    (3, 1): "temporary congestion",
    (3, 2): "local limit exceeded",
}
_MAX_CONTEXTS = 128


@dataclass(frozen=True)
class SendResult:
    name: str
    sop_instance_uid: str
    status: int
    comment: str = ""

    @property
    def ok(self) -> bool:
        return self.status == st.SUCCESS or 0xB000 <= self.status <= 0xBFFF  # warnings: stored

    def describe(self) -> str:
        text = f"{self.name}: 0x{self.status:04X} {st.describe(self.status)}"
        return f"{text} ({self.comment})" if self.comment else text


class PacsSendError(PacsError):
    """Some instances were not stored by the peer; ``results`` holds every instance's outcome."""

    def __init__(self, message: str, results: list[SendResult] | None = None) -> None:
        super().__init__(message)
        self.results = results or []


def _associate(host: str, port: int, ae: AE, called_ae: str, timeout: float, **options: Any) -> Association:
    """An established association, or ``PacsError`` with the reason; ``options`` go to ``ae.associate``
    (role selection and event handlers for C-GET)."""
    peer = f"{called_ae} at {host}:{port}"
    assoc = ae.associate(host, port, ae_title=called_ae, **options)
    if assoc.is_established:
        return assoc
    if assoc.is_rejected:
        rj = assoc.acceptor.primitive
        source, diagnostic = int(getattr(rj, "result_source", 0)), int(getattr(rj, "diagnostic", 0))
        permanence = "permanently" if int(getattr(rj, "result", 1)) == 1 else "transiently"
        reason = _REJECT_REASONS.get((source, diagnostic), f"source {source}, reason {diagnostic}")
        raise PacsError(f"association {permanence} rejected by {peer}: {reason}")
    try:  # pynetdicom reports a failed connection as an abort and only logs why: find out, to say so
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise PacsError(f"cannot connect to {peer}: {exc.strerror or exc}") from exc
    if assoc.is_aborted and assoc.rejected_contexts and not assoc.accepted_contexts:
        refused = {getattr(cx.abstract_syntax, "name", "?") for cx in assoc.rejected_contexts}
        names = ", ".join(sorted(refused))
        raise PacsError(f"{peer} accepted none of the SOP classes / transfer syntaxes offered ({names})")
    if assoc.is_aborted:
        raise PacsError(f"association with {peer} aborted during negotiation")
    raise PacsError(f"no association with {peer}: no answer within {timeout} s")


def _make_ae(calling_ae: str, timeout: float) -> AE:
    ae = AE(ae_title=validate_ae_title(calling_ae))
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    ae.connection_timeout = timeout
    return ae


def echo(host: str, port: int, *, called_ae: str = "ANY-SCP", calling_ae: str = DEFAULT_AE_TITLE,
         timeout: float = 10.0) -> None:
    """C-ECHO the peer; raises ``PacsError`` unless it answers Success."""
    ae = _make_ae(calling_ae, timeout)
    ae.add_requested_context(Verification)
    assoc = _associate(host, port, ae, validate_ae_title(called_ae), timeout)
    try:
        answer = assoc.send_c_echo()
    finally:
        assoc.release()
    code = int(answer.get("Status", -1)) if answer else -1
    if code != st.SUCCESS:
        detail = f"status 0x{code:04X}" if code >= 0 else "no response"
        raise PacsError(f"C-ECHO to {called_ae} at {host}:{port} failed: {detail}")


def _load(item: Path | bytes | Dataset, index: int) -> tuple[str, Dataset]:
    if isinstance(item, Dataset):
        return f"dataset {index + 1}", item
    name = str(item) if isinstance(item, Path) else f"item {index + 1}"
    try:
        ds = dcmread(item if isinstance(item, Path) else BytesIO(item))
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise PacsError(f"{name}: not a readable DICOM file ({exc})") from exc
    meta = getattr(ds, "file_meta", None)
    if "SOPClassUID" not in ds or "SOPInstanceUID" not in ds or "TransferSyntaxUID" not in (meta or {}):
        raise PacsError(f"{name}: missing SOP Class/Instance UID or Transfer Syntax UID, cannot be sent")
    return name, ds


def send(host: str, port: int, items: Sequence[Path | bytes | Dataset], *, called_ae: str = "ANY-SCP",
         calling_ae: str = DEFAULT_AE_TITLE, timeout: float = 30.0) -> list[SendResult]:
    """C-STORE every item over one association; returns each outcome, or raises ``PacsSendError`` (with
    all outcomes) when any instance was not stored. Unreadable inputs fail before anything is sent."""
    if not items:
        raise PacsError("nothing to send")
    loaded = [_load(item, i) for i, item in enumerate(items)]
    ae = _make_ae(calling_ae, timeout)
    contexts = sorted({(str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID)) for _, ds in loaded})
    if len(contexts) > _MAX_CONTEXTS:
        raise PacsError(f"{len(contexts)} SOP class/transfer syntax pairs: at most {_MAX_CONTEXTS} per "
                        "association; send them in smaller groups")
    for sop_class, syntax in contexts:
        ae.add_requested_context(sop_class, syntax)
    peer = validate_ae_title(called_ae)
    assoc = _associate(host, port, ae, peer, timeout)
    results: list[SendResult] = []
    try:
        for name, ds in loaded:
            uid = str(ds.SOPInstanceUID)
            try:
                answer = assoc.send_c_store(ds)
            except ValueError as exc:  # no accepted presentation context for this SOP class / syntax
                results.append(SendResult(name, uid, 0x0122, f"not accepted by the peer: {exc}"))
                continue
            if not answer or "Status" not in answer:
                results.append(SendResult(name, uid, 0xFFFF, "no response (timeout or abort)"))
                if not assoc.is_established:
                    break
                continue
            results.append(SendResult(name, uid, int(answer.Status), str(answer.get("ErrorComment", ""))))
    finally:
        if assoc.is_established:
            assoc.release()
    unsent = [SendResult(n, str(ds.SOPInstanceUID), 0xFFFF, "association lost before sending")
              for n, ds in loaded[len(results):]]
    results += unsent
    failed = [r for r in results if not r.ok]
    if failed:
        lines = "; ".join(r.describe() for r in failed[:5])
        raise PacsSendError(f"{len(failed)} of {len(results)} instance(s) not stored by {peer} at "
                            f"{host}:{port}: {lines}", results)
    return results
