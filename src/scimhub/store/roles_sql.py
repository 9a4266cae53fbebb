"""Roles from groups, stored: the rules (``role_rules``), each user's effective roles
(``user_roles``), the tenant's rule version, mode and default (``role_state``) and the recompute
that follows a change of them (``role_jobs``). Which rules apply is pure
(``scimhub.directory.roles``).

Consistency across instances: every write that may change roles reads its tenant's
``role_state`` row in its own transaction (PostgreSQL: ``FOR SHARE``; SQLite has one writer), and
a change of the rules updates that row, so it waits for those writes to commit and the writes
after it see the new version. The rules of a version are cached per process (a version is never
reused), so a write whose group no rule names pays that one probe and nothing else. A rule change
then recomputes every user of the tenant, ``JOB_BATCH`` users a transaction, in pk order
(``role_jobs``); writes meanwhile compute with the new rules themselves.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from typing import TypeVar

import orjson
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import literal_column
from sqlalchemy import null
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from scimhub.directory.roles import GroupFacts
from scimhub.directory.roles import JobStatus
from scimhub.directory.roles import Mode
from scimhub.directory.roles import RoleChange
from scimhub.directory.roles import RoleRule
from scimhub.directory.roles import RuleKind
from scimhub.directory.roles import RuleSet
from scimhub.directory.roles import scim_role_values
from scimhub.store.base import StoredResource
from scimhub.store.database import Database
from scimhub.store.database import Tx
from scimhub.store.prepared import prepare
from scimhub.store.tables import group_members
from scimhub.store.tables import resources
from scimhub.store.tables import role_jobs
from scimhub.store.tables import role_rules
from scimhub.store.tables import role_state
from scimhub.store.tables import user_roles

_T = TypeVar("_T")
CHUNK = 500  # pks per IN (...) list
JOB_BATCH = 200  # users a recompute transaction goes through (SQLite: ~40 ms of the one writer)
_CACHED_TENANTS = 10_000

_GROUP = resources.alias("g")


def chunks(items: Sequence[_T], size: int = CHUNK) -> Iterable[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# The one statement a write pays when no rule names what it changed (PostgreSQL: FOR SHARE, so a
# rule change waits for it; SQLite renders no locking clause).
STATE = prepare(
    select(role_state.c.version, role_state.c.mode, role_state.c.default_role, role_state.c.rules)
    .where(role_state.c.tenant_id == bindparam("tenant"))
    .with_for_update(read=True)
)


def _new_state(insert_: Any) -> Any:
    return (
        insert_(role_state)
        .values(
            tenant_id=bindparam("tenant"),
            version=literal_column("0"),
            rules=literal_column("0"),
            mode=literal_column(f"'{Mode.ALL.value}'"),
            default_role=null(),
        )
        .on_conflict_do_nothing()
    )


NEW_STATE = prepare(_new_state(sqlite_insert), postgresql=_new_state(postgresql_insert))
ROLES_OF_ONE = prepare(
    select(user_roles.c.role)
    .where(user_roles.c.tenant_id == bindparam("tenant"), user_roles.c.user_pk == bindparam("pk"))
    .order_by(user_roles.c.role)
)
INSERT_ROLE = prepare(
    insert(user_roles).values(tenant_id=bindparam("tenant"), user_pk=bindparam("pk"), role=bindparam("role"))
)
DELETE_ROLE = prepare(
    delete(user_roles).where(
        user_roles.c.tenant_id == bindparam("tenant"),
        user_roles.c.user_pk == bindparam("pk"),
        user_roles.c.role == bindparam("role"),
    )
)

# One user's recompute (the one-member change IdPs send), on precompiled statements: the user
# (locked on PostgreSQL), and the groups it is directly in, but one (-1: none left out).
USER_ONE = prepare(
    select(resources.c.pk, resources.c.id, resources.c.doc)
    .where(
        resources.c.tenant_id == bindparam("tenant"),
        resources.c.resource_type == literal_column("'User'"),
        resources.c.pk == bindparam("pk"),
    )
    .with_for_update()
)
GROUPS_OF_ONE = prepare(
    select(group_members.c.member_pk, _GROUP.c.id, _GROUP.c.k_display_name, _GROUP.c.k_external_id)
    .select_from(group_members.join(_GROUP, _GROUP.c.pk == group_members.c.group_pk))
    .where(group_members.c.member_pk == bindparam("pk"), group_members.c.group_pk != bindparam("without"))
)


async def roles_of_users(tx: Tx, tenant_id: str, user_pks: Sequence[int]) -> dict[int, list[str]]:
    """Each user's effective roles (sorted), by pk; a user without roles is left out."""
    found: dict[int, list[str]] = {}
    unique = list(dict.fromkeys(user_pks))
    if len(unique) == 1:
        roles = [role for (role,) in await tx.rows(ROLES_OF_ONE, tenant=tenant_id, pk=unique[0])]
        return {unique[0]: roles} if roles else {}
    for chunk in chunks(unique):
        stmt = (
            select(user_roles.c.user_pk, user_roles.c.role)
            .where(user_roles.c.tenant_id == tenant_id, user_roles.c.user_pk.in_(chunk))
            .order_by(user_roles.c.user_pk, user_roles.c.role)
        )
        for pk, role in await tx.execute(stmt):
            found.setdefault(pk, []).append(role)
    return found


