"""The unit of work on PostgreSQL: each step of a write in one statement.

Every statement is a round trip, and on scimhub's side a round trip costs more CPU (asyncpg's
protocol, the event loop's wake-ups, the socket calls) than the statement itself. The plain unit
of work (``sql.SqlUnitOfWork``, shaped for SQLite's in-process statements) runs one statement a
table; here data-modifying CTEs put each step's statements into one:

- ``insert``: the resource, its multi-valued keys (resource_values) and the type's count;
- ``update``: the resource and its multi-valued keys brought to the new set (rows no longer
  wanted deleted, new ones inserted; unchanged ones left alone);
- ``delete``: the resource and the type's count (with its deletion counter);
- ``append_events``: the tenant's event counter moved by n (its row lock orders the tenant's
  writers, as before: events stay gapless and in commit order per tenant) and the n events
  inserted with the numbers it gave;
- ``record_audit``: one INSERT on asyncpg's plain path (no executemany for one row).

Everything still runs in the write's transaction (``database._transaction``), so the events and
the audit entry commit with the write or not at all; errors are the plain unit of work's (a
unique violation raises ``Uniqueness`` from ``insert``/``update``; a deadlock victim ``Busy``).
"""

from __future__ import annotations

from collections.abc import Sequence

from scimhub.directory.roles import RoleChange
from scimhub.directory.roles import RuleSet
from scimhub.events.model import Event
from scimhub.events.model import EventDraft
from scimhub.store import fast_writes as fw
from scimhub.store.base import AuditEntry
from scimhub.store.base import IndexKeys
from scimhub.store.base import StoredResource
from scimhub.store.database import Database
from scimhub.store.database import Tx
from scimhub.store.pg_reads import WITH_GROUPS
from scimhub.store.pg_reads import WrittenGroups
from scimhub.store.pg_reads import groups_of
from scimhub.store.pg_reads import member_refs
from scimhub.store.pg_reads import pg_statement
from scimhub.store.roles_sql import Roles
from scimhub.store.roles_sql import RuleCache
from scimhub.store.sql import SqlUnitOfWork
from scimhub.store.sql import _resource_row
from scimhub.store.sql import _unique_violation
from scimhub.store.sql import _uniqueness_error
from scimhub.store.sql import _value_pairs
from scimhub.store.sql import audit_row

# The resource row's columns an update sets (fast_writes._ROW), without and with the key columns.
_DOC_COLUMNS = ("doc", "doc_keys", "last_modified", "version", "active", "display")
_ALL_COLUMNS = (*_DOC_COLUMNS, *fw.KEY_COLUMNS)
_WANTED = "unnest(${paths}::text[], ${keys}::text[]) AS w(path, value_key)"


_PK_AND_GROUPS = f" SELECT u.pk, gr.ids, gr.displays FROM updated u {groups_of('u')}"


def _update_sql(columns: Sequence[str], groups: bool) -> tuple[str, tuple[str, ...]]:
    sets = ", ".join(f"{c} = ${i}{'::jsonb' if c == 'doc_keys' else ''}" for i, c in enumerate(columns, 1))
    n = len(columns)
    wanted = _WANTED.format(paths=n + 4, keys=n + 5)
    sql = (
        f"WITH updated AS (UPDATE resources SET {sets}"
        f" WHERE tenant_id = ${n + 1} AND id = ${n + 2} AND resource_type = ${n + 3} RETURNING pk),"
        f" wanted AS (SELECT w.path, w.value_key FROM {wanted}),"
        " dropped AS (DELETE FROM resource_values v USING updated u WHERE v.resource_pk = u.pk AND NOT EXISTS"
        " (SELECT 1 FROM wanted w WHERE w.path = v.path AND w.value_key = v.value_key)),"
        " added AS (INSERT INTO resource_values (resource_pk, tenant_id, path, value_key)"
        f" SELECT u.pk, ${n + 1}, w.path, w.value_key FROM updated u CROSS JOIN wanted w WHERE NOT EXISTS"
        " (SELECT 1 FROM resource_values v"
        " WHERE v.resource_pk = u.pk AND v.path = w.path AND v.value_key = w.value_key))"
        + (
            f" SELECT u.pk, gr.ids, gr.displays FROM updated u {groups_of('u')}"
            if groups
            else " SELECT pk FROM updated"
        )
    )
    return sql, (*columns, "w_tenant", "w_id", "w_rtype", "paths", "keys")


# Key columns unchanged (a deactivation, a new title): the SET leaves them out, as fast_writes does.
# A user's update reads its groups too, for the response (WrittenGroups).
UPDATE = {
    (keys, groups): pg_statement(*_update_sql(_ALL_COLUMNS if keys else _DOC_COLUMNS, groups))
    for keys in (False, True)
    for groups in (False, True)
}

