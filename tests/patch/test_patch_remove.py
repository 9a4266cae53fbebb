"""PATCH remove (RFC 7644 §3.5.2.2) on a stored user."""

from __future__ import annotations

from typing import Any

import pytest

from scimhub.errors import InvalidPath
from scimhub.errors import Mutability
from scimhub.policy import Policy
from scimhub.schema.model import JsonDoc
from scimhub.schema.registry import USER_SCHEMA
from tests.patch.support import BJENSEN
from tests.patch.support import ENTERPRISE
from tests.patch.support import GROUP
from tests.patch.support import TOUR_GUIDES
from tests.patch.support import changed
from tests.patch.support import in_enterprise
from tests.patch.support import patch
from tests.patch.support import patched

WORK_EMAIL = {"value": "bjensen@example.com", "type": "work", "primary": True}
HOME_EMAIL = {"value": "babs@jensen.org", "type": "home"}
WORK_ADDRESS, HOME_ADDRESS = BJENSEN["addresses"]


def remove(path: str) -> dict[str, Any]:
    return {"op": "remove", "path": path}


def test_rfc7644_remove_of_matching_emails_removes_only_those() -> None:
    """RFC 7644 §3.5.2.2, third example (the others, on members, are in test_patch_members)."""
    operation = remove('emails[type eq "work" and value ew "example.com"]')
    assert patched(BJENSEN, operation) == changed(BJENSEN, emails=[HOME_EMAIL])


REMOVALS = [
    pytest.param("displayName", changed(BJENSEN, displayName=None), id="single-value"),
    pytest.param("DISPLAYNAME", changed(BJENSEN, displayName=None), id="any-case"),
    pytest.param(f"{USER_SCHEMA}:displayName", changed(BJENSEN, displayName=None), id="urn-qualified"),
    pytest.param("name", changed(BJENSEN, name=None), id="complex"),
    pytest.param("emails", changed(BJENSEN, emails=None), id="multi-valued"),
    pytest.param("name.givenName", changed(BJENSEN, name={"familyName": "Jensen"}), id="sub-attribute"),
    pytest.param(
        "emails.type",
        changed(BJENSEN, emails=[{"value": "bjensen@example.com", "primary": True}, {"value": "babs@jensen.org"}]),
        id="sub-attribute-of-every-value",
    ),
    pytest.param('emails[type eq "home"]', changed(BJENSEN, emails=[WORK_EMAIL]), id="value-path"),
    pytest.param('EMAILS[TYPE EQ "home"]', changed(BJENSEN, emails=[WORK_EMAIL]), id="value-path-any-case"),
    pytest.param(
        'emails[value eq "BABS@JENSEN.ORG"]', changed(BJENSEN, emails=[WORK_EMAIL]), id="case-insensitive-value"
    ),
    pytest.param('emails[type eq "nope"]', BJENSEN, id="value-path-matching-nothing"),
    pytest.param('phoneNumbers[type eq "work"]', changed(BJENSEN, phoneNumbers=None), id="last-value-unassigns"),
    pytest.param(
        'addresses[type eq "work"].streetAddress',
        changed(BJENSEN, addresses=[{k: v for k, v in WORK_ADDRESS.items() if k != "streetAddress"}, HOME_ADDRESS]),
        id="sub-attribute-of-matching-values",
    ),
    pytest.param("nickName", BJENSEN, id="absent-attribute"),
    pytest.param('ims[type eq "xmpp"]', BJENSEN, id="absent-multi-valued"),
    pytest.param(f"{ENTERPRISE}:department", in_enterprise(BJENSEN, department=None), id="extension-attribute"),
    pytest.param(f"{ENTERPRISE}:manager.value", in_enterprise(BJENSEN, manager=None), id="last-sub-attribute"),
    pytest.param(ENTERPRISE, changed(BJENSEN, **{ENTERPRISE: None}), id="extension-container"),
    pytest.param(ENTERPRISE.upper(), changed(BJENSEN, **{ENTERPRISE: None}), id="extension-container-any-case"),
]


