"""application/scim+json in and out (RFC 7644 §3.1, §8.1), with orjson and a size limit."""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from itertools import accumulate
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
# Objects and arrays in one body: twice the 50,000 members one request may name. Parsing 4 MB of
# "{}," (1.3 million of them) took 0.3-2.7 s, most of it the garbage collector's.
MAX_JSON_CONTAINERS = 100_000
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
    opened = body.count(b"{") + body.count(b"[")  # at C speed; brackets in strings count too
    if opened > MAX_JSON_CONTAINERS and _containers(bytes(body)) > MAX_JSON_CONTAINERS:
        raise InvalidSyntax(
            f"The request body holds more than {MAX_JSON_CONTAINERS} JSON objects and arrays; "
            "send fewer values per request."
        )
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidSyntax(f"The request body is not valid JSON: {exc}.") from None
    # Measure only a body with enough brackets to nest that deep.
    if opened > MAX_JSON_DEPTH and _depth_exceeds(bytes(body), MAX_JSON_DEPTH):
        raise InvalidSyntax(f"The request body nests deeper than {MAX_JSON_DEPTH} levels; SCIM documents never do.")
    return document


_BRACKET_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 and -1 as signed bytes
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_NOT_BRACKETS_OR_QUOTES = bytes(b for b in range(256) if b not in b'[]{}"')


def _brackets(body: bytes) -> bytes:
    """The brackets of JSON ``body`` that lie outside strings, at C speed. Escaped backslashes,
    then escaped quotes, are dropped, so every quote left opens or closes a string. Then all but
    brackets and quotes: a string without brackets is left as two adjacent quotes, and dropping
    two adjacent quotes (a string, or the end of one and the start of the next) keeps what lies
    between strings. What quotes remain (strings holding brackets: rare) are split on."""
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = unescaped.translate(None, _NOT_BRACKETS_OR_QUOTES).replace(b'""', b"")
    if b'"' not in skeleton:
        return skeleton
    return b"".join(skeleton.split(b'"')[::2])


def _containers(body: bytes) -> int:
    brackets = _brackets(body)
    return brackets.count(b"{") + brackets.count(b"[")


def _depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether valid JSON ``body`` nests deeper than ``limit``: the highest running sum of +1 per
    opening and -1 per closing bracket (a walk of the parsed document cost ~3 µs a container)."""
    steps = array("b", _brackets(body).translate(_BRACKET_STEPS))
    return max(accumulate(steps), default=0) > limit


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body exceeds the limit of {max_bytes} bytes.")