NO_RULES = RuleSet(0)  # the role state a tenant is made with (NEW_STATE)


class RuleCache:
    """Each tenant's rules at the version last read (bounded LRU). Keyed by the version read in
    the transaction, so an entry is never used for another version."""

    def __init__(self) -> None:
        self._sets: OrderedDict[str, RuleSet] = OrderedDict()

    def get(self, tenant_id: str, version: int) -> RuleSet | None:
        found = self._sets.get(tenant_id)
        if found is None or found.version != version:
            return None
        self._sets.move_to_end(tenant_id)
        return found

    def put(self, tenant_id: str, rules: RuleSet) -> None:
        self._sets[tenant_id] = rules
        self._sets.move_to_end(tenant_id)
        while len(self._sets) > _CACHED_TENANTS:
            self._sets.popitem(last=False)


async def read_rules(tx: Tx, tenant_id: str) -> list[RoleRule]:
    stmt = (
        select(role_rules)
        .where(role_rules.c.tenant_id == tenant_id)
        .order_by(role_rules.c.priority.desc(), role_rules.c.role, role_rules.c.created_at, role_rules.c.id)
    )
    return [RoleRule(r.id, r.role, RuleKind(r.kind), r.value, r.priority, r.created_at) for r in await tx.execute(stmt)]


