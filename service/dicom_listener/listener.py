"""The DICOM listener: Verification (C-ECHO) and Storage (C-STORE) SCP in front of the study store.

Each received instance goes through the service's intake (parse, validate, decode, durable store, index,
with the sender's audit row in the same transaction) before
the C-STORE response is sent, so Success means the file is on disk and in the database; every other outcome
is a Failure status with an Error Comment, and a rejected file writes nothing. When an association ends
(released, aborted or dropped), the studies it delivered get draft jobs in the service's queue, the same
way an upload does, so the service's worker drafts them.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any, cast

import pydicom
from pydicom.dataset import Dataset
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, _config, evt
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from medvlm.errors import LimitExceededError, MedVLMError, StorageFullError
from medvlm.pacs import status as st
from medvlm.pacs.ae import DEFAULT_AE_TITLE, DEFAULT_PORT, validate_ae_title
from medvlm.pacs.errors import ListenerError
from medvlm.settings import Settings, get_settings

__all__ = ["DEFAULT_AE_TITLE", "DEFAULT_PORT", "AssociationSummary", "ListenerHandle", "start_dicom_listener",
           "validate_ae_title"]

log = logging.getLogger("medvlm.service.dicom_listener")


@dataclass
class AssociationSummary:
    """What one association delivered; kept on the handle for logs and tests."""

    calling_ae: str
    address: str
    stored: int = 0  # Success responses (new or identical duplicate)
    failed: int = 0
    studies: list[str] = field(default_factory=list)  # studies with at least one instance stored
    new_studies: set[str] = field(default_factory=set)  # studies with at least one new instance
    jobs: list[str] = field(default_factory=list)  # draft jobs queued for this association
    queue_error: str | None = None


class ListenerHandle:
    """A running listener: ``.port`` is the bound port (useful with port 0), ``.stop()`` shuts it down."""

    def __init__(self, ae: AE, server: Any, ae_title: str, host: str) -> None:
        self._ae = ae
        self._server = server
        self.ae_title = ae_title
        self.host = host
        self.port: int = int(server.server_address[1])
        self.associations: list[AssociationSummary] = []
        self._stopped = False
        self._done = threading.Condition()

    def _finished(self, summary: AssociationSummary) -> None:
        with self._done:
            self.associations.append(summary)
            self._done.notify_all()

    def wait_for_associations(self, count: int, timeout: float = 10.0) -> list[AssociationSummary]:
        """Block until ``count`` associations have ended and had their drafts queued."""
        deadline = time.monotonic() + timeout
        with self._done:
            while len(self.associations) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    ended = len(self.associations)
                    raise TimeoutError(f"{ended} of {count} associations ended within {timeout} s")
                self._done.wait(left)
            return list(self.associations)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop accepting, close the socket, then give associations in progress up to ``timeout`` seconds
        to finish (and queue their drafts). Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        deadline = time.monotonic() + timeout
        while self._ae.active_associations and time.monotonic() < deadline:
            time.sleep(0.05)

    def __enter__(self) -> ListenerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handlers:
    def __init__(self, settings: Settings, queue_drafts: bool) -> None:
        self.settings = settings
        self.queue_drafts = queue_drafts
        self.handle: ListenerHandle | None = None
        self._open: dict[int, AssociationSummary] = {}
        self._lock = threading.Lock()

    def _summary(self, event: evt.Event) -> AssociationSummary:
        key = id(event.assoc)
        with self._lock:
            summary = self._open.get(key)
            if summary is None:
                requestor = event.assoc.requestor
                summary = AssociationSummary(calling_ae=str(requestor.ae_title).strip(),
                                             address=f"{requestor.address}:{requestor.port}")
                self._open[key] = summary
            return summary

    def on_accepted(self, event: evt.Event) -> None:
        self._summary(event)

    def on_echo(self, event: evt.Event) -> int:
        return st.SUCCESS

    def on_store(self, event: evt.Event) -> int | Dataset:
        summary = self._summary(event)
        try:
            code, comment = self._store(event, summary)
        except StorageFullError:
            code, comment = st.OUT_OF_RESOURCES, "store disk full; send again later"
        except MedVLMError as exc:  # database or store unavailable: worth a retry later
            code, comment = st.OUT_OF_RESOURCES, str(exc)
        except Exception as exc:  # the sender must get a Failure status, never a crashed handler
            log.exception("C-STORE from %s failed", summary.calling_ae)
            code, comment = st.OUT_OF_RESOURCES, f"internal error: {type(exc).__name__}"
        if code == st.SUCCESS:
            summary.stored += 1
            return st.SUCCESS
        summary.failed += 1
        log.warning("C-STORE from %s refused (0x%04X): %s", summary.calling_ae, code, comment)
        return st.failure(code, comment)

    def _store(self, event: evt.Event, summary: AssociationSummary) -> tuple[int, str]:
        from medvlm.dicom.validate import check_pixel_limits
        from medvlm.service.intake.intake import Actor, Item, intake

        request = cast(C_STORE, event.request)
        path = _received_path(event)
        # The size is known before the data set is read into memory: pynetdicom spooled it to a file.
        size = path.stat().st_size if path is not None else len(event.encoded_dataset(include_meta=False))
        if size > self.settings.max_file_bytes:
            return st.OUT_OF_RESOURCES, f"{size} bytes, over MEDVLM_MAX_FILE_BYTES"
        data = path.read_bytes() if path is not None else event.encoded_dataset(include_meta=True)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(BytesIO(data), stop_before_pixels=True)  # the header, not a pixel copy
                sop_class = str(ds.get("SOPClassUID", ""))
                sop_instance = str(ds.get("SOPInstanceUID", ""))
                if "Rows" in ds:
                    check_pixel_limits(ds, self.settings)
        except LimitExceededError as exc:  # over the pixel limit: refused before any decoding
            return st.OUT_OF_RESOURCES, str(exc)
        except MedVLMError as exc:
            return st.CANNOT_UNDERSTAND, str(exc)
        except Exception as exc:  # pydicom raises many types for malformed data
            return st.CANNOT_UNDERSTAND, f"unreadable data set: {exc}"
        if sop_class != str(request.AffectedSOPClassUID):
            return st.DOES_NOT_MATCH_SOP_CLASS, f"SOP Class {sop_class or 'missing'} != context"
        if sop_instance != str(request.AffectedSOPInstanceUID):
            return st.DOES_NOT_MATCH_SOP_CLASS, "SOP Instance UID differs from the request"
        name = f"dicom://{summary.calling_ae}@{summary.address}/{sop_instance}"
        actor = Actor(f"dicom:{summary.calling_ae}", "cstore", address=summary.address)
        report = intake(self.settings, actor, Item(name, data))
        if report.rejected:
            rejection = report.rejected[0]
            return st.status_for_rejection(rejection), rejection.reason
        if report.conflicts:
            reason = report.conflict_reasons[0].reason if report.conflict_reasons else "conflict"
            return st.CONFLICT, reason
        for uid in report.study_instance_uids:
            if uid not in summary.studies:
                summary.studies.append(uid)
            if report.ingested:
                summary.new_studies.add(uid)
        return st.SUCCESS, ""

    def on_closed(self, event: evt.Event) -> None:
        """The connection is gone (release, abort or network loss): queue drafts for what it delivered."""
        with self._lock:
            summary = self._open.pop(id(event.assoc), None)
        if summary is None:  # a connection that never became an association
            return
        if self.queue_drafts and summary.studies:
            try:
                summary.jobs = queue_drafts(self.settings, summary)
            except Exception as exc:  # the files are stored; `medvlm serve` queues undrafted studies at start
                summary.queue_error = f"{type(exc).__name__}: {exc}"
                log.exception("queueing drafts for %s failed", summary.studies)
        log.info("association from %s ended: %d stored, %d failed, %d job(s)", summary.calling_ae,
                 summary.stored, summary.failed, len(summary.jobs))
        if self.handle is not None:
            self.handle._finished(summary)


def _received_path(event: evt.Event) -> Path | None:
    """Where pynetdicom spooled the received data set (``STORE_RECV_CHUNKED_DATASET``), if it did."""
    try:
        path = event.dataset_path
    except AttributeError:
        return None
    return Path(path) if path else None  # None when the flag was off for this request


def queue_drafts(settings: Settings, summary: AssociationSummary) -> list[str]:
    """Draft jobs for the received studies, as for an upload (the audit rows were written with each
    instance's batch, by the intake)."""
    from medvlm.db import get_engine
    from medvlm.service.intake.intake import queue_drafts as queue

    return queue(get_engine(settings.resolved_database_url), settings, summary.studies, summary.new_studies)


def start_dicom_listener(
    settings: Settings | None = None,
    *,
    ae_title: str = DEFAULT_AE_TITLE,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    allowed_calling_aes: Sequence[str] | None = None,
    queue_drafts: bool = True,
) -> ListenerHandle:
    """Start the listener in background threads; returns at once. Binds loopback unless told otherwise.

    ``allowed_calling_aes`` (None: ``MEDVLM_DICOM_ALLOWED_AES``; empty: any) restricts which peers may
    associate; ``queue_drafts=False`` only stores (for a store-only deployment or tests without the
    service tables). Idle associations are aborted after ``dicom_idle_timeout_s`` and at most
    ``dicom_max_associations`` are open at once."""
    settings = settings or get_settings()
    if allowed_calling_aes is None:
        allowed_calling_aes = settings.dicom_allowed_ae_list
    title = validate_ae_title(ae_title)
    if not 0 <= port <= 65535:
        raise ListenerError(f"invalid port {port}: expected 0-65535")
    # Received data sets go to a temporary file, not a growing buffer: the size limit is then checked
    # before anything is held in memory, and concurrent large stores do not pile up in RAM.
    _config.STORE_RECV_CHUNKED_DATASET = True
    ae = AE(ae_title=title)
    ae.require_called_aet = True  # a sender configured for another AE title is told so, not silently served
    ae.maximum_pdu_size = 256 * 1024  # bounded per PDU; the file-size limit applies per instance
    ae.network_timeout = settings.dicom_idle_timeout_s  # nothing received for this long: aborted
    ae.acse_timeout = min(30.0, settings.dicom_idle_timeout_s)  # an association request must complete
    ae.dimse_timeout = 120
    ae.maximum_associations = settings.dicom_max_associations
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(str(context.abstract_syntax), ALL_TRANSFER_SYNTAXES)
    ae.add_supported_context(Verification)
    if allowed_calling_aes:
        ae.require_calling_aet = [validate_ae_title(a) for a in allowed_calling_aes]
    handlers = _Handlers(settings, queue_drafts)
    evt_handlers: list[Any] = [(evt.EVT_ACCEPTED, handlers.on_accepted), (evt.EVT_C_ECHO, handlers.on_echo),
                    (evt.EVT_C_STORE, handlers.on_store), (evt.EVT_CONN_CLOSE, handlers.on_closed)]
    try:
        server = ae.start_server((host, port), block=False, evt_handlers=evt_handlers)
    except OSError as exc:
        raise ListenerError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    handle = ListenerHandle(ae, server, title, host)
    handlers.handle = handle
    log.info("DICOM listener %s on %s:%d", title, host, handle.port)
    return handle
