"""One place that renders errors as RFC 7644 §3.12 bodies."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from scimhub.errors import InternalError
from scimhub.errors import MethodNotAllowed
from scimhub.errors import NotFound
from scimhub.errors import ScimError
from scimhub.http.media import ScimResponse
from scimhub.safety.activity import SCIM_TYPE_KEY

log = logging.getLogger("scimhub.http")


def error_response(error: ScimError) -> ScimResponse:
    return ScimResponse(error.to_body(), error.status, headers=error.headers)


async def scim_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ScimError)
    request.scope[SCIM_TYPE_KEY] = exc.scim_type  # sync health counts errors by it (http/observe.py)
    return error_response(exc)


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(NotFound(f"No SCIM endpoint at {request.url.path}."))
    if exc.status_code == 405:
        error = MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}.")
        response = error_response(error)
        if exc.headers and "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    generic = ScimError(str(exc.detail))
    generic.status = exc.status_code  # type: ignore[misc]
    return error_response(generic)


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    """500 with a SCIM body; the stack trace goes to the log, never to the client."""
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(InternalError())
