"""Resource routers whose sync routes authenticate and commit in their own worker thread.

FastAPI runs each sync dependency and the sync route in a thread-pool hop of its own (a queue hand-off, a
wake-up and a GIL switch). Two of those were pure overhead on every request; under load each cost about as
much CPU as the worklist query. A sync route that takes ``session`` is therefore wrapped:

- it commits as its last statement, in the thread it already runs in (``get_db`` then only closes the
  session). What it commits, and that a failed commit (an audit write included) fails the request before a
  response is sent, is unchanged.
- a GET route's principal parameter (``PrincipalDep`` or a ``require(...)`` alias) is fed by an async
  dependency that checks the credentials without I/O (``deps.credentials_dependency``); the session /
  API-key lookup and the permission check (``deps.authorize``) run first in the route's thread, on the
  request's session. The answers are those of the dependencies they replace (401, 403), but a malformed
  path or query (whose rules the OpenAPI document publishes anyway) gets its 422 first. Routes that
  write keep the dependency: a caller without the right is refused before its body is read.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, get_args, get_origin

from fastapi import APIRouter, Depends
from fastapi.params import Depends as DependsParam
from fastapi.routing import APIRoute
from sqlmodel import Session

from service.api.deps import Credentials, authorize, credentials_dependency, principal_requirement
from service.auth.policy import Permission


def _principal_parameters(signature: inspect.Signature) -> dict[str, Permission | None]:
    """Parameters fed by a principal dependency, with the permission each demands."""
    found: dict[str, Permission | None] = {}
    for name, parameter in signature.parameters.items():
        if get_origin(parameter.annotation) is not Annotated:
            continue
        for meta in get_args(parameter.annotation)[1:]:
            if isinstance(meta, DependsParam) and meta.dependency is not None:
                yields_principal, permission = principal_requirement(meta.dependency)
                if yields_principal:
                    found[name] = permission
    return found


def _in_one_thread(endpoint: Callable[..., Any], *, with_principal: bool) -> Callable[..., Any]:
    signature = inspect.signature(endpoint, eval_str=True)
    principals = _principal_parameters(signature) if with_principal else {}

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        session: Session = kwargs["session"]
        for name, permission in principals.items():
            kwargs[name] = authorize(session, kwargs[name], permission)
        result = endpoint(*args, **kwargs)
        session.commit()
        return result

    # FastAPI reads the parameters from ``__signature__`` (it stops unwrapping there): the principal ones
    # now ask for credentials; the rest, return type included, are the route's own.
    def credentials(permission: Permission | None) -> Any:
        return Annotated[Credentials, Depends(credentials_dependency(permission))]

    run.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[
            parameter.replace(annotation=credentials(principals[name])) if name in principals else parameter
            for name, parameter in signature.parameters.items()
        ]
    )
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
