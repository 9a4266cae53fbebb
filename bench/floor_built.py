"""The floor: the SCIM routes on Starlette + uvicorn answering canned JSON, with no storage.

It does what any SCIM server must do for each request (parse the HTTP request, check that a
bearer token is present, parse a JSON body, serialize a response of the same shape and size
with orjson) and nothing else, so "server CPU per request as a multiple of the floor" cancels
out the machine's speed. It keeps three counters in memory so its responses have the sizes
scimhub's would: the number of users (list pagination), and each group's member count.

    python -m bench.floor --port 8001
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.routing import Route

from bench.payloads import CORE_GROUP
from bench.payloads import entra_create
from bench.payloads import user_name

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
STAMP = "2026-01-01T00:00:00.000Z"
Json = dict[str, Any]
Handler = Callable[[Request], Awaitable[Response]]


class ScimJson(Response):
    media_type = "application/scim+json"

    def render(self, content: Any) -> bytes:
        return b"" if content is None else orjson.dumps(content)


@dataclass
class FloorState:
    base: str = "http://127.0.0.1/scim/v2"
    users: int = 0
    groups: dict[str, int] = field(default_factory=dict)  # group id -> member count
    pool: list[Json] = field(default_factory=list)  # member entries, grown on demand

    def meta(self, kind: str, id: str) -> Json:
        endpoint = "Users" if kind == "User" else "Groups"
        return {
            "resourceType": kind,
            "created": STAMP,
            "lastModified": STAMP,
            "location": f"{self.base}/{endpoint}/{id}",
            "version": 'W/"1"',
        }

    def user(self, id: str, i: int = 1) -> Json:
        doc = entra_create(i)
        doc.pop("meta")
        doc.pop("roles")
        return {"schemas": doc.pop("schemas"), "id": id, **doc, "meta": self.meta("User", id)}

    def members(self, count: int) -> list[Json]:
        while len(self.pool) < count:
            i = len(self.pool)
            id = str(uuid.UUID(int=i + 1))
            self.pool.append({"value": id, "$ref": f"{self.base}/Users/{id}", "type": "User", "display": user_name(i)})
        return self.pool[:count]

    def group(self, id: str, with_members: bool = True) -> Json:
        doc: Json = {"schemas": [CORE_GROUP], "id": id, "displayName": f"Group {id[:8]}", "externalId": id}
        count = self.groups.get(id, 0)
        if with_members and count:
            doc["members"] = self.members(count)
        doc["meta"] = self.meta("Group", id)
        return doc


STATE = FloorState()
_PAGE_USERS = [STATE.user(str(uuid.UUID(int=10**9 + i)), i) for i in range(1000)]


def _authorized(request: Request) -> bool:
    return request.headers.get("authorization", "").startswith("Bearer ")


def _unauthorized() -> Response:
    return ScimJson({"schemas": [ERROR], "status": "401", "detail": "Bearer token required."}, 401)


async def _body(request: Request) -> Any:
    return orjson.loads(await request.body())


def _list(total: int, start: int, docs: list[Json], next_cursor: str | None = None) -> Json:
    body: Json = {"schemas": [LIST], "totalResults": total, "startIndex": start, "itemsPerPage": len(docs)}
    body["Resources"] = docs
    if next_cursor is not None:
        body["nextCursor"] = next_cursor
    return body


async def list_users(request: Request) -> Response:
    params = request.query_params
    if "filter" in params:
        if "missing" in params["filter"]:
            return ScimJson(_list(0, 1, []))
        return ScimJson(_list(1, 1, [_PAGE_USERS[0]]))
    count = int(params.get("count", "100"))
    cursor = params.get("cursor")
    start = int(cursor or "1") if cursor is not None else int(params.get("startIndex", "1"))
    docs = _PAGE_USERS[: max(0, min(count, STATE.users - start + 1))]
    if cursor is None:
        return ScimJson(_list(STATE.users, start, docs))
    following = start + len(docs)
    return ScimJson(_list(STATE.users, start, docs, str(following) if following <= STATE.users else None))


async def create_user(request: Request) -> Response:
    body = await _body(request)
    STATE.users += 1
    doc = STATE.user(str(uuid.uuid4()))
    doc["userName"] = body.get("userName", doc["userName"])
    return ScimJson(doc, 201, {"ETag": 'W/"1"', "Location": doc["meta"]["location"]})


async def get_user(request: Request) -> Response:
    return ScimJson(STATE.user(request.path_params["id"]), 200, {"ETag": 'W/"1"'})


async def write_user(request: Request) -> Response:
    await _body(request)
    return ScimJson(STATE.user(request.path_params["id"]), 200, {"ETag": 'W/"2"'})


async def delete_user(request: Request) -> Response:
    STATE.users = max(0, STATE.users - 1)
    return Response(status_code=204)


def _with_members(request: Request) -> bool:
    return "members" not in request.query_params.get("excludedAttributes", "")


async def list_groups(request: Request) -> Response:
    count = int(request.query_params.get("count", "100"))
    docs = [STATE.group(gid, _with_members(request)) for gid in list(STATE.groups)[:count]]
    return ScimJson(_list(len(STATE.groups), 1, docs))


async def create_group(request: Request) -> Response:
    await _body(request)
    gid = str(uuid.uuid4())
    STATE.groups[gid] = 0
    doc = STATE.group(gid)
    return ScimJson(doc, 201, {"ETag": 'W/"1"', "Location": doc["meta"]["location"]})


async def get_group(request: Request) -> Response:
    return ScimJson(STATE.group(request.path_params["id"], _with_members(request)), 200, {"ETag": 'W/"1"'})


def _member_delta(operation: Json) -> int:
    op, path, value = str(operation.get("op", "")).lower(), str(operation.get("path", "")), operation.get("value")
    if not path.lower().startswith("members"):
        return 0
    size = len(value) if isinstance(value, list) else 1
    return size if op == "add" else -size if op == "remove" else 0


def _members_requested(request: Request) -> bool:
    return "members" in request.query_params.get("attributes", "").lower()


async def patch_group(request: Request) -> Response:
    """The minimal valid answer: the group without its members unless ``attributes`` names them.

    Okta accepts null members and Entra a body without them (tests/idp/IDP_QUIRKS.md), so a server
    need not render a big group on every one-member change; scimhub answers the same way.
    """
    gid = request.path_params["id"]
    body = await _body(request)
    delta = sum(_member_delta(o) for o in body.get("Operations", []))
    STATE.groups[gid] = max(0, STATE.groups.get(gid, 0) + delta)
    return ScimJson(STATE.group(gid, _members_requested(request)), 200, {"ETag": 'W/"2"'})


async def put_group(request: Request) -> Response:
    body = await _body(request)
    gid = request.path_params["id"]
    STATE.groups[gid] = len(body.get("members") or [])
    return ScimJson(STATE.group(gid, _with_members(request)), 200, {"ETag": 'W/"2"'})


async def delete_group(request: Request) -> Response:
    STATE.groups.pop(request.path_params["id"], None)
    return Response(status_code=204)


async def configure(request: Request) -> Response:
    """Harness control (outside /scim/v2): set the user count, forget groups, build the member pool.

    Building the pool here keeps its one-off cost out of the measured requests.
    """
    body = await _body(request)
    STATE.users = int(body.get("users", STATE.users))
    STATE.members(int(body.get("members_pool", 0)))
    STATE.base = str(body.get("base", STATE.base))
    if body.get("reset_groups"):
        STATE.groups.clear()
    return ScimJson({"users": STATE.users, "groups": len(STATE.groups)})


def route(path: str, **handlers: Handler) -> Route:
    """One route per path dispatching on the method, as scimhub's route table does."""

    async def dispatch(request: Request) -> Response:
        if not _authorized(request):
            return _unauthorized()
        return await handlers[request.method](request)

    return Route(path, dispatch, methods=list(handlers))


def create_floor_app() -> Starlette:
    scim = [
        route("/Users", GET=list_users, POST=create_user),
        route("/Users/{id}", GET=get_user, PUT=write_user, PATCH=write_user, DELETE=delete_user),
        route("/Groups", GET=list_groups, POST=create_group),
        route("/Groups/{id}", GET=get_group, PUT=put_group, PATCH=patch_group, DELETE=delete_group),
    ]
    return Starlette(routes=[Mount("/scim/v2", routes=scim), Route("/_floor/config", configure, methods=["POST"])])


def main() -> None:
    parser = argparse.ArgumentParser(description="scimhub benchmark floor server (canned SCIM JSON).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    if not args.host.startswith("127.") and args.host not in ("localhost", "::1"):
        parser.error("the floor binds loopback addresses only")
    STATE.base = f"http://{args.host}:{args.port}/scim/v2"
    # Exactly like `scimhub serve`: uvicorn.run, one process, loop/http "auto" (uvloop, httptools).
    uvicorn.run(create_floor_app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