class Roles:
    """The role work of one write transaction of one tenant (``SqlUnitOfWork.roles``)."""

    def __init__(self, tx: Tx, tenant_id: str, cache: RuleCache, pks: dict[str, int]) -> None:
        self._tx = tx
        self._tenant_id = tenant_id
        self._cache = cache
        self._pks = pks  # the unit of work's id -> pk map (members it resolved)
        self._rules: RuleSet | None = None

    async def rules(self) -> RuleSet:
        """The tenant's rules, read (and share-locked) once per transaction."""
        if self._rules is None:
            found = await self._tx.rows(STATE, tenant=self._tenant_id)
            if not found:  # a tenant made before its row was made with it: the row every rule change locks
                await self._tx.rows(NEW_STATE, tenant=self._tenant_id)
                found = await self._tx.rows(STATE, tenant=self._tenant_id)
            version, mode, default, count = found[0]
            self._rules = await self._rule_set(version, mode, default, count)
        return self._rules

    async def _rule_set(self, version: int, mode: str, default: str | None, count: int) -> RuleSet:
        """The rules of the role state read (and share-locked) in this transaction."""
        rules = self._cache.get(self._tenant_id, version)
        if rules is None:
            if (version, count, mode, default) == (0, 0, NO_RULES.mode.value, None):
                rules = NO_RULES  # a tenant that never had rules (most): no object of its own
            else:
                listed = tuple(await read_rules(self._tx, self._tenant_id)) if count else ()
                rules = RuleSet(version, listed, Mode(mode), default)
            self._cache.put(self._tenant_id, rules)
        return rules

    async def after_write(
        self, resource_type: str, before: StoredResource | None, after: StoredResource, members: Sequence[str]
    ) -> list[RoleChange]:
        if resource_type == "User":
            if before is not None and scim_role_values(before.doc) == scim_role_values(after.doc):
                return []
            rules = await self.rules()
            if before is None:  # a new user is in no group yet: its SCIM roles or the default decide
                return await self._new_user(rules, after)
            if not rules.has_scim_rules:
                return []
            return await self.recompute(rules, [await self._pk(after)])
        if resource_type != "Group":
            return []
        facts = GroupFacts.of(after.id, after.doc)
        old = GroupFacts.of(before.id, before.doc) if before is not None else facts
        if not members and old == facts:
            return []  # neither membership nor name changed: nothing decided by it moved
        rules = await self.rules()
        named_before, named_after = rules.names(old), rules.names(facts)
        if not (named_before or named_after):
            return []
        pks = [self._pks[i] for i in members if i in self._pks]
        if old != facts:  # renamed: every member may gain or lose the group's rules
            pks += await self._user_members(await self._pk(after))
        return await self.recompute(rules, pks)

    async def after_creates(self, resource_type: str, created: Sequence[StoredResource]) -> list[list[RoleChange]]:
        """``after_write`` of each new resource, without members: only a new user can get roles
        (its SCIM roles or the default); a tenant without rules (most) asks nothing more."""
        if resource_type != "User":
            return [[] for _ in created]
        rules = await self.rules()
        if rules.empty:
            return [[] for _ in created]
        return [await self._new_user(rules, user) for user in created]

    async def _new_user(self, rules: RuleSet, user: StoredResource) -> list[RoleChange]:
        roles = rules.roles((), scim_role_values(user.doc)) if not rules.empty else []
        if not roles:
            return []
        pk = await self._pk(user)
        await self._tx.run_many(INSERT_ROLE, [{"tenant": self._tenant_id, "pk": pk, "role": r} for r in roles])
        return [RoleChange(user.id, user.doc.get("userName"), (), tuple(roles))]

    async def before_delete(self, resource_type: str, current: StoredResource) -> list[RoleChange]:
        """A deleted user loses its roles; a deleted group's members lose what it gave them
        (recomputed without it, before its memberships cascade away)."""
        pk = await self._pk(current)
        if resource_type == "User":
            old = (await roles_of_users(self._tx, self._tenant_id, [pk])).get(pk, [])
            if not old:
                return []
            return [RoleChange(current.id, current.doc.get("userName"), tuple(old), ())]
        if resource_type != "Group":
            return []
        rules = await self.rules()
        if not rules.names(GroupFacts.of(current.id, current.doc)):
            return []
        return await self.recompute(rules, await self._user_members(pk), without_group=pk)

    async def _pk(self, resource: StoredResource) -> int:
        if resource.pk is not None:
            return resource.pk
        if resource.id not in self._pks:
            stmt = select(resources.c.pk).where(resources.c.tenant_id == self._tenant_id, resources.c.id == resource.id)
            self._pks[resource.id] = (await self._tx.execute(stmt)).scalar_one()
        return self._pks[resource.id]

    async def _user_members(self, group_pk: int) -> list[int]:
        stmt = select(group_members.c.member_pk).where(
            group_members.c.group_pk == group_pk, group_members.c.member_type == "User"
        )
        return list((await self._tx.execute(stmt)).scalars())

    async def recompute(
        self, rules: RuleSet, user_pks: Sequence[int], without_group: int | None = None
    ) -> list[RoleChange]:
        """Recompute these users' roles from their groups and SCIM roles; write what changed.
        The users' rows are locked first (PostgreSQL), so a concurrent write to one of them
        computes after this one commits, from what it wrote."""
        changes: list[RoleChange] = []
        for chunk in chunks(sorted(set(user_pks))):
            changes += await self._recompute_chunk(rules, chunk, without_group)
        return changes

    async def _recompute_chunk(self, rules: RuleSet, pks: Sequence[int], without_group: int | None) -> list[RoleChange]:
        if len(pks) == 1:
            found = await self._tx.rows(USER_ONE, tenant=self._tenant_id, pk=pks[0])
        else:
            users = (
                select(resources.c.pk, resources.c.id, resources.c.doc)
                .where(
                    resources.c.tenant_id == self._tenant_id,
                    resources.c.resource_type == "User",
                    resources.c.pk.in_(pks),
                )
                .order_by(resources.c.pk)
                .with_for_update()
            )
            found = (await self._tx.execute(users)).all()
        groups = await self._groups_of(pks, without_group)
        current = await roles_of_users(self._tx, self._tenant_id, pks)
        changes: list[RoleChange] = []
        gone: list[dict[str, Any]] = []
        new: list[dict[str, Any]] = []
        for pk, id, doc_json in found:
            doc: dict[str, Any] | None = orjson.loads(doc_json) if rules.has_scim_rules else None
            after = rules.roles(groups.get(pk, ()), scim_role_values(doc))
            before = current.get(pk, [])
            if after == before:
                continue
            if doc is None:
                doc = orjson.loads(doc_json)
            assert doc is not None
            changes.append(RoleChange(id, doc.get("userName"), tuple(before), tuple(after)))
            gone += [{"tenant": self._tenant_id, "pk": pk, "role": r} for r in before if r not in after]
            new += [{"tenant": self._tenant_id, "pk": pk, "role": r} for r in after if r not in before]
        if gone:
            await self._tx.run_many(DELETE_ROLE, gone)
        if new:
            await self._tx.run_many(INSERT_ROLE, new)
        return changes

    async def _groups_of(self, pks: Sequence[int], without_group: int | None) -> dict[int, list[GroupFacts]]:
        groups: dict[int, list[GroupFacts]] = {}
        if len(pks) == 1:
            without = -1 if without_group is None else without_group
            for member_pk, gid, display_key, external_key in await self._tx.rows(
                GROUPS_OF_ONE, pk=pks[0], without=without
            ):
                groups.setdefault(member_pk, []).append(GroupFacts(gid, display_key, external_key))
            return groups
        stmt = (
            select(group_members.c.member_pk, _GROUP.c.id, _GROUP.c.k_display_name, _GROUP.c.k_external_id)
            .select_from(group_members.join(_GROUP, _GROUP.c.pk == group_members.c.group_pk))
            .where(group_members.c.member_pk.in_(pks))
        )
        if without_group is not None:
            stmt = stmt.where(group_members.c.group_pk != without_group)
        for member_pk, gid, display_key, external_key in await self._tx.execute(stmt):
            groups.setdefault(member_pk, []).append(GroupFacts(gid, display_key, external_key))
        return groups

    async def job_step(self, limit: int, now: str) -> tuple[list[RoleChange], JobStatus | None]:
        """One batch of the tenant's recompute: the next ``limit`` users after the job's cursor."""
        rules = await self.rules()
        stmt = select(role_jobs).where(role_jobs.c.tenant_id == self._tenant_id).with_for_update()
        job = (await self._tx.execute(stmt)).first()
        if job is None or job.finished_at is not None:
            return [], None if job is None else _status(job)
        users = (
            select(resources.c.pk)
            .where(
                resources.c.tenant_id == self._tenant_id,
                resources.c.resource_type == "User",
                resources.c.pk > job.after_pk,
            )
            .order_by(resources.c.pk)
            .limit(limit)
        )
        pks = list((await self._tx.execute(users)).scalars())
        changes = await self.recompute(rules, pks) if pks else []
        values: dict[str, Any] = {"done": job.done + len(pks), "changed": job.changed + len(changes)}
        if pks:
            values["after_pk"] = pks[-1]
        if len(pks) < limit:
            values["finished_at"] = now
        await self._tx.execute(update(role_jobs).where(role_jobs.c.tenant_id == self._tenant_id).values(**values))
        row = (await self._tx.execute(select(role_jobs).where(role_jobs.c.tenant_id == self._tenant_id))).one()
        return changes, _status(row)


