"""A create's changes (``created_changes``) are what ``diff_documents`` from nothing gives, in the
same order: each attribute set, extension attributes one by one, ``schemas`` and nulls left out."""

from __future__ import annotations

import pytest

from scimhub.events.model import Change
from scimhub.events.model import created_changes
from scimhub.events.model import diff_documents
from scimhub.schema.model import JsonDoc

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

DOCS: list[JsonDoc] = [
    {},
    {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bjensen"},
    {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "userName": "bjensen",
        "active": False,
        "Title": "",
        "emails": [{"value": "b@example.com", "primary": True}],
        "name": {"givenName": "Barbara"},
        "nickName": None,
        "x509Certificates": [],
        ENTERPRISE: {"employeeNumber": "7", "manager": {"value": "m1"}, "costCenter": None},
        "urn:example:flat": "not an object",
        "urn:example:empty": {},
    },
]


@pytest.mark.parametrize("doc", DOCS)
def test_created_changes_are_the_diff_from_nothing(doc: JsonDoc) -> None:
    assert created_changes(doc) == diff_documents({}, doc)


def test_an_extension_attribute_is_a_change_of_its_own() -> None:
    doc = {"userName": "b", ENTERPRISE: {"department": "R&D"}}
    assert created_changes(doc) == (  # by name, case-insensitively: "urn:…" before "userName"
        Change(f"{ENTERPRISE}:department", None, "R&D"),
        Change("userName", None, "b"),
    )
