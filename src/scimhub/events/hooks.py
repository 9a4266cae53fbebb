"""In-process event hooks for a host application that mounts scimhub.

The host registers async handlers per event type; they get the committed ``Event`` (its
``to_json()`` is exactly the webhook body). Each handler is a consumer of its own: it follows the
outbox per tenant, in seq order, from its own persistent offset in ``hook_offsets`` (keyed
``<registry name>:<handler name>``), with its own retries and backoff, so a handler that keeps
failing holds back only itself. After each commit the handlers run before the SCIM response is
sent (so a session is revoked by the time the IdP sees its deactivation acknowledged); a failing
or slow handler is logged, never breaks the response, and is retried from the outbox, so a crash
loses nothing (at-least-once: a handler can see an event twice and should be idempotent).
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import logging
import random
import time
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import TypeVar

from scimhub.events.lane import pause
from scimhub.events.model import Event
from scimhub.events.model import EventType
from scimhub.events.worker import Backoff
from scimhub.events.worker import stop_task
from scimhub.settings import Settings
from scimhub.store.events_sql import EventStore

log = logging.getLogger("scimhub.hooks")

Handler = Callable[[Event], Awaitable[None]]
H = TypeVar("H", bound=Handler)

ALL_EVENTS = "*"
_BATCH = 100
_KEY_CHARS = 100  # hook_offsets.consumer
_REGISTRY_CHARS = 60  # leaves a long key its registry prefix (see consumer_key)
# (consumer key, tenant) of the drains running in this task: a handler's own SCIM write must
# never wait for a drain (it may be its own, or one that waits for this handler).
_dispatching: contextvars.ContextVar[frozenset[tuple[str, str]]] = contextvars.ContextVar(
    "scimhub_hooks", default=frozenset()
)


@dataclass(eq=False)
class HookConsumer:
    """One registered handler: the event types it takes and its offset key in ``hook_offsets``."""

    name: str
    key: str
    handler: Handler
    event_types: set[str] = field(default_factory=set)
    from_start: bool = False

    def wants(self, event_type: str) -> bool:
        return event_type in self.event_types or ALL_EVENTS in self.event_types


class HookRegistry:
    """Handlers by event type. ``name`` prefixes the offset key of every handler.

    Processes that share a registry name and a handler name share that handler's offsets (each
    event is handled by one of them, at least once); give a process its own registry name if
    each of them must see every event.
    """

    def __init__(self, name: str = "hooks") -> None:
        if not name or len(name) > _REGISTRY_CHARS:
            raise ValueError(f"A hook registry name has 1 to {_REGISTRY_CHARS} characters.")
        self.name = name
        self._consumers: dict[str, HookConsumer] = {}

    def register(
        self, event_type: EventType | str, handler: H, *, name: str | None = None, from_start: bool = False
    ) -> H:
        """Call ``handler(event)`` for every committed event of ``event_type`` (``"*"``: all).

        ``name`` (default ``module:qualname`` of the handler) keys its offsets: keep it when the
        function is renamed or moved, or the handler starts afresh. A handler whose name has no
        offsets yet starts with the events committed after its first start ("now");
        ``from_start=True`` makes it start from the oldest retained event instead. Registering
        the same handler for several types makes one consumer of them all.
        """
        key = ALL_EVENTS if event_type == ALL_EVENTS else EventType(event_type).value
        consumer_name = name or _default_name(handler)
        consumer = self._consumers.get(consumer_name)
        if consumer is None:
            consumer = HookConsumer(consumer_name, consumer_key(self.name, consumer_name), handler)
            consumer.from_start = from_start
            self._consumers[consumer_name] = consumer
        elif consumer.handler is not handler:
            raise ValueError(f"Two hook handlers are named {consumer_name!r}: give one another name=.")
        consumer.event_types.add(key)
        return handler

    def on(self, event_type: EventType | str, *, name: str | None = None, from_start: bool = False) -> Callable[[H], H]:
        """Decorator form of ``register``: ``@hooks.on(EventType.USER_DEACTIVATED)``."""

        def decorate(handler: H) -> H:
            return self.register(event_type, handler, name=name, from_start=from_start)

        return decorate

    @property
    def consumers(self) -> list[HookConsumer]:
        return list(self._consumers.values())

    def __bool__(self) -> bool:
        return bool(self._consumers)


def consumer_key(registry: str, handler: str) -> str:
    """``registry:handler``; past the column's 100 characters its end becomes a digest (stable)."""
    key = f"{registry}:{handler}"
    if len(key) <= _KEY_CHARS:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{key[: _KEY_CHARS - 17]}~{digest}"


