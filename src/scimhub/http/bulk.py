"""POST /Bulk (RFC 7644 §3.7): the HTTP side of ``protocol.bulk``: limits, rate charges, response."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from scimhub.errors import NotImplementedYet
from scimhub.errors import PayloadTooLarge
from scimhub.errors import ScimError
from scimhub.http.endpoints import context
from scimhub.http.endpoints import runtime
from scimhub.http.media import ScimResponse
from scimhub.http.media import read_json
from scimhub.http.ratelimit import RateLimitMiddleware
from scimhub.protocol.bulk import BulkRunner
from scimhub.protocol.bulk import Charge
from scimhub.protocol.bulk import parse_bulk_request


async def bulk(request: Request) -> Response:
    settings = runtime(request).settings
    if settings.bulk_max_operations <= 0:
        raise NotImplementedYet("Bulk requests are switched off on this server (bulk.supported is false).")
    try:
        body = await read_json(request, settings.max_body_bytes)
    except PayloadTooLarge:  # RFC 7644 §3.7.4: name the limit exceeded
        raise PayloadTooLarge(
            f"The size of the bulk request exceeds maxPayloadSize ({settings.max_body_bytes} bytes)."
        ) from None
    parsed = parse_bulk_request(body, settings.bulk_max_operations)
    del body  # the operations keep their data as JSON text: no parsed documents stay alive
    charge = await _charge(request.scope, len(parsed.operations))
    runner = BulkRunner(runtime(request).service, context(request), parsed, charge)
    return ScimResponse(await runner.run())


async def _charge(scope: Scope, operations: int) -> Charge | None:
    """The rate limits count operations: the request was charged one; the others are charged at
    once when the limits allow them all, else one by one as they run (the refused get a 429)."""
    limiter: RateLimitMiddleware | None = scope.get("scimhub.rate_limit")
    if limiter is None or operations == 1 or await limiter.admit(scope, operations - 1) is None:
        return None
    return _PerOperation(limiter, scope)


class _PerOperation:
    def __init__(self, limiter: RateLimitMiddleware, scope: Scope) -> None:
        self.limiter = limiter
        self.scope = scope
        self.paid = 1  # operations the request's own charge covers
        self.refused: ScimError | None = None

    async def __call__(self) -> ScimError | None:
        if self.paid:
            self.paid -= 1
            return None
        if self.refused is None:  # once refused, the rest is too: no charge for them
            self.refused = await self.limiter.admit(self.scope, 1)
        return self.refused
