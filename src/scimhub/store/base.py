"""The storage contract: a narrow async protocol every backend implements.

The protocol core (``scimhub.protocol``) reaches data only through these types.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from contextlib import AbstractContextManager
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Protocol

import orjson

from scimhub.directory.roles import JobStatus
from scimhub.directory.roles import RoleChange
from scimhub.events.model import Event
from scimhub.events.model import EventDraft
from scimhub.filter.bind import Bound
from scimhub.safety.guard import GuardRule
from scimhub.safety.hold import Hold
from scimhub.schema.declare import DeclaredSchema
from scimhub.schema.model import JsonDoc
from scimhub.schema.paths import BoundPath


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    created_at: str


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    """A webhook with events still to deliver (``undelivered``), or one being delivered now."""

    webhook_id: str
    url: str
    undelivered: int
    in_flight: bool


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: str
    tenant_id: str
    prefix: str
    created_at: str
    last_used_at: str | None
    expires_at: str | None
    revoked_at: str | None


class StoredResource:
    """A resource as stored: canonical document plus server-managed metadata.

    Read from the database (``from_json``) it keeps the document's JSON text and parses it on
    first use of ``doc``: a list page in the default projection is spliced from the text
    (``render.render_json``) and never parsed.
    """

    __slots__ = ("_doc", "created", "doc_json", "id", "last_modified", "pk", "resource_type", "version")

    def __init__(
        self,
        id: str,
        resource_type: str,
        doc: JsonDoc,
        created: str,
        last_modified: str,
        version: int,
        pk: int | None = None,
    ) -> None:
        self.id = id
        self.resource_type = resource_type
        self._doc: JsonDoc | None = doc
        self.doc_json: str | None = None  # the stored text, when read from the database
        self.created = created
        self.last_modified = last_modified
        self.version = version
        # The database row's key, when known: the store reads memberships by it (no id lookup).
        self.pk = pk

    @classmethod
    def from_json(
        cls,
        id: str,
        resource_type: str,
        doc_json: str,
        created: str,
        last_modified: str,
        version: int,
        pk: int | None = None,
    ) -> StoredResource:
        stored = cls.__new__(cls)  # a list page makes 100 of these: skip __init__'s extra work
        stored.id, stored.resource_type, stored.doc_json, stored._doc = id, resource_type, doc_json, None
        stored.created, stored.last_modified, stored.version, stored.pk = created, last_modified, version, pk
        return stored

    @property
    def doc(self) -> JsonDoc:
        if self._doc is None:
            assert self.doc_json is not None
            self._doc = orjson.loads(self.doc_json)
        return self._doc

    def _fields(self) -> tuple[Any, ...]:
        return (self.id, self.resource_type, self.doc, self.created, self.last_modified, self.version)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StoredResource) and self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable document: like the dataclass it replaces

    def __repr__(self) -> str:
        return f"StoredResource(id={self.id!r}, resource_type={self.resource_type!r}, version={self.version})"


@dataclass(frozen=True, slots=True)
class IndexKeys:
    """Comparison keys the store indexes for a resource (computed by the core)."""

    columns: dict[str, str | None] = field(default_factory=dict)
    multi: dict[str, tuple[str, ...]] = field(default_factory=dict)
    active: bool | None = None
    display: str | None = None
    # The document with every string replaced by its comparison key; computed only by stores
    # that keep it (PostgreSQL's GIN-indexed doc_keys).
    comparison_doc: Callable[[], JsonDoc] | None = None


@dataclass(frozen=True, slots=True)
class MemberRef:
    """One group member (RFC 7643 §4.2): the member's id, type and display name."""

    value: str
    type: str
    display: str | None = None


class WithGroups(StoredResource):
    """A user read with its groups (``groups``: MemberRef list, in membership order), by a read
    that brings them in the user's own statement (``pg_reads``; ``fast_reads`` on SQLite)."""

    __slots__ = ("groups",)

    groups: list[MemberRef]


def groups_read_with(members: Sequence[StoredResource]) -> dict[str, list[MemberRef]] | None:
    """The groups of ``members`` when every one was read with them (``WithGroups``), else None."""
    if not members or not all(isinstance(m, WithGroups) for m in members):
        return None
    return {m.id: m.groups for m in members if m.groups}  # type: ignore[attr-defined]


# One member as the store reads it for a streamed group: (value, type, display).
MemberRow = Sequence[Any]


@dataclass(frozen=True, slots=True)
class GroupMembers:
    """A group read with its members in one snapshot: the members come ``chunk`` rows at a time,
    while the snapshot (and the context that holds it) stays open."""

    group: StoredResource
    chunks: AsyncIterator[Sequence[MemberRow]]


SortValue = str | int | float | None


def audit_detail(
    event_types: Sequence[str] = (),
    error: str | None = None,
    scim_type: str | None = None,
    ignored: Sequence[str] = (),
) -> JsonDoc:
    """The one shape of an audit entry's ``detail``: the types of the events the write committed
    (none for a refused or unchanged write), a refused write's SCIM error detail and scimType, and
    the unknown attribute names the write ignored (``policy.ignore_unknown_attributes``)."""
    return {"eventTypes": list(event_types), "error": error, "scimType": scim_type, "ignored": list(ignored)}


