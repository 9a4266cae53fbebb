"""Shared data and helpers for the PATCH tests: the built-in resource types and a stored user."""

from __future__ import annotations

import copy
from typing import Any

from scimhub.patch.apply import PatchResult
from scimhub.patch.apply import apply_patch
from scimhub.patch.model import PATCH_OP_SCHEMA
from scimhub.patch.model import parse_patch_request
from scimhub.policy import Policy
from scimhub.schema.model import JsonDoc
from scimhub.schema.model import ResourceType
from scimhub.schema.registry import ENTERPRISE_USER_SCHEMA
from scimhub.schema.registry import GROUP_SCHEMA
from scimhub.schema.registry import USER_SCHEMA
from scimhub.schema.registry import default_registry

REGISTRY = default_registry()
USER = REGISTRY.resource_type("User")
GROUP = REGISTRY.resource_type("Group")
COMMON = REGISTRY.common
ENTERPRISE = ENTERPRISE_USER_SCHEMA
STRICT = Policy.strict()
MANAGER_ID = "26118915-6090-4610-87e4-49d8ca9f808d"

# A stored user as validate_resource leaves it (no id or meta: the store keeps those apart).
BJENSEN: JsonDoc = {
    "schemas": [USER_SCHEMA, ENTERPRISE],
    "userName": "bjensen@example.com",
    "externalId": "bjensen",
    "name": {"familyName": "Jensen", "givenName": "Barbara"},
    "displayName": "Babs Jensen",
    "active": True,
    "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ],
    "phoneNumbers": [{"value": "555-555-5555", "type": "work"}],
    "addresses": [
        {
            "type": "work",
            "streetAddress": "100 Universal City Plaza",
            "locality": "Hollywood",
            "region": "CA",
            "postalCode": "91608",
            "country": "USA",
            "primary": True,
        },
        {
            "type": "home",
            "streetAddress": "456 Hollywood Blvd",
            "locality": "Hollywood",
            "region": "CA",
            "postalCode": "91608",
            "country": "USA",
        },
    ],
    ENTERPRISE: {"employeeNumber": "701984", "department": "Tour Operations", "manager": {"value": MANAGER_ID}},
}
TOUR_GUIDES: JsonDoc = {"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides", "externalId": "tour-guides"}


def request(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP_SCHEMA], "Operations": list(operations)}


def patch(
    doc: JsonDoc, *operations: dict[str, Any], rtype: ResourceType = USER, policy: Policy | None = None
) -> PatchResult:
    """Parse and apply a PatchOp, checking on the way that the input document is untouched."""
    snapshot = copy.deepcopy(doc)
    try:
        return apply_patch(doc, parse_patch_request(request(*operations)), rtype, COMMON, policy or Policy())
    finally:
        assert doc == snapshot, "apply_patch mutated its input"


def patched(doc: JsonDoc, *operations: dict[str, Any], policy: Policy | None = None) -> JsonDoc:
    """The user document after a PATCH that changes no membership."""
    result = patch(doc, *operations, policy=policy)
    assert result.members == ()
    return result.doc


def changed(doc: JsonDoc, **changes: Any) -> JsonDoc:
    """``doc`` with top-level keys replaced (a value of None removes the key)."""
    out = copy.deepcopy(doc)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def in_enterprise(doc: JsonDoc, **changes: Any) -> JsonDoc:
    """``doc`` with enterprise extension attributes replaced (None removes one)."""
    out = copy.deepcopy(doc)
    container = out.setdefault(ENTERPRISE, {})
    for key, value in changes.items():
        if value is None:
            container.pop(key, None)
        else:
            container[key] = value
    if not container:
        del out[ENTERPRISE]
    return out
