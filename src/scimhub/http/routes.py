"""The SCIM route table (RFC 7644 §3.2)."""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route
from starlette.routing import Router
from starlette.types import ASGIApp

from scimhub.http import endpoints
from scimhub.http.bulk import bulk
from scimhub.http.endpoints import ResourceEndpoints

Endpoint = Callable[[Request], Awaitable[Response]]


def route(path: str, **handlers: Endpoint) -> Route:
    """One route per path, so that a 405 names every method the path allows (RFC 9110 §15.5.6)."""

    async def dispatch(request: Request) -> Response:
        # Starlette routes HEAD wherever GET is allowed; GET answers it.
        handler = handlers.get(request.method) or handlers["GET"]
        return await handler(request)

    return Route(path, dispatch, methods=list(handlers))


def resource_routes(rtype_id: str, path: str) -> list[BaseRoute]:
    ep = ResourceEndpoints(rtype_id)
    return [
        route(path, GET=ep.list, POST=ep.create),
        route(f"{path}/.search", POST=ep.search),
        route(f"{path}/{{id}}", GET=ep.get, PUT=ep.replace, PATCH=ep.patch, DELETE=ep.delete),
    ]


def scim_routes() -> list[BaseRoute]:
    return [
        *resource_routes("User", "/Users"),
        *resource_routes("Group", "/Groups"),
        route("/.search", POST=endpoints.search_root),
        route("/Bulk", POST=bulk),
        route("/ServiceProviderConfig", GET=endpoints.service_provider_config),
        route("/ResourceTypes", GET=endpoints.resource_types),
        route("/ResourceTypes/{id}", GET=endpoints.resource_type),
        route("/Schemas", GET=endpoints.schemas),
        route("/Schemas/{id}", GET=endpoints.schema),
    ]


def scim_router() -> ASGIApp:
    """The SCIM routes; ``http.target.RequestTarget`` drops a trailing slash before them."""
    return Router(routes=scim_routes(), redirect_slashes=False)
