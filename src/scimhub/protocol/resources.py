"""ResourceService: create / get / replace / patch / delete of SCIM resources (RFC 7644 §3.3-§3.6).

Sans-I/O orchestration: validation, PATCH application and rendering are pure
functions; storage is reached only through the ``Store`` protocol, inside one unit of
work per write, and the clock and id factory are injected.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import random
import time
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from dataclasses import replace
from typing import Any
from typing import Concatenate
from typing import ParamSpec
from typing import TypeVar

import orjson

from scimhub.directory.roles import RoleChange
from scimhub.errors import Busy
from scimhub.errors import InvalidValue
from scimhub.errors import NotFound
from scimhub.errors import ScimError
from scimhub.events.model import ACTIVE_ATTRIBUTE
from scimhub.events.model import Change
from scimhub.events.model import Event
from scimhub.events.model import EventDraft
from scimhub.events.model import EventType
from scimhub.events.model import activity_transition
from scimhub.events.model import created_changes
from scimhub.events.model import diff_documents
from scimhub.patch.apply import MemberOp
from scimhub.patch.apply import apply_patch
from scimhub.patch.model import parse_patch_request
from scimhub.protocol.context import RequestContext
from scimhub.protocol.etag import check_if_match
from scimhub.protocol.render import location
from scimhub.protocol.render import render
from scimhub.protocol.render import render_page_json
from scimhub.protocol.render import splices
from scimhub.protocol.role_events import roles_changed_drafts
from scimhub.schema.model import JsonDoc
from scimhub.schema.model import ResourceType
from scimhub.schema.project import DEFAULT_PROJECTION
from scimhub.schema.project import Projection
from scimhub.schema.project import project
from scimhub.schema.registry import SchemaRegistry
from scimhub.schema.relations import member_of_attribute
from scimhub.schema.relations import members_attribute
from scimhub.schema.validate import Context
from scimhub.schema.validate import validate_resource
from scimhub.store.base import AuditEntry
from scimhub.store.base import MemberRef
from scimhub.store.base import Store
from scimhub.store.base import StoredResource
from scimhub.store.base import UnitOfWork
from scimhub.store.base import audit_detail
from scimhub.store.index_plan import index_keys
from scimhub.timestamps import utc_now

# RFC 9562 §5.4 variant bits: the first hex digit of the fourth group is 8, 9, a or b.
_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}


def new_id() -> str:
    """A version 7 UUID (RFC 9562 §5.7) as text: the Unix time in milliseconds, then 74 random
    bits. Ids made in order sort in order, so a new resource's entry in the id index lands on its
    last page rather than on a random one (a random id rewrites a different page for each insert:
    ~5 µs more per created resource at 10,000 users, bench/README.md "Bulk, round 4"). The id
    discloses only its creation time, which ``meta.created`` already shows."""
    return uuid7(time.time_ns() // 1_000_000, os.urandom(10))


def uuid7(milliseconds: int, random_bytes: bytes) -> str:
    """The text of the version 7 UUID of this time and 74 of these 10 bytes' 80 bits (the version and
    variant take the rest; a quarter of the time ``str(uuid.UUID(...))`` takes)."""
    h = f"{milliseconds:012x}{random_bytes.hex()}"
    return f"{h[:8]}-{h[8:12]}-7{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


@functools.cache
def _event_type(resource_type: str, kind: str) -> EventType:
    """``user.created`` and the like: an enum's lookup by value costs ~0.4 µs, a write makes one."""
    return EventType(f"{resource_type.lower()}.{kind}")


@dataclass(frozen=True, slots=True)
class ResourceResult:
    """What an endpoint sends back: the projected document and its version."""

    doc: JsonDoc
    version: int
    location: str
    status: int = 200  # 204: the write is acknowledged without a body (``doc`` is empty)
    ignored: tuple[str, ...] = ()  # unknown attribute names the write ignored (request log, audit)


@dataclass(frozen=True, slots=True)
class Deferred:
    """The writes run in ``ResourceService.deferring``: what each one's durability awaits, and the
    events each would have announced after its commit (one list per write), both in order."""

    commits: Sequence[Awaitable[None]]
    events: list[list[Event]]


P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger("scimhub.audit")
safety_log = logging.getLogger("scimhub.safety")
# The events of the writes of a ``deferring`` context: announced once they are durable.
_held_events: ContextVar[list[list[Event]] | None] = ContextVar("scimhub_held_events", default=None)


