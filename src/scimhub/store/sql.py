"""SqlStore: the Store protocol on SQLAlchemy Core, for SQLite and PostgreSQL alike.

Every statement goes through ``store.database`` (the execution layer: how transactions begin,
which statements run precompiled, how writers are serialised on each database).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import sqlite3
import time
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from contextlib import AbstractContextManager
from typing import Any
from typing import TypeVar

import orjson
from sqlalchemy import Row
from sqlalchemy import and_
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql import Executable

from scimhub.directory.roles import JobStatus
from scimhub.directory.roles import RoleChange
from scimhub.errors import Busy
from scimhub.errors import Conflict
from scimhub.errors import TooMany
from scimhub.errors import Uniqueness
from scimhub.events.model import Event
from scimhub.events.model import EventDraft
from scimhub.safety.guard import GuardRule
from scimhub.safety.hold import Hold
from scimhub.schema.declare import DeclaredSchema
from scimhub.store import batch_sql
from scimhub.store import fast_reads as fast
from scimhub.store import fast_writes as fw
from scimhub.store import holds_sql
from scimhub.store import roles_sql
from scimhub.store import tenant_sql
from scimhub.store.base import AuditEntry
from scimhub.store.base import GroupMembers
from scimhub.store.base import IndexKeys
from scimhub.store.base import Keyset
from scimhub.store.base import MemberRef
from scimhub.store.base import Page
from scimhub.store.base import PendingDelivery
from scimhub.store.base import Query
from scimhub.store.base import StoredResource
from scimhub.store.base import Tenant
from scimhub.store.base import TokenRecord
from scimhub.store.base import groups_read_with
from scimhub.store.config_sql import CONFIGURED_TENANTS
from scimhub.store.config_sql import TENANT_SETTINGS
from scimhub.store.config_sql import TOUCH_TOKEN
from scimhub.store.database import Database
from scimhub.store.database import DeadlineExceeded
from scimhub.store.database import Rows
from scimhub.store.database import SqliteDatabase
from scimhub.store.database import Tx
from scimhub.store.filter_sql import compile_filter
from scimhub.store.index_plan import eq_probe
from scimhub.store.members_sql import group_members_snapshot
from scimhub.store.paging import Ordering
from scimhub.store.pg_reads import WITH_GROUPS
from scimhub.store.pg_reads import PgReads
from scimhub.store.positions import PagePositions
from scimhub.store.scans import DEFAULT_QUERY_TIMEOUT_SECONDS
from scimhub.store.scans import INDEXED_ATTRIBUTES
from scimhub.store.scans import ScanTurns
from scimhub.store.scans import query_scans
from scimhub.store.schemas_sql import TenantSchemaStore
from scimhub.store.sort_sql import sort_key
from scimhub.store.sort_sql import sort_nullable
from scimhub.store.tables import RESOURCE_COLUMNS
from scimhub.store.tables import audit_log
from scimhub.store.tables import group_members
from scimhub.store.tables import resource_counts
from scimhub.store.tables import resources
from scimhub.store.tables import server_secrets
from scimhub.store.tables import tenant_event_seq
from scimhub.store.tables import tenant_settings
from scimhub.store.tables import tenants
from scimhub.store.tables import tokens
from scimhub.workload import record_scan

_T = TypeVar("_T")
# Runs a SELECT of the search path in its transaction: rows as sequences, in column order.
Fetch = Callable[[Executable], Awaitable[Rows]]
log = logging.getLogger("scimhub.store")
_CHUNK = 500  # ids per IN (...) list; far below SQLite's bound-parameter limit

# SQLSTATEs of a transaction the database rolled back to resolve a conflict: deadlock_detected,
# serialization_failure.
_RETRYABLE = frozenset({"40P01", "40001"})

# Which unique constraint names which attribute, for the 409 detail.
_UNIQUE_COLUMNS = {"k_user_name": "userName"}

_GROUP = resources.alias("g")
_MEMBER = resources.alias("m")


def _row_to_resource(row: Sequence[Any]) -> StoredResource:
    """A row of RESOURCE_COLUMNS (id, resource_type, doc, created, last_modified, version), and
    the pk when the statement selects it next."""
    return StoredResource.from_json(row[0], row[1], row[2], row[3], row[4], row[5], row[6] if len(row) > 6 else None)


def _fetcher(tx: Tx) -> Fetch:
    async def fetch(stmt: Executable) -> Rows:
        return (await tx.execute(stmt)).all()

    return fetch


def _chunks(items: Sequence[_T]) -> Iterable[Sequence[_T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _value_pairs(keys: IndexKeys) -> list[tuple[str, str]]:
    """The resource_values rows of a resource: (path, comparison key), each once."""
    return [(path, key) for path, values in keys.multi.items() for key in dict.fromkeys(values)]


def _resource_row(tenant_id: str, resource: StoredResource, keys: IndexKeys, doc_keys: bool) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "resource_type": resource.resource_type,
        "id": resource.id,
        "doc": orjson.dumps(resource.doc).decode(),
        # JSON text: the prepared statements bind it straight to asyncpg (jsonb as text)
        "doc_keys": orjson.dumps(keys.comparison_doc()).decode() if doc_keys and keys.comparison_doc else None,
        "created": resource.created,
        "last_modified": resource.last_modified,
        "version": resource.version,
        "active": keys.active,
        "display": keys.display,
        **keys.columns,
    }


class SqlUnitOfWork:
    """One write transaction of one tenant."""

    def __init__(self, tx: Tx, tenant_id: str, db: Database, rules: roles_sql.RuleCache | None = None) -> None:
        self._tx = tx
        self.tx = tx  # for store-internal writes that are not about one tenant
        self._db = db
        self._doc_keys = db.keeps_doc_keys
        self._insert = db.insert
        self._tenant_id = tenant_id
        self._pks: dict[str, int] = {}
        self._stored_keys: dict[str, tuple[str | None, ...]] = {}  # key columns as read for update
        self.roles = roles_sql.Roles(tx, tenant_id, rules or roles_sql.RuleCache(), self._pks)
        self.batch = batch_sql.BatchWrites(tx, tenant_id, self._pks, together=db.name == "postgresql")

    def _where_id(self, resource_type: str, id: str) -> ColumnElement[bool]:
        return and_(
            resources.c.tenant_id == self._tenant_id,
            resources.c.id == id,
            resources.c.resource_type == resource_type,
        )

    async def get_for_update(self, resource_type: str, id: str) -> StoredResource | None:
        found = await self._tx.rows(fw.GET_FOR_UPDATE, w_tenant=self._tenant_id, w_id=id, w_rtype=resource_type)
        if not found:
            return None
        pk, *columns = found[0]
        self._pks[id] = pk
        self._stored_keys[id] = tuple(columns[len(RESOURCE_COLUMNS) :])
        return _row_to_resource((*columns[: len(RESOURCE_COLUMNS)], pk))

    async def insert(self, resource: StoredResource, keys: IndexKeys) -> None:
        row = _resource_row(self._tenant_id, resource, keys, self._doc_keys)
        try:  # a violation fails the whole unit of work, so no savepoint is needed
            pk = await self._tx.insert(fw.INSERT_RESOURCE, **row)
        except Exception as exc:
            if not _unique_violation(exc):
                raise
            raise _uniqueness_error(exc) from None
        self._pks[resource.id] = pk
        await self._insert_values(pk, keys)
        await self._count(resource.resource_type, +1)

    async def insert_many(self, resource_type: str, items: Sequence[tuple[StoredResource, IndexKeys]]) -> list[str]:
        rows = [(_resource_row(self._tenant_id, r, k, self._doc_keys), _value_pairs(k)) for r, k in items]
        try:
            return await self.batch.insert(resource_type, rows)
        except Exception as exc:
            if not _unique_violation(exc):
                raise
            raise _uniqueness_error(exc) from None

    async def update(self, resource: StoredResource, keys: IndexKeys) -> None:
        row = _resource_row(self._tenant_id, resource, keys, self._doc_keys)
        where = {"w_tenant": self._tenant_id, "w_id": resource.id, "w_rtype": resource.resource_type}
        stored_keys = self._stored_keys.get(resource.id)
        if stored_keys is None:  # not read for update here: every key column is set
            changed = fw.KEY_COLUMNS
        else:
            changed = tuple(k for k, old in zip(fw.KEY_COLUMNS, stored_keys, strict=True) if row[k] != old)
        try:
            await self._tx.rows(fw.UPDATE_RESOURCE[changed], **row, **where)
        except Exception as exc:
            if not _unique_violation(exc):
                raise
            raise _uniqueness_error(exc) from None
        pk = await self._pk(resource.resource_type, resource.id)
        # Most updates (a deactivation, a new title) leave emails alone: reading the rows is one
        # index probe, rewriting them dirties a handful of pages in the commit.
        stored = {(path, key) for path, key in await self._tx.rows(fw.VALUES_OF, pk=pk)}
        if stored != {(path, key) for path, key in _value_pairs(keys)}:
            await self._tx.rows(fw.DELETE_VALUES, pk=pk)
            await self._insert_values(pk, keys)

    async def _insert_values(self, pk: int, keys: IndexKeys) -> None:
        rows = [
            {"resource_pk": pk, "tenant_id": self._tenant_id, "path": path, "value_key": key}
            for path, key in _value_pairs(keys)
        ]
        if rows:
            await self._tx.run_many(fw.INSERT_VALUE, rows)

    async def delete(self, resource_type: str, id: str) -> bool:
        where = {"w_tenant": self._tenant_id, "w_id": id, "w_rtype": resource_type}
        deleted = bool(await self._tx.rows(fw.DELETE_RESOURCE, **where))
        if deleted:
            await self._count(resource_type, -1)
        return deleted

    async def _count(self, resource_type: str, delta: int) -> None:
        await self._tx.rows(
            fw.COUNT,
            tenant_id=self._tenant_id,
            resource_type=resource_type,
            count=max(delta, 0),
            delta=delta,
            deleted=max(-delta, 0),
        )

    async def _pk(self, resource_type: str, id: str) -> int:
        if id not in self._pks:
            stmt = select(resources.c.pk).where(self._where_id(resource_type, id))
            self._pks[id] = (await self._tx.execute(stmt)).scalar_one()
        return self._pks[id]

    async def resolve_members(self, ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(ids))
        rows: list[Sequence[Any]] = []
        if len(unique) == 1:  # the one-member change IdPs send: a precompiled statement
            rows += await self._tx.rows(fw.RESOLVE_ONE, tenant=self._tenant_id, id=unique[0])
        else:
            for chunk in _chunks(unique):
                stmt = select(resources.c.id, resources.c.resource_type, resources.c.pk).where(
                    resources.c.tenant_id == self._tenant_id, resources.c.id.in_(chunk)
                )
                rows += (await self._tx.execute(stmt)).all()
        for rid, rtype, pk in rows:
            found[rid] = rtype
            self._pks[rid] = pk
        return found

    async def add_members(self, group_id: str, members: Sequence[MemberRef]) -> list[str]:
        """Insert membership rows; returns the ids that were not members yet (one statement)."""
        group_pk = await self._pk("Group", group_id)
        await self.resolve_members([m.value for m in members if m.value not in self._pks])
        unique = {m.value: m for m in members}
        if not unique:
            return []
        rows = [
            {"tenant_id": self._tenant_id, "group_pk": group_pk, "member_pk": self._pks[m.value], "member_type": m.type}
            for m in unique.values()
        ]
        if len(rows) == 1:
            added = {pk for (pk,) in await self._tx.rows(fw.ADD_MEMBER, **rows[0])}
        else:
            stmt = self._insert(group_members).on_conflict_do_nothing().returning(group_members.c.member_pk)
            added = {row.member_pk for row in await self._tx.execute(stmt, rows)}
        return [i for i in unique if self._pks[i] in added]

    async def remove_members(self, group_id: str, member_ids: Sequence[str]) -> list[str]:
        """Delete membership rows; returns the ids that were members."""
        group_pk = await self._pk("Group", group_id)
        await self.resolve_members([i for i in member_ids if i not in self._pks])
        wanted = {self._pks[i]: i for i in member_ids if i in self._pks}
        removed: list[str] = []
        if len(wanted) == 1:
            (member_pk,) = wanted
            rows = await self._tx.rows(fw.REMOVE_MEMBER, group_pk=group_pk, member_pk=member_pk)
            return [wanted[pk] for (pk,) in rows]
        for chunk in _chunks(list(wanted)):
            stmt = (
                delete(group_members)
                .where(group_members.c.group_pk == group_pk, group_members.c.member_pk.in_(chunk))
                .returning(group_members.c.member_pk)
            )
            removed += [wanted[row.member_pk] for row in await self._tx.execute(stmt)]
        return removed

    async def touch(self, ids: Sequence[str], when: str) -> None:
        """New version and lastModified for resources whose representation changed indirectly
        (a user's ``groups`` when it joins or leaves; a group's ``members`` when a member is deleted)."""
        await self.resolve_members([i for i in ids if i not in self._pks])
        touched = [{"pk": self._pks[i], "when": when} for i in dict.fromkeys(ids) if i in self._pks]
        if touched:
            await self._tx.run_many(fw.TOUCH, touched)

    async def groups_containing(self, member_id: str) -> list[str]:
        member_pk = self._pks.get(member_id)
        if member_pk is None:
            found = await self._tx.rows(fw.RESOLVE_ONE, tenant=self._tenant_id, id=member_id)
            if not found:
                return []
            member_pk = found[0][2]
        rows = await self._tx.rows(fw.GROUPS_OF_MEMBER, member_pk=member_pk)
        self._pks.update((gid, pk) for gid, pk in rows)  # touched next: no second lookup
        return [gid for gid, _ in rows]

    async def member_ids(self, group_id: str) -> list[str]:
        group_pk = await self._pk("Group", group_id)
        stmt = (
            select(resources.c.id)
            .select_from(group_members.join(resources, resources.c.pk == group_members.c.member_pk))
            .where(group_members.c.group_pk == group_pk)
        )
        return list((await self._tx.execute(stmt)).scalars())

    async def clear_members(self, group_id: str) -> list[str]:
        removed = await self.member_ids(group_id)
        group_pk = await self._pk("Group", group_id)
        await self._tx.execute(delete(group_members).where(group_members.c.group_pk == group_pk))
        return removed

    async def append_events(self, drafts: Sequence[EventDraft]) -> list[Event]:
        """Outbox: allocate gapless per-tenant sequence numbers and insert, in this transaction."""
        if not drafts:
            return []
        allocated = await self._tx.rows(fw.NEXT_SEQ, tenant=self._tenant_id, n=len(drafts))
        if not allocated:
            raise RuntimeError(f"tenant {self._tenant_id} has no event counter (run scimhub db upgrade)")
        first = allocated[0][0] - len(drafts) + 1
        committed = [Event(self._tenant_id, first + i, d.id, d.type.value, d.payload()) for i, d in enumerate(drafts)]
        await self._tx.run_many(
            fw.INSERT_EVENT,
            [
                {
                    "tenant_id": self._tenant_id,
                    "seq": e.seq,
                    "id": e.id,
                    "type": e.type,
                    "resource_type": d.resource_type,
                    "resource_id": d.resource_id,
                    "occurred_at": d.occurred_at,
                    "payload": d.payload_text(),
                }
                for e, d in zip(committed, drafts, strict=True)
            ],
        )
        return committed

    async def guard_deprovisions(self, rule: GuardRule, committed: Sequence[Event], now: str) -> Hold | None:
        """The deprovisioning guard on this transaction's events (scimhub.safety)."""
        return await holds_sql.guard_deprovisions(self._tx, self._db, self._tenant_id, rule, committed, now)

    async def record_audit(self, entry: AuditEntry) -> None:
        await self._tx.run_many(fw.INSERT_AUDIT, [audit_row(self._tenant_id, entry)])

    async def record_audits(self, entries: Sequence[AuditEntry]) -> None:
        if entries:
            await self._tx.run_many(fw.INSERT_AUDIT, [audit_row(self._tenant_id, e) for e in entries])

    async def roles_after_write(
        self, resource_type: str, before: StoredResource | None, after: StoredResource, members: Sequence[str]
    ) -> list[RoleChange]:
        return await self.roles.after_write(resource_type, before, after, members)

    async def roles_after_creates(
        self, resource_type: str, created: Sequence[StoredResource]
    ) -> list[list[RoleChange]]:
        return await self.roles.after_creates(resource_type, created)

    async def roles_before_delete(self, resource_type: str, current: StoredResource) -> list[RoleChange]:
        return await self.roles.before_delete(resource_type, current)

    async def role_job_step(self, limit: int, now: str) -> tuple[list[RoleChange], JobStatus | None]:
        return await self.roles.job_step(limit, now)


