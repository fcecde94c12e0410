"""Worklist pages reused while the worklist version is unchanged: never stale, never shown across scopes."""

from __future__ import annotations

import re
import threading

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from medvlm.db import get_engine
from medvlm.service.app import create_app
from medvlm.service.studies.worklist_cache import CachedPage, WorklistCache
from medvlm.settings import Settings
from tests.service.helpers import dicom_bytes

API = "/api/v1"


def _page(size: int) -> CachedPage:
    return CachedPage(b"x" * size, 1)


def test_a_page_is_reused_only_at_the_version_it_was_read() -> None:
    cache = WorklistCache(1000)
    cache.put(3, "p1", _page(10))
    assert cache.get(3, "p1") == _page(10)
    assert cache.get(2, "p1") is None  # a request that read an older number: no page from a newer one
    assert cache.get(4, "p1") is None and len(cache) == 0  # a newer number empties the cache
    cache.put(3, "p1", _page(10))  # read before the newer commit: not kept
    assert cache.get(4, "p1") is None


def test_least_recently_used_pages_go_first_within_the_byte_budget() -> None:
    cache = WorklistCache(100)
    for key in ("a", "b", "c"):
        cache.put(1, key, _page(40))
    assert cache.get(1, "a") is None and cache.get(1, "c") is not None  # 120 bytes: "a" went
    cache.get(1, "b")  # "b" used last, so "c" goes next
    cache.put(1, "d", _page(40))
    assert cache.get(1, "c") is None and cache.get(1, "b") is not None
    cache.put(1, "huge", _page(101))  # larger than the whole budget: not kept, nothing evicted
    assert cache.get(1, "huge") is None and len(cache) == 2


def test_a_total_is_kept_per_filter_at_one_version() -> None:
    cache = WorklistCache(1000)
    cache.put_total(5, "all", 12)
    assert cache.get_total(5, "all") == 12 and cache.get_total(4, "all") is None
    cache.put_total(4, "mine", 3)  # read before a newer commit: not kept
    assert cache.get_total(5, "mine") is None
    assert cache.get_total(6, "all") is None  # a newer number empties totals as well as pages


def _upload(client: TestClient, headers: dict[str, str], *uids: str) -> None:
    parts = [("files", (f"{u}.dcm", dicom_bytes(study_uid=u), "application/dicom")) for u in uids]
    assert client.post(f"{API}/studies", files=parts, headers=headers).status_code == 202


def _pages_served(client: TestClient, headers: dict[str, str]) -> dict[str, float]:
    text = client.get("/metrics", headers=headers).text
    served = re.finditer(r'medvlm_worklist_pages_total\{source="(\w+)"\} (\S+)', text)
    return {m[1]: float(m[2]) for m in served}


def _worklist(client: TestClient, headers: dict[str, str]) -> dict:
    response = client.get(f"{API}/studies", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _set_critical(url: str, uid: str, critical: bool) -> None:
    """As another process would (the worker, ``medvlm ingest``, SQL by hand): its own connection."""
    with get_engine(url).begin() as conn:
        conn.execute(
            sa.text("UPDATE service_study_states SET critical = :c WHERE study_instance_uid = :u"),
            {"c": critical, "u": uid},
        )


def test_a_repeated_page_comes_from_memory_and_a_commit_elsewhere_shows_at_once(
    client: TestClient, callers, app_settings: Settings  # type: ignore[no-untyped-def]
) -> None:
    h = callers.radiologist
    _upload(client, h, "1.2.40", "1.2.41")
    first = _worklist(client, h)
    assert _worklist(client, h) == first
    assert _pages_served(client, callers.admin) == {"database": 1, "cache": 1}

    _set_critical(app_settings.resolved_database_url, "1.2.40", True)
    changed = _worklist(client, h)
    assert changed["items"][0]["study_instance_uid"] == "1.2.40" and changed["items"][0]["critical"]
    assert _pages_served(client, callers.admin) == {"database": 2, "cache": 1}


def test_pages_are_kept_per_scope(client: TestClient, callers) -> None:  # type: ignore[no-untyped-def]
    _upload(client, callers.integration, "1.2.50")
    own = _worklist(client, callers.integration)
    assert [i["study_instance_uid"] for i in own["items"]] == ["1.2.50"]
    assert _worklist(client, callers.other_integration)["items"] == []  # same query, other key
    assert [i["study_instance_uid"] for i in _worklist(client, callers.radiologist)["items"]] == ["1.2.50"]
    assert _pages_served(client, callers.admin) == {"database": 3}


def test_turned_off_every_page_is_read_from_the_database(
    app: FastAPI, client: TestClient, callers, app_settings: Settings  # type: ignore[no-untyped-def]
) -> None:
    assert create_app(app_settings.model_copy(update={"worklist_cache_mb": 0})).state.worklist_cache is None
    app.state.worklist_cache = None  # what that setting gives
    _upload(client, callers.radiologist, "1.2.60")
    for _ in range(3):
        assert len(_worklist(client, callers.radiologist)["items"]) == 1
    assert _pages_served(client, callers.admin) == {"database": 3}


def test_no_request_after_a_commit_gets_an_older_page_while_others_fill_the_cache(
    client: TestClient, callers, app_settings: Settings  # type: ignore[no-untyped-def]
) -> None:
    """Readers race to keep pages while another connection commits changes; each request made after a
    commit must show it, on SQLite and on PostgreSQL."""
    h = callers.radiologist
    _upload(client, h, "1.2.70", "1.2.71", "1.2.72")
    url = app_settings.resolved_database_url
    stop = threading.Event()
    failures: list[str] = []

    def read_continuously() -> None:
        while not stop.is_set():
            response = client.get(f"{API}/studies", headers=h)
            if response.status_code != 200:
                failures.append(response.text)

    readers = [threading.Thread(target=read_continuously) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for n in range(30):
            critical = n % 2 == 0
            _set_critical(url, "1.2.70", critical)
            top = _worklist(client, h)["items"][0]
            assert (top["study_instance_uid"] == "1.2.70") == critical and top["critical"] == critical, n
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert failures == []
    assert _pages_served(client, callers.admin).get("cache", 0) > 0  # the race did use the cache


def test_the_pages_of_one_filter_share_its_total_until_a_change(
    app: FastAPI, client: TestClient, callers, app_settings: Settings  # type: ignore[no-untyped-def]
) -> None:
    h = callers.radiologist
    _upload(client, h, "1.2.80", "1.2.81", "1.2.82")
    counts: list[bool] = []  # per worklist statement: did it count the matching studies?

    def record(_conn, _cursor, statement: str, *_args) -> None:  # type: ignore[no-untyped-def]
        if "service_study_states" in statement and "LIMIT" in statement:
            counts.append("count(" in statement.lower())

    sa.event.listen(app.state.engine, "before_cursor_execute", record)
    try:
        pages = [
            client.get(f"{API}/studies", params={"page": n, "page_size": 1}, headers=h) for n in (1, 2, 3)
        ]
        assert [page.json()["total"] for page in pages] == [3, 3, 3]
        assert counts == [True, False, False]  # counted once, for the first page asked
        _set_critical(app_settings.resolved_database_url, "1.2.80", True)
        again = client.get(f"{API}/studies", params={"page": 2, "page_size": 1}, headers=h)
        assert again.json()["total"] == 3 and counts[-1] is True  # a change: counted again
    finally:
        sa.event.remove(app.state.engine, "before_cursor_execute", record)
