"""The floor: the cheapest honest Starlette + uvicorn app answering the SCIM routes with canned JSON.

"Server CPU per request as a multiple of the floor" cancels out the machine's speed, so the floor
must do only what any SCIM server must do for each request, and answer the same bytes:

- route the method and path (one ASGI callable under a Starlette ``Mount``, inside Starlette's
  own middleware stack), check that a bearer token is present, read the request body and parse
  the JSON of every write, read the query parameters that change the answer;
- answer the same status, headers (content type, length, ETag, Location, an x-request-id) and
  bodies of the same shape and size as scimhub's, all serialized once in advance: a response is
  canned bytes with the parts that differ per request (the id asked for, a new id, the userName
  sent, totals and cursors) spliced in. A group's members come from one pre-serialized pool
  (the first n members are a slice of it).

It keeps a few counters (the number of users, each group's member count) so list pages and
groups have the sizes scimhub's have. ``bench/floor_built.py`` is the previous floor, which builds
every answer as dicts through Starlette's Router, Route and Request objects and orjson-dumps it:
the benchmark runs both and reports scimhub's ratio to each.

    python -m bench.floor --port 8001
"""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import parse_qsl

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.routing import Route
from starlette.types import Receive
from starlette.types import Scope
from starlette.types import Send

from bench.floor_built import ERROR
from bench.floor_built import LIST
from bench.floor_built import FloorState
from bench.payloads import create_user
from bench.payloads import user_name

Json = dict[str, Any]
ID_MARK = "@@ID@@"
NAME_MARK = "@@NAME@@"
CURSOR_CHARS = 83  # scimhub's signed cursors (RFC 9865) are about this long
JSON_TYPE = (b"content-type", b"application/scim+json")
Header = tuple[bytes, bytes]


def _template(doc: Json) -> list[bytes]:
    """A document's JSON split at its marks: the parts between the spliced values."""
    text = orjson.dumps(doc)
    for mark in (ID_MARK, NAME_MARK):
        text = text.replace(mark.encode(), b"\0" + mark.encode() + b"\0")
    return text.split(b"\0")


def _splice(parts: list[bytes], id: bytes, name: bytes = b"") -> bytes:
    values = {ID_MARK.encode(): id, NAME_MARK.encode(): name}
    return b"".join(values.get(p, p) for p in parts)


@dataclass
class Canned:
    """Every answer serialized in advance, rebuilt only when the floor's counters change."""

    state: FloorState
    user_parts: list[bytes] = field(default_factory=list)
    miss: bytes = b""
    hit: bytes = b""
    page_items: dict[int, bytes] = field(default_factory=dict)  # n -> the first n users' JSON, comma-joined
    pool: bytes = b""  # every pooled member's JSON, comma-joined
    pool_ends: list[int] = field(default_factory=list)  # where member i's JSON ends in pool
    groups_bytes: dict[tuple[str, int, bool], bytes] = field(default_factory=dict)
    group_lists: dict[tuple[int, bool], bytes] = field(default_factory=dict)

    def build(self) -> None:
        user = self.state.user(ID_MARK, 1)
        user["userName"] = NAME_MARK
        self.user_parts = _template(user)
        empty = {"schemas": [LIST], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []}
        self.miss = orjson.dumps(empty)
        one = orjson.dumps(self.state.user(str(uuid.UUID(int=10**9)), 0))
        self.hit = b'{"schemas":["%s"],"totalResults":1,"startIndex":1,"itemsPerPage":1,"Resources":[%s]}' % (
            LIST.encode(),
            one,
        )
        self.page_items.clear()
        self.groups_bytes.clear()
        self.group_lists.clear()

    def grow_pool(self, count: int) -> None:
        members = self.state.members(count)
        if len(self.pool_ends) >= len(members):
            return
        parts = [orjson.dumps(m) for m in members]
        ends, at = [], -1
        for part in parts:
            at += len(part) + 1
            ends.append(at)
        self.pool, self.pool_ends = b",".join(parts), ends

    def stored_user(self, i: int) -> Json:
        """User i as scimhub answers it in a list: the IdP's create body (Okta and Entra shapes
        alternate, as the benchmark creates them) without what the server drops, plus id and meta."""
        doc = create_user(i)
        for dropped in ("password", "groups", "roles", "meta"):
            doc.pop(dropped, None)
        id = str(uuid.UUID(int=10**9 + i))
        return {"id": id, **doc, "meta": self.state.meta("User", id)}

    def user(self, id: bytes, name: bytes | None = None) -> bytes:
        return _splice(self.user_parts, id, name if name is not None else user_name(1).encode())

    def page(self, total: int, start: int, count: int, cursor: str | None) -> bytes:
        n = max(0, min(count, total - start + 1, 1000))
        items = self.page_items.get(n)
        if items is None:
            docs = (self.stored_user(i) for i in range(n))
            items = self.page_items[n] = b",".join(orjson.dumps(d) for d in docs)
        head = b'{"schemas":["%s"],"totalResults":%d,' % (LIST.encode(), total)
        if cursor is None:
            return head + b'"startIndex":%d,"itemsPerPage":%d,"Resources":[%s]}' % (start, n, items)
        following = start + n
        tail = b"}"
        if following <= total:
            token = f"{following}.".ljust(CURSOR_CHARS, "x").encode()
            tail = b',"nextCursor":"%s"}' % token
        return head + b'"itemsPerPage":%d,"Resources":[%s]%s' % (n, items, tail)

    def group(self, gid: str, with_members: bool) -> bytes:
        count = self.state.groups.get(gid, 0) if with_members else 0
        key = (gid, count, with_members)
        found = self.groups_bytes.get(key)
        if found is None:
            stale = [k for k in self.groups_bytes if k[0] == gid and k[2] == with_members]
            for k in stale:
                del self.groups_bytes[k]
            found = self.groups_bytes[key] = self._group(gid, count)
        return found

    def _group(self, gid: str, count: int) -> bytes:
        doc = self.state.group(gid, with_members=False)
        if not count:
            return orjson.dumps(doc)
        self.grow_pool(count)
        meta = orjson.dumps(doc.pop("meta"))
        head = orjson.dumps(doc)[:-1]
        return head + b',"members":[' + self.pool[: self.pool_ends[count - 1]] + b'],"meta":' + meta + b"}"

    def group_list(self, count: int, with_members: bool) -> bytes:
        key = (count, with_members)
        found = self.group_lists.get(key)
        if found is None:
            gids = list(self.state.groups)[:count]
            items = b",".join(self.group(g, with_members) for g in gids)
            found = b'{"schemas":["%s"],"totalResults":%d,"startIndex":1,"itemsPerPage":%d,"Resources":[%s]}' % (
                LIST.encode(),
                len(self.state.groups),
                len(gids),
                items,
            )
            self.group_lists[key] = found
        return found

    def changed_groups(self) -> None:
        self.group_lists.clear()


