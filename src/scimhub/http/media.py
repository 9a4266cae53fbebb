"""application/scim+json in and out (RFC 7644 §3.1, §8.1), with orjson and a size limit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from scimhub.errors import InvalidSyntax
from scimhub.errors import PayloadTooLarge
from scimhub.errors import UnsupportedMediaType
from scimhub.workload import record_body

SCIM_MEDIA_TYPE = "application/scim+json"
MAX_JSON_DEPTH = 32  # SCIM documents nest 4-5 levels (PatchOp > value > extension > complex)
_ACCEPTED = {SCIM_MEDIA_TYPE, "application/json"}


class ScimResponse(Response):
    media_type = SCIM_MEDIA_TYPE

    def __init__(self, content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(content, status_code, headers)

    def render(self, content: Any) -> bytes:
        return b"" if content is None else orjson.dumps(content)


async def read_json(request: Request, max_bytes: int) -> Any:
    """The request body as JSON; 415 for other media types, 413 above ``max_bytes``."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media and media not in _ACCEPTED:
        raise UnsupportedMediaType(f"Content-Type {media} is not accepted; use {SCIM_MEDIA_TYPE}.")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise _too_large(max_bytes)
    record_body(len(body))  # a large write costs more of the tenant's rate limit
    if not body.strip():
        raise InvalidSyntax("The request body is empty; a JSON object is required.")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidSyntax(f"The request body is not valid JSON: {exc}.") from None
    # Walk only a body with enough brackets to nest that deep (two byte counts, not a walk).
    if body.count(b"{") + body.count(b"[") > MAX_JSON_DEPTH and _depth_exceeds(document, MAX_JSON_DEPTH):
        raise InvalidSyntax(f"The request body nests deeper than {MAX_JSON_DEPTH} levels; SCIM documents never do.")
    return document


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Iterative, so a hostile body cannot exhaust the stack while it is checked."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body exceeds the limit of {max_bytes} bytes.")
