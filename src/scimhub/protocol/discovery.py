"""Discovery documents (RFC 7644 §4, RFC 7643 §5-§7), built from the registry and settings."""

from __future__ import annotations

import copy

from scimhub.errors import NotFound
from scimhub.limits import DEFAULT_LIMITS
from scimhub.protocol.cursor import CURSOR_TIMEOUT
from scimhub.protocol.search import DEFAULT_COUNT
from scimhub.protocol.search import list_response
from scimhub.schema.model import JsonDoc
from scimhub.schema.model import ResourceType
from scimhub.schema.registry import SchemaRegistry
from scimhub.schema.relations import members_attribute
from scimhub.sets.claims import EVENT_URIS

SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
DOCUMENTATION_URI = "https://github.com/scimhub/scimhub#readme"


def service_provider_config(
    base_url: str, *, max_results: int, max_payload: int, max_operations: int, security_events: bool = False
) -> JsonDoc:
    """What this server really supports (RFC 7643 §5; RFC 9967 §4 with ``security_events``)."""
    doc: JsonDoc = {
        "schemas": [SPC_SCHEMA],
        "documentationUri": DOCUMENTATION_URI,
        "patch": {"supported": True},
        "bulk": {"supported": max_operations > 0, "maxOperations": max_operations, "maxPayloadSize": max_payload},
        "filter": {"supported": True, "maxResults": max_results},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        # RFC 9865 §4: both pagination methods; index paging stays the default (§2.4).
        "pagination": {
            "cursor": True,
            "index": True,
            "defaultPaginationMethod": "index",
            "defaultPageSize": DEFAULT_COUNT,
            "maxPageSize": max_results,
            "cursorTimeout": CURSOR_TIMEOUT,
        },
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "Authentication with a per-tenant bearer token issued by `scimhub token issue`.",
                "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
                "documentationUri": DOCUMENTATION_URI,
                "primary": True,
            }
        ],
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base_url}/ServiceProviderConfig"},
    }
    if security_events:
        # RFC 9967 §4: the SET event URIs this server issues over its streams; no asynchronous
        # SCIM requests (§2.5.1: "Prefer: respond-async" is not honoured).
        doc["securityEvents"] = {"asyncRequest": "none", "eventUris": list(EVENT_URIS)}
    return doc


def resource_type_document(rtype: ResourceType, base_url: str) -> JsonDoc:
    """RFC 7643 §6 representation of one resource type."""
    doc: JsonDoc = {
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": rtype.id,
        "name": rtype.name,
        "endpoint": rtype.endpoint,
        "description": rtype.description,
        "schema": rtype.schema.id,
        "meta": {"resourceType": "ResourceType", "location": f"{base_url}/ResourceTypes/{rtype.id}"},
    }
    if rtype.extensions:
        doc["schemaExtensions"] = [{"schema": s.id, "required": r} for s, r in rtype.extensions]
    return doc


def resource_types(registry: SchemaRegistry, base_url: str) -> JsonDoc:
    docs = [resource_type_document(rt, base_url) for rt in registry.resource_types.values()]
    return list_response(len(docs), 1, docs)


def resource_type(registry: SchemaRegistry, base_url: str, rt_id: str) -> JsonDoc:
    for rt in registry.resource_types.values():
        if rt.id.casefold() == rt_id.casefold():
            return resource_type_document(rt, base_url)
    raise NotFound(f"Resource type {rt_id} not found.")


def _schema_document(doc: JsonDoc, base_url: str, registry: SchemaRegistry, max_values: int) -> JsonDoc:
    out = copy.deepcopy(doc)
    out["meta"] = {"resourceType": "Schema", "location": f"{base_url}/Schemas/{doc['id']}"}
    # Group.members are rows, capped per request (max_members_per_request), not per attribute.
    uncapped = {(rt.schema.id, name) for rt in registry.resource_types.values() if (name := members_attribute(rt))}
    for attr in out.get("attributes", []):
        if (doc["id"], attr["name"]) not in uncapped:
            _state_value_cap(attr, max_values)
    return out


def _state_value_cap(attr: JsonDoc, max_values: int) -> None:
    """RFC 7643 §7 has no characteristic for how many values an attribute may hold, so the cap
    validation enforces is stated where a client reads about the attribute: its description."""
    if not attr.get("multiValued") or attr.get("mutability") == "readOnly":
        return  # a readOnly value sent by a client is ignored, never counted
    sentence = f"This server accepts at most {max_values} values."
    attr["description"] = f"{attr.get('description', '').rstrip()} {sentence}".lstrip()


def schemas(
    registry: SchemaRegistry, base_url: str, max_values: int = DEFAULT_LIMITS.max_values_per_attribute
) -> JsonDoc:
    docs = [_schema_document(d, base_url, registry, max_values) for d in registry.served_schema_documents()]
    return list_response(len(docs), 1, docs)


def schema(
    registry: SchemaRegistry, base_url: str, urn: str, max_values: int = DEFAULT_LIMITS.max_values_per_attribute
) -> JsonDoc:
    for doc in registry.served_schema_documents():
        if doc["id"].casefold() == urn.casefold():
            return _schema_document(doc, base_url, registry, max_values)
    raise NotFound(f"Schema {urn} not found.")