def _status(row: Any) -> JobStatus:
    return JobStatus(row.version, row.done, row.changed, row.started_at, row.finished_at)


@dataclass(frozen=True, slots=True)
class RoleSettings:
    version: int
    mode: Mode
    default: str | None


class RoleStore:
    """Rules and the role settings (CLI and admin API), outside any SCIM write."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def rules(self, tenant_id: str) -> list[RoleRule]:
        async with self.db.read() as tx:
            return await read_rules(tx, tenant_id)

    async def settings(self, tenant_id: str) -> RoleSettings:
        async with self.db.read() as tx:
            row = (await tx.execute(select(role_state).where(role_state.c.tenant_id == tenant_id))).first()
        if row is None:
            return RoleSettings(0, Mode.ALL, None)
        return RoleSettings(row.version, Mode(row.mode), row.default_role)

    async def job(self, tenant_id: str) -> JobStatus | None:
        async with self.db.read() as tx:
            row = (await tx.execute(select(role_jobs).where(role_jobs.c.tenant_id == tenant_id))).first()
        return None if row is None else _status(row)

    async def unfinished_jobs(self) -> list[str]:
        """Tenants whose recompute has users left."""
        async with self.db.read() as tx:
            stmt = (
                select(role_jobs.c.tenant_id).where(role_jobs.c.finished_at.is_(None)).order_by(role_jobs.c.started_at)
            )
            return list((await tx.execute(stmt)).scalars())

    async def change(
        self,
        tenant_id: str,
        now: str,
        *,
        add: RoleRule | None = None,
        remove: Sequence[str] = (),
        mode: Mode | None = None,
        default: str | None = None,
        clear_default: bool = False,
    ) -> tuple[list[str], JobStatus]:
        """Change the rules or settings in one transaction: a new version (locking the state row
        every role-deciding write reads) and a recompute from the first user. Returns the ids of
        the rules removed."""
        async with self.db.write() as tx:
            await tx.rows(NEW_STATE, tenant=tenant_id)
            state = select(role_state).where(role_state.c.tenant_id == tenant_id).with_for_update()
            current = (await tx.execute(state)).one()
            removed: list[str] = []
            if remove:
                mine = (role_rules.c.tenant_id == tenant_id) & role_rules.c.id.in_(list(remove))
                removed = list((await tx.execute(select(role_rules.c.id).where(mine))).scalars())
                if not removed:
                    raise LookupError(", ".join(remove))  # rolls the transaction back: no new version
                await tx.execute(delete(role_rules).where(mine))
            if add is not None:
                await tx.execute(
                    insert(role_rules).values(
                        id=add.id,
                        tenant_id=tenant_id,
                        role=add.role,
                        kind=add.kind.value,
                        value=add.value,
                        value_key=add.key,
                        priority=add.priority,
                        created_at=add.created_at,
                    )
                )
            count = (await tx.execute(select(func.count()).where(role_rules.c.tenant_id == tenant_id))).scalar_one()
            version = current.version + 1
            await tx.execute(
                update(role_state)
                .where(role_state.c.tenant_id == tenant_id)
                .values(
                    version=version,
                    rules=count,
                    mode=(mode or Mode(current.mode)).value,
                    default_role=None if clear_default else default if default is not None else current.default_role,
                )
            )
            job = {"version": version, "after_pk": 0, "done": 0, "changed": 0, "started_at": now, "finished_at": None}
            upsert = self.db.insert(role_jobs).values(tenant_id=tenant_id, **job)
            await tx.execute(upsert.on_conflict_do_update(index_elements=["tenant_id"], set_=job))
        return removed, JobStatus(version, 0, 0, now, None)
