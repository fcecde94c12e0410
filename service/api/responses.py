"""A model already validated by its constructor, sent as JSON without FastAPI validating it again.

For a sync route FastAPI re-validates the returned model against ``response_model`` in the thread pool:
one more thread hop and a second validation on every request. Routes that build their ``*Public``
model from database rows return ``model_json(model)`` instead and keep ``response_model`` for OpenAPI.
"""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel


def model_json(model: BaseModel) -> Response:
    return Response(model.model_dump_json(), media_type="application/json")
