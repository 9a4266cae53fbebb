"""Application factory: a plain ASGI (Starlette) app, standalone or mounted in a host app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import UTC
from datetime import datetime

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute
from starlette.routing import Mount
from starlette.routing import Route
from starlette.types import ASGIApp

from scimhub.auth.bearer import BearerAuthenticator
from scimhub.errors import ScimError
from scimhub.events.hooks import HookDispatcher
from scimhub.events.hooks import HookRegistry
from scimhub.events.model import Event
from scimhub.events.sender import Sender
from scimhub.events.worker import DeliveryWorker
from scimhub.http import health
from scimhub.http.activity import ActivityRecorder
from scimhub.http.admin import ADMIN_PREFIX
from scimhub.http.admin import AdminRuntime
from scimhub.http.admin import admin_app
from scimhub.http.auth import BearerAuthMiddleware
from scimhub.http.endpoints import Runtime
from scimhub.http.errors import http_exception_handler
from scimhub.http.errors import scim_error_handler
from scimhub.http.errors import unexpected_error_handler
from scimhub.http.observe import AccessLogMiddleware
from scimhub.http.observe import Metrics
from scimhub.http.observe import metrics_available
from scimhub.http.ratelimit import RateLimitMiddleware
from scimhub.http.request_log import FLUSH_EVERY
from scimhub.http.request_log import RequestLogBuffer
from scimhub.http.request_log import RequestLogMiddleware
from scimhub.http.routes import ScimFront
from scimhub.http.routes import scim_router
from scimhub.http.safety_metrics import SafetyCollector
from scimhub.http.safety_metrics import SafetyStats
from scimhub.http.sets import SETS_PREFIX
from scimhub.http.sets import SetsRuntime
from scimhub.http.sets import sets_app
from scimhub.http.target import RequestTarget
from scimhub.protocol.resources import ResourceService
from scimhub.protocol.roles import RoleJobs
from scimhub.protocol.roles import RoleService
from scimhub.protocol.tenant_config import GuardDefaults
from scimhub.protocol.tenant_config import TenantConfigCache
from scimhub.ratelimit import RateLimiter
from scimhub.ratelimit import storage_for
from scimhub.safety.health import Thresholds
from scimhub.safety.inactive import purge_inactive
from scimhub.schema.registry import default_registry
from scimhub.sets import keys as set_keys
from scimhub.sets.poll import CommitSignal
from scimhub.sets.push import StreamWorker
from scimhub.sets.signer import SetSigner
from scimhub.settings import Settings
from scimhub.store.activity_sql import ActivityStore
from scimhub.store.base import Store
from scimhub.store.events_sql import EventStore
from scimhub.store.factory import open_store
from scimhub.store.request_log_sql import RequestLogStore
from scimhub.store.roles_sql import RoleStore
from scimhub.store.sets_sql import StreamStore
from scimhub.store.sql import SqlStore
from scimhub.timestamps import utc_now

SCIM_PREFIX = "/scim/v2"
SETUP_PREFIX = "/setup"
MAINTENANCE_SECONDS = 300
log = logging.getLogger("scimhub")


class DirectorySync:
    """What happens after a commit: wake the webhook and SET workers and long polls, run the
    in-process hooks."""

    def __init__(self, settings: Settings, events: EventStore, hooks: HookRegistry | None) -> None:
        self.settings = settings
        self.events = events
        self.sender = Sender(settings.webhook_timeout_seconds)
        self.worker = DeliveryWorker(events, settings, sender=self.sender)
        self.dispatcher = HookDispatcher(hooks, events, settings) if hooks else None
        self.sets = SetStreams.of(events, self.worker) if set_keys.available() else None

    def wake(self, tenant_id: str | None = None) -> None:
        """Deliver now: the webhook and SET workers, and long polls (a commit of ``tenant_id``, a
        released hold)."""
        self.worker.wake(tenant_id)
        if self.sets is not None:
            self.sets.after_commit(tenant_id)

    async def after_commit(self, events: list[Event]) -> None:
        """ResourceService's on_commit: must never fail the SCIM response."""
        self.wake(events[0].tenant_id)
        if self.dispatcher is not None:
            await self.dispatcher.after_commit(events)

    async def start(self) -> None:
        if self.sets is not None:
            self.sets.signal.open()
        if self.settings.worker_enabled:
            await self.worker.start()
            if self.sets is not None:
                await self.sets.worker.start()
        if self.dispatcher is not None:
            await self.dispatcher.start()

    async def stop(self) -> None:
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        if self.sets is not None:
            self.sets.signal.close()  # long polls answer now: a shutdown does not wait for them
            await self.sets.worker.stop()
        await self.worker.stop()


