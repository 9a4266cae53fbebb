"""An outbox event as the claims of an RFC 9967 SET (pure; no I/O, no signing).

Section numbers are RFC 9967's (SCIM Profile for Security Event Tokens) unless another RFC is
named. One event makes one SET; the events of one write share its ``txn`` (§2.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scimhub.events.model import Event
from scimhub.schema.model import JsonDoc

EVENT_PREFIX = "urn:ietf:params:scim:event"  # §2 (lower case, as the RFC and its registry §7.4 spell it)
PROV = f"{EVENT_PREFIX}:prov"
FEED_ADD = f"{EVENT_PREFIX}:feed:add"  # §2.3.1
FEED_REMOVE = f"{EVENT_PREFIX}:feed:remove"  # §2.3.2
DELETE = f"{PROV}:delete"  # §2.4.4: no payload, no notice/full qualifier
ACTIVATE = f"{PROV}:activate"  # §2.4.5
DEACTIVATE = f"{PROV}:deactivate"  # §2.4.6
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SET_TYPE = "secevent+jwt"  # RFC 8417 §2.3: the JWS "typ" header of a SET


def prov_uri(operation: str, full: bool) -> str:
    """§2.4.1-2.4.3: ``prov:{create|patch|put}:{notice|full}`` (full: the payload has ``data``)."""
    return f"{PROV}:{operation}:{'full' if full else 'notice'}"


# What ServiceProviderConfig.securityEvents.eventUris lists (§4): every URI scimhub issues.
# Feed events (§2.3) are not issued: a stream carries every resource of its tenant, so a resource
# joins its feeds when it is created (prov:create, §2.4.1) and leaves them when deleted
# (prov:delete, §2.4.4, which is sent instead of feed:remove).
EVENT_URIS: tuple[str, ...] = (
    *(prov_uri(op, full) for op in ("create", "patch", "put") for full in (False, True)),
    DELETE,
    ACTIVATE,
    DEACTIVATE,
)


@dataclass(frozen=True, slots=True)
class Audience:
    """What a stream puts in its SETs: ``iss`` (the SCIM base URL), ``aud``, notice or full."""

    stream_id: str
    issuer: str
    audience: str
    full: bool


def jti(stream_id: str, seq: int) -> str:
    """One SET per stream and event; the same on every retransmission (RFC 8935 §2 de-duplication,
    RFC 8936 acks). The stream id makes it unique across streams (RFC 7519 §4.1.7)."""
    return f"{stream_id}.{seq}"


def seq_of(stream_id: str, token_id: str) -> int | None:
    """The event seq of a ``jti`` this stream issued; None for any other string."""
    prefix, _, seq = token_id.rpartition(".")
    if prefix != stream_id or not (seq.isascii() and seq.isdigit()) or len(seq) > 18:
        return None
    return int(seq)


def set_claims(event: Event, audience: Audience, endpoints: Mapping[str, str], issued_at: int) -> JsonDoc:
    """The JWT claims of the SET for ``event`` (RFC 8417 §2.2, RFC 9967 §2.1-2.2)."""
    payload = event.payload
    uri, body = _event_entry(payload, audience.full)
    claims: JsonDoc = {
        "jti": jti(audience.stream_id, event.seq),
        "iss": audience.issuer,
        "aud": audience.audience,
        "iat": issued_at,
        "txn": _rfc9967(payload, "txn") or event.id,
        "sub_id": _subject(payload, endpoints),
        "events": {uri: body},
    }
    occurred = payload.get("occurredAt")
    if isinstance(occurred, str):
        claims["toe"] = int(datetime.fromisoformat(occurred).timestamp())  # RFC 8417 §2.2
    return claims


def _subject(payload: JsonDoc, endpoints: Mapping[str, str]) -> JsonDoc:
    """§2.1: ``sub_id`` in the "scim" format: the relative ``uri``, with ``id`` and ``externalId``."""
    rtype, rid = payload["resourceType"], payload["resourceId"]
    subject: JsonDoc = {"format": "scim", "uri": f"{endpoints.get(rtype, '/' + rtype + 's')}/{rid}", "id": rid}
    resource = payload.get("resource")
    if isinstance(resource, dict) and isinstance(resource.get("externalId"), str):
        subject["externalId"] = resource["externalId"]
    return subject


def _event_entry(payload: JsonDoc, full: bool) -> tuple[str, JsonDoc]:
    """The event URI and its payload for one outbox event."""
    kind = str(payload["type"]).split(".", 1)[1]
    if kind == "deleted":
        return DELETE, {}
    if kind == "deactivated":
        return DEACTIVATE, {}
    if kind == "reactivated":
        return ACTIVATE, {}
    operation = "create" if kind == "created" else "put" if ":prov:put:" in _rfc9967(payload, "uri") else "patch"
    body: JsonDoc = {}
    version = _version(payload)
    if version is not None:
        body["version"] = version  # §2.2: the resource's ETag after the event
    if kind in ("member_added", "member_removed"):
        body.update(_member_change(kind, payload, full))
    elif full:
        body["data"] = payload.get("resource") or {}  # §2.4: the final representation
    else:
        body["attributes"] = [c["path"] for c in payload.get("changes", [])]
    return prov_uri(operation, full), body


def _member_change(kind: str, payload: JsonDoc, full: bool) -> JsonDoc:
    """Member changes: ``attributes: ["members"]``, or in full form the equivalent PATCH request
    as ``data`` (§2.2 "the equivalent SCIM command"; Figure 6). The group's full representation
    would not fit: it is rendered without its members, which may be millions."""
    if not full:
        return {"attributes": ["members"]}
    members: list[str] = list(payload.get("members", []))
    operations: list[dict[str, Any]]
    if kind == "member_added":
        operations = [{"op": "add", "path": "members", "value": [{"value": m} for m in members]}]
    else:
        operations = [{"op": "remove", "path": f'members[value eq "{m}"]'} for m in members]
    return {"data": {"schemas": [PATCH_OP], "Operations": operations}}


def _version(payload: JsonDoc) -> str | None:
    resource = payload.get("resource")
    meta = resource.get("meta") if isinstance(resource, dict) else None
    version = meta.get("version") if isinstance(meta, dict) else None
    return version if isinstance(version, str) else None


def _rfc9967(payload: JsonDoc, name: str) -> str:
    """A member of the event's ``rfc9967`` object ("" when absent: events of older releases)."""
    section = payload.get("rfc9967")
    value = section.get(name) if isinstance(section, dict) else None
    return value if isinstance(value, str) else ""