def _default_name(handler: Handler) -> str:
    qualname = getattr(handler, "__qualname__", None)
    if not qualname or "<lambda>" in qualname:
        raise ValueError("This hook handler has no stable name: pass name=.")
    return f"{getattr(handler, '__module__', '?')}:{qualname}"


@dataclass(slots=True)
class _Retry:
    seq: int
    attempts: int
    due: float


class HookDispatcher:
    """Runs a HookRegistry's consumers from the outbox, each on its own (see ``ConsumerRunner``)."""

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
        self.monotonic = monotonic
        self.rand = rand
        self.runners: list[ConsumerRunner] = []  # the registry's consumers as of the first start
        self._started = False
        self._starting = asyncio.Lock()

    async def after_commit(self, events: list[Event]) -> None:
        """Give every consumer the committing tenant's pending events now; never raises."""
        tenant_id = events[0].tenant_id
        try:
            await self._start_consumers({tenant_id: events[0].seq - 1})
        except Exception:
            log.exception("hook consumers could not be started; retrying from the outbox")
            return
        if len(self.runners) == 1:
            await self.runners[0].after_commit(tenant_id)
        else:  # concurrently: a slow handler does not hold the others back either
            await asyncio.gather(*(r.after_commit(tenant_id) for r in self.runners))

    async def _start_consumers(self, floor: dict[str, int] | None = None) -> None:
        """Once per process: give consumers met for the first time their start offsets."""
        if self._started:
            return
        async with self._starting:
            if self._started:
                return
            self.runners = [
                ConsumerRunner(c, self.store, self.settings, monotonic=self.monotonic, rand=self.rand)
                for c in self.registry.consumers
            ]
            consumers = {r.consumer.key: r.consumer.from_start for r in self.runners}
            for key in await self.store.start_hook_consumers(consumers, legacy=self.registry.name, floor=floor):
                start = "the oldest retained event" if consumers[key] else "now"
                log.info("hook consumer %r starts from %s", key, start)
            self._started = True

    async def start(self) -> None:
        await self._start_consumers()
        for runner in self.runners:
            runner.start()

    async def stop(self) -> None:
        """Let running handlers finish (up to their timeout), then stop."""
        await asyncio.gather(*(r.stop() for r in self.runners))

    async def run_once(self) -> None:
        """One round of every consumer's retry loop."""
        await self._start_consumers()
        await asyncio.gather(*(r.run_once() for r in self.runners))


