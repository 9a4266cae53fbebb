"""GET /Groups/{id} streamed: the ETag and headers first, then the document as the store reads it.

The response has no Content-Length (HTTP/1.1 chunked transfer); uvicorn's flow control makes each
piece wait while the client is slow, so memory stays at a piece or two. An error after the first
piece can no longer change the status: the connection is closed mid-body, which a client sees as
a truncated response, never as a complete wrong one.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive
from starlette.types import Scope
from starlette.types import Send

from scimhub.protocol.context import RequestContext
from scimhub.protocol.etag import etag
from scimhub.protocol.etag import matches_if_none_match
from scimhub.protocol.group_stream import GroupStream
from scimhub.protocol.group_stream import open_group_stream
from scimhub.protocol.resources import ResourceService
from scimhub.schema.model import ResourceType
from scimhub.schema.project import Projection
from scimhub.schema.registry import SchemaRegistry

MEDIA_TYPE = b"application/scim+json"


class StreamedResponse(Response):
    """Sends a ``GroupStream``'s pieces, then closes its snapshot (also when the send fails)."""

    def __init__(self, stream: GroupStream, stack: AsyncExitStack) -> None:
        self.status_code = 200
        self.background = None
        self.body = b""
        self.raw_headers = [(b"content-type", MEDIA_TYPE), (b"etag", etag(stream.version).encode())]
        self._stream = stream
        self._stack = stack

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with self._stack:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            if scope["method"] != "HEAD":
                async for piece in self._stream.pieces:
                    await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": b""})


async def streamed_get(
    request: Request,
    service: ResourceService,
    registry: SchemaRegistry,
    ctx: RequestContext,
    rtype: ResourceType,
    projection: Projection,
) -> Response:
    """The group's snapshot opened here (404 before anything is sent; 304 on a matching
    If-None-Match, with no member read) and handed to the response, which closes it."""
    stack = AsyncExitStack()
    opened = open_group_stream(service.store, registry, ctx, rtype, request.path_params["id"], projection)
    try:
        stream = await stack.enter_async_context(opened)
        if matches_if_none_match(request.headers.get("if-none-match"), stream.version):
            await stack.aclose()
            return Response(status_code=304, headers={"ETag": etag(stream.version)})
    except BaseException:
        await stack.aclose()
        raise
    return StreamedResponse(stream, stack)
