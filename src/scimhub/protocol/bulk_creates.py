"""A bulk request's run of consecutive creates as one unit of work (RFC 7644 §3.7).

Each operation keeps what it would have had as a single ``POST``: its validation, its resource,
its events (its own ``txn``), its audit entry with its own path, a 409 when its userName is
taken (also by an earlier operation of the run), and an error of its own that fails it alone.
What the run shares is what single requests pay once each: the unit of work (its BEGIN or
savepoint and its commit), the event counter, the tenant's role rules, one statement each for
the index keys, the events and the audit entries.

The run is validated and its events drafted before its unit of work begins, so the writer is
held only for its statements; ``RUN_SIZE`` bounds them (bench/README.md "Bulk" measures how long
a run holds it). The unit of work inserts each resource unless its userName is taken (by a
resource or an earlier create of the run: ``UnitOfWork.insert_many``), and those it left out
answer 409. A run whose unit of work fails (another unique conflict, a lock cycle, or a
failOnErrors limit that a 409 found in it reached before its end) changed nothing: its
operations are then run one by one (``Fallback``), each answered as a single request would be.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from typing import Any

from scimhub.errors import ScimError
from scimhub.errors import Uniqueness
from scimhub.events.model import Event
from scimhub.events.model import EventDraft
from scimhub.protocol.context import RequestContext
from scimhub.protocol.resources import MemberDelta
from scimhub.protocol.resources import ResourceService
from scimhub.schema.model import ResourceType
from scimhub.schema.validate import Context
from scimhub.store.base import AuditEntry
from scimhub.store.base import IndexKeys
from scimhub.store.base import StoredResource
from scimhub.store.base import UnitOfWork
from scimhub.store.base import audit_detail
from scimhub.store.index_plan import index_keys

# Creates in one unit of work. A unit of 10 holds SQLite's writer ~1.7x as long as a single POST
# and costs 3.4-3.8x less CPU a created user; units of 4 hold it no longer than a POST, at
# 2.7-2.9x (bench/README.md "Round 7": a unit's fixed cost is spread over fewer creates).
RUN_SIZE = 10
TAKEN = "userName is already in use by another resource of this tenant."  # the single create's 409


class Fallback(Exception):
    """The run's unit of work failed and changed nothing: run its operations one by one.
    ``expected``: by a request's own doing (failOnErrors), not worth a warning."""

    def __init__(self, why: str, expected: bool = False) -> None:
        super().__init__(why)
        self.expected = expected


class _LimitReached(Exception):
    """The unit of work wrote a create that failOnErrors leaves unprocessed: undo the run."""


@dataclass(slots=True)
class Create:
    """One operation of the run: its context (method and path of the single request) and body."""

    ctx: RequestContext
    body: Any
    error: ScimError | None = None  # refused before the run (rate limit): not audited, as alone
    stored: StoredResource | None = None
    events: list[Event] = field(default_factory=list)
    # while the run is prepared
    keys: IndexKeys | None = None
    drafts: list[EventDraft] = field(default_factory=list)  # its events but the roles', made before
    ignored: list[str] = field(default_factory=list)
    audited: bool = False  # its refusal is audited (a validation or uniqueness error)


