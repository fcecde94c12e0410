"""Ingestion: sources -> parsed, validated, decoded -> stored (content-addressed) -> indexed.

Per file the order is fixed: read (size-limited) -> parse -> validate (declared pixels checked) ->
decode every frame (the file must be usable later) -> sha256 -> store (temp, fsync, rename) -> commit
the rows. A rejected file writes nothing. Files are committed in small batches for speed; if another
process wins a race on some row, the batch is rolled back and its files are redone one by one.
"""

from __future__ import annotations

import errno
import os
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
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
from medvlm.dicom.reader import Rejection, Source, iter_bytes, iter_named_file, iter_sources
from medvlm.dicom.store import StudyStore, content_sha256, sha256_hex
from medvlm.dicom.validate import InstanceInfo, validate_instance
from medvlm.errors import (
    DatabaseUnavailableError,
    DicomError,
    MedVLMError,
    StorageFullError,
    StorageUnavailableError,
)
from medvlm.settings import Settings, get_settings

__all__ = ["IngestReport", "Rejection", "ingest_bytes", "ingest_file", "ingest_paths"]

# Called inside each batch's transaction, after its rows and before the commit, with what the batch
# stored ("ingested" or "duplicate", the instance): the service writes the source and the audit there,
# so a committed batch always has them (nothing to lose to a kill between two transactions).
BatchHook = Callable[[Session, list[tuple[str, InstanceInfo]]], None]

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
    rejected: list[Rejection] = field(default_factory=list)
    study_instance_uids: list[str] = field(default_factory=list)  # studies of ingested + duplicate files
    sop_instance_uids: list[str] = field(default_factory=list)  # instances now stored, new or duplicate
    conflict_reasons: list[Rejection] = field(default_factory=list)  # why each conflict was not stored
    new_study_instance_uids: list[str] = field(default_factory=list)  # studies with a new instance

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the CLI's ``--json`` output and the upload API's body)."""
        return {"ingested": self.ingested, "duplicates": self.duplicates, "conflicts": self.conflicts,
                "rejected": [{"path": r.path, "reason": r.reason} for r in self.rejected],
                # each conflict with its file and reason (one list: the CLI and the upload answer show it)
                "conflict_details": [{"path": r.path, "reason": r.reason} for r in self.conflict_reasons],
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
    """A unique-key collision or a lock timeout with another writer (retryable), not a broken database or
    a value the database refuses (NOT NULL, CHECK: retrying those cannot help)."""
    text = str(getattr(exc, "orig", None) or exc).lower()
    if isinstance(exc, IntegrityError):
        return "unique" in text or "duplicate key" in text
    return any(word in text for word in ("locked", "deadlock", "could not serialize", "busy"))


class _Ingestor:
    def __init__(self, settings: Settings, on_batch: BatchHook | None = None) -> None:
        self.settings = settings
        self.on_batch = on_batch
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
        ds = parse_dataset(data, self.settings.max_sequence_depth)
        if is_dicomdir(ds):
            self._expand_dicomdir(ds, source)
            return None
        info = validate_instance(ds, self.settings)
        decode_all(ds)
        return _Prepared(info=info, sha256=content_sha256(data), data=data, source=source.name)

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
                self._not_indexed(batch, exc)
                return
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
                    self._not_indexed([item], exc)
                    return
                if attempt == _RETRIES - 1:
                    # The reason names the trouble, never the SQL (which would echo the file's values).
                    self.report.rejected.append(Rejection(item.source, "database busy, not indexed; send it "
                                                          "again", transient=True))
                    return
                time.sleep(0.05 * (attempt + 1))

    def _not_indexed(self, batch: list[_Prepared], exc: Exception) -> None:
        """A database failure that is not a race: an unreachable database stops the ingest (the caller
        answers 503); a refused row (a constraint) rejects the batch's files. Neither is retried."""
        if isinstance(exc, OperationalError):
            raise DatabaseUnavailableError(f"database unavailable, nothing more indexed "
                                           f"({type(exc.orig).__name__ if exc.orig else 'error'})") from None
        for item in batch:
            self.report.rejected.append(Rejection(item.source, "refused by the index (a value breaks a "
                                                  "database constraint)"))

    def _commit(self, batch: list[_Prepared]) -> None:
        """Classify against the index, store new files durably, then commit their rows in one transaction.

        Files this call wrote are removed again when the transaction fails for a reason other than a
        race with another writer (whose rows may name the same files); what a crash or a lost race leaves
        is removed by ``medvlm.dicom.cleanup`` at the next start."""
        outcomes: list[tuple[str, _Prepared]] = []
        created: list[str] = []
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                known = index.stored_hashes(session, sorted({p.info.sop_instance_uid for p in batch}))
                fresh = [p for p in batch if p.info.sop_instance_uid not in known]
                reasons = index.identity_conflicts(session, [p.info for p in fresh])
                clashes = {id(p): r for p, r in zip(fresh, reasons, strict=True) if r is not None}
                first_of_uid: dict[str, _Prepared] = {}
                for p in fresh:  # a second file with a SOP UID met earlier in the batch is not written
                    if id(p) not in clashes:
                        first_of_uid.setdefault(p.info.sop_instance_uid, p)
                created = self._store_new(list(first_of_uid.values()))
                new: list[index.NewInstance] = []
                for item in batch:
                    uid = item.info.sop_instance_uid
                    stored = known.get(uid)
                    if id(item) in clashes:
                        index.add_conflict(session, sop_uid=uid, sha256=item.sha256, source=item.source,
                                           detail=clashes[id(item)])
                        outcomes.append(("conflict:" + clashes[id(item)], item))
                    elif stored == item.sha256 or stored == sha256_hex(item.data):
                        # the second: a row from before the address left out the file meta (whole-file
                        # SHA-256); the same bytes again are a duplicate, not a conflict
                        outcomes.append(("duplicate", item))
                    elif stored is not None:
                        detail = f"already stored with sha256 {stored}; these bytes were not stored"
                        index.add_conflict(session, sop_uid=uid, sha256=item.sha256, source=item.source,
                                           detail=detail)
                        # "other content" first: a C-STORE status comment keeps only 64 characters
                        reason = (f"other content already stored as SOP Instance UID {uid} (stored sha256 "
                                  f"{stored[:12]}, this file {item.sha256[:12]}); kept the stored one")
                        outcomes.append(("conflict:" + reason, item))
                    else:
                        path = self.store.path(item.sha256)  # already durable: see _store_new
                        new.append(index.NewInstance(item.info, item.sha256, str(path), len(item.data),
                                                     item.source))
                        known[uid] = item.sha256
                        outcomes.append(("ingested", item))
                index.add_instances(session, new)
                if self.on_batch is not None:
                    present = [(o, i.info) for o, i in outcomes if o in ("ingested", "duplicate")]
                    self.on_batch(session, present)
                session.commit()
        except BaseException as exc:
            # Not after a race: the other writer may have stored these very files (same content, same
            # name) and be about to commit rows that point at them; the retry finds them in place.
            race = isinstance(exc, IntegrityError | OperationalError) and _is_race(exc)
            if not race:
                self._remove_orphans(created)
            raise
        for outcome, item in outcomes:  # counted only once committed
            if outcome.startswith("conflict:"):
                self.report.conflicts += 1
                self.report.conflict_reasons.append(Rejection(item.source, outcome.removeprefix("conflict:")))
                continue
            if outcome == "ingested":
                self.report.ingested += 1
                if item.info.study_instance_uid not in self.report.new_study_instance_uids:
                    self.report.new_study_instance_uids.append(item.info.study_instance_uid)
            else:
                self.report.duplicates += 1
            self.report._present(item.info)

    def _remove_orphans(self, created: list[str]) -> None:
        """Remove files this batch wrote when its rows did not commit, unless another writer indexed the
        same content meanwhile; with the database unreachable the start-up cleanup removes them later."""
        if not created:
            return
        try:
            with Session(self.engine) as session:
                indexed = index.indexed_hashes(session, created)
        except Exception:  # the database is gone: leave them to ``medvlm.dicom.cleanup`` at start-up
            return
        for sha in created:
            if sha not in indexed:
                self.store.remove(sha)

    def _store_new(self, batch: list[_Prepared]) -> list[str]:
        """Write the batch's new files durably, in parallel: each fsync waits on the disk, not the CPU,
        so overlapping them is what keeps ingest close to the plain decode loop. Returns the hashes of the
        files this call created. A full disk is a ``StorageFullError`` (the caller answers 507)."""
        new: dict[str, bytes] = {}
        for item in batch:
            new.setdefault(item.sha256, item.data)
        created: list[str] = []

        def put(pair: tuple[str, bytes]) -> None:
            if self.store.put_new(pair[1], pair[0])[1]:
                created.append(pair[0])

        try:
            if len(new) <= 1:
                for pair in new.items():
                    put(pair)
            else:
                list(self._pool().map(put, new.items()))
        except OSError as exc:
            for sha in created:
                self.store.remove(sha)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageFullError("the study store's disk is full; nothing of this batch was stored"
                                       ) from None
            raise StorageUnavailableError(f"the study store cannot be written ({exc.strerror or exc})"
                                          ) from None
        return created

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=_STORE_THREADS, thread_name_prefix="medvlm-store")
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


