"""Pure-ASGI rate limiting after authentication: 429 with a SCIM body and Retry-After; a request
that did expensive work is charged for it once it is done (``scimhub.workload``)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp
from starlette.types import Receive
from starlette.types import Scope
from starlette.types import Send

from scimhub.errors import TooManyRequests
from scimhub.http.errors import error_response
from scimhub.protocol.context import Principal
from scimhub.protocol.tenant_config import TenantConfig
from scimhub.ratelimit import RateLimiter
from scimhub.ratelimit import Verdict
from scimhub.workload import Metered


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, limiter: RateLimiter, on_limited: Callable[[str], None] | None = None) -> None:
        self.app = app
        self.limiter = limiter
        self.on_limited = on_limited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal: Principal | None = scope.get("scimhub.principal")
        if scope["type"] != "http" or principal is None:
            await self.app(scope, receive, send)
            return
        config: TenantConfig | None = scope.get("scimhub.tenant_config")
        override = config.rate_limit if config is not None else None
        if override == "":
            await self.app(scope, receive, send)  # this tenant's limit is switched off
            return
        verdict = await self.limiter.check(principal.tenant_id, principal.token_id, override)
        if verdict.allowed:
            scope["scimhub.rate_limit"] = self  # a bulk request admits its other operations
            with Metered() as workload:
                try:
                    await self.app(scope, receive, send)
                finally:
                    extra = workload.extra_units()  # a query stopped at its deadline ran too
                    if extra:
                        await self.limiter.charge(principal.tenant_id, principal.token_id, extra, override)
            return
        await error_response(self._refused(principal, verdict))(scope, receive, send)

    async def admit(self, scope: Scope, operations: int) -> TooManyRequests | None:
        """Admit more operations of an admitted request (the limits count a bulk request's
        operations, not the request): None when allowed, else the 429 to answer them with."""
        principal: Principal = scope["scimhub.principal"]
        config: TenantConfig | None = scope.get("scimhub.tenant_config")
        override = config.rate_limit if config is not None else None
        verdict = await self.limiter.check(principal.tenant_id, principal.token_id, override, operations)
        return None if verdict.allowed else self._refused(principal, verdict)

    def _refused(self, principal: Principal, verdict: Verdict) -> TooManyRequests:
        if self.on_limited is not None:
            self.on_limited(principal.tenant_id)
        return TooManyRequests(
            f"Rate limit exceeded for this tenant or token; retry in {verdict.retry_after} s.",
            headers={"Retry-After": str(verdict.retry_after)},
        )
