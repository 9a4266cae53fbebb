"""Liveness and readiness (for load balancers and orchestrators); no authentication."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.responses import Response

from scimhub.http.endpoints import runtime


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
    collector = request.app.state.scimhub_metrics
    if collector is None:
        return JSONResponse({"detail": "metrics are disabled or prometheus-client is not installed"}, 404)
    return Response(await collector.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
