"""Request dependencies as ``Annotated`` aliases: settings, a transactional DB session, the caller.

The DB session commits when the route function returns (scope="function"), before the response is
sent, so a failed commit (an audit write included) becomes an error response, never a silent loss.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from medvlm.service.api.read_sessions import read_session
from medvlm.service.auth.policy import Permission, allowed
from medvlm.service.auth.principal import Principal
from medvlm.service.auth.security import API_KEY_PREFIX, api_key_digest, decode_token
from medvlm.service.db.tables import ApiKey, User, UserSession, utc
from medvlm.service.errors import AuthenticationError, PermissionDeniedError
from medvlm.settings import Settings

# Writing last_seen on every request would serialise concurrent requests of one user on one row.
_TOUCH_INTERVAL = timedelta(seconds=30)


# Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` one in the thread pool, and
# every such hop costs a thread switch and a wait for the GIL on each request.
async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    finally:
        session.close()


def _rollback_and_close(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


def request_session(request: Request) -> Session:
    """The request's session: for GET / HEAD a read session (autocommit on PostgreSQL, ``read_sessions``),
    otherwise one transaction. Opening it does no I/O."""
    if request.method in ("GET", "HEAD"):
        return read_session(request.app.state.read_engine)
    return Session(request.app.state.engine, expire_on_commit=False)


async def get_db(request: Request) -> AsyncIterator[Session]:
    """A session per request, committed when the route returns.

    Opening a ``Session`` does no I/O (the connection is taken on first use, in the route's thread). Sync
    routes commit in their own thread (``service.api.routing``); what is left in a transaction (an async
    route's work, a failed request's) is committed or rolled back here, in the pool.
    """
    session = request_session(request)
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_rollback_and_close, session)
        raise
    if session.in_transaction():
        await run_in_threadpool(_commit_and_close, session)
    else:  # the route committed in its own thread (``service.api.routing``): closing does no I/O
        session.close()


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[Session, Depends(get_db, scope="function")]


def _raw_credentials(request: Request) -> str:
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthenticationError("missing credentials: send 'Authorization: Bearer <token>' or 'X-API-Key'")
    return value.strip()


@dataclass(frozen=True)
class Credentials:
    """What the caller sent, checked as far as possible without the database (a token's signature, expiry)."""

    idle_minutes: int
    api_key: str | None = None
    claims: dict[str, Any] | None = None


def read_credentials(request: Request, settings: Settings) -> Credentials:
    raw = _raw_credentials(request)
    if raw.startswith(API_KEY_PREFIX):
        return Credentials(settings.session_idle_minutes, api_key=raw)
    return Credentials(settings.session_idle_minutes, claims=decode_token(settings.secret_key, raw))


def _from_api_key(session: Session, key: str) -> Principal:
    row = session.exec(select(ApiKey).where(ApiKey.key_hash == api_key_digest(key))).first()
    if row is None or row.revoked_at is not None:
        raise AuthenticationError("unknown or revoked API key")
    return Principal(name=row.name, role=row.role, api_key_id=row.id)


_sessions = UserSession.__table__  # type: ignore[attr-defined]
_users = User.__table__  # type: ignore[attr-defined]
# Built once, as Core: this runs on every request, and building the statement and ORM objects each time
# cost more CPU than the lookup itself. One round trip for session and user.
_SESSION_AND_USER = (
    sa.select(
        _sessions.c.id, _sessions.c.user_id, _sessions.c.ended_at, _sessions.c.last_seen_at,
        _users.c.username, _users.c.role, _users.c.active,
    )
    .join(_users, _users.c.id == _sessions.c.user_id)
    .where(_sessions.c.id == sa.bindparam("session_id"))
)


def _from_token(session: Session, claims: dict[str, Any], idle_minutes: int) -> Principal:
    row = session.connection().execute(_SESSION_AND_USER, {"session_id": claims["sid"]}).first()
    if row is None or row.user_id != claims["sub"] or row.ended_at is not None:
        raise AuthenticationError("session ended: log in again")
    now = datetime.now(UTC)
    last_seen = utc(row.last_seen_at)
    assert last_seen is not None
    if now - last_seen > timedelta(minutes=idle_minutes):
        with session.get_bind().begin() as connection:  # the expiry sticks even though this request fails
            connection.execute(sa.update(_sessions).where(_sessions.c.id == row.id).values(ended_at=now))
        raise AuthenticationError(f"session expired after {idle_minutes} minutes idle")
    if not row.active:
        raise AuthenticationError("user disabled")
    if now - last_seen > _TOUCH_INTERVAL:
        _touch(session, row.id, now)
    return Principal(name=row.username, role=row.role, user_id=row.user_id, session_id=row.id)


def _touch(session: Session, session_id: str, now: datetime) -> None:
    """Record activity on the login session in a transaction of its own, committed at once.

    Not in the request's transaction: routes that write through transactions of their own (an upload
    ingests and queues jobs outside the request session) would then wait for a lock their own request
    holds; on SQLite that is the whole database, for the busy timeout (seen: an upload hanging 60 s).
    On PostgreSQL, every request of a user that arrives once the interval has passed wants to write the
    same row; the one that locks it first writes, and the others skip it (``SKIP LOCKED``) instead of
    queueing behind it (seen: a latency spike every 30 s under load).
    """
    table = UserSession.__table__  # type: ignore[attr-defined]
    engine = session.get_bind()
    target: Any = session_id
    if engine.dialect.name == "postgresql":
        target = (
            sa.select(table.c.id).where(table.c.id == session_id).with_for_update(skip_locked=True)
        ).scalar_subquery()
    with engine.begin() as connection:
        connection.execute(sa.update(table).where(table.c.id == target).values(last_seen_at=now))


def authorize(session: Session, credentials: Credentials, permission: Permission | None) -> Principal:
    """The caller behind ``credentials`` (its session and user, or API key, still valid), if it holds
    ``permission``: ``AuthenticationError`` (401) or ``PermissionDeniedError`` (403) otherwise."""
    if credentials.api_key is not None:
        principal = _from_api_key(session, credentials.api_key)
    else:
        assert credentials.claims is not None
        principal = _from_token(session, credentials.claims, credentials.idle_minutes)
    if permission is not None:
        _check_permission(principal, permission)
    return principal


# Acts of a person: an API key (a machine, possibly named like a person) never signs, edits or administers,
# whatever role an older key row carries.
PERSON_ONLY = frozenset({Permission.REPORT_WRITE, Permission.ADMIN})


def _check_permission(principal: Principal, permission: Permission) -> None:
    if permission in PERSON_ONLY and principal.user_id is None:
        raise PermissionDeniedError(
            f"an API key may not use this endpoint (needs {permission.value} as a logged-in person)"
        )
    if not allowed(principal.role, permission):
        raise PermissionDeniedError(
            f"role '{principal.role}' may not use this endpoint (needs {permission.value})"
        )


def get_principal(request: Request, session: SessionDep, settings: SettingsDep) -> Principal:
    return authorize(session, read_credentials(request, settings), None)


PrincipalDep = Annotated[Principal, Depends(get_principal)]
# The dependencies that yield the calling principal, with the permission each demands (None: any).
_PRINCIPAL_DEPENDENCIES: dict[Callable[..., Any], Permission | None] = {get_principal: None}


def require(permission: Permission) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets the call through only for roles granted ``permission``."""

    async def check(principal: PrincipalDep) -> Principal:
        _check_permission(principal, permission)
        return principal

    check.permission = permission  # type: ignore[attr-defined]  # read by the route-matrix tests
    _PRINCIPAL_DEPENDENCIES[check] = permission
    return check


def credentials_dependency(permission: Permission | None) -> Callable[[Request], Awaitable[Credentials]]:
    """An async dependency that reads and checks the caller's credentials without the database.

    ``service.api.routing`` puts it in place of ``get_principal`` / ``require(permission)`` in a sync route
    that takes ``session``, and resolves the principal (``authorize``) in the route's own worker thread:
    a sync dependency is a thread-pool hop of its own, which cost 0.6-0.9 ms of CPU of a 3.5-3.8 ms
    request (study detail, in-process, 8 concurrent). Missing, malformed, tampered and expired tokens are
    refused here, before any I/O.
    """

    async def credentials(request: Request) -> Credentials:
        return read_credentials(request, request.app.state.settings)

    credentials.permission = permission  # type: ignore[attr-defined]  # read by the route-matrix tests
    credentials.authenticates = True  # type: ignore[attr-defined]
    return credentials


def principal_requirement(dependency: Callable[..., Any]) -> tuple[bool, Permission | None]:
    """Whether ``dependency`` yields the calling principal, and the permission it demands (None: any)."""
    if dependency in _PRINCIPAL_DEPENDENCIES:
        return True, _PRINCIPAL_DEPENDENCIES[dependency]
    return False, None


async def require_person(principal: PrincipalDep) -> Principal:
    """A logged-in person (their own password, their own sessions): an API key is refused with 403."""
    if principal.user_id is None:
        raise PermissionDeniedError("an API key has no password or login sessions; log in as a person")
    return principal


require_person.person_only = True  # type: ignore[attr-defined]  # read by the route-matrix tests
PersonDep = Annotated[Principal, Depends(require_person)]

# One alias per permission, for route signatures.
StudyReaderDep = Annotated[Principal, Depends(require(Permission.STUDY_READ))]
StudyUploaderDep = Annotated[Principal, Depends(require(Permission.STUDY_UPLOAD))]
ReportReaderDep = Annotated[Principal, Depends(require(Permission.REPORT_READ))]
ReportWriterDep = Annotated[Principal, Depends(require(Permission.REPORT_WRITE))]
JobReaderDep = Annotated[Principal, Depends(require(Permission.JOB_READ))]
CorrectionsReaderDep = Annotated[Principal, Depends(require(Permission.CORRECTIONS_READ))]
AdminDep = Annotated[Principal, Depends(require(Permission.ADMIN))]
MetricsDep = Annotated[Principal, Depends(require(Permission.METRICS))]
