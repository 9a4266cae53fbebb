"""What the admin API answers, as typed values (the JSON each came from is kept in ``raw``)."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Event:
    """One directory event, as the feed, a webhook and an in-process hook give it.

    ``seq`` is gapless per tenant: store the last one handled as the checkpoint and read on
    after it. ``resource`` is the SCIM resource after the write (absent on deletions) and
    ``user`` the normalized directory user, when the server sends one."""

    id: str
    seq: int
    tenant_id: str
    type: str
    resource_type: str
    resource_id: str
    occurred_at: str
    raw: Json = field(repr=False)

    @classmethod
    def from_json(cls, body: Json) -> Event:
        return cls(
            id=str(body["id"]),
            seq=int(body["seq"]),
            tenant_id=str(body.get("tenantId", "")),
            type=str(body["type"]),
            resource_type=str(body.get("resourceType", "")),
            resource_id=str(body.get("resourceId", "")),
            occurred_at=str(body.get("occurredAt", "")),
            raw=body,
        )

    @property
    def resource(self) -> Json | None:
        found = self.raw.get("resource")
        return found if isinstance(found, dict) else None

    @property
    def user(self) -> Json | None:
        found = self.raw.get("user")
        return found if isinstance(found, dict) else None

    @property
    def changes(self) -> list[Json]:
        found = self.raw.get("changes")
        return found if isinstance(found, list) else []


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    created_at: str
    users: int | None = None
    groups: int | None = None
    active_tokens: int | None = None
    raw: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, body: Json) -> Tenant:
        return cls(
            id=str(body["id"]),
            name=str(body["name"]),
            created_at=str(body["createdAt"]),
            users=body.get("users"),
            groups=body.get("groups"),
            active_tokens=body.get("activeTokens"),
            raw=body,
        )


@dataclass(frozen=True, slots=True)
class Token:
    """A SCIM bearer token's record (never its secret)."""

    id: str
    prefix: str
    created_at: str
    last_used_at: str | None
    expires_at: str | None
    revoked_at: str | None

    @classmethod
    def from_json(cls, body: Json) -> Token:
        return cls(
            id=str(body["id"]),
            prefix=str(body["prefix"]),
            created_at=str(body["createdAt"]),
            last_used_at=body.get("lastUsedAt"),
            expires_at=body.get("expiresAt"),
            revoked_at=body.get("revokedAt"),
        )


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token and its secret, which no later answer repeats: hand it to the IdP now."""

    token: Token
    secret: str = field(repr=False)
    replaces: Token | None = None  # a rotation's old token, with the end of its overlap

    @classmethod
    def from_json(cls, body: Json) -> IssuedToken:
        old = body.get("replaces")
        return cls(Token.from_json(body), str(body["token"]), Token.from_json(old) if old else None)


@dataclass(frozen=True, slots=True)
class Deletion:
    """A finished tenant deletion: rows removed per table, in how many transactions."""

    removed: dict[str, int]
    transactions: int