STATE = FloorState()
CANNED = Canned(STATE)
CANNED.build()
UNAUTHORIZED = orjson.dumps({"schemas": [ERROR], "status": "401", "detail": "Bearer token required."})
ETAG_1 = (b"etag", b'W/"1"')
ETAG_2 = (b"etag", b'W/"2"')


async def _send(send: Send, status: int, body: bytes, *headers: Header) -> None:
    request_id = (b"x-request-id", os.urandom(16).hex().encode())
    head = [JSON_TYPE, (b"content-length", b"%d" % len(body)), *headers, request_id]
    if status == 204:
        head = [*headers, request_id]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


async def _body(receive: Receive) -> Any:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return orjson.loads(b"".join(chunks))


def _authorized(scope: Scope) -> bool:
    for key, value in scope["headers"]:
        if key == b"authorization":
            return bool(value.startswith(b"Bearer "))
    return False


def _query(scope: Scope) -> dict[str, str]:
    raw: bytes = scope["query_string"]
    return dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True)) if raw else {}


def _location(endpoint: str, id: str) -> Header:
    return (b"location", f"{STATE.base}/{endpoint}/{id}".encode())


async def users(scope: Scope, receive: Receive, send: Send, method: str) -> None:
    if method == "GET":
        qs: bytes = scope["query_string"]
        if b"filter=" in qs:
            return await _send(send, 200, CANNED.miss if b"missing" in qs else CANNED.hit)
        params = _query(scope)
        count = int(params.get("count", "100"))
        cursor = params.get("cursor")
        start = int(cursor.split(".")[0] or "1") if cursor is not None else int(params.get("startIndex", "1"))
        return await _send(send, 200, CANNED.page(STATE.users, start, count, cursor))
    body = await _body(receive)  # POST
    STATE.users += 1
    uid = str(uuid.uuid4())
    name = orjson.dumps(body.get("userName", user_name(1)))[1:-1]
    await _send(send, 201, CANNED.user(uid.encode(), name), ETAG_1, _location("Users", uid))


async def user(scope: Scope, receive: Receive, send: Send, method: str, uid: str) -> None:
    if method == "GET":
        return await _send(send, 200, CANNED.user(uid.encode()), ETAG_1)
    if method == "DELETE":
        STATE.users = max(0, STATE.users - 1)
        return await _send(send, 204, b"")
    await _body(receive)  # PUT, PATCH
    await _send(send, 200, CANNED.user(uid.encode()), ETAG_2)


def _excludes_members(scope: Scope) -> bool:
    return b"members" in scope["query_string"] and "members" in _query(scope).get("excludedAttributes", "")


