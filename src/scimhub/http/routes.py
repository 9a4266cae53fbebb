"""The SCIM route table (RFC 7644 §3.2)."""

from __future__ import annotations

from starlette.routing import BaseRoute
from starlette.routing import Route

from scimhub.http import endpoints
from scimhub.http.endpoints import ResourceEndpoints


def resource_routes(rtype_id: str, path: str) -> list[BaseRoute]:
    ep = ResourceEndpoints(rtype_id)
    return [
        Route(path, ep.list, methods=["GET"]),
        Route(path, ep.create, methods=["POST"]),
        Route(f"{path}/.search", ep.search, methods=["POST"]),
        Route(f"{path}/{{id}}", ep.get, methods=["GET"]),
        Route(f"{path}/{{id}}", ep.replace, methods=["PUT"]),
        Route(f"{path}/{{id}}", ep.patch, methods=["PATCH"]),
        Route(f"{path}/{{id}}", ep.delete, methods=["DELETE"]),
    ]


def scim_routes() -> list[BaseRoute]:
    return [
        *resource_routes("User", "/Users"),
        *resource_routes("Group", "/Groups"),
        Route("/.search", endpoints.search_root, methods=["POST"]),
        Route("/ServiceProviderConfig", endpoints.service_provider_config, methods=["GET"]),
        Route("/ResourceTypes", endpoints.resource_types, methods=["GET"]),
        Route("/ResourceTypes/{id}", endpoints.resource_type, methods=["GET"]),
        Route("/Schemas", endpoints.schemas, methods=["GET"]),
        Route("/Schemas/{id}", endpoints.schema, methods=["GET"]),
    ]
