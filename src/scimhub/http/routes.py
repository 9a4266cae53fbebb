"""The SCIM route table (RFC 7644 §3.2) and the one ASGI callable that dispatches it.

Starlette's ``Router`` + ``Mount`` + ``Route`` + ``request_response`` cost a SCIM request a
regular-expression match per route tried, three scope copies and two exception-handling wrappers.
``ScimRouter`` looks a path up in a dict (the static paths) and by its last segment (the
``{id}`` paths), in the order Starlette would have tried the same routes, and answers what
Starlette's router answered: the endpoint's response, its ScimError as a SCIM body, a 405 naming
the methods the path allows, or a 404. ``ScimFront`` sends requests under the SCIM prefix straight
to the SCIM chain, as the ``Mount`` did, with the scope the ``Mount`` made.
"""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp
from starlette.types import Receive
from starlette.types import Scope
from starlette.types import Send

from scimhub.errors import ScimError
from scimhub.http import endpoints
from scimhub.http.bulk import bulk
from scimhub.http.endpoints import ResourceEndpoints
from scimhub.http.errors import http_exception_handler
from scimhub.http.errors import scim_error_handler

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class ScimRoute:
    """One path and its handlers, so that a 405 names every method the path allows (RFC 9110 §15.5.6)."""

    path: str
    handlers: dict[str, Endpoint]
    allow: str  # the Allow header of a 405, as Starlette's Route wrote it (GET brings HEAD)

    @property
    def param(self) -> bool:
        return self.path.endswith("/{id}")

    def handler(self, method: str) -> Endpoint | None:
        # HEAD is allowed wherever GET is; GET answers it.
        found = self.handlers.get(method)
        if found is None and method == "HEAD":
            return self.handlers.get("GET")
        return found


def route(path: str, **handlers: Endpoint) -> ScimRoute:
    methods = set(handlers)
    if "GET" in methods:
        methods.add("HEAD")
    return ScimRoute(path, handlers, ", ".join(methods))


def resource_routes(rtype_id: str, path: str) -> list[ScimRoute]:
    ep = ResourceEndpoints(rtype_id)
    return [
        route(path, GET=ep.list, POST=ep.create),
        route(f"{path}/.search", POST=ep.search),
        route(f"{path}/{{id}}", GET=ep.get, PUT=ep.replace, PATCH=ep.patch, DELETE=ep.delete),
    ]


def scim_routes() -> list[ScimRoute]:
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


class ScimRouter:
    """The SCIM routes as one ASGI callable (``http.target.RequestTarget`` drops a trailing slash
    before it). Routes are matched against the path below ``root_path`` (the mount's), exactly
    and case-sensitively; ``{id}`` is one non-empty segment."""

    def __init__(self, routes: list[ScimRoute]) -> None:
        self.static: dict[str, ScimRoute] = {}
        self.params: dict[str, ScimRoute] = {}  # "/Users" -> the "/Users/{id}" route
        for r in routes:
            if r.param:
                self.params.setdefault(r.path[: -len("/{id}")], r)
            else:
                self.static.setdefault(r.path, r)

    def candidates(self, path: str) -> tuple[list[ScimRoute], str | None]:
        """The routes matching ``path`` in route-table order (a static path before the ``{id}``
        route of its parent, as ``/Users/.search`` precedes ``/Users/{id}``), and the id."""
        found: list[ScimRoute] = []
        exact = self.static.get(path)
        if exact is not None:
            found.append(exact)
        parent, _, last = path.rpartition("/")
        param = self.params.get(parent) if last else None
        if param is not None:
            found.append(param)
            return found, last
        return found, None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        routes, id = self.candidates(_route_path(scope))
        method = scope["method"]
        request = Request(scope, receive, send)
        try:
            for r in routes:
                handler = r.handler(method)
                if handler is not None:
                    if id is not None and r.param:
                        scope["path_params"] = {**scope.get("path_params", {}), "id": id}
                    response = await handler(request)
                    break
            else:
                if routes:
                    raise HTTPException(405, headers={"Allow": routes[0].allow})
                raise HTTPException(404)
        except ScimError as exc:
            response = await scim_error_handler(request, exc)
        except HTTPException as exc:
            response = await http_exception_handler(request, exc)
        await response(scope, receive, send)


def scim_router() -> ScimRouter:
    return ScimRouter(scim_routes())


class ScimFront:
    """In front of the app's router: a request under ``prefix`` goes to ``scim`` with the scope
    ``Mount(prefix, scim)`` gave it (``root_path`` extended, the full ``path`` kept); any other
    request (and one for the bare prefix) goes on to ``app``."""

    def __init__(self, app: ASGIApp, scim: ASGIApp, prefix: str) -> None:
        self.app = app
        self.scim = scim
        self.prefix = prefix
        self._under = prefix + "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _route_path(scope).startswith(self._under):
            root = scope.get("root_path", "")
            scope["app_root_path"] = scope.get("app_root_path", root)
            scope["root_path"] = root + self.prefix
            scope["path_params"] = dict(scope.get("path_params", {}))
            scope["endpoint"] = self.scim
            await self.scim(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The path below ``root_path`` (Starlette's ``get_route_path``)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    if path == root:
        return ""
    return path[len(root) :] if path[len(root)] == "/" else path
