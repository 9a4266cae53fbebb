"""Starlette endpoints: Request → protocol call → ScimResponse. Each stays a few lines."""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from urllib.parse import parse_qsl

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import Response

from scimhub.errors import NotFound
from scimhub.http.group_stream import streamed_get
from scimhub.http.media import ScimResponse
from scimhub.http.media import read_json
from scimhub.protocol import discovery
from scimhub.protocol.context import Principal
from scimhub.protocol.context import RequestContext
from scimhub.protocol.cursor import CursorCodec
from scimhub.protocol.etag import etag
from scimhub.protocol.etag import matches_if_none_match
from scimhub.protocol.group_stream import streams
from scimhub.protocol.resources import ResourceResult
from scimhub.protocol.resources import ResourceService
from scimhub.protocol.search import Searcher
from scimhub.protocol.search import params_from_body
from scimhub.protocol.search import params_from_query
from scimhub.protocol.tenant_config import TenantConfig
from scimhub.schema.model import ResourceType
from scimhub.schema.project import DEFAULT_PROJECTION
from scimhub.schema.project import Projection
from scimhub.schema.project import parse_projection
from scimhub.schema.registry import SchemaRegistry
from scimhub.settings import Settings


class Runtime:
    """What endpoints need, built once by ``create_app``."""

    def __init__(
        self,
        settings: Settings,
        service: ResourceService,
        *,
        security_events: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self.settings = settings
        self.service = service
        # Whether a tenant has SET streams (None: none are served): RFC 9967 §4 advertisement.
        self.security_events = security_events
        self._codec: CursorCodec | None = None
        # Request → base URL, by what it is made of: Starlette builds it by parsing a URL, ~40 µs
        # a request; clients send a handful of distinct Host headers. Bounded, as Host is theirs.
        self._base_urls: dict[tuple[object, ...], str] = {}

    def base_url(self, request: Request) -> str:
        """The SCIM root as the client reached it: SCIMHUB_BASE_URL, or scheme, Host and the
        ``root_path`` of the SCIM mount, which holds every prefix above it (a host app's
        ``Mount("/identity", …)``, the server's ``--root-path``) and ``/scim/v2`` itself."""
        if self.settings.base_url:
            return self.settings.base_url.rstrip("/")
        scope = request.scope
        host = next((value for key, value in scope["headers"] if key == b"host"), None)
        root = scope.get("root_path", "")
        key = (scope.get("scheme"), host, scope.get("server"), root)
        found = self._base_urls.get(key)
        if found is None:
            if len(self._base_urls) >= 256:
                self._base_urls.clear()
            found = self._base_urls[key] = str(URL(scope={**scope, "path": root, "query_string": b""})).rstrip("/")
        return found

    async def cursor_codec(self) -> CursorCodec:
        # The signing key lives in the database so every instance accepts every cursor.
        if self._codec is None:
            self._codec = CursorCodec(await self.service.store.server_secret("cursor"))
        return self._codec

    async def searcher(self, request: Request) -> Searcher:
        return Searcher(self.service, context(request), await self.cursor_codec(), self.settings.max_results)


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.scimhub
    return rt


def base_url(request: Request) -> str:
    return runtime(request).base_url(request)


def context(request: Request) -> RequestContext:
    scope = request.scope
    principal: Principal = scope["scimhub.principal"]
    rt = runtime(request)
    settings = rt.settings
    config: TenantConfig | None = scope.get("scimhub.tenant_config")
    if config is None:
        return RequestContext(
            principal, rt.base_url(request), settings.policy, settings.limits, scope["method"], scope["path"]
        )
    return RequestContext(
        principal,
        rt.base_url(request),
        config.policy,
        settings.limits,
        scope["method"],
        scope["path"],
        config.guard,
        config.registry,
    )


def registry(request: Request) -> SchemaRegistry:
    """The calling tenant's schemas: the built-in ones plus its declared extensions."""
    config: TenantConfig | None = request.scope.get("scimhub.tenant_config")
    return config.registry if config is not None else runtime(request).service.registry


QUERY_KEY = "scimhub.query"  # the ASGI scope key of the parsed query string


def query_params(request: Request) -> dict[str, str]:
    """The query string's parameters, parsed once per request; a repeated name's last value wins,
    as with Starlette's ``QueryParams.get``, whose multi-dict (and a second parse when another
    ``Request`` of the same scope asks) cost a ``userName eq`` 2-5 µs more (timeit)."""
    found: dict[str, str] | None = request.scope.get(QUERY_KEY)
    if found is None:
        text = request.scope.get("query_string", b"").decode("latin-1")
        found = request.scope[QUERY_KEY] = dict(parse_qsl(text, keep_blank_values=True))
    return found


def projection(request: Request, rtype: ResourceType) -> Projection:
    if not request.scope.get("query_string"):
        return DEFAULT_PROJECTION  # most writes and reads: no need to parse a query string
    params = query_params(request)
    config: TenantConfig | None = request.scope.get("scimhub.tenant_config")
    policy = config.policy if config is not None else runtime(request).settings.policy
    return parse_projection(
        rtype,
        runtime(request).service.registry.common,
        params.get("attributes"),
        params.get("excludedAttributes"),
        undeclared=policy.keep_undeclared_extensions,
    )


IGNORED_KEY = "scimhub.ignored"  # the request log lists the unknown attributes a write ignored


def resource_response(result: ResourceResult, status: int | None = None, request: Request | None = None) -> Response:
    if result.ignored and request is not None:
        request.scope[IGNORED_KEY] = result.ignored
    status = status or result.status
    headers = {"ETag": etag(result.version)}
    if status == 201:
        headers["Location"] = result.location
    if status == 204:
        return Response(status_code=204, headers=headers)
    return ScimResponse(result.doc, status, headers)


class ResourceEndpoints:
    """/Users and /Groups (RFC 7644 §3.3-§3.6), one instance per resource type."""

    def __init__(self, rtype_id: str) -> None:
        self.rtype_id = rtype_id

    def _rtype(self, request: Request) -> ResourceType:
        return registry(request).resource_type(self.rtype_id)

    async def list(self, request: Request) -> Response:
        searcher = await runtime(request).searcher(request)
        return ScimResponse(await searcher.search(self._rtype(request), params_from_query(query_params(request))))

    async def search(self, request: Request) -> Response:
        """POST /{endpoint}/.search (RFC 7644 §3.4.3)."""
        rt = runtime(request)
        params = params_from_body(await read_json(request, rt.settings.max_body_bytes))
        return ScimResponse(await (await rt.searcher(request)).search(self._rtype(request), params))

    async def create(self, request: Request) -> Response:
        rt, rtype = runtime(request), self._rtype(request)
        body = await read_json(request, rt.settings.max_body_bytes)
        result = await rt.service.create(context(request), rtype, body, projection(request, rtype))
        return resource_response(result, 201, request)

    async def get(self, request: Request) -> Response:
        rt, rtype = runtime(request), self._rtype(request)
        wanted = projection(request, rtype)
        if streams(rtype, wanted):  # a group with its members: streamed from one snapshot
            return await streamed_get(request, rt.service, registry(request), context(request), rtype, wanted)
        result = await rt.service.get(context(request), rtype, request.path_params["id"], wanted)
        if matches_if_none_match(request.headers.get("if-none-match"), result.version):
            return Response(status_code=304, headers={"ETag": etag(result.version)})
        return resource_response(result)

    async def replace(self, request: Request) -> Response:
        rt, rtype = runtime(request), self._rtype(request)
        body = await read_json(request, rt.settings.max_body_bytes)
        result = await rt.service.replace(
            context(request),
            rtype,
            request.path_params["id"],
            body,
            projection(request, rtype),
            request.headers.get("if-match"),
        )
        return resource_response(result, request=request)

    async def patch(self, request: Request) -> Response:
        rt, rtype = runtime(request), self._rtype(request)
        body = await read_json(request, rt.settings.max_body_bytes)
        result = await rt.service.patch(
            context(request),
            rtype,
            request.path_params["id"],
            body,
            projection(request, rtype),
            request.headers.get("if-match"),
        )
        return resource_response(result, request=request)

    async def delete(self, request: Request) -> Response:
        rt, rtype = runtime(request), self._rtype(request)
        await rt.service.delete(context(request), rtype, request.path_params["id"], request.headers.get("if-match"))
        return Response(status_code=204)


async def search_root(request: Request) -> Response:
    """POST /.search across every resource type (RFC 7644 §3.4.3)."""
    rt = runtime(request)
    params = params_from_body(await read_json(request, rt.settings.max_body_bytes))
    return ScimResponse(await (await rt.searcher(request)).search_root(params))


async def service_provider_config(request: Request) -> Response:
    rt = runtime(request)
    settings = rt.settings
    # RFC 9967 §4: absent "when ... not currently configured for Security Events": a tenant
    # without a stream is not.
    tenant_id = context(request).principal.tenant_id
    configured = rt.security_events is not None and await rt.security_events(tenant_id)
    return ScimResponse(
        discovery.service_provider_config(
            base_url(request),
            max_results=settings.max_results,
            max_payload=settings.max_body_bytes,
            max_operations=max(settings.bulk_max_operations, 0),
            security_events=configured,
        )
    )


async def resource_types(request: Request) -> Response:
    return ScimResponse(discovery.resource_types(registry(request), base_url(request)))


async def resource_type(request: Request) -> Response:
    return ScimResponse(discovery.resource_type(registry(request), base_url(request), request.path_params["id"]))


async def schemas(request: Request) -> Response:
    rt = runtime(request)
    return ScimResponse(discovery.schemas(registry(request), base_url(request), rt.settings.max_values_per_attribute))


async def schema(request: Request) -> Response:
    rt = runtime(request)
    urn = request.path_params["id"]
    return ScimResponse(
        discovery.schema(registry(request), base_url(request), urn, rt.settings.max_values_per_attribute)
    )


async def not_found(request: Request) -> Response:
    raise NotFound(f"No SCIM endpoint at {request.url.path}.")