_INSERT_COLUMNS = ("tenant_id", "resource_type", "id", "created", *_ALL_COLUMNS)
_INSERT_VALUES = ", ".join(f"${i}{'::jsonb' if c == 'doc_keys' else ''}" for i, c in enumerate(_INSERT_COLUMNS, 1))
_INSERT_WANTED = _WANTED.format(paths=len(_INSERT_COLUMNS) + 1, keys=len(_INSERT_COLUMNS) + 2)
# A user's create reads the tenant's role state too (FOR SHARE, as roles_sql.STATE: a new user's
# roles are decided by it, and a rule change must wait for the create): PgRoles takes it from here.
_ROLE_STATE = " state AS (SELECT version, mode, default_role, rules FROM role_state WHERE tenant_id = $1 FOR SHARE),"
_PK_AND_STATE = " SELECT i.pk, s.version, s.mode, s.default_role, s.rules FROM inserted i LEFT JOIN state s ON true"


def _insert_sql(role_state: bool) -> str:
    return (
        f"WITH inserted AS (INSERT INTO resources ({', '.join(_INSERT_COLUMNS)}) VALUES ({_INSERT_VALUES})"
        " RETURNING pk),"
        " valued AS (INSERT INTO resource_values (resource_pk, tenant_id, path, value_key)"
        f" SELECT i.pk, $1, w.path, w.value_key FROM inserted i CROSS JOIN {_INSERT_WANTED}),"
        + (_ROLE_STATE if role_state else "")
        + " counted AS (INSERT INTO resource_counts (tenant_id, resource_type, count) SELECT $1, $2, 1 FROM inserted"
        " ON CONFLICT (tenant_id, resource_type) DO UPDATE SET count = resource_counts.count + 1)"
        + (_PK_AND_STATE if role_state else " SELECT pk FROM inserted")
    )


INSERT = {state: pg_statement(_insert_sql(state), (*_INSERT_COLUMNS, "paths", "keys")) for state in (False, True)}

# The count as fast_writes.COUNT leaves it for a deletion (a missing row starts at 0).
DELETE = pg_statement(
    "WITH deleted AS (DELETE FROM resources WHERE tenant_id = $1 AND id = $2 AND resource_type = $3 RETURNING pk),"
    " counted AS (INSERT INTO resource_counts (tenant_id, resource_type, count) SELECT $1, $3, 0 FROM deleted"
    " ON CONFLICT (tenant_id, resource_type) DO UPDATE"
    " SET count = resource_counts.count - 1, removed = resource_counts.removed + 1)"
    " SELECT pk FROM deleted",
    ("tenant", "id", "rtype"),
)

# n events numbered after the counter's last value, in the drafts' order (WITH ORDINALITY).
APPEND_EVENTS = pg_statement(
    "WITH counter AS (UPDATE tenant_event_seq SET last_seq = last_seq + $2::bigint WHERE tenant_id = $1"
    " RETURNING last_seq),"
    " appended AS (INSERT INTO events (tenant_id, seq, id, type, resource_type, resource_id, occurred_at, payload)"
    " SELECT $1, c.last_seq - $2::bigint + e.n, e.id, e.type, e.resource_type, e.resource_id, e.occurred_at,"
    " e.payload FROM counter c CROSS JOIN"
    " unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])"
    " WITH ORDINALITY AS e(id, type, resource_type, resource_id, occurred_at, payload, n))"
    " SELECT last_seq FROM counter",
    ("tenant", "n", "ids", "types", "resource_types", "resource_ids", "occurred_at", "payloads"),
)


# The groups a member is in, and (for a user) its roles: what a deletion reads after locking the row.
GROUPS_AND_ROLES = pg_statement(
    "SELECT gr.ids, gr.pks, ro.roles FROM"
    " (SELECT array_agg(g.id ORDER BY gm.group_pk) AS ids, array_agg(gm.group_pk ORDER BY gm.group_pk) AS pks"
    " FROM group_members gm CROSS JOIN LATERAL"
    " (SELECT r.id FROM resources r WHERE r.pk = gm.group_pk LIMIT 1) AS g"  # by pk, as pg_reads.groups_of
    " WHERE gm.member_pk = $1) AS gr,"
    " (SELECT array_agg(r.role ORDER BY r.role) AS roles FROM user_roles r"
    " WHERE r.tenant_id = $2 AND r.user_pk = $1) AS ro",
    ("member_pk", "tenant"),
)


def _wanted(keys: IndexKeys) -> dict[str, list[str]]:
    pairs = _value_pairs(keys)
    return {"paths": [path for path, _ in pairs], "keys": [key for _, key in pairs]}


