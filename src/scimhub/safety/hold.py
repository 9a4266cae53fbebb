"""The hold of a tenant's event stream: what it is and how it is shown (pure: no I/O).

SCIM stays truthful: the IdP's writes commit and are answered as usual. What is held is what the
app is told: webhooks, in-process hooks and the feed deliver every event before ``from_seq`` and
none from it on, until an operator releases (or resumes) the stream. Nothing is dropped: the
held events are delivered later, in order, and the sequence stays gapless.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from scimhub.schema.model import JsonDoc


class HoldKind(StrEnum):
    GUARD = "guard"  # the deprovisioning guard tripped
    PAUSE = "pause"  # an operator paused the stream (`scimhub tenant pause`)


@dataclass(frozen=True, slots=True)
class Hold:
    tenant_id: str
    from_seq: int  # the first event not delivered
    kind: HoldKind
    reason: str
    since: str

    def to_json(self) -> JsonDoc:
        return {"fromSeq": self.from_seq, "kind": self.kind.value, "reason": self.reason, "since": self.since}


@dataclass(frozen=True, slots=True)
class HeldEvent:
    """One held event as ``scimhub tenant held`` lists it: who, what, by which token, when."""

    seq: int
    type: str
    resource_type: str
    resource_id: str
    display: str | None
    token_id: str | None
    occurred_at: str

    def to_json(self) -> JsonDoc:
        return {
            "seq": self.seq,
            "type": self.type,
            "resourceType": self.resource_type,
            "resourceId": self.resource_id,
            "display": self.display,
            "tokenId": self.token_id,
            "occurredAt": self.occurred_at,
        }


def held_event(seq: int, type: str, payload: JsonDoc) -> HeldEvent:
    """The listing of one event's payload (a deleted user has no resource left: no display)."""
    resource = payload.get("resource") or {}
    display = resource.get("userName") or resource.get("displayName")
    for change in payload.get("changes") or ():  # a deletion's changes hold the values it had
        if display is None and change.get("path") in ("userName", "displayName"):
            display = change.get("before")
    return HeldEvent(
        seq,
        type,
        str(payload.get("resourceType", "")),
        str(payload.get("resourceId", "")),
        display if isinstance(display, str) else None,
        payload.get("tokenId"),
        str(payload.get("occurredAt", "")),
    )