def _run(items: Iterable[Source | Rejection], settings: Settings, total: int | None, progress: bool,
         on_batch: BatchHook | None = None) -> IngestReport:
    ingestor = _Ingestor(settings, on_batch)
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
                 progress: bool = False, on_batch: BatchHook | None = None) -> IngestReport:
    """Ingest files, folders (recursively), ``.zip`` archives and DICOMDIRs; every file ends up
    ingested, a duplicate, a conflict, or rejected with a reason."""
    settings = settings or get_settings()
    path_list = [Path(p) for p in paths]
    total = count_candidates(path_list) if progress else None
    return _run(iter_sources(path_list, settings), settings, total, progress, on_batch)


def ingest_bytes(name: str, data: bytes, *, settings: Settings | None = None,
                 on_batch: BatchHook | None = None) -> IngestReport:
    """Ingest one upload held in memory: a zip archive or a single DICOM file."""
    settings = settings or get_settings()
    return _run(iter_bytes(name, data, settings), settings, None, False, on_batch)


def ingest_file(name: str, path: Path, *, settings: Settings | None = None,
                on_batch: BatchHook | None = None) -> IngestReport:
    """Ingest one upload spooled to disk (a zip or a single DICOM file), reported under ``name``: a zip
    is read member by member, so the upload is never held in memory whole."""
    settings = settings or get_settings()
    return _run(iter_named_file(name, Path(path), settings), settings, None, False, on_batch)
