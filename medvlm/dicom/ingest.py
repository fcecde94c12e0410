"""Ingestion: sources -> parsed, validated, decoded -> stored (content-addressed) -> indexed.

Per file the order is fixed: read (size-limited) -> parse -> validate (declared pixels checked) ->
decode every frame (the file must be usable later) -> sha256 -> store (temp, fsync, rename) -> commit
the rows. A rejected file writes nothing. Files are committed in small batches for speed; if another
process wins a race on some row, the batch is rolled back and its files are redone one by one.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from medvlm.db import get_engine
from medvlm.dicom import index
from medvlm.dicom.dicomdir import dicomdir_sources
from medvlm.dicom.parse import is_dicomdir, parse_dataset
from medvlm.dicom.pixels import decode_all
from medvlm.dicom.reader import Rejection, Source, iter_bytes, iter_sources
from medvlm.dicom.store import StudyStore, sha256_hex
from medvlm.dicom.validate import InstanceInfo, validate_instance
from medvlm.errors import DicomError, MedVLMError
from medvlm.settings import Settings, get_settings

__all__ = ["IngestReport", "Rejection", "ingest_bytes", "ingest_paths"]

_BATCH_FILES = 64
_BATCH_BYTES = 256 * 1024 * 1024
_RETRIES = 5
_STORE_THREADS = 8


@dataclass
class IngestReport:
    ingested: int = 0
    duplicates: int = 0
    conflicts: int = 0
    # one (path, reason) per conflict: which file, and what it contradicts
    conflict_details: list[tuple[str, str]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    study_instance_uids: list[str] = field(default_factory=list)  # studies of ingested + duplicate files
    sop_instance_uids: list[str] = field(default_factory=list)  # instances now stored, new or duplicate

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the CLI's ``--json`` output and the upload API's body)."""
        return {"ingested": self.ingested, "duplicates": self.duplicates, "conflicts": self.conflicts,
                "conflict_details": [{"path": p, "reason": r} for p, r in self.conflict_details],
                "rejected": [{"path": r.path, "reason": r.reason} for r in self.rejected],
                "study_instance_uids": self.study_instance_uids, "sop_instance_uids": self.sop_instance_uids}

    def _present(self, info: InstanceInfo) -> None:
        if info.study_instance_uid not in self._studies:
            self._studies.add(info.study_instance_uid)
            self.study_instance_uids.append(info.study_instance_uid)
        self.sop_instance_uids.append(info.sop_instance_uid)

    def __post_init__(self) -> None:
        self._studies: set[str] = set(self.study_instance_uids)


@dataclass
class _Prepared:
    info: InstanceInfo
    sha256: str
    data: bytes
    source: str


def _is_race(exc: Exception) -> bool:
    """A unique-key collision or a lock timeout with another writer (retryable), not a broken database."""
    if isinstance(exc, IntegrityError):
        return True
    text = str(exc).lower()
    return any(word in text for word in ("locked", "deadlock", "could not serialize", "busy"))


