"""Directory-sync events: what changed, as data (pure; no I/O).

Names follow the provisioning events of RFC 9967 (SCIM Profile for Security Event Tokens);
each event also carries the RFC 9967 event URI it corresponds to. ``active`` going from true
to false is ``user.deactivated`` whatever request form made it: the offboarding signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from enum import StrEnum
from typing import Any
from typing import NamedTuple

import orjson

from scimhub.schema.model import JsonDoc

# The attribute whose true → false transition is the deprovisioning signal (RFC 7643 §4.1.1).
ACTIVE_ATTRIBUTE = "active"
_PROV = "urn:ietf:params:scim:event:prov"


class EventType(StrEnum):
    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    USER_DEACTIVATED = "user.deactivated"
    USER_REACTIVATED = "user.reactivated"
    USER_DELETED = "user.deleted"
    GROUP_CREATED = "group.created"
    GROUP_UPDATED = "group.updated"
    GROUP_DELETED = "group.deleted"
    GROUP_MEMBER_ADDED = "group.member_added"
    GROUP_MEMBER_REMOVED = "group.member_removed"
    # A user's effective roles (scimhub role map) changed: data {id, userName, before, after}.
    USER_ROLES_CHANGED = "user.roles_changed"


# RFC 9967 §7.4 event URIs (notice form: the payload lists the changed attributes).
RFC9967_URI = {
    "created": f"{_PROV}:create:notice",
    "updated": f"{_PROV}:patch:notice",
    "deactivated": f"{_PROV}:deactivate",
    "reactivated": f"{_PROV}:activate",
    "deleted": f"{_PROV}:delete",
    "member_added": f"{_PROV}:patch:notice",
    "member_removed": f"{_PROV}:patch:notice",
    "roles_changed": f"{_PROV}:patch:notice",
}


def rfc9967_uri(kind: str, method: str) -> str:
    """The event's RFC 9967 URI: a change made by PUT is ``prov:put`` (§2.4.3), not ``prov:patch``."""
    uri = RFC9967_URI[kind]
    return uri.replace(":patch:", ":put:") if method == "PUT" else uri


class Change(NamedTuple):
    """One changed attribute: its path and the values before and after (None: unassigned). A
    named tuple: a create's event has one per attribute, and a frozen dataclass takes twice as
    long to make."""

    path: str
    before: Any
    after: Any

    def to_json(self) -> JsonDoc:
        return {"path": self.path, "before": self.before, "after": self.after}


@dataclass(frozen=True, slots=True)
class EventDraft:
    """An event before the store gives it its per-tenant sequence number."""

    id: str
    type: EventType
    resource_type: str
    resource_id: str
    occurred_at: str
    token_id: str | None
    changes: tuple[Change, ...] = ()
    resource: JsonDoc | None = None
    members: tuple[str, ...] = ()
    method: str = ""  # the HTTP method of the write: PUT makes ``prov:put`` URIs
    txn: str = ""  # the id shared by the events of one write (RFC 8417 "txn"); "" → this event's id
    data: JsonDoc | None = None  # the event's own data (user.roles_changed: id, userName, before, after)
    # payload() and payload_text(), made once: a bulk request makes them before its unit of work,
    # which then holds the writer for its statements only (``dataclasses.replace`` starts afresh)
    _made: list[Any] = field(default_factory=list, init=False, repr=False, compare=False)

    def payload(self) -> JsonDoc:
        """The event body stored and delivered (webhook, feed, in-process hook)."""
        if not self._made:
            self._made.append(self._payload())
        return self._made[0]  # type: ignore[no-any-return]

    def payload_text(self) -> str:
        """``payload()`` as the JSON text the outbox stores."""
        payload = self.payload()  # made[0]
        if len(self._made) < 2:
            self._made.append(orjson.dumps(payload).decode())
        return self._made[1]  # type: ignore[no-any-return]

    def _payload(self) -> JsonDoc:
        kind = self.type.value.split(".", 1)[1]
        body: JsonDoc = {
            "type": self.type.value,
            "rfc9967": {
                "uri": rfc9967_uri(kind, self.method),
                "attributes": [c.path for c in self.changes],
                "txn": self.txn or self.id,
            },
            "resourceType": self.resource_type,
            "resourceId": self.resource_id,
            "occurredAt": self.occurred_at,
            "tokenId": self.token_id,
            "changes": [c.to_json() for c in self.changes],
        }
        if self.members:
            body["members"] = list(self.members)
        if self.resource is not None:
            body["resource"] = self.resource
        if self.data is not None:
            body["data"] = self.data
        return body


@dataclass(frozen=True, slots=True)
class Event:
    """A committed event: the draft plus tenant and gapless per-tenant sequence number."""

    tenant_id: str
    seq: int
    id: str
    type: str
    payload: JsonDoc = field(default_factory=dict)

    def to_json(self) -> JsonDoc:
        return {"id": self.id, "seq": self.seq, "tenantId": self.tenant_id, **self.payload}


def diff_documents(before: JsonDoc, after: JsonDoc) -> tuple[Change, ...]:
    """Top-level (and extension-attribute) changes between two canonical documents."""
    changes = []
    for key in sorted(set(before) | set(after), key=str.casefold):
        if key == "schemas":
            continue
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if key.startswith("urn:") and isinstance(old or new, dict):
            changes += [Change(f"{key}:{c.path}", c.before, c.after) for c in diff_documents(old or {}, new or {})]
        else:
            changes.append(Change(key, old, new))
    return tuple(changes)


def created_changes(doc: JsonDoc) -> tuple[Change, ...]:
    """``diff_documents({}, doc)`` without the comparisons: each attribute a create set (its
    extension attributes each on their own), from nothing to its value."""
    changes = []
    for key in sorted(doc, key=str.casefold):
        value = doc[key]
        if key == "schemas" or value is None:
            continue
        if key.startswith("urn:") and isinstance(value, dict):
            changes += [Change(f"{key}:{c.path}", None, c.after) for c in created_changes(value)]
        else:
            changes.append(Change(key, None, value))
    return tuple(changes)


def activity_transition(before: JsonDoc | None, after: JsonDoc) -> EventType | None:
    """user.deactivated / user.reactivated when ``active`` crosses false (absent counts as true)."""
    was_active = True if before is None else before.get(ACTIVE_ATTRIBUTE) is not False
    is_active = after.get(ACTIVE_ATTRIBUTE) is not False
    if was_active and not is_active:
        return EventType.USER_DEACTIVATED
    if not was_active and is_active and before is not None:
        return EventType.USER_REACTIVATED
    return None
