"""Roles from groups: managing a tenant's rules and settings (CLI and admin API share it) and the
recompute each change starts, a bounded batch of users a transaction (``RoleJobs``).

Which rules apply is pure (``scimhub.directory.roles``); storage is ``store.roles_sql``. Writes
through the SCIM API recompute the roles they decide themselves (``ResourceService``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scimhub.directory.roles import JobStatus
from scimhub.directory.roles import Mode
from scimhub.directory.roles import RoleRule
from scimhub.directory.roles import RuleKind
from scimhub.directory.roles import check_mode
from scimhub.directory.roles import check_priority
from scimhub.directory.roles import check_role
from scimhub.directory.roles import rule_key
from scimhub.errors import Busy
from scimhub.errors import InvalidValue
from scimhub.errors import NotFound
from scimhub.events.model import Event
from scimhub.protocol.role_events import roles_changed_drafts
from scimhub.store.base import AuditEntry
from scimhub.store.base import Store
from scimhub.store.base import audit_detail
from scimhub.store.roles_sql import JOB_BATCH
from scimhub.store.roles_sql import RoleStore
from scimhub.timestamps import utc_now

log = logging.getLogger("scimhub.roles")
POLL_SECONDS = 1.0  # how often a server looks for a recompute another process started
_BUSY_ATTEMPTS = 4
RECOMPUTE_METHOD = "RECOMPUTE"  # the audit entry of a recompute batch (no HTTP request made it)


@dataclass(frozen=True, slots=True)
class RoleOverview:
    """What ``scimhub role list`` and ``GET …/roles`` show."""

    mode: Mode
    default: str | None
    version: int
    rules: list[RoleRule]
    recompute: JobStatus | None

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "default": self.default,
            "version": self.version,
            "rules": [r.to_json() for r in self.rules],
            "recompute": None if self.recompute is None else self.recompute.to_json(),
        }


class RoleService:
    def __init__(
        self,
        store: Store,
        roles: RoleStore,
        *,
        on_commit: Callable[[list[Event]], Awaitable[None]] | None = None,
        clock: Callable[[], str] = utc_now,
        ids: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.store = store
        self.roles = roles
        self.on_commit = on_commit
        self.clock = clock
        self.ids = ids

    async def overview(self, tenant_id: str) -> RoleOverview:
        settings = await self.roles.settings(tenant_id)
        rules = await self.roles.rules(tenant_id)
        job = await self.roles.job(tenant_id)
        return RoleOverview(settings.mode, settings.default, settings.version, rules, job)

    async def map(
        self, tenant_id: str, role: str, kind: str, value: str, priority: int = 0
    ) -> tuple[RoleRule, JobStatus]:
        try:
            rule_kind = RuleKind(kind)
            rule = RoleRule(self.ids(), check_role(role), rule_kind, _check_value(value), check_priority(priority))
        except ValueError as exc:
            raise InvalidValue(str(exc)) from None
        rule = RoleRule(rule.id, rule.role, rule.kind, rule.value, rule.priority, self.clock())
        for existing in await self.roles.rules(tenant_id):
            if (existing.role, existing.kind, existing.key) == (rule.role, rule.kind, rule.key):
                raise InvalidValue(f"Rule {existing.id} already maps {kind} {existing.value!r} to {role!r}.")
        _, job = await self.roles.change(tenant_id, rule.created_at, add=rule)
        return rule, job

    async def unmap(
        self,
        tenant_id: str,
        rule_id: str | None = None,
        role: str | None = None,
        kind: str | None = None,
        value: str | None = None,
    ) -> tuple[list[str], JobStatus]:
        """Remove a rule by id, or every rule giving ``role`` (from ``kind`` ``value`` when given)."""
        rules = await self.roles.rules(tenant_id)
        if rule_id is not None:
            chosen = [r.id for r in rules if r.id == rule_id]
        else:
            key = rule_key(RuleKind(kind), value) if kind is not None and value is not None else None
            chosen = [
                r.id
                for r in rules
                if r.role == role and (kind is None or r.kind.value == kind) and (key is None or r.key == key)
            ]
        if not chosen:
            raise NotFound("No such role rule in this tenant (see scimhub role list).")
        try:
            return await self.roles.change(tenant_id, self.clock(), remove=chosen)
        except LookupError:  # removed meanwhile by another process
            raise NotFound("No such role rule in this tenant (see scimhub role list).") from None

    async def configure(
        self, tenant_id: str, *, mode: str | None = None, default: str | None = None, set_default: bool = False
    ) -> JobStatus:
        """Set ``role.mode`` and/or ``role.default`` (``default`` None with ``set_default``: users no
        rule applies to have no role), in one change; nothing changes if either is invalid."""
        try:
            chosen = None if mode is None else check_mode(mode)
            checked = None if default is None else check_role(default)
        except ValueError as exc:
            raise InvalidValue(str(exc)) from None
        if chosen is None and not set_default:
            raise InvalidValue("Nothing to set: give role.mode or role.default.")
        clear = set_default and checked is None
        return (await self.roles.change(tenant_id, self.clock(), mode=chosen, default=checked, clear_default=clear))[1]

    async def step(self, tenant_id: str, limit: int = JOB_BATCH) -> JobStatus | None:
        """One recompute batch (one transaction, its ``user.roles_changed`` events in it). A batch
        PostgreSQL rolled back to break a lock cycle with a write (``Busy``) runs again."""
        for attempt in range(1, _BUSY_ATTEMPTS + 1):
            try:
                return await self._step(tenant_id, limit)
            except Busy:
                if attempt == _BUSY_ATTEMPTS:
                    raise
                await asyncio.sleep(random.uniform(0, 0.01 * attempt))  # noqa: S311 - jitter
        raise AssertionError("unreachable")

    async def _step(self, tenant_id: str, limit: int) -> JobStatus | None:
        async with self.store.unit_of_work(tenant_id) as uow:
            changes, status = await uow.role_job_step(limit, self.clock())
            drafts = roles_changed_drafts(changes, self.ids, self.clock, None, RECOMPUTE_METHOD)
            events = await uow.append_events(drafts)
            if events:
                await uow.record_audit(
                    AuditEntry(
                        occurred_at=self.clock(),
                        token_id=None,
                        method=RECOMPUTE_METHOD,
                        path=f"roles version {status.version if status else 0}",
                        status=200,
                        first_seq=events[0].seq,
                        last_seq=events[-1].seq,
                        detail=audit_detail([e.type for e in events]),
                    )
                )
        if events and self.on_commit is not None:
            await self.on_commit(events)
        return status

    async def finish(self, tenant_id: str, progress: Callable[[JobStatus], None] | None = None) -> JobStatus | None:
        """Run the tenant's recompute to its end (whichever process runs the batches)."""
        status = await self.step(tenant_id)
        while status is not None and status.finished_at is None:
            if progress is not None:
                progress(status)
            await asyncio.sleep(0)  # let requests in between two batches
            status = await self.step(tenant_id)
        return status


class RoleJobs:
    """The server's runner of recomputes: finishes every tenant's unfinished one, looking for new
    ones every ``POLL_SECONDS`` (or at once when ``wake`` is called)."""

    def __init__(self, service: RoleService) -> None:
        self.service = service
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                for tenant_id in await self.service.roles.unfinished_jobs():
                    status = await self.service.finish(tenant_id)
                    if status is not None:
                        log.info(
                            "tenant %s: roles recomputed (version %s): %s users, %s changed",
                            tenant_id,
                            status.version,
                            status.done,
                            status.changed,
                        )
            except Exception:  # upkeep must never stop the server; the next round resumes
                log.exception("recomputing roles failed")
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            except TimeoutError:
                pass


def _check_value(value: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 1024:
        raise ValueError("A rule names a group or role value of 1 to 1024 characters.")
    return value