def audit_row(tenant_id: str, entry: AuditEntry) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "occurred_at": entry.occurred_at,
        "token_id": entry.token_id,
        "method": entry.method,
        "path": entry.path,
        "status": entry.status,
        "resource_type": entry.resource_type,
        "resource_id": entry.resource_id,
        "first_seq": entry.first_seq,
        "last_seq": entry.last_seq,
        "detail": None if entry.detail is None else orjson.dumps(entry.detail).decode(),
    }


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, raised by asyncpg itself or wrapped by SQLAlchemy."""
    code = getattr(exc, "sqlstate", None) or getattr(getattr(exc, "orig", None), "sqlstate", None)
    return code if isinstance(code, str) else None


def _unique_violation(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.IntegrityError | IntegrityError) or _sqlstate(exc) == "23505"


def _uniqueness_error(exc: BaseException) -> Uniqueness:
    text = str(exc.orig if isinstance(exc, IntegrityError) else exc)
    for column, attribute in _UNIQUE_COLUMNS.items():
        if column in text:
            return Uniqueness(f"{attribute} is already in use by another resource of this tenant.")
    return Uniqueness("A unique value is already in use by another resource of this tenant.")


class _UnitOfWorkScope(AbstractAsyncContextManager[SqlUnitOfWork]):
    """``SqlStore.unit_of_work``: a class, not an ``asynccontextmanager`` (every write enters one).
    PostgreSQL aborts one transaction of a lock cycle (deadlock_detected); nothing of it was
    written, so it is ``Busy``: the caller may run the whole unit of work again."""

    __slots__ = ("_store", "_tenant_id", "_write")

    def __init__(self, store: SqlStore, tenant_id: str) -> None:
        self._store = store
        self._tenant_id = tenant_id

    async def __aenter__(self) -> SqlUnitOfWork:
        store = self._store
        self._write = store.db.write()
        try:
            tx = await self._write.__aenter__()
        except Exception as exc:
            if _sqlstate(exc) in _RETRYABLE:
                raise Busy() from exc
            raise
        return store._unit(tx, self._tenant_id, store.db, store.role_rules)

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> bool | None:
        try:
            suppressed = await self._write.__aexit__(exc_type, exc, tb)
        except Exception as raised:
            if _sqlstate(raised) in _RETRYABLE:
                raise Busy() from raised
            raise
        if not suppressed and isinstance(exc, Exception) and _sqlstate(exc) in _RETRYABLE:
            raise Busy() from exc
        return suppressed


class SqlStore:
    """Store on a ``Database`` (SQLite file or PostgreSQL)."""

    def __init__(self, db: Database, query_timeout: float = DEFAULT_QUERY_TIMEOUT_SECONDS) -> None:
        self.db = db
        self.json = db.json
        self.query_timeout = query_timeout  # seconds a scanning query may run (0: no limit)
        self._scan_turns = ScanTurns()
        self._analyzed_rows = 0
        self.positions = PagePositions()
        self.token_changes = 0
        self.role_rules = roles_sql.RuleCache()  # each tenant's role rules at the version last read
        # SQLite: a user's existence check and GET by id bring its groups in the same statement
        # (fast_reads.EQ_PAGE_WITH_GROUPS, RESOURCE_WITH_GROUPS: SQLite's JSON functions).
        self._groups_in_row = db.name == "sqlite"
        # PostgreSQL: hot reads and the unit of work's writes in fewer round trips (pg_reads, pg_unit).
        self._pg_reads: PgReads | None = None
        self._unit: Callable[[Tx, str, Database, roles_sql.RuleCache], SqlUnitOfWork] = SqlUnitOfWork
        if db.name == "postgresql":
            from scimhub.store.pg_unit import PgUnitOfWork  # imports this module

            self._pg_reads = PgReads(db, self.positions)
            self._unit = functools.partial(PgUnitOfWork, written=self._pg_reads.written)

    async def open(self) -> None:
        await self.db.ping()

    async def close(self) -> None:
        await self.db.dispose()

    async def maintain(self) -> None:
        """Refresh the planner's statistics when the data has grown or shrunk a lot, so that
        ``a eq x or b eq y`` stays two index probes (a planner without statistics scans). SQLite
        never gathers them by itself; PostgreSQL's autovacuum may be off or behind a bulk load."""
        async with self.db.read() as tx:
            rows = int((await tx.execute(select(func.sum(resource_counts.c.count)))).scalar() or 0)
        if self._analyzed_rows and 0.5 * self._analyzed_rows <= rows <= 2 * self._analyzed_rows:
            return
        if isinstance(self.db, SqliteDatabase):
            async with self.db.exclusive():
                with self.db.engine.connect() as conn:
                    # analysis_limit keeps ANALYZE to a sample per index: milliseconds at a million rows.
                    conn.exec_driver_sql("PRAGMA analysis_limit=1000")
                    conn.exec_driver_sql("ANALYZE")
                    conn.commit()
        else:
            async with self.db.write() as tx:  # ANALYZE samples (300 x statistics target rows)
                await tx.execute(text("ANALYZE resources, resource_values, group_members"))
        self._analyzed_rows = max(rows, 1)

    async def readiness_problem(self) -> str | None:
        """None when the database answers and is migrated; otherwise what is wrong."""
        try:
            current = await self.db.is_current()
        except (SQLAlchemyError, OSError) as exc:
            return f"database unreachable: {type(exc).__name__}"
        return None if current else "database schema is not at the newest migration (run scimhub db upgrade)"

    def deferring_commits(self) -> AbstractContextManager[Sequence[Awaitable[None]]]:
        return self.db.deferring()

    def unit_of_work(self, tenant_id: str) -> AbstractAsyncContextManager[SqlUnitOfWork]:
        return _UnitOfWorkScope(self, tenant_id)

    async def get(self, tenant_id: str, resource_type: str, id: str) -> StoredResource | None:
        if self._pg_reads is not None and resource_type == WITH_GROUPS:
            return await self._pg_reads.get(tenant_id, resource_type, id)
        if self._groups_in_row and resource_type == WITH_GROUPS:
            found = await self.db.fast(fast.RESOURCE_WITH_GROUPS, tenant=tenant_id, id=id, rtype=resource_type)
            return fast.with_groups(found[0]) if found else None
        found = await self.db.fast(fast.RESOURCE, tenant=tenant_id, id=id, rtype=resource_type)
        if not found:
            return None
        return _row_to_resource(found[0])

    async def search(self, tenant_id: str, query: Query) -> Page:
        if self._pg_reads is not None:
            quick = await self._pg_reads.quick_search(tenant_id, query)
            if quick is not None:
                return quick
        quick = await self._quick_search(tenant_id, query)
        if quick is not None:
            return quick
        if query_scans(query, self.json):
            return await self._scan(tenant_id, query)
        where, ordering = self._conditions(tenant_id, query)
        async with self.db.read() as tx:
            return await self._page(_fetcher(tx), tenant_id, query, where, ordering)

    def _conditions(self, tenant_id: str, query: Query) -> tuple[list[ColumnElement[bool]], Ordering]:
        where = [resources.c.tenant_id == tenant_id, resources.c.resource_type == query.resource_type]
        if query.filter is not None:
            where.append(compile_filter(query.filter, tenant_id, query.resource_type, self.json))
        sort = None if query.sort_by is None else sort_key(query.sort_by, self.json, query.resource_type)
        nullable = query.sort_by is None or sort_nullable(query.sort_by)
        return where, Ordering(sort, query.descending, nullable)

    async def _scan(self, tenant_id: str, query: Query) -> Page:
        """A query no index answers: built, compiled and run off the event loop (a filter of a
        hundred clauses takes tens of milliseconds just to build), one per tenant at a time,
        stopped at the deadline with 400 tooMany (RFC 7644 §3.12: the filter yields more than
        the server is willing to process)."""
        deadline = time.monotonic() + self.query_timeout if self.query_timeout > 0 else None
        started: float | None = None
        try:
            async with self._scan_turns.turn(tenant_id, deadline), self.db.scan(deadline) as tx:
                started = time.monotonic()
                where, ordering = await asyncio.to_thread(self._conditions, tenant_id, query)
                return await self._page(tx.all, tenant_id, query, where, ordering)
        except DeadlineExceeded:
            raise self._stopped(tenant_id, query) from None
        finally:
            if started is not None:
                record_scan(time.monotonic() - started)

    def _stopped(self, tenant_id: str, query: Query) -> TooMany:
        log.warning(
            "query stopped at its deadline",
            extra={"tenant": tenant_id, "detail": f"{query.resource_type} query past {self.query_timeout:g} s"},
        )
        return TooMany(
            f"The query was stopped after {self.query_timeout:g} s: its filter or sortBy is not answered "
            "by an index and reads too many resources. Narrow the filter with an eq on an indexed "
            f"attribute ({INDEXED_ATTRIBUTES})."
        )

    async def _page(
        self, fetch: Fetch, tenant_id: str, query: Query, where: list[ColumnElement[bool]], ordering: Ordering
    ) -> Page:
        total = await self._total(fetch, tenant_id, query, where)
        if query.count <= 0:
            return Page(total, [])
        if query.keyset is None and not query.cursor_mode:
            return Page(total, await self._index_page(fetch, where, ordering, query))
        return await self._keyset_page(fetch, where, ordering, query, total)

    async def _quick_search(self, tenant_id: str, query: Query) -> Page | None:
        """Plain pages, forward cursor pages in creation order and key-column equality (the IdP
        existence check) on precompiled statements."""
        if query.sort_by is not None or query.descending:
            return None
        if query.cursor_mode or query.keyset is not None:
            return await self._quick_cursor_page(tenant_id, query)
        if query.filter is None:
            return await self._quick_plain_page(tenant_id, query)
        probe = eq_probe(query.filter)
        if probe is None:
            return None
        params: dict[str, str | int] = {
            "tenant": tenant_id,
            "rtype": query.resource_type,
            "limit": query.count,
            "offset": query.start_index - 1,
            "key": probe.key,
        }
        read = _row_to_resource
        if probe.value_path is not None:
            page, count = fast.VALUE_EQ_PAGE, fast.VALUE_EQ_COUNT
            params["path"] = probe.value_path
        elif self._groups_in_row and query.resource_type == WITH_GROUPS:  # users with their groups
            page, count = fast.EQ_PAGE_WITH_GROUPS[probe.column], fast.EQ_COUNT[probe.column]  # type: ignore[index]
            read = fast.with_groups
        else:
            page, count = fast.EQ_PAGE[probe.column], fast.EQ_COUNT[probe.column]  # type: ignore[index]
        rows = await self.db.fast(page, **params) if query.count > 0 else []
        if query.count > 0 and query.start_index == 1 and len(rows) < query.count:
            total = len(rows)  # the page holds every match: an existence check needs no COUNT
        else:
            total = int((await self.db.fast(count, **params))[0][0])
        return Page(total, [read(r) for r in rows])

    async def _quick_plain_page(self, tenant_id: str, query: Query) -> Page:
        """A startIndex page of the whole list: a range scan after the pk that ended the previous
        page when this process served it (``PagePositions``), else OFFSET."""
        total, removed = await self._counts(tenant_id, query.resource_type)
        if query.count <= 0 or total == 0:
            return Page(total, [])
        place = (tenant_id, query.resource_type, removed)
        after = self.positions.end_before(place, query.start_index)
        params = {"tenant": tenant_id, "rtype": query.resource_type, "limit": query.count}
        if after is None:
            rows = await self.db.fast(fast.PAGE, **params, offset=query.start_index - 1)
        else:
            rows = await self.db.fast(fast.PAGE_AFTER, **params, after=after, offset=0)
        if len(rows) == query.count:
            self.positions.remember(place, query.start_index + len(rows), rows[-1][-1])
        return Page(total, [_row_to_resource(r) for r in rows])

    async def _quick_cursor_page(self, tenant_id: str, query: Query) -> Page | None:
        key = query.keyset
        if query.filter is not None or (key is not None and key.before) or query.count <= 0:
            return None
        total, _ = await self._counts(tenant_id, query.resource_type)
        after = 0 if key is None else key.pk  # pks start at 1
        rows = await self.db.fast(
            fast.PAGE_AFTER, tenant=tenant_id, rtype=query.resource_type, after=after, limit=query.count + 1, offset=0
        )
        page = [_row_to_resource(r) for r in rows[: query.count]]
        if not page:
            return Page(total, [], more_before=key is not None)
        first, last = Keyset(None, rows[0][-1]), Keyset(None, rows[len(page) - 1][-1])
        return Page(total, page, first, last, more_after=len(rows) > query.count, more_before=key is not None)

    async def _counts(self, tenant_id: str, resource_type: str) -> tuple[int, int]:
        """(resources of the type, deletions ever made): one row of resource_counts."""
        counted = await self.db.fast(fast.COUNT, tenant=tenant_id, rtype=resource_type)
        return (int(counted[0][0]), int(counted[0][1])) if counted else (0, 0)

    @staticmethod
    async def _total(fetch: Fetch, tenant_id: str, query: Query, where: list[ColumnElement[bool]]) -> int:
        if query.filter is None:  # kept exact in the write transaction: one row, not a count
            stmt = select(resource_counts.c.count).where(
                resource_counts.c.tenant_id == tenant_id, resource_counts.c.resource_type == query.resource_type
            )
            rows = await fetch(stmt)
            return int(rows[0][0]) if rows else 0
        return int((await fetch(select(func.count()).select_from(resources).where(*where)))[0][0])

    @staticmethod
    async def _index_page(
        fetch: Fetch, where: list[ColumnElement[bool]], ordering: Ordering, query: Query
    ) -> list[StoredResource]:
        stmt = (
            select(*RESOURCE_COLUMNS)
            .where(*where)
            .order_by(*ordering.order_by())
            .offset(query.start_index - 1)
            .limit(query.count)
        )
        return [_row_to_resource(r) for r in await fetch(stmt)]

    @staticmethod
    async def _keyset_page(
        fetch: Fetch, where: list[ColumnElement[bool]], ordering: Ordering, query: Query, total: int
    ) -> Page:
        key = query.keyset
        backwards = key is not None and key.before
        conditions = [*where, ordering.beyond(key)] if key is not None else where
        sort_column = (ordering.sort if ordering.sort is not None else literal(None)).label("sort_value")
        stmt = (
            select(*RESOURCE_COLUMNS, resources.c.pk, sort_column)
            .where(*conditions)
            .order_by(*ordering.order_by(reverse=backwards))
            .limit(query.count + 1)
        )
        rows = list(await fetch(stmt))
        more = len(rows) > query.count
        rows = rows[: query.count]
        if backwards:
            rows.reverse()
        if not rows:
            return Page(total, [], more_before=key is not None and not backwards)
        # (…RESOURCE_COLUMNS, pk, sort_value): rows may be plain tuples (a scan runs on the driver)
        first, last = (Keyset(r[-1], r[-2]) for r in (rows[0], rows[-1]))
        return Page(
            total,
            [_row_to_resource(r) for r in rows],
            first,
            last,
            more_after=more if not backwards else True,
            more_before=more if backwards else key is not None,
        )

    async def members(self, tenant_id: str, group_ids: Sequence[str]) -> dict[str, list[MemberRef]]:
        found: dict[str, list[MemberRef]] = {gid: [] for gid in group_ids}
        async with self.db.read() as tx:
            for chunk in _chunks(list(group_ids)):
                stmt = (
                    select(
                        _GROUP.c.id.label("gid"),
                        _MEMBER.c.id.label("mid"),
                        group_members.c.member_type,
                        _MEMBER.c.display,
                    )
                    .select_from(
                        group_members.join(_GROUP, _GROUP.c.pk == group_members.c.group_pk).join(
                            _MEMBER, _MEMBER.c.pk == group_members.c.member_pk
                        )
                    )
                    .where(_GROUP.c.tenant_id == tenant_id, _GROUP.c.id.in_(chunk))
                    .order_by(group_members.c.group_pk, group_members.c.member_pk)
                )
                for row in await tx.execute(stmt):
                    found[row.gid].append(MemberRef(row.mid, row.member_type, row.display))
        return found

    def group_members(
        self, tenant_id: str, resource_type: str, id: str, chunk: int
    ) -> AbstractAsyncContextManager[GroupMembers | None]:
        return group_members_snapshot(self.db, tenant_id, resource_type, id, chunk)

    async def groups_of(self, tenant_id: str, members: Sequence[StoredResource]) -> dict[str, list[MemberRef]]:
        """By the members' pks when they were read with them (the memberships index, no lookup of
        each id), else by tenant and id; no query when they were read with their groups (pg_reads)."""
        read = groups_read_with(members) if self._pg_reads is None else self._pg_reads.groups_read_with(members)
        if read is not None:
            return read
        if len(members) == 1:  # a GET by id or an existence check: the hot case
            one = members[0]
            if one.pk is not None:
                rows = await self.db.fast(fast.GROUPS_OF_PK, pk=one.pk)
            else:
                rows = await self.db.fast(fast.GROUPS_OF_ONE, tenant=tenant_id, id=one.id)
            return {one.id: [MemberRef(gid, "direct", display) for gid, display in rows]}
        pks = [m.pk for m in members]
        if None not in pks:
            rows = await self.db.fast(fast.GROUPS_OF_PKS, pks=orjson.dumps(pks).decode())
            if not rows:
                return {}  # most pages: nobody on it is in a group (a missing id means none)
            ids = {m.pk: m.id for m in members}
            by_pk: dict[str, list[MemberRef]] = {}
            for pk, gid, display in rows:
                by_pk.setdefault(ids[pk], []).append(MemberRef(gid, "direct", display))
            return by_pk
        found: dict[str, list[MemberRef]] = {m.id: [] for m in members}
        listed = orjson.dumps([m.id for m in members]).decode()
        for mid, gid, display in await self.db.fast(fast.GROUPS_OF_MANY, tenant=tenant_id, ids=listed):
            found[mid].append(MemberRef(gid, "direct", display))
        return found

    async def append_audit(self, tenant_id: str, entry: AuditEntry) -> None:
        """An audit entry in a transaction of its own (a refused write has no unit of work)."""
        async with self.db.write() as tx:
            await tx.execute(insert(audit_log), [audit_row(tenant_id, entry)])

    async def server_secret(self, name: str) -> bytes:
        """A random secret shared through the database, created on first use."""
        stmt = select(server_secrets.c.value).where(server_secrets.c.name == name)
        async with self.db.read() as tx:
            value = (await tx.execute(stmt)).scalar()
        if value is None:
            # Two processes creating it at once cannot both win: the insert does nothing on a
            # conflict and both read back the row that committed first.
            async with self.db.write() as tx:
                await tx.execute(
                    self.db.insert(server_secrets).on_conflict_do_nothing(),
                    {"name": name, "value": secrets.token_hex(32)},
                )
                value = (await tx.execute(stmt)).scalar_one()
        return bytes.fromhex(value)

    async def roles_of_users(self, tenant_id: str, user_pks: Sequence[int]) -> dict[int, list[str]]:
        async with self.db.read() as tx:
            return await roles_sql.roles_of_users(tx, tenant_id, user_pks)

    async def tenant_settings(self, tenant_id: str) -> dict[str, str]:
        return {key: value for key, value in await self.db.fast(TENANT_SETTINGS, tenant_id=tenant_id)}

    async def configured_tenants(self, limit: int) -> set[str] | None:
        found = await self.db.fast(CONFIGURED_TENANTS, limit=limit + 1, skip=0)
        return None if len(found) > limit else {tenant_id for (tenant_id,) in found}

    async def set_tenant_setting(self, tenant_id: str, key: str, value: str | None) -> None:
        """Set (or, with None, remove) one tenant setting."""
        async with self.db.write() as tx:
            await tx.execute(
                delete(tenant_settings).where(tenant_settings.c.tenant_id == tenant_id, tenant_settings.c.key == key)
            )
            if value is not None:
                await tx.execute(insert(tenant_settings).values(tenant_id=tenant_id, key=key, value=value))

    async def declared_schemas(self, tenant_id: str) -> list[DeclaredSchema]:
        return await TenantSchemaStore(self.db).declared(tenant_id)

    async def create_tenant(self, tenant: Tenant) -> None:
        async with self.db.write() as tx:
            await tx.execute(insert(tenants).values(id=tenant.id, name=tenant.name, created_at=tenant.created_at))
            await tx.execute(insert(tenant_event_seq).values(tenant_id=tenant.id, last_seq=0))
            # Made here, not by the tenant's first write (which took an insert and a second read).
            await tx.rows(roles_sql.NEW_STATE, tenant=tenant.id)

    async def tenant_by_name(self, name: str) -> Tenant | None:
        async with self.db.read() as tx:
            row = (await tx.execute(select(tenants).where(tenants.c.name == name))).first()
        return None if row is None else Tenant(row.id, row.name, row.created_at)

    async def list_tenants(self) -> list[Tenant]:
        async with self.db.read() as tx:
            rows = (await tx.execute(select(tenants).order_by(tenants.c.name))).all()
        return [Tenant(r.id, r.name, r.created_at) for r in rows]

    async def rename_tenant(self, tenant_id: str, name: str) -> bool:
        try:
            async with self.db.write() as tx:
                return bool((await tx.execute(tenant_sql.rename(tenant_id, name))).rowcount)
        except IntegrityError:  # another process took the name since the caller looked
            raise Conflict(f"Tenant {name!r} already exists.") from None

    async def pending_deliveries(self, tenant_id: str, now: str) -> list[PendingDelivery]:
        async with self.db.read() as tx:
            return await tenant_sql.pending_deliveries(tx, tenant_id, now)

    async def delete_tenant_rows(self, tenant_id: str, limit: int) -> tuple[str, int] | None:
        async with self.db.write() as tx:
            step = await tenant_sql.delete_rows(tx, tenant_id, limit)
        if step is not None and step[0] == "tokens":
            self.token_changes += 1  # a token cache on this store refuses them at once
        return step

    async def delete_tenant(self, tenant_id: str) -> None:
        async with self.db.write() as tx:
            await tenant_sql.delete_tenant(tx, tenant_id)

    async def add_token(self, token: TokenRecord, digest: str) -> None:
        async with self.db.write() as tx:
            await tx.execute(
                insert(tokens).values(
                    id=token.id,
                    tenant_id=token.tenant_id,
                    prefix=token.prefix,
                    digest=digest,
                    created_at=token.created_at,
                    expires_at=token.expires_at,
                )
            )

    async def token_by_digest(self, digest: str) -> TokenRecord | None:
        found = await self.db.fast(fast.TOKEN, digest=digest)
        return TokenRecord(*found[0]) if found else None

    async def token_change_count(self) -> int | None:
        found = await self.db.fast(fast.TOKEN_CHANGES)
        return int(found[0][0]) if found else None

    async def list_tokens(self, tenant_id: str) -> list[TokenRecord]:
        async with self.db.read() as tx:
            rows = (
                await tx.execute(select(tokens).where(tokens.c.tenant_id == tenant_id).order_by(tokens.c.created_at))
            ).all()
        return [_token(r) for r in rows]

    async def revoke_token(self, token_id: str, when: str) -> bool:
        async with self.db.write() as tx:
            result = await tx.execute(
                update(tokens).where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None)).values(revoked_at=when)
            )
        self.token_changes += 1
        return bool(result.rowcount)

    async def token_by_id(self, token_id: str) -> TokenRecord | None:
        async with self.db.read() as tx:
            row = (await tx.execute(select(tokens).where(tokens.c.id == token_id))).first()
        return None if row is None else _token(row)

    async def set_token_expiry(self, token_id: str, when: str) -> None:
        async with self.db.write() as tx:
            await tx.execute(update(tokens).where(tokens.c.id == token_id).values(expires_at=when))
        self.token_changes += 1

    async def touch_token(self, token_id: str, when: str) -> None:
        await self.touch_tokens([(token_id, when)])

    async def touch_tokens(self, touches: Sequence[tuple[str, str]]) -> None:
        async with self.db.write() as tx:
            await tx.run_many(TOUCH_TOKEN, [{"token_id": token_id, "when": when} for token_id, when in touches])


def _token(row: Row[*tuple[Any, ...]]) -> TokenRecord:
    return TokenRecord(
        id=row.id,
        tenant_id=row.tenant_id,
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )
