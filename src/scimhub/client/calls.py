"""The admin API's requests and answers, without I/O: the sync and async clients share them.

Each operation is a ``Call`` (method, path, query, body) and a parser of the answer; the clients
only send calls and walk pages. Paths quote their parts: a tenant name or id never changes the
route it is sent to.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Generic
from typing import TypeVar
from urllib.parse import quote

import orjson

from scimhub.client.errors import AdminApiError
from scimhub.client.errors import FeedExpired
from scimhub.client.models import Deletion
from scimhub.client.models import Event
from scimhub.client.models import IssuedToken
from scimhub.client.models import Json
from scimhub.client.models import Tenant
from scimhub.client.models import Token

T = TypeVar("T")
Params = dict[str, str | int]


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    path: str
    params: Params = field(default_factory=dict)
    body: Json | None = None

    def with_params(self, **params: str | int) -> Call:
        return dataclasses.replace(self, params={**self.params, **params})


@dataclass(frozen=True, slots=True)
class Op(Generic[T]):
    call: Call
    parse: Callable[[Json], T]


def _part(value: str) -> str:
    return quote(value, safe="")


def tenant_path(tenant: str, *rest: str) -> str:
    return "/".join(["/tenants", _part(tenant), *(_part(p) for p in rest)])


def answer(status: int, content: bytes) -> Json:
    """The JSON of a successful answer ({} when empty), or the error it is."""
    try:
        body = orjson.loads(content) if content else {}
    except orjson.JSONDecodeError:
        body = {"detail": content[:200].decode("utf-8", "replace")}
    if not isinstance(body, dict):
        body = {"detail": str(body)}
    if status == 410 and "resume_after" in body:
        raise FeedExpired(str(body.get("detail", "")), int(body["oldest"]), int(body["resume_after"]))
    if status >= 400:
        raise AdminApiError(status, str(body.get("detail", "")))
    return body


# -- tenants and tokens ------------------------------------------------------------------------------
def create_tenant(name: str) -> Op[Tenant]:
    return Op(Call("POST", "/tenants", body={"name": name}), Tenant.from_json)


def get_tenant(name: str) -> Op[Tenant]:
    return Op(Call("GET", tenant_path(name)), Tenant.from_json)


def tenants(prefix: str, limit: int) -> Call:
    return Call("GET", "/tenants", {"limit": limit} | ({"prefix": prefix} if prefix else {}))


def delete_tenant(name: str, force: bool) -> Call:
    return Call("DELETE", tenant_path(name), {"force": "true"} if force else {})


def deletion(body: Json) -> Deletion | None:
    """A finished deletion, or None while it goes on (202)."""
    if "removed" not in body:
        return None
    return Deletion(dict(body["removed"]), int(body["transactions"]))


def issue_token(tenant: str, expires_in_days: int | None) -> Op[IssuedToken]:
    body = {} if expires_in_days is None else {"expires_in_days": expires_in_days}
    return Op(Call("POST", tenant_path(tenant, "tokens"), body=body), IssuedToken.from_json)


def list_tokens(tenant: str) -> Op[list[Token]]:
    return Op(Call("GET", tenant_path(tenant, "tokens")), lambda b: [Token.from_json(t) for t in b["tokens"]])


def rotate_token(tenant: str, token_id: str, overlap_hours: float) -> Op[IssuedToken]:
    call = Call("POST", tenant_path(tenant, "tokens", token_id, "rotate"), body={"overlap_hours": overlap_hours})
    return Op(call, IssuedToken.from_json)


def revoke_token(tenant: str, token_id: str) -> Op[None]:
    return Op(Call("DELETE", tenant_path(tenant, "tokens", token_id)), lambda _b: None)


# -- the event feed ------------------------------------------------------------------------------------
def events(tenant: str, after: int, limit: int) -> Call:
    return Call("GET", tenant_path(tenant, "events"), {"after": after, "limit": limit})


def event_page(body: Json) -> tuple[list[Event], int]:
    """A feed page's events and the ``after`` to send next."""
    return [Event.from_json(e) for e in body["events"]], int(body["next_after"])


# -- the directory -------------------------------------------------------------------------------------
def directory_users(
    tenant: str, group: str | None, role: str | None, state: str | None, include_raw: bool, limit: int
) -> Call:
    params: Params = {"limit": limit}
    for name, value in (("group", group), ("role", role), ("state", state)):
        if value is not None:
            params[name] = value
    if include_raw:
        params["include"] = "raw"
    return Call("GET", tenant_path(tenant, "directory", "users"), params)


def directory_user(tenant: str, user_id: str, include_raw: bool) -> Op[Json]:
    params: Params = {"include": "raw"} if include_raw else {}
    return Op(Call("GET", tenant_path(tenant, "directory", "users", user_id), params), lambda b: b)


def directory_groups(tenant: str, limit: int) -> Call:
    return Call("GET", tenant_path(tenant, "directory", "groups"), {"limit": limit})


def group_users(tenant: str, group_id: str, limit: int) -> Call:
    return Call("GET", tenant_path(tenant, "directory", "groups", group_id, "users"), {"limit": limit})


def next_page(call: Call, body: Json) -> Call | None:
    cursor = body.get("next_cursor")
    return None if not cursor else call.with_params(cursor=str(cursor))


def items(body: Json, key: str) -> list[Any]:
    found = body.get(key)
    return found if isinstance(found, list) else []
