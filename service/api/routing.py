"""Resource routers whose sync routes commit their request's session in their own worker thread.

``get_db`` commits when the route returns; done there, the commit was one more thread-pool hop per
request (a queue hand-off, a wake-up and a GIL switch: under load, about as much CPU as the worklist
query). A sync route that takes ``session`` is wrapped so that it commits as its last statement, in the
thread it already runs in; ``get_db`` then only closes the session. What it commits, and that a failed
commit (an audit write included) fails the request before a response is sent, is unchanged.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from sqlmodel import Session


def _commit_on_return(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)  # FastAPI reads the parameters and return type through ``__wrapped__``
    def run(*args: Any, **kwargs: Any) -> Any:
        result = endpoint(*args, **kwargs)
        session: Session = kwargs["session"]
        session.commit()
        return result

    return run


class CommittingRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        sync = not inspect.iscoroutinefunction(endpoint)
        if sync and "session" in inspect.signature(endpoint).parameters:
            endpoint = _commit_on_return(endpoint)
        super().__init__(path, endpoint, **kwargs)


def resource_router(**kwargs: Any) -> APIRouter:
    return APIRouter(route_class=CommittingRoute, **kwargs)
