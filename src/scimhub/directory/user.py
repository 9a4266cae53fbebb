"""The normalized directory user (pure; no I/O).

``{id, userName, state, …mapped attributes, groups: [{id, displayName}], roles: [...],
createdAt, updatedAt}``, built from a User as a SCIM GET renders it (an event's ``resource``),
the tenant's AttributeMap, and the user's groups and roles. Every mapped name is present, null
when the user has no value, so consumers see one shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scimhub.directory.attributes import AttributeMap
from scimhub.directory.attributes import value_of
from scimhub.schema.model import JsonDoc

ACTIVE = "active"
INACTIVE = "inactive"
STATES = (ACTIVE, INACTIVE)


@dataclass(frozen=True, slots=True)
class GroupRef:
    id: str
    display_name: str | None

    def to_json(self) -> JsonDoc:
        return {"id": self.id, "displayName": self.display_name}


def state_of(active: object) -> str:
    """RFC 7643 §4.1.1: a user is active unless ``active`` is false (absent counts as active)."""
    return INACTIVE if active is False else ACTIVE


def directory_user(
    resource: JsonDoc,
    mapping: AttributeMap,
    groups: Sequence[GroupRef],
    roles: Sequence[str],
    *,
    raw: bool = False,
) -> JsonDoc:
    """The directory user of a rendered User resource; ``raw`` adds the resource itself."""
    user_name, state = (value_of(resource, m.bound) for m in mapping.core)
    meta = resource.get("meta") or {}
    user: JsonDoc = {"id": resource.get("id"), "userName": user_name, "state": state_of(state)}
    for entry in mapping.entries:
        user[entry.name] = value_of(resource, entry.bound)
    user["groups"] = [g.to_json() for g in groups]
    user["roles"] = list(roles)
    user["createdAt"] = meta.get("created")
    user["updatedAt"] = meta.get("lastModified")
    if raw:
        user["raw"] = resource
    return user
