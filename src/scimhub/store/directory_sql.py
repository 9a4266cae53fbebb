"""Reads of the directory API and the events' ``user`` (scimhub.directory).

Pages are keysets on pks, each one statement driven by the narrowest index it can use: the
group's memberships (``group_members`` (group_pk, member_pk)), the role's holders (``user_roles``
(tenant_id, role, user_pk)), or the tenant's users in creation order ((tenant, type, pk)); the
other filters are conditions on the same rows. Nothing reads more than a page (plus one row).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace
from typing import Any

import orjson
from sqlalchemy import ColumnElement
from sqlalchemy import Select
from sqlalchemy import exists
from sqlalchemy import false
from sqlalchemy import or_
from sqlalchemy import select

from scimhub.directory.attributes import USER
from scimhub.directory.attributes import AttributeMap
from scimhub.directory.attributes import effective_mapping
from scimhub.directory.user import ACTIVE
from scimhub.directory.user import GroupRef
from scimhub.directory.user import directory_user
from scimhub.events.model import Event
from scimhub.schema.registry import tenant_registry
from scimhub.store import fast_reads as fast
from scimhub.store.attributes_sql import AttributeStore
from scimhub.store.base import StoredResource
from scimhub.store.database import Database
from scimhub.store.roles_sql import roles_of_users
from scimhub.store.schemas_sql import TenantSchemaStore
from scimhub.store.tables import RESOURCE_COLUMNS
from scimhub.store.tables import group_members
from scimhub.store.tables import resources
from scimhub.store.tables import role_rules
from scimhub.store.tables import role_state
from scimhub.store.tables import user_roles

GROUP = "Group"
MAPPING_CACHE_SECONDS = 10.0  # as the tenant config: a mapping change is in events within 10 s


@dataclass(frozen=True, slots=True)
class UserFilter:
    """The directory API's filters: a group's pk, a role name, a state (active / inactive)."""

    group_pk: int | None = None
    role: str | None = None
    state: str | None = None


@dataclass(frozen=True, slots=True)
class GroupRow:
    pk: int
    id: str
    display_name: str | None
    created: str
    last_modified: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "displayName": self.display_name,
            "createdAt": self.created,
            "updatedAt": self.last_modified,
        }


class DirectoryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def users(self, tenant_id: str, after: int, limit: int, where: UserFilter) -> list[StoredResource]:
        """Up to ``limit`` users with pk > ``after`` matching ``where``, in pk order."""
        async with self.db.read() as tx:
            rows = await tx.execute(_users(tenant_id, after, where).limit(limit))
            return [StoredResource.from_json(*row) for row in rows]

    async def groups(self, tenant_id: str, after: int, limit: int) -> list[GroupRow]:
        stmt = (
            select(resources.c.pk, resources.c.id, resources.c.display, resources.c.created, resources.c.last_modified)
            .where(resources.c.tenant_id == tenant_id, resources.c.resource_type == GROUP, resources.c.pk > after)
            .order_by(resources.c.pk)
            .limit(limit)
        )
        async with self.db.read() as tx:
            return [GroupRow(*row) for row in await tx.execute(stmt)]

    async def group_pk(self, tenant_id: str, group_id: str) -> int | None:
        found = await self.db.fast(fast.RESOURCE, tenant=tenant_id, id=group_id, rtype=GROUP)
        return int(found[0][6]) if found else None

    async def role_known(self, tenant_id: str, role: str) -> bool:
        """Whether ``role`` is one of the tenant's: named by a rule, its default role, or held."""
        named = exists().where(role_rules.c.tenant_id == tenant_id, role_rules.c.role == role)
        default = exists().where(role_state.c.tenant_id == tenant_id, role_state.c.default_role == role)
        held = exists().where(user_roles.c.tenant_id == tenant_id, user_roles.c.role == role)
        async with self.db.read() as tx:
            return bool((await tx.execute(select(or_(named, default, held)))).scalar())

    async def groups_of(self, pks: Sequence[int]) -> dict[int, list[GroupRef]]:
        """The groups of a page of users, by their pks, in one statement."""
        found: dict[int, list[GroupRef]] = {}
        if pks:
            for pk, gid, display in await self.db.fast(fast.GROUPS_OF_PKS, pks=orjson.dumps(list(pks)).decode()):
                found.setdefault(pk, []).append(GroupRef(gid, display))
        return found

    async def roles_of(self, tenant_id: str, pks: Sequence[int]) -> dict[int, list[str]]:
        """Sorted role names of a page of users, by their pks."""
        if not pks:
            return {}
        async with self.db.read() as tx:
            return await roles_of_users(tx, tenant_id, pks)

    async def relations_by_id(
        self, tenant_id: str, ids: Sequence[str]
    ) -> tuple[dict[str, list[GroupRef]], dict[str, list[str]]]:
        """Groups and roles of users named by id (events carry ids, not pks): two statements."""
        groups: dict[str, list[GroupRef]] = {}
        listed = orjson.dumps(list(ids)).decode()
        for mid, gid, display in await self.db.fast(fast.GROUPS_OF_MANY, tenant=tenant_id, ids=listed):
            groups.setdefault(mid, []).append(GroupRef(gid, display))
        stmt = (
            select(resources.c.id, user_roles.c.role)
            .select_from(user_roles.join(resources, resources.c.pk == user_roles.c.user_pk))
            .where(resources.c.tenant_id == tenant_id, resources.c.id.in_(list(ids)))
            .order_by(resources.c.id, user_roles.c.role)
        )
        roles: dict[str, list[str]] = {}
        async with self.db.read() as tx:
            for uid, role in await tx.execute(stmt):
                roles.setdefault(uid, []).append(role)
        return groups, roles


