"""List and query resources: ``GET /{endpoint}?filter=…`` (RFC 7644 §3.4.2)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scimhub.errors import InvalidValue
from scimhub.filter.bind import bind_filter
from scimhub.filter.parser import parse_filter
from scimhub.protocol.context import RequestContext
from scimhub.protocol.resources import ResourceService
from scimhub.schema.model import JsonDoc
from scimhub.schema.model import ResourceType
from scimhub.schema.project import Projection
from scimhub.store.base import Query

LIST_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
DEFAULT_COUNT = 100


@dataclass(frozen=True, slots=True)
class ListParams:
    filter: str | None
    start_index: int
    count: int


def _int_param(params: Mapping[str, str], name: str, default: int) -> int:
    raw = _param(params, name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidValue(f"'{name}' must be an integer; got {raw!r}.") from None


def _param(params: Mapping[str, str], name: str) -> str | None:
    """Query parameter names are case-insensitive in practice (Entra, Postman suites)."""
    if name in params:
        return params[name]
    folded = name.casefold()
    return next((v for k, v in params.items() if k.casefold() == folded), None)


def list_params(params: Mapping[str, str], max_results: int) -> ListParams:
    """RFC 7644 §3.4.2.4: startIndex < 1 is 1; count < 0 is 0; count over the cap is clamped."""
    start = max(1, _int_param(params, "startIndex", 1))
    count = min(max(0, _int_param(params, "count", DEFAULT_COUNT)), max_results)
    return ListParams(_param(params, "filter"), start, count)


async def search(
    service: ResourceService,
    ctx: RequestContext,
    rtype: ResourceType,
    params: ListParams,
    projection: Projection,
) -> JsonDoc:
    """Run a list query and build the ListResponse (RFC 7644 §3.4.2)."""
    bound = None
    if params.filter is not None and params.filter.strip():
        ast = parse_filter(params.filter)
        bound = bind_filter(ast, rtype, service.registry.common, params.filter, ctx.policy)
    page = await service.store.search(ctx.tenant_id, Query(rtype.id, bound, params.start_index, params.count))
    rendered = await service.render_many(ctx, rtype, page.resources, projection)
    return list_response(page.total, params.start_index, [r.doc for r in rendered])


def list_response(total: int, start_index: int, resources: list[Any]) -> JsonDoc:
    return {
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