class PgRoles(Roles):
    """``Roles`` that take what the unit of work's statements read already: the role state read
    with a user's create, a user's roles read with the groups it leaves on deletion."""

    def __init__(self, tx: Tx, tenant_id: str, cache: RuleCache, pks: dict[str, int]) -> None:
        super().__init__(tx, tenant_id, cache, pks)
        # role_state's (version, mode, default_role, rules) as read (share-locked) with a create
        self.state: tuple[int, str, str | None, int] | None = None
        self.user_roles: dict[int, list[str]] = {}  # user pk -> its roles, as read before its deletion

    async def rules(self) -> RuleSet:
        if self._rules is None and self.state is not None:
            self._rules = await self._rule_set(*self.state)  # no second read of the state
            self.state = None
        return await super().rules()

    async def before_delete(self, resource_type: str, current: StoredResource) -> list[RoleChange]:
        roles = self.user_roles.get(current.pk) if resource_type == "User" and current.pk is not None else None
        if roles is None:
            return await super().before_delete(resource_type, current)
        return [RoleChange(current.id, current.doc.get("userName"), tuple(roles), ())] if roles else []


class PgUnitOfWork(SqlUnitOfWork):
    """``SqlUnitOfWork`` with its writes in one statement each (see the module)."""

    def __init__(
        self,
        tx: Tx,
        tenant_id: str,
        db: Database,
        rules: RuleCache | None = None,
        *,
        written: WrittenGroups | None = None,
    ) -> None:
        super().__init__(tx, tenant_id, db, rules)
        self.roles = self._roles = PgRoles(tx, tenant_id, rules if rules is not None else RuleCache(), self._pks)
        self._written = written

    async def insert(self, resource: StoredResource, keys: IndexKeys) -> None:
        row = _resource_row(self._tenant_id, resource, keys, self._doc_keys)
        user = resource.resource_type == WITH_GROUPS
        try:
            [found] = await self._tx.rows(INSERT[user], **row, **_wanted(keys))
        except Exception as exc:
            if not _unique_violation(exc):
                raise
            raise _uniqueness_error(exc) from None
        self._pks[resource.id] = found[0]
        if user and found[1] is not None:
            self._roles.state = (found[1], found[2], found[3], found[4])

    async def update(self, resource: StoredResource, keys: IndexKeys) -> None:
        row = _resource_row(self._tenant_id, resource, keys, self._doc_keys)
        where = {"w_tenant": self._tenant_id, "w_id": resource.id, "w_rtype": resource.resource_type}
        keys_changed = self._stored_keys.get(resource.id) != tuple(row[k] for k in fw.KEY_COLUMNS)
        groups = self._written is not None and resource.resource_type == WITH_GROUPS
        try:
            updated = await self._tx.rows(UPDATE[keys_changed, groups], **row, **where, **_wanted(keys))
        except Exception as exc:
            if not _unique_violation(exc):
                raise
            raise _uniqueness_error(exc) from None
        if not updated:
            raise LookupError(f"{resource.resource_type} {resource.id} is not stored: nothing to update")
        self._pks[resource.id] = updated[0][0]
        if groups and self._written is not None:
            self._written.keep(resource, member_refs(updated[0][1], updated[0][2]))

    async def delete(self, resource_type: str, id: str) -> bool:
        return bool(await self._tx.rows(DELETE, tenant=self._tenant_id, id=id, rtype=resource_type))

    async def groups_containing(self, member_id: str) -> list[str]:
        member_pk = self._pks.get(member_id)
        if member_pk is None:
            return await super().groups_containing(member_id)
        [(ids, pks, roles)] = await self._tx.rows(GROUPS_AND_ROLES, member_pk=member_pk, tenant=self._tenant_id)
        self._roles.user_roles[member_pk] = roles or []
        if ids is None:
            return []
        self._pks.update(zip(ids, pks, strict=True))  # touched next: no second lookup
        return list(ids)

    async def append_events(self, drafts: Sequence[EventDraft]) -> list[Event]:
        """Outbox: gapless per-tenant sequence numbers and the events, in this transaction."""
        if not drafts:
            return []
        payloads = [d.payload() for d in drafts]
        allocated = await self._tx.rows(
            APPEND_EVENTS,
            tenant=self._tenant_id,
            n=len(drafts),
            ids=[d.id for d in drafts],
            types=[d.type.value for d in drafts],
            resource_types=[d.resource_type for d in drafts],
            resource_ids=[d.resource_id for d in drafts],
            occurred_at=[d.occurred_at for d in drafts],
            payloads=[d.payload_text() for d in drafts],
        )
        if not allocated:
            raise RuntimeError(f"tenant {self._tenant_id} has no event counter (run scimhub db upgrade)")
        first = allocated[0][0] - len(drafts) + 1
        return [
            Event(self._tenant_id, first + i, d.id, d.type.value, payload)
            for i, (d, payload) in enumerate(zip(drafts, payloads, strict=True))
        ]

    async def record_audit(self, entry: AuditEntry) -> None:
        await self._tx.rows(fw.INSERT_AUDIT, **audit_row(self._tenant_id, entry))
