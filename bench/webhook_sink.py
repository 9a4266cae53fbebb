"""A webhook receiver for bench.webhook_drain and bench.webhook_latency: answers every POST 204
(run by uvicorn, in a process of its own, so that it takes no CPU from the process measured).

POSTs to ``/record`` also note when each event arrived (``time.time()`` once the whole body is
in; every event of a batch at once); ``GET /received`` answers ``{event id: [seq, time]}`` of
those, and forgets them. Other paths parse nothing.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

_received: dict[str, tuple[int, float]] = {}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    chunks = []
    more = True
    while more:  # read the body to its end: the connection is kept alive
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    if scope["method"] == "GET" and scope["path"] == "/received":
        body = orjson.dumps(_received)
        _received.clear()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
        return
    if scope["path"] == "/record":
        _note(b"".join(chunks), time.time())
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _note(body: bytes, at: float) -> None:
    parsed = orjson.loads(body)
    for event in parsed["events"] if parsed.get("type") == "batch" else [parsed]:
        _received[event["id"]] = (event["seq"], at)
