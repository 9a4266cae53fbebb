"""A webhook receiver for bench.webhook_drain: answers every request 204 (run by uvicorn, in a
process of its own, so that it takes no CPU from the process measured)."""

from __future__ import annotations

from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:  # read the body to its end: the connection is kept alive
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