class ConsumerRunner:
    """One consumer: its offset per tenant, its retries and backoff, its own retry loop."""

    def __init__(
        self,
        consumer: HookConsumer,
        store: EventStore,
        settings: Settings,
        *,
        monotonic: Callable[[], float],
        rand: Callable[[], float],
    ) -> None:
        self.consumer = consumer
        self.store = store
        self.settings = settings
        self.backoff = Backoff(settings.webhook_backoff_base_seconds, settings.webhook_backoff_max_seconds)
        self.monotonic = monotonic
        self.rand = rand
        self._locks: dict[str, asyncio.Lock] = {}
        self._retries: dict[str, _Retry] = {}
        self._again: set[str] = set()  # tenants that committed while a drain of theirs was running
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False

    # -- after commit --------------------------------------------------------------------------
    async def after_commit(self, tenant_id: str) -> None:
        lock = self._locks.get(tenant_id)
        if _dispatching.get() and lock is not None and lock.locked():
            # A handler wrote through scimhub while this consumer's drain runs (maybe its own):
            # the drain reads again before it ends. Waiting for it could deadlock.
            self._again.add(tenant_id)
            self._wake.set()
            return
        try:
            # Otherwise wait for a running drain (the retry loop's: it holds the lock for one
            # batch at most), so the handler has run before the response. A bounded amount.
            await self.drain(tenant_id, max_events=_BATCH)
        except Exception:
            log.exception(
                "hook %r: dispatch for tenant %s failed; retrying from the outbox", self.consumer.key, tenant_id
            )

    async def drain(self, tenant_id: str, max_events: int | None = None) -> bool:
        """Handle the tenant's events after this consumer's offset, in order, until done, its
        handler fails, or ``max_events`` were read (then True: there may be more)."""
        if self._backing_off(tenant_id):
            return False
        lock = self._locks.setdefault(tenant_id, asyncio.Lock())
        async with lock:
            token = _dispatching.set(_dispatching.get() | {(self.consumer.key, tenant_id)})
            try:
                return await self._drain_locked(tenant_id, max_events)
            finally:
                _dispatching.reset(token)

    async def _drain_locked(self, tenant_id: str, max_events: int | None) -> bool:
        key = self.consumer.key
        offset = await self.store.hook_offset(key, tenant_id)
        if offset is None:  # a tenant created after the consumer started: all of it is new
            offset = 0
            await self.store.advance_hook_offset(key, tenant_id, 0)  # known from now on, whatever happens
        seen = 0
        while not self._backing_off(tenant_id):
            if max_events is not None and seen >= max_events:
                return True
            self._again.discard(tenant_id)
            batch = await self.store.events_after(tenant_id, offset, _BATCH)
            seen += len(batch)
            if not batch:
                if tenant_id in self._again:
                    continue  # committed while we read: read again
                return False
            if batch[0].seq != offset + 1:
                log.warning(
                    "hook %r: events %s..%s of tenant %s were purged before they were handled",
                    key,
                    offset + 1,
                    batch[0].seq - 1,
                    tenant_id,
                )
            done = await self._run(batch)
            if done > offset:
                await self.store.advance_hook_offset(key, tenant_id, done)
                offset = done
            if done < batch[-1].seq:
                return False
        return False

    async def _run(self, batch: list[Event]) -> int:
        """Handle events in order; returns the last seq handled (before the first failure)."""
        last = batch[0].seq - 1
        for event in batch:
            if self.consumer.wants(event.type) and not await self._handle(event):
                return last
            last = event.seq
        return last

    async def _handle(self, event: Event) -> bool:
        try:
            async with asyncio.timeout(self.settings.hook_timeout_seconds):
                await self.consumer.handler(event)
        except Exception:
            log.exception(
                "hook %r failed on %s seq %s of tenant %s", self.consumer.key, event.type, event.seq, event.tenant_id
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
                "hook %r: giving up on %s seq %s of tenant %s after %s attempts",
                self.consumer.key,
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
    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name=f"scimhub-hook {self.consumer.key}")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await stop_task(self._task, self.settings.hook_timeout_seconds + 1)
            self._task = None

    async def run_once(self) -> None:
        """Drain every tenant with events beyond the offset that is not waiting for a retry."""
        for tenant_id in await self.store.hook_backlog(self.consumer.key):
            if self._stopping:
                return
            if await self.drain(tenant_id, max_events=_BATCH):
                self._wake.set()  # more to do: the next round at once, the lock released meanwhile

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await self.run_once()
            except Exception:
                log.exception("hook %r: a dispatcher round failed", self.consumer.key)
            await pause(self._wake, self._sleep_seconds())

    def _sleep_seconds(self) -> float:
        poll = self.settings.worker_poll_seconds
        dues = [r.due - self.monotonic() for r in self._retries.values()]
        return max(0.0, min([poll, *dues]))
