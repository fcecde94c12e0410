"""Worklist pages kept in memory and reused while the worklist version is unchanged.

A worklist page cost about as much CPU as a study and a frame request together, most of it PostgreSQL
counting the matching studies and joining the page's patients, reports and modalities, and every
radiologist's screen asks for the same few pages over and over. The database keeps a version number
that moves in the same commit as any change a page shows (``WorklistVersion``, migration 0009), whoever
writes. A request reads the number (one primary-key lookup), then either reuses the page kept under it
or runs the query and keeps the result under the number it read.

Why that is exact: the number is read before the page, so a page kept under ``n`` was read at ``n`` or
later; a change that commits after it moves the number, and later requests read the new number and miss.
A request can never be shown a page older than the number it read, so a change is visible to every
request that starts after its commit, in every API process.

The cache is per process, bounded in bytes (least recently used pages go first), and emptied when a
newer number is seen. The total of a filter (the exact count of matching studies, half of PostgreSQL's
time for a page) is kept too, under the same rule, so that after a change the other pages of that filter
are read without counting again. The caller's scope is part of every key: an integration key's pages
(only its own studies) are never shown to anyone else.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from medvlm.service.auth.principal import Principal
from medvlm.service.db.tables import WorklistVersion
from medvlm.service.schemas.studies import WorklistPage
from medvlm.service.studies.worklist import read_worklist, worklist_request

_versions: Any = WorklistVersion.__table__  # type: ignore[attr-defined]
_VERSION = sa.select(_versions.c.n).where(_versions.c.id == 1)


def read_version(session: Session) -> int | None:
    """The worklist version now; None when the database has no version row (then nothing is cached)."""
    return session.connection().execute(_VERSION).scalar_one_or_none()


@dataclass(frozen=True)
class CachedPage:
    """A worklist page as sent (JSON) and how many studies it lists (for the audit row)."""

    body: bytes
    returned: int


class WorklistCache:
    """Pages by request key, and totals by filter, all read at one version; thread-safe (the API's thread
    pool shares it)."""

    MAX_TOTALS = 1024

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._pages: OrderedDict[Hashable, CachedPage] = OrderedDict()
        self._totals: OrderedDict[Hashable, int] = OrderedDict()
        self._bytes = 0
        self._version = -1
        self._lock = threading.Lock()

    def get_total(self, version: int, key: Hashable) -> int | None:
        with self._lock:
            self._advance(version)
            return self._totals.get(key) if version == self._version else None

    def put_total(self, version: int, key: Hashable, total: int) -> None:
        with self._lock:
            self._advance(version)
            if version != self._version:
                return
            self._totals[key] = total
            self._totals.move_to_end(key)
            while len(self._totals) > self.MAX_TOTALS:
                self._totals.popitem(last=False)

    def get(self, version: int, key: Hashable) -> CachedPage | None:
        with self._lock:
            self._advance(version)
            if version != self._version:  # read before a newer commit another request already saw
                return None
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, version: int, key: Hashable, page: CachedPage) -> None:
        if len(page.body) > self.max_bytes:
            return
        with self._lock:
            self._advance(version)
            if version != self._version:
                return
            old = self._pages.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._pages[key] = page
            self._bytes += len(page.body)
            while self._bytes > self.max_bytes:
                _, evicted = self._pages.popitem(last=False)
                self._bytes -= len(evicted.body)

    def __len__(self) -> int:
        return len(self._pages)

    def _advance(self, version: int) -> None:
        if version > self._version:
            self._pages.clear()
            self._totals.clear()
            self._bytes = 0
            self._version = version


def cached_worklist(
    session: Session, principal: Principal, cache: WorklistCache | None, **filters: Any
) -> tuple[CachedPage, bool]:
    """The worklist page for ``filters`` (``worklist_request``'s keywords) and whether it came from ``cache``.

    ``cache`` None (turned off): always the query, and no version read.
    """
    connection = session.connection()
    request = worklist_request(principal, dialect=connection.dialect.name, **filters)
    version = read_version(session) if cache is not None else None
    if cache is None or version is None:
        return _as_sent(read_worklist(connection, request)), False
    # The request's parameters carry the caller's scope (an integration key's id), so they key the page.
    page = cache.get(version, request)
    if page is not None:
        return page, True
    # The pages of one filter share its total: after a change only the first page asked for counts again.
    result = read_worklist(connection, request, total=cache.get_total(version, request.filter_key))
    cache.put_total(version, request.filter_key, result.total)
    page = _as_sent(result)
    cache.put(version, request, page)
    return page, False


def _as_sent(result: WorklistPage) -> CachedPage:
    return CachedPage(result.model_dump_json().encode(), len(result.items))