@pytest.mark.parametrize(("path", "expected"), REMOVALS)
def test_remove_unassigns_the_target(path: str, expected: JsonDoc) -> None:
    assert patched(BJENSEN, remove(path)) == expected


def test_removing_the_last_extension_attribute_drops_the_extension_container() -> None:
    operations = [remove(f"{ENTERPRISE}:{name}") for name in ("employeeNumber", "department", "manager")]
    assert patched(BJENSEN, *operations) == changed(BJENSEN, **{ENTERPRISE: None})


def test_removing_the_last_sub_attribute_drops_the_complex_attribute() -> None:
    operations = [remove("name.givenName"), remove("name.familyName")]
    assert patched(BJENSEN, *operations) == changed(BJENSEN, name=None)


@pytest.mark.parametrize("path", ["id", "meta", "meta.created", "groups", 'groups[value eq "g1"]'])
def test_remove_of_a_read_only_attribute_is_a_mutability_error(path: str) -> None:
    with pytest.raises(Mutability, match="readOnly"):
        patch(BJENSEN, remove(path))


@pytest.mark.parametrize("path", ["userName", "USERNAME", f"{USER_SCHEMA}:userName"])
def test_remove_of_a_required_attribute_is_a_mutability_error(path: str) -> None:
    """RFC 7644 §3.5.2.2: a required attribute that would become unassigned is "mutability"."""
    with pytest.raises(Mutability, match="required"):
        patch(BJENSEN, remove(path))


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "userName", "value": None},
        {"op": "replace", "value": {"userName": None}},
        {"op": "add", "value": {"USERNAME": None}},
    ],
)
def test_unassigning_a_required_attribute_with_null_is_a_mutability_error(operation: dict[str, Any]) -> None:
    with pytest.raises(Mutability, match="required"):
        patch(BJENSEN, operation)


def test_remove_of_a_required_group_display_name_is_a_mutability_error() -> None:
    with pytest.raises(Mutability, match="required"):
        patch(TOUR_GUIDES, remove("displayName"), rtype=GROUP)


@pytest.mark.parametrize("path", ["nope", "name.nope"])
def test_remove_of_an_unknown_path_is_invalid_path(path: str) -> None:
    with pytest.raises(InvalidPath):
        patch(BJENSEN, remove(path))


@pytest.mark.parametrize("path", ["urn:example:unknown:2.0:User:department", f"{ENTERPRISE}:nope"])
def test_remove_of_undeclared_extension_data_is_invalid_when_it_is_not_kept(path: str) -> None:
    """With policy.keep_undeclared_extensions on (the default) it removes the value: tests/extensions."""
    with pytest.raises(InvalidPath):
        patch(BJENSEN, remove(path), policy=Policy(keep_undeclared_extensions=False))


def test_remove_of_schemas_is_a_mutability_error() -> None:
    """``schemas`` is a common attribute the server sets from the document (readOnly)."""
    with pytest.raises(Mutability, match="'schemas' is readOnly"):
        patch(BJENSEN, remove("schemas"))


def test_operations_apply_in_order() -> None:
    operations = [
        {"op": "add", "path": "nickName", "value": "Babs"},
        remove("nickName"),
        {"op": "add", "path": "title", "value": "Tour Guide"},
    ]
    assert patched(BJENSEN, *operations) == changed(BJENSEN, title="Tour Guide")


def test_remove_does_not_mutate_the_input_document() -> None:
    """The helper compares the input with a snapshot; this one removes from every kind of target."""
    patch(
        BJENSEN,
        remove('emails[type eq "work"]'),
        remove("emails.type"),
        remove('addresses[type eq "work"].streetAddress'),
        remove("name.givenName"),
        remove(f"{ENTERPRISE}:manager.value"),
        remove(ENTERPRISE),
    )
