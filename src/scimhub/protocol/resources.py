"""ResourceService: create / get / replace / patch / delete of SCIM resources (RFC 7644 §3.3-§3.6).

Sans-I/O orchestration: validation, PATCH application and rendering are pure
functions; storage is reached only through the ``Store`` protocol, inside one unit of
work per write, and the clock and id factory are injected.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scimhub.errors import InvalidValue
from scimhub.errors import NotFound
from scimhub.patch.apply import MemberOp
from scimhub.patch.apply import apply_patch
from scimhub.patch.model import parse_patch_request
from scimhub.protocol.context import RequestContext
from scimhub.protocol.etag import check_if_match
from scimhub.protocol.relations import member_of_attribute
from scimhub.protocol.relations import members_attribute
from scimhub.protocol.render import render
from scimhub.schema.model import JsonDoc
from scimhub.schema.model import ResourceType
from scimhub.schema.project import Projection
from scimhub.schema.project import project
from scimhub.schema.registry import SchemaRegistry
from scimhub.schema.validate import Context
from scimhub.schema.validate import validate_resource
from scimhub.store.base import MemberRef
from scimhub.store.base import Store
from scimhub.store.base import StoredResource
from scimhub.store.base import UnitOfWork
from scimhub.store.index_plan import index_keys
from scimhub.timestamps import utc_now


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class ResourceResult:
    """What an endpoint sends back: the projected document and its version."""

    doc: JsonDoc
    version: int
    location: str


class ResourceService:
    def __init__(
        self,
        store: Store,
        registry: SchemaRegistry,
        *,
        clock: Callable[[], str] = utc_now,
        ids: Callable[[], str] = new_id,
    ) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock
        self.ids = ids

    # -- reads -----------------------------------------------------------------
    async def get(self, ctx: RequestContext, rtype: ResourceType, id: str, projection: Projection) -> ResourceResult:
        stored = await self.store.get(ctx.tenant_id, rtype.id, id)
        if stored is None:
            raise NotFound(f"{rtype.name} {id} not found.")
        return (await self.render_many(ctx, rtype, [stored], projection))[0]

    async def render_many(
        self,
        ctx: RequestContext,
        rtype: ResourceType,
        items: Sequence[StoredResource],
        projection: Projection,
    ) -> list[ResourceResult]:
        """Render and project resources, loading members/groups only when projected."""
        related = await self._related(ctx, rtype, [s.id for s in items], projection)
        common = self.registry.common
        results = []
        for stored in items:
            full = render(stored, rtype, self.registry, ctx.base_url, related.get(stored.id))
            results.append(
                ResourceResult(project(full, rtype, common, projection), stored.version, full["meta"]["location"])
            )
        return results

    async def _related(
        self, ctx: RequestContext, rtype: ResourceType, ids: list[str], projection: Projection
    ) -> dict[str, list[MemberRef]]:
        members = members_attribute(rtype)
        if members and projection.includes(rtype.schema.attribute(members)):  # type: ignore[arg-type]
            return await self.store.members(ctx.tenant_id, ids)
        member_of = member_of_attribute(rtype)
        if member_of and projection.includes(rtype.schema.attribute(member_of)):  # type: ignore[arg-type]
            return await self.store.groups_of(ctx.tenant_id, ids)
        return {}

    # -- writes ----------------------------------------------------------------
    async def create(
        self, ctx: RequestContext, rtype: ResourceType, body: Any, projection: Projection
    ) -> ResourceResult:
        """RFC 7644 §3.3."""
        doc = validate_resource(body, rtype, self.registry.common, Context.CREATE, ctx.policy)
        members = _pop_members(doc, rtype)
        now = self.clock()
        stored = StoredResource(self.ids(), rtype.id, doc, now, now, 1)
        async with self.store.unit_of_work(ctx.tenant_id) as uow:
            await uow.insert(stored, index_keys(doc, rtype, self.registry.common))
            if members:
                await uow.add_members(stored.id, await _resolve_members(uow, members))
        return (await self.render_many(ctx, rtype, [stored], projection))[0]

    async def replace(
        self,
        ctx: RequestContext,
        rtype: ResourceType,
        id: str,
        body: Any,
        projection: Projection,
        if_match: str | None = None,
    ) -> ResourceResult:
        """RFC 7644 §3.5.1: full replace; readOnly ignored, immutable must not change."""
        async with self.store.unit_of_work(ctx.tenant_id) as uow:
            current = await _current(uow, rtype, id, if_match)
            doc = validate_resource(
                body, rtype, self.registry.common, Context.REPLACE, ctx.policy, existing=current.doc
            )
            members = _pop_members(doc, rtype)
            changed = doc != current.doc
            if members_attribute(rtype):
                refs = await _resolve_members(uow, members or [])
                changed = await _replace_members(uow, id, refs) or changed
            stored = await self._save(uow, rtype, current, doc, changed)
        return (await self.render_many(ctx, rtype, [stored], projection))[0]

    async def patch(
        self,
        ctx: RequestContext,
        rtype: ResourceType,
        id: str,
        body: Any,
        projection: Projection,
        if_match: str | None = None,
    ) -> ResourceResult:
        """RFC 7644 §3.5.2: all operations apply, or none."""
        operations = parse_patch_request(body)
        async with self.store.unit_of_work(ctx.tenant_id) as uow:
            current = await _current(uow, rtype, id, if_match)
            result = apply_patch(current.doc, operations, rtype, self.registry.common, ctx.policy)
            doc = validate_resource(
                result.doc, rtype, self.registry.common, Context.PATCH, ctx.policy, existing=current.doc
            )
            changed = await _apply_member_changes(uow, id, result.members) or doc != current.doc
            stored = await self._save(uow, rtype, current, doc, changed)
        return (await self.render_many(ctx, rtype, [stored], projection))[0]

    async def delete(self, ctx: RequestContext, rtype: ResourceType, id: str, if_match: str | None = None) -> None:
        """RFC 7644 §3.6: memberships go with the resource (ON DELETE CASCADE)."""
        async with self.store.unit_of_work(ctx.tenant_id) as uow:
            await _current(uow, rtype, id, if_match)
            await uow.delete(rtype.id, id)

    async def _save(
        self, uow: UnitOfWork, rtype: ResourceType, current: StoredResource, doc: JsonDoc, changed: bool
    ) -> StoredResource:
        # An unchanged result keeps meta.version and lastModified (RFC 7644 §3.14).
        if not changed:
            return current
        stored = StoredResource(current.id, rtype.id, doc, current.created, self.clock(), current.version + 1)
        await uow.update(stored, index_keys(doc, rtype, self.registry.common))
        return stored


async def _current(uow: UnitOfWork, rtype: ResourceType, id: str, if_match: str | None) -> StoredResource:
    current = await uow.get_for_update(rtype.id, id)
    if current is None:
        raise NotFound(f"{rtype.name} {id} not found.")
    check_if_match(if_match, current.version)
    return current


def _pop_members(doc: JsonDoc, rtype: ResourceType) -> list[JsonDoc] | None:
    name = members_attribute(rtype)
    return doc.pop(name, None) if name else None


async def _resolve_members(uow: UnitOfWork, members: list[JsonDoc]) -> list[MemberRef]:
    """Members must exist in the tenant (RFC 7643 §4.2 value is a resource id)."""
    ids = [m["value"] for m in members if isinstance(m.get("value"), str)]
    if len(ids) != len(members):
        raise InvalidValue("Every member needs a 'value' holding the id of a User or Group.")
    found = await uow.resolve_members(ids)
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidValue(f"Unknown member id(s) in this tenant: {', '.join(missing[:20])}.")
    return [MemberRef(i, found[i]) for i in dict.fromkeys(ids)]


async def _replace_members(uow: UnitOfWork, group_id: str, refs: list[MemberRef]) -> bool:
    """Make the member set exactly ``refs``; touches only the rows that differ."""
    current = set(await uow.member_ids(group_id))
    wanted = {r.value for r in refs}
    gone = [i for i in current if i not in wanted]
    new = [r for r in refs if r.value not in current]
    if gone:
        await uow.remove_members(group_id, gone)
    if new:
        await uow.add_members(group_id, new)
    return bool(gone or new)


async def _apply_member_changes(uow: UnitOfWork, group_id: str, changes: Sequence[MemberOp]) -> bool:
    """Apply membership operations in request order (Okta sends remove, then add)."""
    changed = False
    for change in changes:
        if change.kind == "replace":
            changed |= await _replace_members(uow, group_id, await _resolve_members(uow, list(change.members)))
        elif change.kind == "add":
            refs = await _resolve_members(uow, list(change.members))
            changed |= bool(await uow.add_members(group_id, refs))
        elif change.ids is None:
            changed |= bool(await uow.clear_members(group_id))
        else:
            changed |= bool(await uow.remove_members(group_id, change.ids))
    return changed
