"""Liveness and readiness (for load balancers and orchestrators, no authentication), and the
Prometheus metrics (a bearer token: they name tenants and show their traffic)."""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.responses import Response

from scimhub.http.endpoints import runtime

_REALM = 'Bearer realm="scimhub-metrics"'


async def healthz(_request: Request) -> Response:
    """The process is up and serving."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """The database answers and its schema is at the newest migration."""
    problem = await runtime(request).service.store.readiness_problem()
    if problem is not None:
        return JSONResponse({"status": "unavailable", "detail": problem}, status_code=503)
    return JSONResponse({"status": "ready"})


async def metrics(request: Request) -> Response:
    """Prometheus text for ``Authorization: Bearer`` SCIMHUB_METRICS_TOKEN or SCIMHUB_ADMIN_TOKEN
    (RFC 6750), or for anyone with SCIMHUB_METRICS_PUBLIC=true."""
    collector = request.app.state.scimhub_metrics
    if collector is None:
        return JSONResponse({"detail": "metrics are disabled or prometheus-client is not installed"}, 404)
    settings = runtime(request).settings
    tokens = [token for token in (settings.metrics_token, settings.admin_token) if token]
    if not settings.metrics_public:
        if not tokens:
            detail = "/metrics needs SCIMHUB_METRICS_TOKEN (or SCIMHUB_ADMIN_TOKEN, or SCIMHUB_METRICS_PUBLIC=true)"
            return JSONResponse({"detail": detail}, 404)
        if not _presents_one_of(request.headers.get("authorization", ""), tokens):
            detail = "Send 'Authorization: Bearer <SCIMHUB_METRICS_TOKEN>'."
            return JSONResponse({"detail": detail}, 401, {"WWW-Authenticate": _REALM})
    return Response(await collector.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


def _presents_one_of(header: str, tokens: list[str]) -> bool:
    scheme, _, presented = header.strip().partition(" ")
    if scheme.casefold() != "bearer" or not presented.strip():
        return False
    # Digests of equal length: the comparison time says nothing about the tokens.
    digest = hashlib.sha256(presented.strip().encode()).digest()
    return any(hmac.compare_digest(digest, hashlib.sha256(token.encode()).digest()) for token in tokens)