async def groups(scope: Scope, receive: Receive, send: Send, method: str) -> None:
    if method == "GET":
        count = int(_query(scope).get("count", "100"))
        return await _send(send, 200, CANNED.group_list(count, not _excludes_members(scope)))
    await _body(receive)  # POST
    gid = str(uuid.uuid4())
    STATE.groups[gid] = 0
    CANNED.changed_groups()
    await _send(send, 201, CANNED.group(gid, True), ETAG_1, _location("Groups", gid))


def _member_delta(operation: Json) -> int:
    op, path, value = str(operation.get("op", "")).lower(), str(operation.get("path", "")), operation.get("value")
    if not path.lower().startswith("members"):
        return 0
    size = len(value) if isinstance(value, list) else 1
    return size if op == "add" else -size if op == "remove" else 0


async def group(scope: Scope, receive: Receive, send: Send, method: str, gid: str) -> None:
    if method == "GET":
        return await _send(send, 200, CANNED.group(gid, not _excludes_members(scope)), ETAG_1)
    if method == "DELETE":
        STATE.groups.pop(gid, None)
        CANNED.changed_groups()
        return await _send(send, 204, b"")
    body = await _body(receive)
    if method == "PUT":
        STATE.groups[gid] = len(body.get("members") or [])
        CANNED.changed_groups()
        return await _send(send, 200, CANNED.group(gid, not _excludes_members(scope)), ETAG_2)
    # PATCH: as scimhub, 204 unless `attributes` asks for members (RFC 7644 §3.5.2)
    delta = sum(_member_delta(o) for o in body.get("Operations", []))
    STATE.groups[gid] = max(0, STATE.groups.get(gid, 0) + delta)
    CANNED.changed_groups()
    params = _query(scope)
    if not params.get("attributes") and not params.get("excludedAttributes"):
        return await _send(send, 204, b"", ETAG_2)
    await _send(send, 200, CANNED.group(gid, "members" in params.get("attributes", "").lower()), ETAG_2)


Collection = Callable[[Scope, Receive, Send, str], Awaitable[None]]
Single = Callable[[Scope, Receive, Send, str, str], Awaitable[None]]
ROUTES: dict[str, tuple[Collection, Single, frozenset[str], frozenset[str]]] = {
    "Users": (users, user, frozenset({"GET", "POST"}), frozenset({"GET", "PUT", "PATCH", "DELETE"})),
    "Groups": (groups, group, frozenset({"GET", "POST"}), frozenset({"GET", "PUT", "PATCH", "DELETE"})),
}


async def scim(scope: Scope, receive: Receive, send: Send) -> None:
    """The SCIM routes as one ASGI callable: /Users, /Users/{id}, /Groups, /Groups/{id}."""
    if not _authorized(scope):
        return await _send(send, 401, UNAUTHORIZED)
    method = scope["method"]
    parts = scope["path"][len(scope.get("root_path", "")) :].split("/")
    found = ROUTES.get(parts[1]) if len(parts) in (2, 3) else None
    if found is None:
        return await _send(send, 404, b'{"status":"404"}')
    collection, single, many_methods, one_methods = found
    if len(parts) == 2 and method in many_methods:
        return await collection(scope, receive, send, method)
    if len(parts) == 3 and method in one_methods:
        return await single(scope, receive, send, method, parts[2])
    await _send(send, 405, b'{"status":"405"}')


async def configure(request: Request) -> Response:
    """Harness control (outside /scim/v2): set the user count, forget groups, build the member pool.

    Building the pool and the canned answers here keeps their one-off cost out of the measured
    requests.
    """
    body = orjson.loads(await request.body())
    STATE.users = int(body.get("users", STATE.users))
    STATE.base = str(body.get("base", STATE.base))
    if body.get("reset_groups"):
        STATE.groups.clear()
    CANNED.build()
    CANNED.grow_pool(int(body.get("members_pool", 0)))
    return Response(orjson.dumps({"users": STATE.users, "groups": len(STATE.groups)}), media_type="application/json")


def create_floor_app() -> Starlette:
    return Starlette(routes=[Mount("/scim/v2", app=scim), Route("/_floor/config", configure, methods=["POST"])])


def main() -> None:
    parser = argparse.ArgumentParser(description="scimhub benchmark floor server (canned SCIM JSON).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    if not args.host.startswith("127.") and args.host not in ("localhost", "::1"):
        parser.error("the floor binds loopback addresses only")
    STATE.base = f"http://{args.host}:{args.port}/scim/v2"
    CANNED.build()
    # Exactly like `scimhub serve`: uvicorn.run, one process, loop/http "auto" (uvloop, httptools).
    uvicorn.run(create_floor_app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