def _users(tenant_id: str, after: int, where: UserFilter) -> Select[Any]:
    columns = (*RESOURCE_COLUMNS, resources.c.pk)
    conditions: list[ColumnElement[bool]] = [resources.c.tenant_id == tenant_id, resources.c.resource_type == USER]
    if where.state is not None:
        # `active = false` exactly as ix_resources_inactive's condition, so the planner may use it.
        active = or_(resources.c.active.is_(None), resources.c.active.is_(True))
        conditions.append(active if where.state == ACTIVE else resources.c.active == false())
    if where.group_pk is not None:
        joined = group_members.join(resources, resources.c.pk == group_members.c.member_pk)
        stmt = select(*columns).select_from(joined).where(group_members.c.group_pk == where.group_pk)
        stmt = stmt.where(group_members.c.member_pk > after).order_by(group_members.c.member_pk)
        if where.role is not None:
            conditions.append(_holds(tenant_id, where.role))
    elif where.role is not None:
        joined = user_roles.join(resources, resources.c.pk == user_roles.c.user_pk)
        stmt = select(*columns).select_from(joined).where(user_roles.c.tenant_id == tenant_id)
        stmt = stmt.where(user_roles.c.role == where.role, user_roles.c.user_pk > after).order_by(user_roles.c.user_pk)
    else:
        stmt = select(*columns).where(resources.c.pk > after).order_by(resources.c.pk)
    return stmt.where(*conditions)


def _holds(tenant_id: str, role: str) -> ColumnElement[bool]:
    return exists().where(
        user_roles.c.tenant_id == tenant_id, user_roles.c.role == role, user_roles.c.user_pk == resources.c.pk
    )


class EventUsers:
    """Adds the normalized ``user`` to the user events a consumer reads (feed, webhooks, hooks,
    SET streams), next to their ``resource``: the resource snapshot mapped with the tenant's
    mapping (cached MAPPING_CACHE_SECONDS), with the groups and roles the user has when the
    event is read. Costs nothing when a batch has no user event with a resource, and otherwise
    three statements per batch (the mapping at most every 10 s); nothing on the write path."""

    def __init__(
        self, db: Database, ttl: float = MAPPING_CACHE_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.directory = DirectoryStore(db)
        self.attributes = AttributeStore(db)
        self.schemas = TenantSchemaStore(db)
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[str, tuple[float, AttributeMap]] = {}

    async def mapping(self, tenant_id: str) -> AttributeMap:
        now = self.clock()
        hit = self._cache.get(tenant_id)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        registry = tenant_registry(await self.schemas.declared(tenant_id))
        found = effective_mapping(registry, await self.attributes.rows(tenant_id))
        if len(self._cache) >= 4096:
            self._cache.clear()
        self._cache[tenant_id] = (now, found)
        return found

    async def add(self, tenant_id: str, found: list[Event]) -> list[Event]:
        ids = list(dict.fromkeys(e.payload["resourceId"] for e in found if _has_user(e)))
        if not ids:
            return found
        mapping = await self.mapping(tenant_id)
        groups, roles = await self.directory.relations_by_id(tenant_id, ids)
        out = []
        for event in found:
            if _has_user(event):
                rid = event.payload["resourceId"]
                user = directory_user(event.payload["resource"], mapping, groups.get(rid, ()), roles.get(rid, ()))
                event = replace(event, payload={**event.payload, "user": user})
            out.append(event)
        return out


def _has_user(event: Event) -> bool:
    return event.payload.get("resourceType") == USER and isinstance(event.payload.get("resource"), dict)
