"""The attribute mapping and the normalized directory user, as pure functions: defaults, the
email rule, paths resolved case-insensitively (URN-qualified, tenant extensions), refusals."""

from __future__ import annotations

from typing import Any

import pytest

from scimhub.directory.attributes import DEFAULT_MAPPING
from scimhub.directory.attributes import MappingError
from scimhub.directory.attributes import Source
from scimhub.directory.attributes import check_name
from scimhub.directory.attributes import check_path
from scimhub.directory.attributes import effective_mapping
from scimhub.directory.attributes import preferred
from scimhub.directory.user import GroupRef
from scimhub.directory.user import directory_user
from scimhub.schema.declare import DeclaredSchema
from scimhub.schema.declare import declare_schema
from scimhub.schema.registry import ENTERPRISE_USER_SCHEMA
from scimhub.schema.registry import default_registry
from scimhub.schema.registry import tenant_registry
from tests.extensions.support import ACME
from tests.extensions.support import acme_schema

ENTERPRISE = ENTERPRISE_USER_SCHEMA


def acme_registry() -> Any:
    document = declare_schema(acme_schema(), default_registry().builtin_urns())
    return tenant_registry([DeclaredSchema(ACME, "User", document, False)])


def resource(**attrs: Any) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "u1",
        "userName": "ada@example.com",
        **attrs,
        "meta": {"created": "2026-12-01T10:00:00Z", "lastModified": "2026-12-02T11:00:00Z"},
    }


def test_the_default_user_has_every_default_name_in_order_and_null_when_absent() -> None:
    mapping = effective_mapping(default_registry(), {})
    user = directory_user(resource(), mapping, [], [])

    assert list(user) == [
        "id",
        "userName",
        "state",
        *(name for name, _ in DEFAULT_MAPPING),
        "groups",
        "roles",
        "createdAt",
        "updatedAt",
    ]
    assert user["state"] == "active"  # absent active counts as active (RFC 7643 §4.1.1)
    assert {name: user[name] for name, _ in DEFAULT_MAPPING} == dict.fromkeys((n for n, _ in DEFAULT_MAPPING), None)
    assert (user["createdAt"], user["updatedAt"]) == ("2026-12-01T10:00:00Z", "2026-12-02T11:00:00Z")


def test_a_full_user_maps_the_defaults_groups_and_roles() -> None:
    doc = resource(
        active=False,
        externalId="00u1",
        displayName="Ada Lovelace",
        title="Engineer",
        name={"givenName": "Ada", "familyName": "Lovelace"},
        emails=[{"value": "home@example.com", "type": "home"}, {"value": "ada@work.example", "type": "work"}],
        **{ENTERPRISE: {"department": "R&D", "employeeNumber": "42", "manager": {"value": "m1"}}},
    )
    user = directory_user(doc, effective_mapping(default_registry(), {}), [GroupRef("g1", "Eng")], ["admin"], raw=True)

    assert user == {
        "id": "u1",
        "userName": "ada@example.com",
        "state": "inactive",
        "email": "ada@work.example",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "displayName": "Ada Lovelace",
        "externalId": "00u1",
        "jobTitle": "Engineer",
        "department": "R&D",
        "employeeNumber": "42",
        "managerId": "m1",
        "groups": [{"id": "g1", "displayName": "Eng"}],
        "roles": ["admin"],
        "createdAt": "2026-12-01T10:00:00Z",
        "updatedAt": "2026-12-02T11:00:00Z",
        "raw": doc,
    }


@pytest.mark.parametrize(
    ("emails", "chosen"),
    [
        ([{"value": "a", "type": "home"}, {"value": "b", "type": "work"}, {"value": "c", "primary": True}], "c"),
        ([{"value": "a", "type": "home"}, {"value": "b", "type": "Work"}, {"value": "c", "type": "work"}], "b"),
        ([{"value": "a", "type": "home"}, {"value": "b", "type": "other"}], "a"),
        ([{"value": "a"}], "a"),
        ([], None),
    ],
)
def test_email_is_the_primary_else_the_first_work_else_the_first(emails: list[Any], chosen: str | None) -> None:
    assert (preferred(emails) or {}).get("value") == chosen
    user = directory_user(resource(emails=emails), effective_mapping(default_registry(), {}), [], [])
    assert user["email"] == chosen


def test_declared_extension_attributes_are_mapped_under_their_names_and_tenant_rows_win() -> None:
    registry = acme_registry()
    rows: dict[str, str | None] = {"team": f"{ACME.upper()}:BADGES.value", "jobTitle": None, "costCenter": "title"}
    mapping = effective_mapping(registry, rows)
    by_name = {m.name: m for m in mapping.entries}

    assert by_name["badge"].source is Source.EXTENSION and by_name["badge"].path == f"{ACME}:badge"
    assert by_name["costCenter"].source is Source.TENANT and by_name["costCenter"].path == "title"
    assert "jobTitle" not in by_name  # removed by the tenant (a None row)
    doc = resource(title="CTO", **{ACME: {"badge": 7, "badges": [{"value": "d1", "type": "door"}]}})
    user = directory_user(doc, mapping, [], [])
    assert (user["badge"], user["costCenter"], user["team"]) == (7, "CTO", "d1")
    assert user["tags"] is None and "internalNote" in user  # returned=request is still the resource's data


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("EMAILS.VALUE", "emails.value"),
        ("name.givenname", "name.givenName"),
        (f"{ENTERPRISE.upper()}:Manager.Value", f"{ENTERPRISE}:manager.value"),
        (f"{ACME}:costcenter", f"{ACME}:costCenter"),
    ],
)
def test_paths_resolve_case_insensitively_to_their_canonical_spelling(path: str, key: str) -> None:
    assert check_path(acme_registry(), path).key == key


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("costCenter", "Unknown User attribute path 'costCenter'"),
        (f"{ACME}:costCenter", "Unknown User attribute path"),  # not declared in the default registry
        ("name.nickname", "Unknown User attribute path"),
        ("password", "is never returned"),
        ("groups", "every directory user has them as groups"),
        (ENTERPRISE, "Unknown User attribute path"),  # the container, not an attribute
    ],
)
def test_unknown_and_unmappable_paths_are_refused(path: str, message: str) -> None:
    with pytest.raises(MappingError, match=message.replace("(", r"\(")):
        check_path(default_registry(), path)


@pytest.mark.parametrize("name", ["id", "State", "groups", "roles", "raw", "createdAt", "1st", "a-b", "x" * 65, ""])
def test_reserved_and_malformed_names_are_refused(name: str) -> None:
    with pytest.raises(MappingError):
        check_name(name)
