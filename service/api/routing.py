"""Resource routers whose sync routes authenticate and commit in their own worker thread.

FastAPI runs each sync dependency and the sync route in a thread-pool hop of its own (a queue hand-off, a
wake-up and a GIL switch). Two of those were pure overhead on every request; under load each cost about as
much CPU as the worklist query. A sync route that takes ``session`` is therefore wrapped:

- it commits as its last statement, in the thread it already runs in (``get_db`` then only closes the
  session). What it commits, and that a failed commit (an audit write included) fails the request before a
  response is sent, is unchanged.
- a GET route's principal parameter (``PrincipalDep`` or a ``require(...)`` alias) is fed by an async
  dependency that checks the credentials without I/O (``deps.credentials_dependency``); the session /
  API-key lookup and the permission check (``deps.authorize``) run first in the route's thread, and the
  session is opened and closed there too (unless another dependency shares it), so the request takes one
  hop in all. That session autocommits on PostgreSQL (``read_sessions``: no BEGIN / COMMIT round trips).
  The answers are those of the dependencies they replace (401, 403), but a malformed path or query
  (whose rules the OpenAPI document publishes anyway) gets its 422 first. Routes that write keep the
  dependency: a caller without the right is refused before its body is read.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, get_args, get_origin

from fastapi import APIRouter, Depends, Request
from fastapi.params import Depends as DependsParam
from fastapi.routing import APIRoute
from sqlmodel import Session

from medvlm.service.api.deps import (
    Credentials,
    authorize,
    credentials_dependency,
    get_settings_dep,
    principal_requirement,
    request_session,
)
from medvlm.service.auth.policy import Permission

# The parameter that brings the request in place of ``session`` when the route opens its own session.
_REQUEST = "request_for_session"


def _dependencies(parameter: inspect.Parameter) -> list[Callable[..., Any]]:
    if get_origin(parameter.annotation) is not Annotated:
        return []
    return [
        meta.dependency
        for meta in get_args(parameter.annotation)[1:]
        if isinstance(meta, DependsParam) and meta.dependency is not None
    ]


def _principal_parameters(signature: inspect.Signature) -> dict[str, Permission | None]:
    """Parameters fed by a principal dependency, with the permission each demands."""
    found: dict[str, Permission | None] = {}
    for name, parameter in signature.parameters.items():
        for dependency in _dependencies(parameter):
            yields_principal, permission = principal_requirement(dependency)
            if yields_principal:
                found[name] = permission
    return found


def _only_session_needs_the_session(signature: inspect.Signature, principals: dict[str, Any]) -> bool:
    """True when no dependency but ``session`` itself (and the principals, resolved here) uses ``get_db``."""
    for name, parameter in signature.parameters.items():
        if name == "session" or name in principals:
            continue
        if any(dependency is not get_settings_dep for dependency in _dependencies(parameter)):
            return False
    return True


def _in_one_thread(endpoint: Callable[..., Any], *, with_principal: bool) -> Callable[..., Any]:
    signature = inspect.signature(endpoint, eval_str=True)
    principals = _principal_parameters(signature) if with_principal else {}
    # A route whose session nothing else shares opens and closes it here too: ``get_db`` as a generator
    # dependency costs an exit stack per request, and its rollback after an error a hop of its own.
    owns_session = bool(principals) and _only_session_needs_the_session(signature, principals)

    def run_and_commit(session: Session, kwargs: dict[str, Any]) -> Any:
        for name, permission in principals.items():
            kwargs[name] = authorize(session, kwargs[name], permission)
        result = endpoint(**kwargs)
        session.commit()
        return result

    # FastAPI passes the request to one parameter only: reuse the route's own if it has one.
    own_request = next((n for n, p in signature.parameters.items() if p.annotation is Request), None)
    request_name = own_request or _REQUEST

    @functools.wraps(endpoint)
    def run(**kwargs: Any) -> Any:
        if not owns_session:
            return run_and_commit(kwargs["session"], kwargs)
        request: Request = kwargs[request_name] if own_request else kwargs.pop(_REQUEST)
        # Closing rolls back what a failed request left uncommitted.
        with request_session(request) as session:  # a GET route's: a read session
            kwargs["session"] = session
            return run_and_commit(session, kwargs)

    # FastAPI reads the parameters from ``__signature__`` (it stops unwrapping there): the principal ones
    # now ask for credentials, an owned session for the request; the rest, return type included, are the
    # route's own.
    def credentials(permission: Permission | None) -> Any:
        return Annotated[Credentials, Depends(credentials_dependency(permission))]

    parameters = []
    for name, parameter in signature.parameters.items():
        if name in principals:
            parameter = parameter.replace(annotation=credentials(principals[name]))
        elif name == "session" and owns_session:
            if own_request:
                continue
            parameter = parameter.replace(name=_REQUEST, annotation=Request)
        parameters.append(parameter)
    run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    return run


class CommittingRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        sync = not inspect.iscoroutinefunction(endpoint)
        if sync and "session" in inspect.signature(endpoint).parameters:
            reads = set(kwargs.get("methods") or ["GET"]) <= {"GET", "HEAD"}
            endpoint = _in_one_thread(endpoint, with_principal=reads)
        super().__init__(path, endpoint, **kwargs)


def resource_router(**kwargs: Any) -> APIRouter:
    return APIRouter(route_class=CommittingRoute, **kwargs)