def normalise_audit_detail(stored: Any) -> JsonDoc:
    """``audit_detail`` of a stored detail, also of the shapes written before it had one shape:
    a list of event types, an ``{"error", "scimType"}`` object, or nothing."""
    if isinstance(stored, list):
        return audit_detail(stored)
    if isinstance(stored, dict):
        return audit_detail(
            stored.get("eventTypes") or (), stored.get("error"), stored.get("scimType"), stored.get("ignored") or ()
        )
    return audit_detail()


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One write request in the audit log: who, what, when, and the result (``detail``: see
    ``audit_detail``)."""

    occurred_at: str
    token_id: str | None
    method: str
    path: str
    status: int
    resource_type: str | None = None
    resource_id: str | None = None
    first_seq: int | None = None
    last_seq: int | None = None
    detail: Any = None


@dataclass(frozen=True, slots=True)
class Keyset:
    """A position in a sorted result: the sort value and pk of a boundary row (RFC 9865 cursors).

    ``before`` pages backwards (previousCursor); otherwise the page starts after the row.
    """

    value: SortValue
    pk: int
    before: bool = False


@dataclass(frozen=True, slots=True)
class Page:
    total: int
    resources: list[StoredResource]
    # Keyset paging only: boundary rows of this page, and whether rows lie beyond them.
    first: Keyset | None = None
    last: Keyset | None = None
    more_after: bool = False
    more_before: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    """A list query; ``filter`` is a bound filter (``scimhub.filter.bind``), None for all.

    Pages by ``start_index`` (RFC 7644 §3.4.2.4) unless ``keyset`` is given or ``cursor_mode``
    asks for the first cursor page (RFC 9865).
    """

    resource_type: str
    filter: Bound | None = None
    start_index: int = 1
    count: int = 100
    sort_by: BoundPath | None = None
    descending: bool = False
    cursor_mode: bool = False
    keyset: Keyset | None = None


class UnitOfWork(Protocol):
    """One write transaction of one tenant; commits on clean exit, rolls back on error."""

    async def get_for_update(self, resource_type: str, id: str) -> StoredResource | None: ...

    async def insert(self, resource: StoredResource, keys: IndexKeys) -> None: ...

    async def insert_many(self, resource_type: str, items: Sequence[tuple[StoredResource, IndexKeys]]) -> list[str]:
        """Insert resources of one type in order (a bulk request's run of creates). One whose
        userName a resource holds (an earlier one of ``items`` included) is left out: returns
        their ids. Any other uniqueness conflict fails the whole unit of work, as ``insert``'s does."""
        ...

    async def update(self, resource: StoredResource, keys: IndexKeys) -> None: ...

    async def delete(self, resource_type: str, id: str) -> bool: ...

    async def resolve_members(self, ids: Sequence[str]) -> dict[str, str]:
        """Map each id that exists in the tenant to its resource type."""
        ...

    async def add_members(self, group_id: str, members: Sequence[MemberRef]) -> list[str]:
        """Add members; returns the ids that were not members before."""
        ...

    async def remove_members(self, group_id: str, member_ids: Sequence[str]) -> list[str]:
        """Remove members; returns the ids that were members."""
        ...

    async def clear_members(self, group_id: str) -> list[str]: ...

    async def append_events(self, drafts: Sequence[EventDraft]) -> list[Event]:
        """Append to the outbox in this transaction, with gapless per-tenant sequence numbers."""
        ...

    async def record_audit(self, entry: AuditEntry) -> None: ...

    async def record_audits(self, entries: Sequence[AuditEntry]) -> None:
        """Several audit entries in order (one statement)."""
        ...

    async def guard_deprovisions(self, rule: GuardRule, committed: Sequence[Event], now: str) -> Hold | None:
        """Count the deprovisionings among ``committed`` against ``rule``; hold the tenant's
        event stream at the first one past its threshold (scimhub.safety). Returns a new hold."""
        ...

    async def member_ids(self, group_id: str) -> list[str]: ...

    async def touch(self, ids: Sequence[str], when: str) -> None:
        """Bump version and lastModified of resources changed indirectly (ETags stay truthful)."""
        ...

    async def groups_containing(self, member_id: str) -> list[str]:
        """Ids of the groups ``member_id`` belongs to (directly)."""
        ...

    async def roles_after_write(
        self, resource_type: str, before: StoredResource | None, after: StoredResource, members: Sequence[str]
    ) -> list[RoleChange]:
        """Recompute the effective roles this write decides (``scimhub.directory.roles``): a user's
        when its SCIM ``roles`` changed (or it is new); ``members`` (ids whose membership changed),
        or every member of a renamed group, when a rule names the group. Call after the write."""
        ...

    async def roles_after_creates(
        self, resource_type: str, created: Sequence[StoredResource]
    ) -> list[list[RoleChange]]:
        """``roles_after_write`` of each of these new resources (without members), in order: a
        bulk request's run of creates asks once."""
        ...

    async def roles_before_delete(self, resource_type: str, current: StoredResource) -> list[RoleChange]:
        """The roles a deletion takes away (a user's; a rule-named group's members'). Call before it."""
        ...

    async def role_job_step(self, limit: int, now: str) -> tuple[list[RoleChange], JobStatus | None]:
        """One batch of the tenant's recompute after a rule change (``protocol.roles``)."""
        ...


class Store(Protocol):
    """Storage backend: tenants, tokens, resources, memberships."""

    # How many times this object revoked or re-dated a token: a token cache rereads on a change.
    token_changes: int

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def readiness_problem(self) -> str | None: ...

    async def maintain(self) -> None:
        """Periodic upkeep (planner statistics); cheap when there is nothing to do."""
        ...

    def unit_of_work(self, tenant_id: str) -> AbstractAsyncContextManager[UnitOfWork]: ...

    def deferring_commits(self) -> AbstractContextManager[Sequence[Awaitable[None]]]:
        """Units of work run in this context may return before their commit is durable (their
        commits are shared); the list gets, in order, what each such unit's durability awaits.
        The caller acknowledges nothing before it has awaited them all."""
        ...

    async def get(self, tenant_id: str, resource_type: str, id: str) -> StoredResource | None: ...

    async def search(self, tenant_id: str, query: Query) -> Page: ...

    async def members(self, tenant_id: str, group_ids: Sequence[str]) -> dict[str, list[MemberRef]]: ...

    def group_members(
        self, tenant_id: str, resource_type: str, id: str, chunk: int
    ) -> AbstractAsyncContextManager[GroupMembers | None]:
        """A group (None if absent) and its members, ``chunk`` at a time, in one snapshot held
        until the context ends (a streamed GET of a big group)."""
        ...

    async def groups_of(self, tenant_id: str, members: Sequence[StoredResource]) -> dict[str, list[MemberRef]]:
        """Each member's groups, by member id; a member in no group may be left out."""
        ...

    async def append_audit(self, tenant_id: str, entry: AuditEntry) -> None: ...

    async def roles_of_users(self, tenant_id: str, user_pks: Sequence[int]) -> dict[int, list[str]]:
        """Each user's effective roles (``scimhub role map``), sorted, by resource pk; users
        without roles are left out."""
        ...

    async def server_secret(self, name: str) -> bytes: ...

    async def tenant_settings(self, tenant_id: str) -> dict[str, str]: ...

    async def configured_tenants(self, limit: int) -> set[str] | None:
        """The tenants with settings or declared schemas, or None if there are more than ``limit``."""
        ...

    async def set_tenant_setting(self, tenant_id: str, key: str, value: str | None) -> None: ...

    async def declared_schemas(self, tenant_id: str) -> list[DeclaredSchema]:
        """The extension schemas the tenant declared (``scimhub schema add``)."""
        ...

    async def create_tenant(self, tenant: Tenant) -> None: ...

    async def tenant_by_name(self, name: str) -> Tenant | None: ...

    async def list_tenants(self) -> list[Tenant]: ...

    async def rename_tenant(self, tenant_id: str, name: str) -> bool:
        """False when no such tenant; Conflict when ``name`` is taken."""
        ...

    async def pending_deliveries(self, tenant_id: str, now: str) -> list[PendingDelivery]:
        """The tenant's webhooks with undelivered events or a delivery lease held at ``now``."""
        ...

    async def delete_tenant_rows(self, tenant_id: str, limit: int) -> tuple[str, int] | None:
        """Delete up to ``limit`` of the tenant's rows from the first table that still has some
        (tokens first), in one transaction: (table, rows deleted); None when only the tenant is left."""
        ...

    async def delete_tenant(self, tenant_id: str) -> None:
        """Delete the tenant itself (after ``delete_tenant_rows``; what is left cascades)."""
        ...

    async def add_token(self, token: TokenRecord, digest: str) -> None: ...

    async def token_by_digest(self, digest: str) -> TokenRecord | None: ...

    async def token_change_count(self) -> int | None:
        """How many times any process revoked, re-dated or deleted a token (the database counts
        them), or None when it keeps no count: a token cache rereads a token when this moved."""
        ...

    async def list_tokens(self, tenant_id: str) -> list[TokenRecord]: ...

    async def revoke_token(self, token_id: str, when: str) -> bool: ...

    async def token_by_id(self, token_id: str) -> TokenRecord | None: ...

    async def set_token_expiry(self, token_id: str, when: str) -> None: ...

    async def touch_token(self, token_id: str, when: str) -> None: ...

    async def touch_tokens(self, touches: Sequence[tuple[str, str]]) -> None:
        """Record several tokens' last use, (token id, when), in one transaction; a time older
        than the one recorded leaves it."""
        ...