_BUSY_ATTEMPTS = 4  # a deadlock victim's unit of work runs again this many times at most


def _audit_failures(
    method: Callable[Concatenate[ResourceService, RequestContext, ResourceType, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[ResourceService, RequestContext, ResourceType, P], Coroutine[Any, Any, T]]:
    """A refused write changes nothing and emits no event, but the audit log records the attempt
    and its result (who tried what, and why it failed). A write the database rolled back to break
    a lock cycle (``Busy``) is run again first."""

    @functools.wraps(method)
    async def wrapper(
        self: ResourceService, ctx: RequestContext, rtype: ResourceType, /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        try:
            for attempt in range(1, _BUSY_ATTEMPTS + 1):
                try:
                    return await method(self, ctx, rtype, *args, **kwargs)
                except Busy:  # rolled back whole: running it again is safe
                    if attempt == _BUSY_ATTEMPTS:
                        raise
                    await asyncio.sleep(random.uniform(0, 0.01 * attempt))  # noqa: S311 - jitter
            raise AssertionError("unreachable")
        except ScimError as exc:
            target = args[0] if method.__name__ != "create" and args and isinstance(args[0], str) else None
            await self._audit_failure(ctx, rtype, target, exc)
            raise

    return wrapper


class ResourceService:
    def __init__(
        self,
        store: Store,
        registry: SchemaRegistry,
        *,
        clock: Callable[[], str] = utc_now,
        ids: Callable[[], str] = new_id,
        on_commit: Callable[[list[Event]], Awaitable[None]] | None = None,
    ) -> None:
        self.on_commit = on_commit
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
        related: dict[str, list[MemberRef]] | None = None,
        rendered: JsonDoc | None = None,
    ) -> list[ResourceResult]:
        """Render and project resources, loading members/groups only when projected (and not
        already known: ``related``). ``rendered``: the one item already rendered without them
        (a write's, for its events), used as it is when it has none."""
        if related is None:
            related = await self._related(ctx, rtype, items, projection)
        common = self.registry.common
        results = []
        for stored in items:
            refs = related.get(stored.id)
            if rendered is not None and not refs:
                full = rendered
            else:
                full = render(stored, rtype, self.registry, ctx.base_url, refs)
            results.append(
                ResourceResult(project(full, rtype, common, projection), stored.version, full["meta"]["location"])
            )
        return results

    async def render_list(
        self, ctx: RequestContext, rtype: ResourceType, items: Sequence[StoredResource], projection: Projection
    ) -> list[JsonDoc | orjson.Fragment]:
        """The ``Resources`` of a list response: in the default projection each one is spliced onto
        its stored JSON text (``render_json``), otherwise rendered and projected like ``render_many``."""
        if not splices(projection, rtype):
            return [r.doc for r in await self.render_many(ctx, rtype, items, projection)]
        related = await self._related(ctx, rtype, items, projection)
        return render_page_json(items, rtype, self.registry, ctx.base_url, related)

    async def _related(
        self, ctx: RequestContext, rtype: ResourceType, items: Sequence[StoredResource], projection: Projection
    ) -> dict[str, list[MemberRef]]:
        members = members_attribute(rtype)
        if members and projection.includes(rtype.schema.attribute(members)):  # type: ignore[arg-type]
            return await self.store.members(ctx.tenant_id, [s.id for s in items])
        member_of = member_of_attribute(rtype)
        if member_of and projection.includes(rtype.schema.attribute(member_of)):  # type: ignore[arg-type]
            return await self.store.groups_of(ctx.tenant_id, items)
        return {}

    # -- writes ----------------------------------------------------------------
    @_audit_failures
    async def create(
        self, ctx: RequestContext, rtype: ResourceType, body: Any, projection: Projection | None
    ) -> ResourceResult:
        """RFC 7644 §3.3. ``projection`` None: the result carries no document (a bulk operation's)."""
        ignored: list[str] = []
        doc = self._validate(ctx, rtype, body, Context.CREATE, ignored=ignored)
        members = _pop_members(doc, rtype)
        _check_member_count(len(members or ()), ctx)
        now = self.clock()
        stored = StoredResource(self.ids(), rtype.id, doc, now, now, 1)
        delta = MemberDelta()
        async with self.store.unit_of_work(ctx.tenant_id) as uow:
            await uow.insert(stored, index_keys(doc, rtype, self.registry.common))
            if members:
                delta.add(await uow.add_members(stored.id, await _resolve_members(uow, members, stored.id)))
                await uow.touch(list(delta.added), now)
            rendered = self._rendered(ctx, rtype, stored)
            drafts = self._drafts(ctx, rtype, None, stored, delta, now, rendered)
            drafts += self._roles(ctx, await uow.roles_after_write(rtype.id, None, stored, list(delta.added)))
            events = await self._commit_log(uow, ctx, rtype, stored.id, 201, drafts, now, ignored)
        await self._committed(events)
        if projection is None:
            return _with_ignored(_bodiless(ctx, rtype, stored), ignored)
        # A resource created just now belongs to no group yet: its `groups` need no query.
        known: dict[str, list[MemberRef]] | None = None
        if member_of_attribute(rtype) and not members_attribute(rtype):
            known = {}
        result = await self.render_many(ctx, rtype, [stored], projection, known, rendered)
        return _with_ignored(result[0], ignored)

    @_audit_failures
    async def replace(
        self,
        ctx: RequestContext,
        rtype: ResourceType,
        id: str,
        body: Any,
        projection: Projection | None,
        if_match: str | None = None,
    ) -> ResourceResult:
        """RFC 7644 §3.5.1: full replace; readOnly ignored, immutable must not change."""
        delta, ignored = MemberDelta(), list[str]()
        async with self.store.unit_of_work(ctx.tenant_id) as uow:
            current = await _current(uow, rtype, id, if_match)
            doc = self._validate(ctx, rtype, body, Context.REPLACE, current.doc, ignored)
            members = _pop_members(doc, rtype)
            _check_member_count(len(members or ()), ctx)
            if members_attribute(rtype):
                await _replace_members(uow, id, await _resolve_members(uow, members or [], id), delta)
            stored, events, rendered = await self._finish_update(uow, ctx, rtype, current, doc, delta, ignored)
        await self._committed(events)
        if projection is None:
            return _with_ignored(_bodiless(ctx, rtype, stored), ignored)
        return _with_ignored((await self.render_many(ctx, rtype, [stored], projection, None, rendered))[0], ignored)

    @_audit_failures
    async def patch(
        self,
        ctx: RequestContext,
        rtype: ResourceType,
        id: str,
        body: Any,
        projection: Projection | None,
        if_match: str | None = None,
    ) -> ResourceResult:
        """RFC 7644 §3.5.2: all operations apply, or none. The answer is 200 with the resource
        (subject to ``attributes`` / ``excludedAttributes``), or 204 for a resource type with
        members when the request asks for no attributes: the entire group would list every member
        (O(group size) for a one-member change), and Okta and Entra both accept 204."""
        operations = parse_patch_request(body, ctx.limits.max_patch_operations)
        _check_member_count(sum(_value_count(op.value) for op in operations), ctx)
        default = projection is None or projection == DEFAULT_PROJECTION
        status = 204 if members_attribute(rtype) is not None and default else 200
        delta = MemberDelta()
        async with self.store.unit_of_work(ctx.tenant_id) as uow:
            current = await _current(uow, rtype, id, if_match)
            result = apply_patch(current.doc, operations, rtype, self.registry.common, ctx.policy, ctx.limits)
            ignored = list(result.ignored)
            doc = self._validate(ctx, rtype, result.doc, Context.PATCH, current.doc, ignored)
            await _apply_member_changes(uow, id, result.members, delta)
            stored, events, rendered = await self._finish_update(uow, ctx, rtype, current, doc, delta, ignored, status)
        await self._committed(events)
        if status == 204 or projection is None:
            return _with_ignored(_bodiless(ctx, rtype, stored, status), ignored)
        return _with_ignored((await self.render_many(ctx, rtype, [stored], projection, None, rendered))[0], ignored)

    @_audit_failures
    async def delete(self, ctx: RequestContext, rtype: ResourceType, id: str, if_match: str | None = None) -> None:
        """RFC 7644 §3.6: memberships go with the resource (ON DELETE CASCADE); history stays."""
        async with self.store.unit_of_work(ctx.tenant_id) as uow:
            current = await _current(uow, rtype, id, if_match)
            # A deleted member leaves its groups: say so, so that apps revoke group access too.
            left = await uow.groups_containing(id)
            roles = await uow.roles_before_delete(rtype.id, current)
            await uow.delete(rtype.id, id)
            now = self.clock()
            await uow.touch(left, now)
            drafts = [self._draft(ctx, rtype, current, "deleted", diff_documents(current.doc, {}), now)]
            drafts += [self._member_removed(ctx, group_id, id, now) for group_id in left] + self._roles(ctx, roles)
            events = await self._commit_log(uow, ctx, rtype, id, 204, drafts, now)
        await self._committed(events)

    def _validate(
        self,
        ctx: RequestContext,
        rtype: ResourceType,
        body: Any,
        context: Context,
        existing: JsonDoc | None = None,
        ignored: list[str] | None = None,
    ) -> JsonDoc:
        return validate_resource(
            body,
            rtype,
            self.registry.common,
            context,
            ctx.policy,
            existing=existing,
            max_string_length=ctx.limits.max_string_length,
            max_values_per_attribute=ctx.limits.max_values_per_attribute,
            max_resource_bytes=ctx.limits.max_resource_bytes,
            ignored=ignored,
        )

    async def _finish_update(
        self,
        uow: UnitOfWork,
        ctx: RequestContext,
        rtype: ResourceType,
        current: StoredResource,
        doc: JsonDoc,
        delta: MemberDelta,
        ignored: list[str],
        status: int = 200,
    ) -> tuple[StoredResource, list[Event], JsonDoc | None]:
        """Write the new state (if it changed) with its events and audit entry (PUT and PATCH);
        the new state rendered when an event carries it (the response reuses it)."""
        now = self.clock()
        stored = await self._save(uow, rtype, current, doc, delta, now)
        if delta:  # the members' `groups` changed too (RFC 7644 §3.14: their ETags must move)
            await uow.touch([*delta.added, *delta.removed], stored.last_modified)
        rendered = self._rendered(ctx, rtype, stored) if stored is not current else None
        drafts = self._drafts(ctx, rtype, current, stored, delta, now, rendered)
        drafts += self._roles(
            ctx, await uow.roles_after_write(rtype.id, current, stored, [*delta.added, *delta.removed])
        )
        return stored, await self._commit_log(uow, ctx, rtype, current.id, status, drafts, now, ignored), rendered

    async def _save(
        self,
        uow: UnitOfWork,
        rtype: ResourceType,
        current: StoredResource,
        doc: JsonDoc,
        delta: MemberDelta,
        now: str,
    ) -> StoredResource:
        # An unchanged result keeps meta.version and lastModified (RFC 7644 §3.14).
        if doc == current.doc and not delta:
            return current
        version = current.version + 1
        stored = StoredResource(current.id, rtype.id, doc, current.created, now, version, current.pk)
        await uow.update(stored, index_keys(doc, rtype, self.registry.common))
        return stored

    # -- events and audit -------------------------------------------------------
    def _drafts(
        self,
        ctx: RequestContext,
        rtype: ResourceType,
        before: StoredResource | None,
        after: StoredResource,
        delta: MemberDelta,
        now: str,
        rendered: JsonDoc | None,
    ) -> list[EventDraft]:
        """The events of one write: created/updated, (de)activation, member changes. Each carries
        the resource as ``rendered`` (one rendering a write, shared with its response)."""
        drafts: list[EventDraft] = []
        changes = diff_documents(before.doc, after.doc) if before else created_changes(after.doc)
        if before is None:
            drafts.append(self._draft(ctx, rtype, after, "created", changes, now, rendered))
        elif changes:
            has_active = rtype.schema.attribute(ACTIVE_ATTRIBUTE) is not None
            transition = activity_transition(before.doc, after.doc) if has_active else None
            if transition is not None:
                active = tuple(c for c in changes if c.path == ACTIVE_ATTRIBUTE)
                drafts.append(self._draft(ctx, rtype, after, transition.value.split(".")[1], active, now, rendered))
                changes = tuple(c for c in changes if c.path != ACTIVE_ATTRIBUTE)
            if changes:
                drafts.append(self._draft(ctx, rtype, after, "updated", changes, now, rendered))
        if delta.added:
            drafts.append(self._draft(ctx, rtype, after, "member_added", (), now, rendered, tuple(delta.added)))
        if delta.removed:
            drafts.append(self._draft(ctx, rtype, after, "member_removed", (), now, rendered, tuple(delta.removed)))
        return drafts

    def _rendered(self, ctx: RequestContext, rtype: ResourceType, stored: StoredResource) -> JsonDoc:
        """The resource as its events carry it: rendered without members or groups."""
        return render(stored, rtype, self.registry, ctx.base_url)

    def _draft(
        self,
        ctx: RequestContext,
        rtype: ResourceType,
        stored: StoredResource,
        kind: str,
        changes: tuple[Change, ...],
        now: str,
        rendered: JsonDoc | None = None,
        members: tuple[str, ...] = (),
    ) -> EventDraft:
        resource = None
        if kind != "deleted":
            resource = rendered if rendered is not None else self._rendered(ctx, rtype, stored)
        return EventDraft(
            id=self.ids(),
            type=_event_type(rtype.id, kind),
            resource_type=rtype.id,
            resource_id=stored.id,
            occurred_at=now,
            token_id=ctx.principal.token_id,
            changes=changes,
            resource=resource,
            members=members,
            method=ctx.method,
        )

    def _roles(self, ctx: RequestContext, changes: list[RoleChange]) -> list[EventDraft]:
        return roles_changed_drafts(changes, self.ids, self.clock, ctx.principal.token_id, ctx.method)

    def _member_removed(self, ctx: RequestContext, group_id: str, member_id: str, now: str) -> EventDraft:
        return EventDraft(
            id=self.ids(),
            type=EventType.GROUP_MEMBER_REMOVED,
            resource_type="Group",
            resource_id=group_id,
            occurred_at=now,
            token_id=ctx.principal.token_id,
            members=(member_id,),
            method=ctx.method,
        )

    async def _commit_log(
        self,
        uow: UnitOfWork,
        ctx: RequestContext,
        rtype: ResourceType,
        id: str,
        status: int,
        drafts: list[EventDraft],
        now: str,
        ignored: list[str] | None = None,
    ) -> list[Event]:
        """Append the events and the audit entry inside the write transaction (one clock reading
        a write: its lastModified, its events' and its audit entry's time)."""
        if len(drafts) > 1:  # one write, one txn (RFC 9967 §2.2): the first event's id
            drafts = [replace(d, txn=drafts[0].id) for d in drafts]
        events = await uow.append_events(drafts)
        if ctx.guard is not None and events:  # off (None) costs nothing on the hot paths
            await self._guard(uow, ctx, events)
        await uow.record_audit(
            AuditEntry(
                occurred_at=now,
                token_id=ctx.principal.token_id,
                method=ctx.method,
                path=ctx.path,
                status=status,
                resource_type=rtype.id,
                resource_id=id,
                first_seq=events[0].seq if events else None,
                last_seq=events[-1].seq if events else None,
                detail=audit_detail([e.type for e in events], ignored=ignored or ()),
            )
        )
        return events

    async def _guard(self, uow: UnitOfWork, ctx: RequestContext, events: list[Event]) -> None:
        assert ctx.guard is not None
        hold = await uow.guard_deprovisions(ctx.guard, events, self.clock())
        if hold is not None:
            safety_log.warning(
                "tenant %s: event stream held from seq %s: %s; review with `scimhub tenant held`, "
                "then `scimhub tenant release`",
                ctx.tenant_id,
                hold.from_seq,
                hold.reason,
            )

    def _refused_entry(self, ctx: RequestContext, rtype: ResourceType, id: str | None, exc: ScimError) -> AuditEntry:
        """The audit entry of a write refused with ``exc``: nothing written, no events."""
        return AuditEntry(
            occurred_at=self.clock(),
            token_id=ctx.principal.token_id,
            method=ctx.method,
            path=ctx.path,
            status=exc.status,
            resource_type=rtype.id,
            resource_id=id,
            detail=audit_detail((), exc.detail, exc.scim_type),
        )

    async def _audit_failure(self, ctx: RequestContext, rtype: ResourceType, id: str | None, exc: ScimError) -> None:
        entry = self._refused_entry(ctx, rtype, id, exc)
        try:
            await self.store.append_audit(ctx.tenant_id, entry)
        except Exception:  # the client must get its SCIM error even if auditing fails
            log.exception("could not audit a failed %s %s", ctx.method, ctx.path)

    async def _committed(self, events: list[Event]) -> None:
        held = _held_events.get()
        if held is not None:
            held.append(events)
        else:
            await self.committed(events)

    async def committed(self, events: list[Event]) -> None:
        """What follows a durable write: wake the webhook worker, run the in-process hooks."""
        if events and self.on_commit is not None:
            await self.on_commit(events)

    @contextmanager
    def deferring(self) -> Iterator[Deferred]:
        """Writes in this context return once their unit of work ran, before it is durable, and
        announce nothing: the caller (a bulk request) awaits ``commits``, then calls ``committed``
        with the events of each write that is durable. Consecutive writes share commits."""
        with self.store.deferring_commits() as commits:
            events: list[list[Event]] = []
            token = _held_events.set(events)
            try:
                yield Deferred(commits, events)
            finally:
                _held_events.reset(token)


def _with_ignored(result: ResourceResult, ignored: list[str]) -> ResourceResult:
    return dataclasses.replace(result, ignored=tuple(ignored)) if ignored else result


class MemberDelta:
    """Net membership change of one request (a remove then re-add of the same id cancels out)."""

    def __init__(self) -> None:
        self.added: dict[str, None] = {}
        self.removed: dict[str, None] = {}

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)

    def add(self, ids: Sequence[str]) -> None:
        for i in ids:
            if i in self.removed:
                del self.removed[i]
            else:
                self.added[i] = None

    def remove(self, ids: Sequence[str]) -> None:
        for i in ids:
            if i in self.added:
                del self.added[i]
            else:
                self.removed[i] = None


def _bodiless(ctx: RequestContext, rtype: ResourceType, stored: StoredResource, status: int = 200) -> ResourceResult:
    """A write's result without its document: a Group PATCH's 204, a bulk operation's."""
    return ResourceResult({}, stored.version, location(ctx.base_url, rtype, stored.id), status)


async def _current(uow: UnitOfWork, rtype: ResourceType, id: str, if_match: str | None) -> StoredResource:
    current = await uow.get_for_update(rtype.id, id)
    if current is None:
        raise NotFound(f"{rtype.name} {id} not found.")
    check_if_match(if_match, current.version)
    return current


def _value_count(value: Any) -> int:
    """Values an operation carries, pathless ones included ({"members": [...]})."""
    if isinstance(value, list):
        return len(value)
    if isinstance(value, dict):
        return sum(len(v) for v in value.values() if isinstance(v, list))
    return 0


def _check_member_count(count: int, ctx: RequestContext) -> None:
    if count > ctx.limits.max_members_per_request:
        raise InvalidValue(
            f"At most {ctx.limits.max_members_per_request} members (or values) may be sent in one "
            f"request; this one has {count}. Send them in batches."
        )


def _pop_members(doc: JsonDoc, rtype: ResourceType) -> list[JsonDoc] | None:
    name = members_attribute(rtype)
    return doc.pop(name, None) if name else None


async def _resolve_members(uow: UnitOfWork, members: list[JsonDoc], group_id: str) -> list[MemberRef]:
    """Members must exist in the tenant (RFC 7643 §4.2 value is a resource id); a group cannot
    contain itself."""
    ids = [m["value"] for m in members if isinstance(m.get("value"), str)]
    if len(ids) != len(members):
        raise InvalidValue("Every member needs a 'value' holding the id of a User or Group.")
    if group_id in ids:
        raise InvalidValue(f"A group cannot be a member of itself ({group_id}).")
    found = await uow.resolve_members(ids)
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidValue(f"Unknown member id(s) in this tenant: {', '.join(missing[:20])}.")
    return [MemberRef(i, found[i]) for i in dict.fromkeys(ids)]


async def _replace_members(uow: UnitOfWork, group_id: str, refs: list[MemberRef], delta: MemberDelta) -> None:
    """Make the member set exactly ``refs``; touches only the rows that differ."""
    current = set(await uow.member_ids(group_id))
    wanted = {r.value for r in refs}
    gone = [i for i in current if i not in wanted]
    new = [r for r in refs if r.value not in current]
    if gone:
        delta.remove(await uow.remove_members(group_id, gone))
    if new:
        delta.add(await uow.add_members(group_id, new))


async def _apply_member_changes(
    uow: UnitOfWork, group_id: str, changes: Sequence[MemberOp], delta: MemberDelta
) -> None:
    """Apply membership operations in request order (Okta sends remove, then add)."""
    for change in changes:
        if change.kind == "replace":
            await _replace_members(uow, group_id, await _resolve_members(uow, list(change.members), group_id), delta)
        elif change.kind == "add":
            delta.add(await uow.add_members(group_id, await _resolve_members(uow, list(change.members), group_id)))
        elif change.ids is None:
            delta.remove(await uow.clear_members(group_id))
        else:
            delta.remove(await uow.remove_members(group_id, change.ids))