class SetStreams:
    """RFC 9967 SET streams: the push worker, the long polls' signal, the public endpoints."""

    def __init__(self, signer: SetSigner, worker: StreamWorker, signal: CommitSignal) -> None:
        self.signer = signer
        self.streams = signer.streams
        self.worker = worker
        self.signal = signal

    @classmethod
    def of(cls, events: EventStore, webhooks: DeliveryWorker) -> SetStreams:
        endpoints = {rt.id: rt.endpoint for rt in default_registry().resource_types.values()}
        signer = SetSigner(StreamStore(events.db), endpoints, webhooks.clock)
        return cls(signer, StreamWorker.over(signer, webhooks), CommitSignal())

    def after_commit(self, tenant_id: str | None = None) -> None:
        self.worker.wake(tenant_id)
        self.signal.notify()

    def app(self, settings: Settings) -> ASGIApp:
        runtime = SetsRuntime(self.signer, self.signal, settings.sets_poll_wait_seconds)
        return sets_app(runtime)


def create_app(
    settings: Settings | None = None, *, store: Store | None = None, hooks: HookRegistry | None = None
) -> Starlette:
    """The scimhub ASGI app: SCIM under ``/scim/v2``, the admin API under ``/admin/v1``.

    ``hooks``: in-process handlers called after each commit (see ``scimhub.HookRegistry``). When
    mounted in a host app, run this app's lifespan too (``lifespan=scim.router.lifespan_context``)
    so that webhooks are delivered and failed hooks retried on a timer. No side effects until started.
    """
    settings = settings or Settings.from_env()
    store = store if store is not None else open_store(settings)
    sync = DirectorySync(settings, EventStore.of(store), hooks) if isinstance(store, SqlStore) else None
    if sync is None and hooks:
        raise ValueError("In-process hooks need the SQL store (the outbox lives in its database).")
    service = ResourceService(store, default_registry(), on_commit=sync.after_commit if sync else None)
    metrics = _metrics(settings, sync, store)
    guard = GuardDefaults(settings.guard_deprovision_threshold, settings.guard_window_seconds)
    configs = TenantConfigCache(store, settings.policy, guard=guard)
    authenticator = BearerAuthenticator(store, settings.token_pepper, settings.token_recheck_seconds)
    scim: ASGIApp = scim_router()
    limiter: RateLimiter | None = None
    if settings.rate_limit:
        limiter = RateLimiter(settings.rate_limit, storage_for(settings.rate_limit_storage))
        on_limited = (lambda tenant: metrics.rate_limited.labels(tenant).inc()) if metrics else None
        scim = RateLimitMiddleware(scim, limiter, on_limited)
    request_log = _request_log(settings, store)
    if request_log is not None:
        scim = RequestLogMiddleware(scim, request_log)
    activity = ActivityRecorder(ActivityStore(store.db)) if isinstance(store, SqlStore) else None
    scim = RequestTarget(BearerAuthMiddleware(scim, authenticator, configs))
    routes: list[BaseRoute] = [
        # ScimFront answers nearly every request (those under the prefix) before the router runs;
        # the Mount keeps the router's answers to the rest (the bare prefix).
        Mount(SCIM_PREFIX, app=scim),
        Route("/healthz", health.healthz, methods=["GET"]),
        Route("/readyz", health.readyz, methods=["GET"]),
        Route("/metrics", health.metrics, methods=["GET"]),
    ]
    if sync is not None:
        signer = sync.sets.signer if sync.sets is not None else None
        runtime = AdminRuntime(
            store,
            sync.events,
            sync.sender,
            request_log,
            settings.webhook_allow_private,
            sync.wake,
            activity,
            Thresholds(settings.status_idle_seconds, settings.status_failing_error_rate),
            sets=signer,
            base_url=settings.base_url,
            public_url=settings.public_url,
            tenant_config_seconds=configs.ttl,
            token_pepper=settings.token_pepper,
            deletion_grace_seconds=_deletion_grace(settings),
        )
        routes.append(Mount(ADMIN_PREFIX, app=admin_app(settings.admin_token, runtime)))
        routes.append(Mount("/console", app=_console(settings, runtime, service, configs)))
    if isinstance(store, SqlStore):
        routes.append(Mount(SETUP_PREFIX, app=_setup_app(settings, store, activity, request_log)))
    if sync is not None and sync.sets is not None:
        routes.append(Mount(SETS_PREFIX, app=sync.sets.app(settings)))

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await store.open()
        authenticator.start()
        _log_admin_api(settings, sync is not None)
        maintenance = asyncio.create_task(_maintain(store), name="scimhub-maintenance")
        inactive = roles = None
        if isinstance(store, SqlStore) and settings.worker_enabled:  # where the retention purge runs
            inactive = asyncio.create_task(_purge_inactive(store, service), name="scimhub-inactive-users")
            roles = asyncio.create_task(role_jobs(store, service).run(), name="scimhub-role-recompute")
        if sync is not None:
            await sync.start()
        if request_log is not None:
            await request_log.start()
        if activity is not None:
            await activity.start()
        try:
            yield
        finally:
            if activity is not None:
                await activity.stop()
            for task in (maintenance, inactive, roles):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if request_log is not None:
                await request_log.stop()
            if sync is not None:
                await sync.stop()
            if limiter is not None:
                await limiter.close()
            await authenticator.stop()
            await store.close()

    app = Starlette(
        routes=routes,
        exception_handlers={
            ScimError: scim_error_handler,
            HTTPException: http_exception_handler,
            Exception: unexpected_error_handler,
        },
        middleware=[
            Middleware(AccessLogMiddleware, metrics=metrics, activity=activity.counter if activity else None),
            Middleware(ScimFront, scim=scim, prefix=SCIM_PREFIX),
        ],
        lifespan=lifespan,
    )
    has_streams = sync.sets.streams.has_streams if sync is not None and sync.sets is not None else None
    app.state.scimhub = Runtime(settings, service, security_events=has_streams)
    app.state.scimhub_metrics = metrics
    return app


