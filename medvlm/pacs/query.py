"""Query / retrieve from a PACS: C-FIND a patient's studies, C-GET one study's instances (pynetdicom).

C-GET rather than C-MOVE: the instances come back on the association we opened, so the PACS needs no
route to a listener of ours (no AE/host/port entry for a move destination, no firewall opening towards
us), and a retrieval is complete when the call returns. Only what a chest-film comparison needs is asked
for: radiograph and CT images, secondary captures, structured reports and encapsulated PDFs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pynetdicom import build_role, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    BasicTextSRStorage,
    ComprehensiveSRStorage,
    ComputedRadiographyImageStorage,
    CTImageStorage,
    DigitalXRayImageStorageForPresentation,
    DigitalXRayImageStorageForProcessing,
    EncapsulatedPDFStorage,
    EnhancedSRStorage,
    SecondaryCaptureImageStorage,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
)

from medvlm.errors import DicomError
from medvlm.pacs import status as st
from medvlm.pacs.ae import DEFAULT_AE_TITLE, validate_ae_title
from medvlm.pacs.errors import PacsError
from medvlm.pacs.scu import _associate, _make_ae

RETRIEVED_CLASSES = [
    ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation,
    DigitalXRayImageStorageForProcessing,
    CTImageStorage,
    SecondaryCaptureImageStorage,
    BasicTextSRStorage,
    EnhancedSRStorage,
    ComprehensiveSRStorage,
    EncapsulatedPDFStorage,
]
_WILDCARDS = set("*?\\")


@dataclass(frozen=True)
class StudyMatch:
    study_instance_uid: str
    study_date: str  # DICOM DA (YYYYMMDD), empty when the PACS has none
    accession_number: str
    description: str
    modalities: tuple[str, ...]


def _check_patient_id(patient_id: str) -> str:
    """The study's own Patient ID, usable as an exact C-FIND key (a DicomError: the data, not the PACS)."""
    if not patient_id.strip():
        raise DicomError("a prior-study query needs the patient's ID; this study has none")
    if _WILDCARDS & set(patient_id):
        raise DicomError(f"patient ID {patient_id!r} contains a C-FIND wildcard; refusing to query with it")
    return patient_id


def find_studies(
    host: str,
    port: int,
    *,
    patient_id: str,
    called_ae: str,
    calling_ae: str = DEFAULT_AE_TITLE,
    timeout: float = 30.0,
) -> list[StudyMatch]:
    """Every study the PACS holds for ``patient_id`` (exact match), newest first."""
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.PatientID = _check_patient_id(patient_id)
    return _find(host, port, query, called_ae, calling_ae, timeout)


def find_studies_between(
    host: str,
    port: int,
    *,
    date_from: str,
    date_to: str,
    modality: str,
    called_ae: str,
    calling_ae: str = DEFAULT_AE_TITLE,
    timeout: float = 60.0,
) -> list[StudyMatch]:
    """Every study with a ``modality`` series and a study date in ``date_from``..``date_to`` (YYYYMMDD,
    inclusive), newest first: what a training import asks a PACS for."""
    for value in (date_from, date_to):
        if len(value) != 8 or not value.isdigit():
            raise DicomError(f"study dates must be YYYYMMDD, got {value!r}")
    if not modality.isalnum() or len(modality) > 16:
        raise DicomError(f"modality must be a DICOM modality code such as DX or CR, got {modality!r}")
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.PatientID = ""
    query.StudyDate = f"{date_from}-{date_to}"
    matches = _find(host, port, query, called_ae, calling_ae, timeout, ModalitiesInStudy=modality)
    return [m for m in matches if not m.modalities or modality in m.modalities]


