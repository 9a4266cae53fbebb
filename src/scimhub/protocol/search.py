"""Queries: ``GET /{endpoint}?…``, ``POST /{endpoint}/.search`` and ``POST /.search``.

RFC 7644 §3.4.2 (filter, sort, startIndex/count, attributes) and §3.4.3 (SearchRequest),
RFC 9865 (cursor pagination). Parsing and response shaping are pure; the query runs in the
store (SQL), never by loading a tenant into memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import replace
from typing import Any

from scimhub.errors import InvalidCount
from scimhub.errors import InvalidFilter
from scimhub.errors import InvalidSyntax
from scimhub.errors import InvalidValue
from scimhub.filter.bind import Bound
from scimhub.filter.bind import bind_filter
from scimhub.filter.parser import parse_filter
from scimhub.filter.quick import quick_eq
from scimhub.protocol.context import RequestContext
from scimhub.protocol.cursor import CursorCodec
from scimhub.protocol.cursor import query_fingerprint
from scimhub.protocol.resources import ResourceService
from scimhub.schema.model import JsonDoc
from scimhub.schema.model import ResourceType
from scimhub.schema.paths import BoundPath
from scimhub.schema.paths import resolve_name
from scimhub.schema.project import DEFAULT_PROJECTION
from scimhub.schema.project import Projection
from scimhub.schema.project import parse_projection
from scimhub.schema.project import unknown_names
from scimhub.store.base import Keyset
from scimhub.store.base import Page
from scimhub.store.base import Query

LIST_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SEARCH_REQUEST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
DEFAULT_COUNT = 100
MAX_START_INDEX = 2**62  # beyond any table; keeps the value inside SQL's 64-bit integers


@dataclass(frozen=True, slots=True)
class SearchParams:
    """The query parameters of RFC 7644 §3.4.2 and RFC 9865, from a URL or a SearchRequest."""

    filter: str | None = None
    start_index: int | None = None
    count: int | None = None
    sort_by: str | None = None
    sort_order: str | None = None
    cursor: str | None = None  # None: index paging; "": first cursor page (RFC 9865 §2)
    attributes: str | None = None
    excluded_attributes: str | None = None


_NAMES = {
    "filter": "filter",
    "startindex": "start_index",
    "count": "count",
    "sortby": "sort_by",
    "sortorder": "sort_order",
    "cursor": "cursor",
    "attributes": "attributes",
    "excludedattributes": "excluded_attributes",
}


def _as_int(name: str, raw: Any) -> int:
    if isinstance(raw, bool):
        raise InvalidValue(f"'{name}' must be an integer; got {raw!r}.")
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise InvalidValue(f"'{name}' must be an integer; got {raw!r}.") from None


def _collect(items: Mapping[str, Any]) -> SearchParams:
    values: dict[str, Any] = {}
    for key, raw in items.items():
        field_name = _NAMES.get(key.casefold())
        if field_name is None or raw is None:
            continue
        if field_name in ("start_index", "count"):
            values[field_name] = None if raw == "" else _as_int(key, raw)
        elif field_name in ("attributes", "excluded_attributes") and isinstance(raw, list):
            values[field_name] = ",".join(str(a) for a in raw)
        elif not isinstance(raw, str):
            raise InvalidValue(f"'{key}' must be a string.")
        else:
            values[field_name] = raw
    return SearchParams(**values)


def params_from_query(query: Mapping[str, str]) -> SearchParams:
    """URL parameters; names are matched case-insensitively (Entra and test suites vary)."""
    return _collect(query)


def params_from_body(body: Any) -> SearchParams:
    """A SearchRequest body (RFC 7644 §3.4.3)."""
    if not isinstance(body, dict):
        raise InvalidSyntax("A search request must be a SearchRequest JSON object.")
    schemas = next((v for k, v in body.items() if k.casefold() == "schemas"), None)
    if schemas is not None and (not isinstance(schemas, list) or SEARCH_REQUEST_SCHEMA not in schemas):
        raise InvalidValue(f"'schemas' of a search request must contain {SEARCH_REQUEST_SCHEMA}.")
    return _collect(body)


# Parsed attributes/excludedAttributes by (resource type's identity, both texts, undeclared): the
# entry holds the type, so its id is not reused while the entry exists.
_PROJECTIONS: dict[tuple[int, str | None, str | None, bool], tuple[ResourceType, Projection]] = {}


@dataclass(frozen=True, slots=True)
class Searcher:
    """Runs searches for one request."""

    service: ResourceService
    ctx: RequestContext
    codec: CursorCodec
    max_results: int

    async def search(self, rtype: ResourceType, params: SearchParams) -> JsonDoc:
        query = self._query(rtype, params, self._bind(rtype, params.filter))
        # Only cursor requests sign or check a cursor (an existence check needs no fingerprint).
        fingerprint = self._fingerprint(rtype, params) if params.cursor is not None else ""
        if params.cursor:
            query = _with_keyset(query, self.codec.decode(params.cursor, fingerprint, query.count))
        page = await self.service.store.search(self.ctx.tenant_id, query)
        projection = self._projection(rtype, params)
        docs = await self.service.render_list(self.ctx, rtype, page.resources, projection)
        if params.cursor is None:
            return list_response(page.total, query.start_index, docs)
        return self._cursor_response(page, docs, fingerprint, query.count, first=not params.cursor)

    async def search_root(self, params: SearchParams) -> JsonDoc:
        """``POST /.search`` over every resource type (RFC 7644 §3.4.3), index paging only."""
        if params.cursor is not None:
            raise InvalidValue("Cursor pagination is offered per resource type, not on /.search.")
        start, count = _start(params), self._count(params)
        total, skip, docs = 0, start - 1, list[Any]()
        self._check_binds_somewhere(params.filter)
        types = list(self.ctx.registry.resource_types.values())
        self._check_projection_somewhere(types, params)
        if params.sort_by and not any(self._sorts(rtype, params) for rtype in types):
            self._sort_path(types[0], params)  # raises the error naming the attribute
        for rtype in self.ctx.registry.resource_types.values():
            # RFC 7644 §3.4.2.1: an attribute a type does not have has no value there.
            bound = self._bind(rtype, params.filter, root=True)
            typed = params if self._sorts(rtype, params) else replace(params, sort_by=None)
            query = replace(self._query(rtype, typed, bound), start_index=skip + 1, count=count - len(docs))
            page = await self.service.store.search(self.ctx.tenant_id, query)
            projection = parse_projection(
                rtype,
                self.service.registry.common,
                params.attributes,
                params.excluded_attributes,
                ignore_unknown=True,
                undeclared=self.ctx.policy.keep_undeclared_extensions,
            )
            docs += await self.service.render_list(self.ctx, rtype, page.resources, projection)
            skip = max(0, skip - page.total)
            total += page.total
        return list_response(total, start, docs)

    def _projection(self, rtype: ResourceType, params: SearchParams) -> Projection:
        if params.attributes is None and params.excluded_attributes is None:
            return DEFAULT_PROJECTION  # most queries: nothing to parse
        undeclared = self.ctx.policy.keep_undeclared_extensions
        key = (id(rtype), params.attributes, params.excluded_attributes, undeclared)
        found = _PROJECTIONS.get(key)
        if found is not None and found[0] is rtype:  # an IdP sends the same few, page after page
            return found[1]
        common, attributes, excluded = self.service.registry.common, params.attributes, params.excluded_attributes
        projection = parse_projection(rtype, common, attributes, excluded, undeclared=undeclared)
        if len(_PROJECTIONS) >= 256:
            _PROJECTIONS.clear()
        _PROJECTIONS[key] = (rtype, projection)
        return projection

    def _bind(self, rtype: ResourceType, text: str | None, *, root: bool = False) -> Bound | None:
        if text is None or not text.strip():
            return None
        limits = self.ctx.limits
        common, policy = self.service.registry.common, self.ctx.policy
        if not root and len(text) <= limits.max_filter_length:
            quick = quick_eq(text, rtype, common, policy)  # the existence check: no parser
            if quick is not None:
                return quick
        ast = parse_filter(text, max_length=limits.max_filter_length, max_depth=limits.max_filter_depth)
        return bind_filter(ast, rtype, common, text, policy, unknown_is_false=root)

    def _check_projection_somewhere(self, types: list[ResourceType], params: SearchParams) -> None:
        """At the root a name of ``attributes`` / ``excludedAttributes`` must name an attribute of at
        least one resource type; each type ignores the names of the others."""
        common = self.service.registry.common
        for label, param in (("attributes", params.attributes), ("excludedAttributes", params.excluded_attributes)):
            keep = self.ctx.policy.keep_undeclared_extensions
            unknown = set.intersection(*(unknown_names(rtype, common, param, keep) for rtype in types))
            if unknown:
                raise InvalidValue(f"{label} names an unknown attribute: {sorted(unknown)[0]!r}.")

    def _check_binds_somewhere(self, text: str | None) -> None:
        """A root filter must name attributes of at least one resource type."""
        errors = []
        for rtype in self.ctx.registry.resource_types.values():
            try:
                self._bind(rtype, text)
            except InvalidFilter as exc:
                errors.append(exc)
            else:
                return
        raise errors[0]

    def _count(self, params: SearchParams) -> int:
        """RFC 7644 §3.4.2.4: negative is 0; over the cap is clamped (RFC 9865: invalidCount)."""
        count = DEFAULT_COUNT if params.count is None else max(0, params.count)
        if count > self.max_results:
            if params.cursor is not None:
                raise InvalidCount(f"count must be between 0 and {self.max_results}.")
            return self.max_results
        return count

    def _query(self, rtype: ResourceType, params: SearchParams, bound: Bound | None) -> Query:
        if params.cursor is not None and params.start_index is not None:
            raise InvalidValue("Use either startIndex or cursor for pagination, not both.")
        return Query(
            rtype.id,
            bound,
            _start(params),
            self._count(params),
            self._sort_path(rtype, params),
            _descending(params),
            cursor_mode=params.cursor is not None,
        )

    def _sort_path(self, rtype: ResourceType, params: SearchParams) -> BoundPath | None:
        if not params.sort_by:
            return None
        path = resolve_name(rtype, self.service.registry.common, params.sort_by)
        if path is None:
            raise InvalidValue(f"sortBy names an unknown attribute: {params.sort_by!r}.")
        if path.leaf.is_complex:
            raise InvalidValue(f"sortBy must name a sub-attribute of {path.key!r}, e.g. {path.key}.value.")
        return path

    def _sorts(self, rtype: ResourceType, params: SearchParams) -> bool:
        """Whether ``sortBy`` names an attribute of ``rtype`` (root searches sort each type that has it;
        the others keep creation order, as their values are unassigned)."""
        try:
            self._sort_path(rtype, params)
        except InvalidValue:
            return False
        return True

    def _fingerprint(self, rtype: ResourceType, params: SearchParams) -> str:
        return query_fingerprint(self.ctx.tenant_id, rtype.id, params.filter, params.sort_by, str(_descending(params)))

    def _cursor_response(self, page: Page, docs: list[Any], fingerprint: str, count: int, *, first: bool) -> JsonDoc:
        body: JsonDoc = {
            "schemas": [LIST_RESPONSE_SCHEMA],
            "totalResults": page.total,
            "itemsPerPage": len(docs),
            "Resources": docs,
        }
        if page.more_after and page.last is not None:
            body["nextCursor"] = self.codec.encode(fingerprint, count, page.last)
        if not first and page.more_before and page.first is not None:
            body["previousCursor"] = self.codec.encode(fingerprint, count, replace(page.first, before=True))
        return body


def _start(params: SearchParams) -> int:
    """RFC 7644 §3.4.2.4: a startIndex below 1 is taken as 1."""
    return min(max(1, params.start_index or 1), MAX_START_INDEX)


def _descending(params: SearchParams) -> bool:
    order = (params.sort_order or "ascending").casefold()
    if order not in ("ascending", "descending"):
        raise InvalidValue(f"sortOrder must be 'ascending' or 'descending'; got {params.sort_order!r}.")
    return order == "descending"


def _with_keyset(query: Query, keyset: Keyset) -> Query:
    return replace(query, start_index=1, cursor_mode=True, keyset=keyset)


def list_response(total: int, start_index: int, resources: list[Any]) -> JsonDoc:
    return {
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