def _setup_app(
    settings: Settings, store: SqlStore, activity: ActivityRecorder | None, request_log: RequestLogBuffer | None
) -> ASGIApp:
    """The IdP setup pages (``/setup/<link>``); Jinja2 is imported only here."""
    from scimhub.console.setup import SetupRuntime
    from scimhub.console.setup import setup_app
    from scimhub.protocol.setup_links import SetupLinks

    runtime = SetupRuntime(SetupLinks(store), settings.base_url, settings.token_pepper, activity, request_log)
    return setup_app(runtime)


def _console(settings: Settings, admin: AdminRuntime, service: ResourceService, configs: TenantConfigCache) -> ASGIApp:
    """The operator console at /console: 404 everywhere unless SCIMHUB_ADMIN_TOKEN is set."""
    from scimhub.console.app import console_app  # Jinja2 and the templates load only when it exists
    from scimhub.console.web import ConsoleRuntime

    if not settings.admin_token:
        return console_app(None)
    return console_app(ConsoleRuntime(settings.admin_token, settings, admin, service, configs))


def _deletion_grace(settings: Settings) -> float:
    """How long servers may still let a deleted tenant's requests in and hold its request log."""
    return settings.token_recheck_seconds + (FLUSH_EVERY if settings.request_log_size > 0 else 0.0)


def _log_admin_api(settings: Settings, mounted: bool) -> None:
    """One line at start-up: whether the admin API (the event feed, webhooks, audit) answers."""
    if not mounted:
        log.info("admin API off: it needs the SQL store")
    elif settings.admin_token:
        log.info("admin API on at %s (SCIMHUB_ADMIN_TOKEN is set)", ADMIN_PREFIX)
    else:
        log.info("admin API off: set SCIMHUB_ADMIN_TOKEN to enable %s", ADMIN_PREFIX)


async def _maintain(store: Store) -> None:
    while True:
        try:
            await store.maintain()
        except Exception:  # upkeep must never stop the server
            log.exception("database maintenance failed")
        await asyncio.sleep(MAINTENANCE_SECONDS)


async def _purge_inactive(store: SqlStore, service: ResourceService) -> None:
    """users.inactive = delete_after_days:N (scimhub.safety.inactive), every MAINTENANCE_SECONDS."""
    while True:
        try:
            await purge_inactive(store, service, datetime.now(UTC))
        except Exception:  # upkeep must never stop the server
            log.exception("deleting inactive users failed")
        await asyncio.sleep(MAINTENANCE_SECONDS)


def role_jobs(store: SqlStore, service: ResourceService) -> RoleJobs:
    """The recompute runner after role rule changes (scimhub.protocol.roles), its events announced
    like a SCIM write's."""
    return RoleJobs(RoleService(store, RoleStore(store.db), on_commit=service.committed))


def _request_log(settings: Settings, store: Store) -> RequestLogBuffer | None:
    if settings.request_log_size <= 0 or not isinstance(store, SqlStore):
        return None
    log_store = RequestLogStore(store.db, settings.request_log_size)
    return RequestLogBuffer(log_store, settings.request_log_body_bytes)


def _metrics(settings: Settings, sync: DirectorySync | None, store: Store) -> Metrics | None:
    if not settings.metrics_enabled or not metrics_available():
        return None
    metrics = Metrics(sync.events.delivery_stats if sync is not None else None)
    if sync is not None and isinstance(store, SqlStore):
        metrics.register(SafetyCollector(_safety_stats(settings, store, sync.events)))
    return metrics


def _safety_stats(settings: Settings, store: SqlStore, events: EventStore) -> Callable[[], Awaitable[SafetyStats]]:
    thresholds = Thresholds(settings.status_idle_seconds, settings.status_failing_error_rate)
    activity = ActivityStore(store.db)

    async def stats() -> SafetyStats:
        ids = [t.id for t in await store.list_tenants()]
        states = await activity.states(ids, utc_now(), thresholds, events.holds)
        held = await events.holds.holds()
        return {t: (states[t].value, held.get(t)) for t in ids}

    return stats