def _find(host: str, port: int, query: Dataset, called_ae: str, calling_ae: str, timeout: float,
          **keys: str) -> list[StudyMatch]:
    for keyword in (
        "StudyInstanceUID",
        "StudyDate",
        "AccessionNumber",
        "StudyDescription",
        "ModalitiesInStudy",
    ):
        if keyword not in query:
            setattr(query, keyword, keys.get(keyword, ""))
    ae = _make_ae(calling_ae, timeout)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    peer = validate_ae_title(called_ae)
    assoc = _associate(host, port, ae, peer, timeout)
    matches: list[StudyMatch] = []
    try:
        for status, identifier in assoc.send_c_find(query, StudyRootQueryRetrieveInformationModelFind):
            code = int(status.get("Status", 0xFFFF)) if status else 0xFFFF
            if code in (0xFF00, 0xFF01) and identifier is not None:
                modalities = identifier.get("ModalitiesInStudy", "")
                matches.append(
                    StudyMatch(
                        str(identifier.get("StudyInstanceUID", "")),
                        str(identifier.get("StudyDate", "")),
                        str(identifier.get("AccessionNumber", "")),
                        str(identifier.get("StudyDescription", "")),
                        # a multi-valued CS comes back as pydicom's MultiValue, which is no list
                        tuple(
                            str(m)
                            for m in (
                                modalities
                                if isinstance(modalities, list | tuple | MultiValue)
                                else [modalities]
                                if modalities
                                else []
                            )
                        ),
                    )
                )
            elif code != st.SUCCESS:
                raise PacsError(
                    f"C-FIND at {peer} on {host}:{port} failed: status 0x{code:04X} {st.describe(code)}"
                )
    finally:
        if assoc.is_established:
            assoc.release()
    return sorted((m for m in matches if m.study_instance_uid), key=lambda m: m.study_date, reverse=True)


def retrieve_study(
    host: str,
    port: int,
    study_instance_uid: str,
    *,
    called_ae: str,
    calling_ae: str = DEFAULT_AE_TITLE,
    timeout: float = 60.0,
) -> list[bytes]:
    """The study's instances (DICOM Part 10 bytes) by C-GET; raises ``PacsError`` unless all arrived."""
    received: list[bytes] = []

    def on_store(event: evt.Event) -> int:
        received.append(_received_bytes(event))
        return 0x0000

    ae = _make_ae(calling_ae, timeout)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    for sop_class in RETRIEVED_CLASSES:
        ae.add_requested_context(sop_class)
    roles = [build_role(sop_class, scp_role=True) for sop_class in RETRIEVED_CLASSES]
    peer = validate_ae_title(called_ae)
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = study_instance_uid
    ae_assoc_peer = f"{peer} on {host}:{port}"
    assoc = _associate(
        host, port, ae, peer, timeout, ext_neg=roles, evt_handlers=[(evt.EVT_C_STORE, on_store)]
    )
    failed = 0
    try:
        for status, _identifier in assoc.send_c_get(query, StudyRootQueryRetrieveInformationModelGet):
            code = int(status.get("Status", 0xFFFF)) if status else 0xFFFF
            if code in (0xFF00,):  # pending: sub-operations still running
                continue
            failed = int(status.get("NumberOfFailedSuboperations", 0) or 0) if status else 0
            if code not in (st.SUCCESS, 0xB000) or failed:
                raise PacsError(
                    f"C-GET of study {study_instance_uid} from {ae_assoc_peer} failed: status "
                    f"0x{code:04X} {st.describe(code)}, {failed} instance(s) not sent"
                )
    finally:
        if assoc.is_established:
            assoc.release()
    if not received:
        raise PacsError(f"C-GET of study {study_instance_uid} from {ae_assoc_peer} returned no instance")
    return received


def _received_bytes(event: evt.Event) -> bytes:
    """A C-GET sub-operation's data set as Part 10 bytes. pynetdicom's chunked mode
    (``STORE_RECV_CHUNKED_DATASET``, process-wide: the DICOM listener in the same process turns it on) has
    spooled it to a file and offers no encoded data set, so the file is read instead."""
    try:
        path = event.dataset_path
    except AttributeError:
        path = None
    if path:
        return Path(path).read_bytes()
    return event.encoded_dataset()
