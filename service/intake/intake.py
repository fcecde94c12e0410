"""The one intake function behind every inbound adapter: HTTP upload, STOW-RS, the C-STORE listener and
``medvlm ingest`` hand it what their transport delivered and who sent it.

Each ingest batch's transaction also records, per study, the sender's API key (an integration sees what
it sent) and the audit row: a batch is never committed without them, even if the process is killed just
after (seen: committed batches without their upload / C-STORE audit rows and source key). Draft jobs are
queued afterwards (``queue_drafts``); a study left without one is queued at the next ``medvlm serve``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from medvlm.dicom.ingest import IngestReport, ingest_bytes, ingest_file, ingest_paths
from medvlm.dicom.validate import InstanceInfo
from medvlm.service.audit import audit
from medvlm.service.db.tables import Report, StudyState
from medvlm.service.jobs.queue import enqueue
from medvlm.service.statuses import ReportStatus, StudyStatus
from medvlm.settings import Settings

Channel = Literal["upload", "stow", "cstore", "cli"]
# The audit action per channel (upload and STOW are both "sent over HTTP").
_ACTION: dict[str, str] = {"upload": "study.upload", "stow": "study.upload", "cstore": "study.cstore",
                           "cli": "study.ingest"}


@dataclass(frozen=True)
class Actor:
    """Who delivers: the audit actor ("user:alice", "api_key:pacs", "dicom:CT1"), the channel, the API key
    (if any: the first key to send a study owns it), and where from (an address, for the audit)."""

    name: str
    channel: Channel
    api_key_id: str | None = None
    address: str = ""


@dataclass(frozen=True)
class Item:
    """One unit as the transport delivered it: a file, a zip, a STOW part, a C-STORE data set."""

    name: str
    data: bytes = b""
    path: Path | None = None  # an upload spooled to disk: read from there, a zip member by member


def intake(settings: Settings, actor: Actor, item: Item | Sequence[Path], *, progress: bool = False,
           ) -> IngestReport:
    """Parse, validate, store and index ``item`` (bytes) or the files, folders and zips at the given paths;
    each batch commits with its source key and audit rows (see the module docstring)."""

    def record(session: Session, stored: list[tuple[str, InstanceInfo]]) -> None:
        per_study: dict[str, Counter[str]] = {}
        for outcome, info in stored:
            per_study.setdefault(info.study_instance_uid, Counter())[outcome] += 1
        for uid, counts in per_study.items():
            if actor.api_key_id is not None:
                state = session.get(StudyState, uid)  # made by a trigger when the study was indexed
                if state is not None and state.source_api_key_id is None:
                    state.source_api_key_id = actor.api_key_id
                    session.add(state)
            detail: dict[str, object] = {"channel": actor.channel, "ingested": counts["ingested"],
                                         "duplicates": counts["duplicate"]}
            if actor.address:
                detail["address"] = actor.address
            audit(session, actor=actor.name, action=_ACTION[actor.channel], resource_type="study",
                  resource_id=uid, detail=detail)
        session.flush()

    if isinstance(item, Item) and item.path is not None:
        return ingest_file(item.name, item.path, settings=settings, on_batch=record)
    if isinstance(item, Item):
        return ingest_bytes(item.name, item.data, settings=settings, on_batch=record)
    return ingest_paths(list(item), settings=settings, progress=progress, on_batch=record)


def new_studies(report: IngestReport) -> set[str]:
    """Studies that got at least one new instance: only those need a new draft of an untouched report."""
    return set(report.new_study_instance_uids)


def needs_draft(report: Report | None, has_new_images: bool) -> bool:
    """The one re-draft rule: a study without a report gets a draft; new images in a draft nobody has
    touched get a new one; a pure re-send, or a report a person has edited or signed, does not."""
    return report is None or (report.status == ReportStatus.DRAFT and has_new_images)


def queue_drafts(engine: Engine, settings: Settings, study_uids: Sequence[str], with_new_images: set[str],
                 ) -> list[str]:
    """Draft jobs for received studies (``needs_draft``), in one transaction. Returns the job ids."""
    jobs: list[str] = []
    with Session(engine, expire_on_commit=False) as session:
        for uid in study_uids:
            report = session.exec(select(Report).where(Report.study_instance_uid == uid)).first()
            if needs_draft(report, uid in with_new_images):
                job = enqueue(session, uid, max_attempts=settings.job_max_attempts)
                if job is not None:
                    jobs.append(job.id)
        session.commit()
    return jobs


def queue_undrafted(engine: Engine, settings: Settings) -> int:
    """The sweep at start-up (``medvlm serve``, the demo): a draft job for every received study stored
    without one (``medvlm ingest``, a process killed between a batch and its jobs); priors are never
    drafted. The same rule as ``queue_drafts`` (``needs_draft`` with no report). Returns how many."""
    from sqlmodel import col

    from medvlm.db.models import Study

    with Session(engine) as session:
        uids = session.exec(
            select(Study.study_instance_uid)
            .outerjoin(StudyState, StudyState.study_instance_uid == Study.study_instance_uid)  # type: ignore[arg-type]
            .outerjoin(Report, Report.study_instance_uid == Study.study_instance_uid)  # type: ignore[arg-type]
            .where(col(Report.id).is_(None))
            .where(col(StudyState.status).is_(None) | (col(StudyState.status) == StudyStatus.RECEIVED))
        ).all()
        # No report at all: the first case of ``needs_draft`` (the second needs new images, not a sweep).
        queued = [uid for uid in uids if enqueue(session, uid, max_attempts=settings.job_max_attempts)]
        session.commit()
        return len(queued)