async def create_run(
    service: ResourceService, rtype: ResourceType, creates: Sequence[Create], errors_left: int | None
) -> int:
    """Create the run's resources in order; returns how many of ``creates`` were processed (all
    but those after the error that used up ``errors_left``: failOnErrors). Each processed one has
    ``stored`` and ``events``, or ``error``. Raises ``Fallback`` when nothing was written."""
    for create in creates:  # pure: before the unit of work, which holds the writer
        if create.error is None:
            try:
                doc = service._validate(create.ctx, rtype, create.body, Context.CREATE, ignored=create.ignored)
            except ScimError as exc:
                create.error, create.audited = exc, True
            else:
                now = service.clock()
                stored = create.stored = StoredResource(service.ids(), rtype.id, doc, now, now, 1)
                create.keys = index_keys(doc, rtype, service.registry.common)
                rendered = service._rendered(create.ctx, rtype, stored)
                create.drafts = service._drafts(create.ctx, rtype, None, stored, MemberDelta(), now, rendered)
                for draft in create.drafts:
                    draft.payload_text()  # the outbox's JSON, made while the writer is free
    run = _cut(creates, errors_left)
    written = [c for c in run if c.stored is not None]
    await asyncio.sleep(0)  # other requests run between the run's preparation and its writes
    try:
        async with service.store.unit_of_work(creates[0].ctx.tenant_id) as uow:
            if written:
                taken = await uow.insert_many(rtype.id, [(c.stored, c.keys) for c in written if c.stored and c.keys])
                if taken:
                    run, written = _refuse_taken(run, set(taken), errors_left)
            if written:
                await _write_events(service, uow, rtype, written)
            await uow.record_audits([_audit_entry(service, rtype, c) for c in run if c.stored or c.audited])
    except _LimitReached as exc:
        raise Fallback(str(exc), expected=True) from exc
    except ScimError as exc:
        raise Fallback(str(exc)) from exc
    except Exception as exc:  # nothing of the run was written; each operation alone says why
        raise Fallback(repr(exc)) from exc
    for create in creates[len(run) :]:  # after failOnErrors stopped the run: not processed
        create.stored = create.error = None
    return len(run)


def _cut(creates: Sequence[Create], errors_left: int | None) -> Sequence[Create]:
    """The creates up to the error that uses up ``errors_left`` (failOnErrors), in operation order."""
    if errors_left is None:
        return creates
    for i, create in enumerate(creates):
        if create.error is not None:
            errors_left -= 1
            if errors_left <= 0:
                return creates[: i + 1]
    return creates


def _refuse_taken(
    run: Sequence[Create], taken: set[str], errors_left: int | None
) -> tuple[Sequence[Create], list[Create]]:
    """A 409 for each create the unit of work left out (its userName taken); the run cut again
    and what it wrote. Raises ``_LimitReached`` when a create after the new cut was written."""
    for create in run:
        if create.stored is not None and create.stored.id in taken:
            create.stored = create.keys = None
            create.error, create.audited = Uniqueness(TAKEN), True
            create.drafts = []
    cut = _cut(run, errors_left)
    if any(c.stored is not None for c in run[len(cut) :]):
        raise _LimitReached("a 409 reached the failOnErrors limit before the run's end")
    return cut, [c for c in cut if c.stored is not None]


async def _write_events(service: ResourceService, uow: UnitOfWork, rtype: ResourceType, written: list[Create]) -> None:
    """The inserted resources' roles and events, in order (each create's own txn)."""
    drafts: list[EventDraft] = []
    counts: list[int] = []
    changes = await uow.roles_after_creates(rtype.id, [c.stored for c in written if c.stored is not None])
    for create, roles in zip(written, changes, strict=True):
        own = create.drafts + service._roles(create.ctx, roles) if roles else create.drafts
        if len(own) > 1:  # one write, one txn (RFC 9967 §2.2), as alone
            own = [replace(d, txn=own[0].id) for d in own]
        drafts += own
        counts.append(len(own))
    committed = await uow.append_events(drafts)
    start = 0
    for create, n in zip(written, counts, strict=True):
        create.events, start = committed[start : start + n], start + n
    ctx = written[0].ctx
    if ctx.guard is not None and committed:
        await service._guard(uow, ctx, committed)


def _audit_entry(service: ResourceService, rtype: ResourceType, create: Create) -> AuditEntry:
    ctx = create.ctx
    if create.stored is None:  # refused: as ResourceService's failed-write audit entry
        assert create.error is not None
        return service._refused_entry(ctx, rtype, None, create.error)
    events = create.events
    return AuditEntry(
        occurred_at=create.stored.created,
        token_id=ctx.principal.token_id,
        method=ctx.method,
        path=ctx.path,
        status=201,
        resource_type=rtype.id,
        resource_id=create.stored.id,
        first_seq=events[0].seq if events else None,
        last_seq=events[-1].seq if events else None,
        detail=audit_detail([e.type for e in events], ignored=create.ignored),
    )