class _Ingestor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = get_engine(settings.resolved_database_url)
        self.store = StudyStore.from_settings(settings)
        self.report = IngestReport()
        self.batch: list[_Prepared] = []
        self.batch_bytes = 0
        self.seen_files: set[Path] = set()
        self._executor: ThreadPoolExecutor | None = None

    # -- per source -------------------------------------------------------------------------------
    def feed(self, item: Source | Rejection) -> None:
        if isinstance(item, Rejection):
            self.report.rejected.append(item)
            return
        if item.directory is not None:  # a file on disk: a DICOMDIR may name it again
            real = Path(item.name).resolve()
            if real in self.seen_files:
                return
            self.seen_files.add(real)
        try:
            prepared = self._prepare(item)
        except MedVLMError as exc:
            self.report.rejected.append(Rejection(item.name, str(exc)))
            return
        except (OSError, MemoryError) as exc:
            self.report.rejected.append(Rejection(item.name, f"could not be read: {exc}", transient=True))
            return
        except Exception as exc:  # last line of defence: one odd file must not stop a whole ingest
            self.report.rejected.append(Rejection(item.name, f"unexpected {type(exc).__name__}: {exc}"))
            return
        if prepared is None:
            return
        self.batch.append(prepared)
        self.batch_bytes += len(prepared.data)
        if len(self.batch) >= _BATCH_FILES or self.batch_bytes >= _BATCH_BYTES:
            self.flush()

    def _prepare(self, source: Source) -> _Prepared | None:
        with warnings.catch_warnings():  # pydicom warns on every odd value; the outcome is what we report
            warnings.simplefilter("ignore")
            return self._prepare_quietly(source)

    def _prepare_quietly(self, source: Source) -> _Prepared | None:
        data = source.read()
        if len(data) > self.settings.max_file_bytes:
            raise DicomError(f"{len(data)} bytes, over the limit of {self.settings.max_file_bytes}")
        ds = parse_dataset(data)
        if is_dicomdir(ds):
            self._expand_dicomdir(ds, source)
            return None
        info = validate_instance(ds, self.settings)
        decode_all(ds)
        return _Prepared(info=info, sha256=sha256_hex(data), data=data, source=source.name)

    def _expand_dicomdir(self, ds: Any, source: Source) -> None:
        if source.directory is None:  # inside a zip or an upload: its files come from the same archive
            return
        for item in dicomdir_sources(ds, source, self.settings):
            self.feed(item)

    # -- per batch --------------------------------------------------------------------------------
    def flush(self) -> None:
        batch, self.batch, self.batch_bytes = self.batch, [], 0
        if not batch:
            return
        try:
            self._commit(batch)
        except (IntegrityError, OperationalError) as exc:
            if not _is_race(exc):
                raise
            # Another process indexed some of these first: redo each file alone; it now finds the rows.
            for item in batch:
                self._commit_one_with_retries(item)

    def _commit_one_with_retries(self, item: _Prepared) -> None:
        for attempt in range(_RETRIES):
            try:
                self._commit([item])
                return
            except (IntegrityError, OperationalError) as exc:
                if not _is_race(exc):
                    raise
                if attempt == _RETRIES - 1:
                    self.report.rejected.append(
                        Rejection(item.source, f"database busy, not indexed: {exc}", transient=True))
                    return
                time.sleep(0.05 * (attempt + 1))

    def _commit(self, batch: list[_Prepared]) -> None:
        """Classify against the index, store new files durably, then commit their rows in one transaction."""
        outcomes: list[tuple[str, _Prepared]] = []
        conflicts: dict[str, str] = {}  # SOP Instance UID -> the stored file's sha256
        with Session(self.engine, expire_on_commit=False) as session:
            known = index.stored_hashes(session, sorted({p.info.sop_instance_uid for p in batch}))
            self._store_new(batch, known)
            new: list[index.NewInstance] = []
            for item in batch:
                uid = item.info.sop_instance_uid
                stored = known.get(uid)
                if stored == item.sha256:
                    outcomes.append(("duplicate", item))
                elif stored is not None:
                    index.add_conflict(session, sop_uid=uid, sha256=item.sha256, stored_sha256=stored,
                                       source=item.source)
                    outcomes.append(("conflict", item))
                    conflicts[uid] = stored
                else:
                    path = self.store.path(item.sha256)  # already durable: see _store_new
                    new.append(index.NewInstance(item.info, item.sha256, str(path), len(item.data),
                                                 item.source))
                    known[uid] = item.sha256
                    outcomes.append(("ingested", item))
            index.add_instances(session, new)
            session.commit()
        for outcome, item in outcomes:  # counted only once committed
            if outcome == "conflict":
                self.report.conflicts += 1
                uid = item.info.sop_instance_uid
                self.report.conflict_details.append((item.source, (
                    f"SOP Instance UID {uid} is already stored with other content (stored sha256 "
                    f"{conflicts[uid][:12]}, this file {item.sha256[:12]}); kept the stored one")))
                continue
            if outcome == "ingested":
                self.report.ingested += 1
            else:
                self.report.duplicates += 1
            self.report._present(item.info)


    def _store_new(self, batch: list[_Prepared], known: dict[str, str]) -> None:
        """Write the batch's new files durably, in parallel: each fsync waits on the disk, not the CPU,
        so overlapping them is what keeps ingest close to the plain decode loop."""
        new: dict[str, bytes] = {}
        for item in batch:
            if item.info.sop_instance_uid not in known:
                new.setdefault(item.sha256, item.data)
        if len(new) <= 1:
            for sha, data in new.items():
                self.store.put(data, sha)
            return
        list(self._pool().map(lambda pair: self.store.put(pair[1], pair[0]), new.items()))

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=_STORE_THREADS, thread_name_prefix="medvlm-store")
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


def _run(items: Iterable[Source | Rejection], settings: Settings, total: int | None, progress: bool,
         ) -> IngestReport:
    ingestor = _Ingestor(settings)
    try:
        for item in _with_progress(items, total, progress):
            ingestor.feed(item)
        ingestor.flush()
    finally:
        ingestor.close()
    return ingestor.report


def _with_progress(items: Iterable[Source | Rejection], total: int | None, progress: bool,
                   ) -> Iterator[Source | Rejection]:
    if not progress:
        yield from items
        return
    from rich.progress import Progress

    with Progress(transient=False) as bar:
        task = bar.add_task("ingesting", total=total)
        for item in items:
            yield item
            bar.advance(task)


def count_candidates(paths: list[Path]) -> int:
    """A cheap estimate of how many files ``ingest_paths`` will look at (for the progress bar)."""
    total = 0
    for path in paths:
        if path.is_dir():
            total += sum(len(files) for _root, _dirs, files in os.walk(path))
        else:
            total += 1
    return total


def ingest_paths(paths: Iterable[Path | str], *, settings: Settings | None = None,
                 progress: bool = False) -> IngestReport:
    """Ingest files, folders (recursively), ``.zip`` archives and DICOMDIRs; every file ends up
    ingested, a duplicate, a conflict, or rejected with a reason."""
    settings = settings or get_settings()
    path_list = [Path(p) for p in paths]
    total = count_candidates(path_list) if progress else None
    return _run(iter_sources(path_list, settings), settings, total, progress)


def ingest_bytes(name: str, data: bytes, *, settings: Settings | None = None) -> IngestReport:
    """Ingest one upload held in memory: a zip archive or a single DICOM file."""
    settings = settings or get_settings()
    return _run(iter_bytes(name, data, settings), settings, None, False)
