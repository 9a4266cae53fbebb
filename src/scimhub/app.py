"""Application factory: a plain ASGI (Starlette) app, standalone or mounted in a host app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Mount
from starlette.routing import Router

from scimhub.errors import ScimError
from scimhub.http.auth import BearerAuthMiddleware
from scimhub.http.endpoints import Runtime
from scimhub.http.errors import http_exception_handler
from scimhub.http.errors import scim_error_handler
from scimhub.http.errors import unexpected_error_handler
from scimhub.http.routes import scim_routes
from scimhub.protocol.resources import ResourceService
from scimhub.schema.registry import default_registry
from scimhub.settings import Settings
from scimhub.store.base import Store
from scimhub.store.factory import open_store

SCIM_PREFIX = "/scim/v2"


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> Starlette:
    """The scimhub ASGI app; SCIM is served under ``/scim/v2``. No side effects until started."""
    settings = settings or Settings.from_env()
    store = store if store is not None else open_store(settings)
    scim = BearerAuthMiddleware(Router(routes=scim_routes()), store, settings.token_pepper)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await store.open()
        try:
            yield
        finally:
            await store.close()

    app = Starlette(
        routes=[Mount(SCIM_PREFIX, app=scim)],
        exception_handlers={
            ScimError: scim_error_handler,
            HTTPException: http_exception_handler,
            Exception: unexpected_error_handler,
        },
        lifespan=lifespan,
    )
    app.state.scimhub = Runtime(settings, ResourceService(store, default_registry()))
    return app
