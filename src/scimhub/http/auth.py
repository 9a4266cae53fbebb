"""Pure-ASGI bearer authentication for the SCIM routes (RFC 6750, RFC 7644 §2)."""

from __future__ import annotations

from starlette.types import ASGIApp
from starlette.types import Receive
from starlette.types import Scope
from starlette.types import Send

from scimhub.auth.bearer import BearerAuthenticator
from scimhub.errors import Unauthorized
from scimhub.http.errors import error_response
from scimhub.protocol.tenant_config import TenantConfigCache


class BearerAuthMiddleware:
    """Puts the caller's Principal in ``scope["scimhub.principal"]`` (and the tenant's
    configuration in ``scope["scimhub.tenant_config"]``) or answers 401."""

    def __init__(
        self, app: ASGIApp, authenticator: BearerAuthenticator, configs: TenantConfigCache | None = None
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.configs = configs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = _header(scope, b"authorization")
        try:
            principal = await self.authenticator.authenticate(header)
        except Unauthorized as exc:
            await error_response(exc)(scope, receive, send)
            return
        scope["scimhub.principal"] = principal
        if self.configs is not None:
            scope["scimhub.tenant_config"] = await self.configs.get(principal.tenant_id)
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None
