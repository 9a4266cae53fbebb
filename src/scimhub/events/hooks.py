"""In-process event hooks for a host application that mounts scimhub.

The host registers async handlers per event type; they get the committed ``Event`` (its
``to_json()`` is exactly the webhook body). Dispatch follows the outbox, not the request: per
tenant, in seq order, from a persistent offset per (consumer name, tenant) in ``hook_offsets``.
After each commit the handlers run before the SCIM response is sent (so a session is revoked by
the time the IdP sees its deactivation acknowledged); a failing or slow handler is logged, never
breaks the response, and is retried with backoff from the outbox, so a crash loses nothing
(at-least-once: a handler can see an event twice and should be idempotent).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
import time
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from scimhub.events.model import Event
from scimhub.events.model import EventType
from scimhub.events.worker import Backoff
from scimhub.events.worker import pause
from scimhub.events.worker import stop_task
from scimhub.settings import Settings
from scimhub.store.events_sql import EventStore

log = logging.getLogger("scimhub.hooks")

Handler = Callable[[Event], Awaitable[None]]
H = TypeVar("H", bound=Handler)

ALL_EVENTS = "*"
_BATCH = 100
# Tenants whose dispatch is running in this task: a handler's own SCIM write must not wait for it.
_dispatching: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("scimhub_hooks", default=frozenset())


class HookRegistry:
    """Handlers by event type; ``name`` is the consumer whose offsets are kept in the database.

    Processes that share a name share the offsets (each event is handled by one of them, at least
    once); give a process its own name if each of them must see every event.
    """

    def __init__(self, name: str = "hooks") -> None:
        if not name or len(name) > 100:
            raise ValueError("A hook consumer name has 1 to 100 characters.")
        self.name = name
        self._handlers: dict[str, list[Handler]] = {}

    def register(self, event_type: EventType | str, handler: H) -> H:
        """Call ``handler(event)`` for every committed event of ``event_type`` (``"*"``: all)."""
        key = ALL_EVENTS if event_type == ALL_EVENTS else EventType(event_type).value
        self._handlers.setdefault(key, []).append(handler)
        return handler

    def on(self, event_type: EventType | str) -> Callable[[H], H]:
        """Decorator form of ``register``: ``@hooks.on(EventType.USER_DEACTIVATED)``."""

        def decorate(handler: H) -> H:
            return self.register(event_type, handler)

        return decorate

    def handlers_for(self, event_type: str) -> list[Handler]:
        return [*self._handlers.get(event_type, ()), *self._handlers.get(ALL_EVENTS, ())]

    def __bool__(self) -> bool:
        return bool(self._handlers)


@dataclass(slots=True)
class _Retry:
    seq: int
    attempts: int
    due: float


class HookDispatcher:
    """Runs a HookRegistry's handlers from the outbox: after each commit, and from a retry loop."""

    def __init__(
        self,
        registry: HookRegistry,
        store: EventStore,
        settings: Settings,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.registry = registry
        self.store = store
        self.settings = settings
        self.backoff = Backoff(settings.webhook_backoff_base_seconds, settings.webhook_backoff_max_seconds)
        self.monotonic = monotonic
        self.rand = rand
        self._locks: dict[str, asyncio.Lock] = {}
        self._retries: dict[str, _Retry] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False

    # -- after commit --------------------------------------------------------------------------
    async def after_commit(self, events: list[Event]) -> None:
        """Dispatch the committing tenant's pending events now; never raises."""
        tenant_id = events[0].tenant_id
        if tenant_id in _dispatching.get():
            return  # a handler wrote through scimhub: the running dispatch picks the new events up
        lock = self._locks.get(tenant_id)
        if lock is not None and lock.locked():
            self._wake.set()
            return  # a drain is running (maybe a long backlog): it reaches these events; never wait on it
        try:
            # A bounded amount inline: a long backlog (e.g. a new consumer) is left to the retry loop.
            await self.drain(tenant_id, max_events=_BATCH)
        except Exception:
            log.exception("hook dispatch for tenant %s failed; retrying from the outbox", tenant_id)

    async def drain(self, tenant_id: str, max_events: int | None = None) -> None:
        """Handle the tenant's events after its offset, in order, until done or a handler fails."""
        if self._backing_off(tenant_id):
            return
        lock = self._locks.setdefault(tenant_id, asyncio.Lock())
        async with lock:
            token = _dispatching.set(_dispatching.get() | {tenant_id})
            try:
                await self._drain_locked(tenant_id, max_events)
            finally:
                _dispatching.reset(token)

    async def _drain_locked(self, tenant_id: str, max_events: int | None) -> None:
        name = self.registry.name
        offset = await self.store.hook_offset(name, tenant_id)
        seen = 0
        while not self._backing_off(tenant_id) and (max_events is None or seen < max_events):
            batch = await self.store.events_after(tenant_id, offset, _BATCH)
            seen += len(batch)
            if not batch:
                return
            if batch[0].seq != offset + 1:
                log.warning(
                    "hooks %r: events %s..%s of tenant %s were purged before they were handled",
                    name,
                    offset + 1,
                    batch[0].seq - 1,
                    tenant_id,
                )
            done = await self._run(batch)
            if done > offset:
                await self.store.advance_hook_offset(name, tenant_id, done)
                offset = done
            if done < batch[-1].seq:
                return

    async def _run(self, batch: list[Event]) -> int:
        """Handle events in order; returns the last seq handled (before the first failure)."""
        last = batch[0].seq - 1
        for event in batch:
            if not await self._handle(event):
                return last
            last = event.seq
        return last

    async def _handle(self, event: Event) -> bool:
        for handler in self.registry.handlers_for(event.type):
            try:
                async with asyncio.timeout(self.settings.hook_timeout_seconds):
                    await handler(event)
            except Exception:
                log.exception(
                    "hook %s failed on %s seq %s of tenant %s", _name(handler), event.type, event.seq, event.tenant_id
                )
                return self._failed(event)
        self._retries.pop(event.tenant_id, None)
        return True

    def _failed(self, event: Event) -> bool:
        """Schedule a retry of the event; after the last attempt skip it (True: move on)."""
        previous = self._retries.get(event.tenant_id)
        attempts = previous.attempts + 1 if previous is not None and previous.seq == event.seq else 1
        if attempts >= self.settings.webhook_max_attempts:
            log.error(
                "hooks %r: giving up on %s seq %s of tenant %s after %s attempts",
                self.registry.name,
                event.type,
                event.seq,
                event.tenant_id,
                attempts,
            )
            self._retries.pop(event.tenant_id, None)
            return True
        due = self.monotonic() + self.backoff.delay(attempts, self.rand)
        self._retries[event.tenant_id] = _Retry(event.seq, attempts, due)
        return False

    def _backing_off(self, tenant_id: str) -> bool:
        retry = self._retries.get(tenant_id)
        return retry is not None and retry.due > self.monotonic()

    # -- the retry loop (events of other processes, failed handlers, restarts) ----------------
    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name="scimhub-hook-dispatcher")

    async def stop(self) -> None:
        """Let a running handler finish (up to its timeout), then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await stop_task(self._task, self.settings.hook_timeout_seconds + 1)
            self._task = None

    async def run_once(self) -> None:
        """Drain every tenant with events beyond the offset that is not waiting for a retry."""
        for tenant_id in await self.store.hook_backlog(self.registry.name):
            if self._stopping:
                return
            await self.drain(tenant_id)

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await self.run_once()
            except Exception:
                log.exception("hook dispatcher round failed")
            await pause(self._wake, self._sleep_seconds())

    def _sleep_seconds(self) -> float:
        poll = self.settings.worker_poll_seconds
        dues = [r.due - self.monotonic() for r in self._retries.values()]
        return max(0.0, min([poll, *dues]))


def _name(handler: Handler) -> str:
    return getattr(handler, "__qualname__", repr(handler))
