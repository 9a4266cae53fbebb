"""validate_resource: a client's JSON → the canonical stored document (RFC 7643 §2, §3, §7).

The built-in schemas have no integer, decimal, writable dateTime or immutable top-level
attribute, so a test extension (``TESTED``) adds one of each, as a tenant extension would.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from typing import Any

import pytest

from scimhub.errors import InvalidSyntax
from scimhub.errors import InvalidValue
from scimhub.errors import Mutability
from scimhub.policy import Policy
from scimhub.schema.model import JsonDoc
from scimhub.schema.model import ResourceType
from scimhub.schema.registry import ENTERPRISE_USER_SCHEMA as ENTERPRISE
from scimhub.schema.registry import GROUP_SCHEMA
from scimhub.schema.registry import USER_SCHEMA
from scimhub.schema.registry import default_registry
from scimhub.schema.registry import schema_from_json
from scimhub.schema.validate import Context
from scimhub.schema.validate import validate_resource

REGISTRY = default_registry()
USER = REGISTRY.resource_type("User")
GROUP = REGISTRY.resource_type("Group")
COMMON = REGISTRY.common
STRICT = Policy.strict()
EXT = "urn:example:params:scim:schemas:extension:test:2.0:User"
TEST_EXTENSION = schema_from_json(
    {
        "id": EXT,
        "name": "Test",
        "attributes": [
            {"name": "badgeNumber", "type": "integer"},
            {"name": "score", "type": "decimal"},
            {"name": "hiredAt", "type": "dateTime"},
            {"name": "employeeId", "type": "string", "mutability": "immutable"},
        ],
    }
)
TESTED = dataclasses.replace(USER, extensions=(*USER.extensions, (TEST_EXTENSION, False)))
ALL_CONTEXTS = pytest.mark.parametrize("context", list(Context))


def validate(
    body: Any,
    context: Context = Context.CREATE,
    policy: Policy | None = None,
    existing: JsonDoc | None = None,
    rtype: ResourceType = TESTED,
) -> JsonDoc:
    """Validate, and check on the way that the body is never mutated."""
    snapshot = copy.deepcopy(body)
    try:
        return validate_resource(body, rtype, COMMON, context, policy or Policy(), existing)
    finally:
        assert body == snapshot


def user(**attributes: Any) -> JsonDoc:
    return {"schemas": [USER_SCHEMA], "userName": "bjensen", **attributes}


def test_a_minimal_user_is_its_canonical_document() -> None:
    assert validate({"schemas": [USER_SCHEMA], "userName": "bjensen"}) == user()


def test_keys_take_their_schema_spelling_whatever_the_case() -> None:
    body = {
        "SCHEMAS": [USER_SCHEMA],
        "USERNAME": "bjensen",
        "NAME": {"GIVENNAME": "Barbara", "familyname": "Jensen"},
        "Emails": [{"VALUE": "bjensen@example.com", "Type": "work", "PRIMARY": True}],
        ENTERPRISE.upper(): {"EmployeeNumber": "701984"},
    }
    assert validate(body) == {
        "userName": "bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True}],
        ENTERPRISE: {"employeeNumber": "701984"},
        "schemas": [USER_SCHEMA, ENTERPRISE],
    }


@pytest.mark.parametrize(
    "unassigned",
    [
        pytest.param({"title": None}, id="null"),
        pytest.param({"name": {"givenName": None}}, id="null-sub-attribute"),
        pytest.param({"name": {}}, id="empty-complex"),
        pytest.param({"emails": []}, id="empty-array"),
        pytest.param({"emails": [None]}, id="array-of-nulls"),
        pytest.param({"emails": [{}]}, id="array-of-empty-objects"),
        pytest.param({"emails": [{"value": None}]}, id="array-of-null-values"),
        pytest.param({ENTERPRISE: None}, id="null-extension"),
        pytest.param({ENTERPRISE: {}}, id="empty-extension"),
        pytest.param({ENTERPRISE: {"department": None}}, id="extension-of-nulls"),
        pytest.param({f"{ENTERPRISE}:department": None}, id="null-urn-key"),
    ],
)
@ALL_CONTEXTS
def test_nulls_and_empty_values_are_unassigned_and_dropped(unassigned: JsonDoc, context: Context) -> None:
    """RFC 7643 §2.5: null, an empty array and an unassigned attribute are the same state."""
    assert validate(user(**unassigned), context) == user()


def test_nulls_inside_arrays_are_dropped_and_the_rest_kept() -> None:
    body = user(emails=[None, {"value": "a@example.com", "type": None}, {}])
    assert validate(body)["emails"] == [{"value": "a@example.com"}]


@pytest.mark.parametrize(
    "read_only",
    [
        pytest.param({"id": "2819c223-7f76-453a-919d-413861904646"}, id="id"),
        pytest.param({"meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z"}}, id="meta"),
        pytest.param({"groups": [{"value": "e9e30dba-f08f-4109-8486-d5c6a331660a"}]}, id="groups"),
        pytest.param({"ID": "x", "Meta": {"version": 'W/"1"'}}, id="any-case"),
        pytest.param({f"{USER_SCHEMA}:id": "x"}, id="urn-qualified"),
    ],
)
@pytest.mark.parametrize("context", [Context.CREATE, Context.REPLACE])
def test_read_only_input_is_ignored(read_only: JsonDoc, context: Context) -> None:
    """RFC 7644 §3.3 and §3.5.1: values of readOnly attributes sent by clients are ignored."""
    assert validate(user(**read_only), context, existing=user()) == user()


@ALL_CONTEXTS
def test_a_password_is_accepted_but_never_persisted(context: Context) -> None:
    """``password`` is returned=never: nothing could ever read it back, so it is not stored."""
    assert validate(user(password="t1meMa$heen"), context, existing=user()) == user()


@ALL_CONTEXTS
@pytest.mark.parametrize("policy", [Policy(), STRICT], ids=["default", "strict"])
def test_the_same_body_validates_in_every_context(context: Context, policy: Policy) -> None:
    body = user(displayName="Babs Jensen", active=True, emails=[{"value": "b@example.com", "primary": True}])
    assert validate(body, context, policy, existing=user()) == body


TYPE_ERRORS = [
    pytest.param({"userName": 1}, "userName", id="string-number"),
    pytest.param({"displayName": True}, "displayName", id="string-boolean"),
    pytest.param({"displayName": {"x": 1}}, "displayName", id="string-object"),
    pytest.param({"name": {"givenName": 5}}, "name.givenName", id="string-sub-attribute"),
    pytest.param({"profileUrl": 7}, "profileUrl", id="reference-number"),
    pytest.param({"active": "yes"}, "active", id="boolean-word"),
    pytest.param({"active": 1}, "active", id="boolean-number"),
    pytest.param({"emails": [{"value": "a", "primary": "maybe"}]}, "emails[0].primary", id="boolean-sub"),
    pytest.param({EXT: {"badgeNumber": "7"}}, f"{EXT}:badgeNumber", id="integer-string"),
    pytest.param({EXT: {"badgeNumber": 7.5}}, f"{EXT}:badgeNumber", id="integer-float"),
    pytest.param({EXT: {"badgeNumber": True}}, f"{EXT}:badgeNumber", id="integer-boolean"),
    pytest.param({EXT: {"score": "1.5"}}, f"{EXT}:score", id="decimal-string"),
    pytest.param({EXT: {"score": False}}, f"{EXT}:score", id="decimal-boolean"),
    pytest.param({EXT: {"hiredAt": "yesterday"}}, f"{EXT}:hiredAt", id="dateTime-word"),
    pytest.param({EXT: {"hiredAt": "2008-01-23"}}, f"{EXT}:hiredAt", id="dateTime-date-only"),
    pytest.param({EXT: {"hiredAt": 1200000000}}, f"{EXT}:hiredAt", id="dateTime-number"),
    pytest.param({"name": "Barbara Jensen"}, "name", id="complex-string"),
    pytest.param({"name": ["Barbara"]}, "name", id="complex-array"),
    pytest.param({"emails": ["bjensen@example.com"]}, "emails[0]", id="complex-element-string"),
    pytest.param({"emails": {"value": "bjensen@example.com"}}, "emails", id="multi-valued-object"),
    pytest.param({"emails": "bjensen@example.com"}, "emails", id="multi-valued-string"),
    pytest.param({"title": ["Tour Guide"]}, "title", id="single-valued-array"),
    pytest.param({ENTERPRISE: "Tour Operations"}, ENTERPRISE, id="extension-not-object"),
]


@pytest.mark.parametrize(("fragment", "where"), TYPE_ERRORS)
@ALL_CONTEXTS
def test_a_value_of_the_wrong_type_is_invalid_value(fragment: JsonDoc, where: str, context: Context) -> None:
    with pytest.raises(InvalidValue, match=re.escape(f"'{where}'")):
        validate(user(**fragment), context, existing=user())


@pytest.mark.parametrize(
    ("fragment", "stored"),
    [
        pytest.param({"badgeNumber": 7}, {"badgeNumber": 7}, id="integer"),
        pytest.param({"badgeNumber": -3}, {"badgeNumber": -3}, id="negative-integer"),
        pytest.param({"score": 1.5}, {"score": 1.5}, id="decimal"),
        pytest.param({"score": 2}, {"score": 2}, id="decimal-written-as-integer"),
        pytest.param({"hiredAt": "2008-01-23T04:56:22Z"}, {"hiredAt": "2008-01-23T04:56:22Z"}, id="dateTime-Z"),
        pytest.param(
            {"hiredAt": "2008-01-23T04:56:22.123+02:00"},
            {"hiredAt": "2008-01-23T04:56:22.123+02:00"},
            id="dateTime-offset",
        ),
        pytest.param({"hiredAt": "2008-01-23T04:56:22"}, {"hiredAt": "2008-01-23T04:56:22"}, id="dateTime-local"),
    ],
)
def test_well_typed_values_are_stored_as_sent(fragment: JsonDoc, stored: JsonDoc) -> None:
    assert validate(user(**{EXT: fragment}))[EXT] == stored


@pytest.mark.parametrize("text", ["true", "True", "TRUE", "false", "False", "FALSE"])
def test_string_booleans_are_accepted_by_default(text: str) -> None:
    """Entra sends ``"active": "False"`` (policy.string_booleans)."""
    expected = text.casefold() == "true"
    doc = validate(user(active=text, emails=[{"value": "a@example.com", "primary": text}]))
    assert doc["active"] is expected
    assert doc["emails"][0]["primary"] is expected


@pytest.mark.parametrize("text", ["true", "False"])
def test_string_booleans_are_rejected_when_strict(text: str) -> None:
    with pytest.raises(InvalidValue, match="'active'"):
        validate(user(active=text), policy=STRICT)


IGNORED_ATTRIBUTES = [
    pytest.param({"favouriteColour": "green"}, id="top-level"),
    pytest.param({"name": {"nickName": "Babs"}}, id="sub-attribute"),
    pytest.param({"name.givenName": "Barbara"}, id="dotted-key"),
    pytest.param({"department": "Tour Operations"}, id="extension-attribute-at-top-level"),
]
# Attributes an extension does not declare (Okta's custom attributes in the enterprise namespace).
UNDECLARED_IN_EXTENSION = [
    pytest.param({ENTERPRISE: {"costCentre": "4130"}}, id="extension-attribute"),
    pytest.param({f"{ENTERPRISE}:costCentre": "4130"}, id="urn-qualified"),
]
UNKNOWN_ATTRIBUTES = [*IGNORED_ATTRIBUTES, *UNDECLARED_IN_EXTENSION]


@pytest.mark.parametrize("unknown", IGNORED_ATTRIBUTES)
def test_unknown_attributes_are_ignored_by_default(unknown: JsonDoc) -> None:
    """RFC 7644 §3.3 lets a server ignore what it does not know (policy.ignore_unknown_attributes)."""
    assert validate(user(**unknown)) == user()


@pytest.mark.parametrize("unknown", UNDECLARED_IN_EXTENSION)
def test_an_attribute_an_extension_does_not_declare_is_kept_as_sent(unknown: JsonDoc) -> None:
    """policy.keep_undeclared_extensions (default): kept, like an undeclared extension's data;
    off, it is ignored like any unknown attribute."""
    kept = validate(user(**unknown))
    ignored = validate(user(**unknown), policy=Policy(keep_undeclared_extensions=False))

    assert kept[ENTERPRISE] == {"costCentre": "4130"} and kept["schemas"] == [USER_SCHEMA, ENTERPRISE]
    assert ignored == user()


@pytest.mark.parametrize("unknown", UNKNOWN_ATTRIBUTES)
def test_unknown_attributes_are_rejected_when_strict(unknown: JsonDoc) -> None:
    with pytest.raises(InvalidValue, match="Unknown"):
        validate(user(**unknown), policy=STRICT)


UNKNOWN_URNS = [
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0User",  # Entra tutorial typo
    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
    "urn:okta:custom:group:1.0",
]


@pytest.mark.parametrize("urn", UNKNOWN_URNS)
def test_unknown_schema_uris_are_tolerated_and_dropped_by_default(urn: str) -> None:
    body = {"schemas": [USER_SCHEMA, urn], "userName": "bjensen"}
    assert validate(body) == user()


@pytest.mark.parametrize("urn", UNKNOWN_URNS)
def test_unknown_schema_uris_are_rejected_when_strict(urn: str) -> None:
    with pytest.raises(InvalidValue, match="Unknown schema URI"):
        validate({"schemas": [USER_SCHEMA, urn], "userName": "bjensen"}, policy=STRICT)


def test_entra_tutorial_create_with_nulls_a_typo_and_stray_attributes_is_accepted() -> None:
    body = {
        "schemas": [USER_SCHEMA, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
        "externalId": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
        "userName": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e",
        "active": True,
        "addresses": None,
        "displayName": "Test_User_fd0ea19b",
        "meta": {"resourceType": "User"},
        "phoneNumbers": None,
        "preferredLanguage": None,
        "title": None,
        "department": "Test_User_fd0ea19b_department",
        "manager": "Test_User_fd0ea19b_manager",
    }
    assert validate(body) == {
        "externalId": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
        "userName": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e",
        "active": True,
        "displayName": "Test_User_fd0ea19b",
        "schemas": [USER_SCHEMA],
    }


def test_a_body_without_schemas_is_tolerated() -> None:
    """The resource type is known from the endpoint."""
    assert validate({"userName": "bjensen"}) == user()


@pytest.mark.parametrize(
    "schemas",
    [
        pytest.param([ENTERPRISE], id="extension-only"),
        pytest.param([GROUP_SCHEMA], id="other-resource-type"),
        pytest.param([], id="empty"),
        pytest.param(USER_SCHEMA, id="not-an-array"),
        pytest.param([USER_SCHEMA, 7], id="not-strings"),
    ],
)
@pytest.mark.parametrize("policy", [Policy(), STRICT], ids=["default", "strict"])
def test_schemas_without_the_core_urn_are_invalid_value(schemas: Any, policy: Policy) -> None:
    with pytest.raises(InvalidValue, match="'schemas'"):
        validate({"schemas": schemas, "userName": "bjensen"}, policy=policy)


def test_schemas_is_rebuilt_from_the_extensions_actually_present() -> None:
    declared = {"schemas": [USER_SCHEMA, ENTERPRISE, EXT], "userName": "bjensen", EXT: {"badgeNumber": 1}}
    assert validate(declared)["schemas"] == [USER_SCHEMA, EXT]
    undeclared = {"schemas": [USER_SCHEMA], "userName": "bjensen", ENTERPRISE: {"department": "Tours"}}
    assert validate(undeclared)["schemas"] == [USER_SCHEMA, ENTERPRISE]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"schemas": [USER_SCHEMA]}, id="missing"),
        pytest.param({"schemas": [USER_SCHEMA], "userName": None}, id="null"),
        pytest.param({"schemas": [USER_SCHEMA], "displayName": "Babs"}, id="other-attributes-only"),
    ],
)
@ALL_CONTEXTS
def test_a_user_without_user_name_is_invalid_value(body: JsonDoc, context: Context) -> None:
    with pytest.raises(InvalidValue, match="'userName' is required"):
        validate(body, context, existing=user())


def test_a_group_without_display_name_is_invalid_value() -> None:
    with pytest.raises(InvalidValue, match="'displayName' is required"):
        validate({"schemas": [GROUP_SCHEMA], "members": []}, rtype=GROUP)


def test_a_group_keeps_its_members_for_the_service_to_store() -> None:
    body = {"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides", "members": [{"value": "u1", "display": "B"}]}
    assert validate(body, rtype=GROUP)["members"] == [{"value": "u1", "display": "B"}]


def with_employee_id(value: str) -> JsonDoc:
    return {"schemas": [USER_SCHEMA, EXT], "userName": "bjensen", EXT: {"employeeId": value}}


@pytest.mark.parametrize("context", [Context.REPLACE, Context.PATCH])
def test_changing_an_immutable_value_is_a_mutability_error(context: Context) -> None:
    """RFC 7644 §3.5.1: an immutable value, once set, must match on replace."""
    with pytest.raises(Mutability, match="'employeeId' is immutable"):
        validate(with_employee_id("E-2"), context, existing=with_employee_id("E-1"))


@pytest.mark.parametrize("context", [Context.REPLACE, Context.PATCH])
def test_repeating_an_immutable_value_is_accepted(context: Context) -> None:
    assert validate(with_employee_id("E-1"), context, existing=with_employee_id("E-1")) == with_employee_id("E-1")


@pytest.mark.parametrize("context", [Context.REPLACE, Context.PATCH])
def test_an_immutable_value_can_be_set_when_it_had_none(context: Context) -> None:
    assert validate(with_employee_id("E-1"), context, existing=user()) == with_employee_id("E-1")


def test_create_does_not_compare_immutable_values() -> None:
    assert validate(with_employee_id("E-2"), Context.CREATE, existing=with_employee_id("E-1")) == with_employee_id(
        "E-2"
    )


def test_an_immutable_value_omitted_on_replace_is_kept() -> None:
    assert validate(user(), Context.REPLACE, existing=with_employee_id("E-1")) == with_employee_id("E-1")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            {f"{ENTERPRISE}:department": "Tour Operations", f"{ENTERPRISE}:manager": {"value": "26118915"}},
            id="urn-keys",
        ),
        pytest.param(
            {f"{ENTERPRISE.lower()}:DEPARTMENT": "Tour Operations", f"{ENTERPRISE}:Manager": {"VALUE": "26118915"}},
            id="urn-keys-any-case",
        ),
        pytest.param(
            {ENTERPRISE: {"department": "Tour Operations"}, f"{ENTERPRISE}:manager": {"value": "26118915"}},
            id="container-and-urn-key",
        ),
        pytest.param(
            {ENTERPRISE: {"department": "Tour Operations", "manager": {"value": "26118915"}}},
            id="container",
        ),
    ],
)
def test_extension_attributes_land_in_their_extension_container(body: JsonDoc) -> None:
    assert validate(user(**body)) == {
        "userName": "bjensen",
        ENTERPRISE: {"department": "Tour Operations", "manager": {"value": "26118915"}},
        "schemas": [USER_SCHEMA, ENTERPRISE],
    }


def test_core_attributes_may_be_urn_qualified() -> None:
    body = {"schemas": [USER_SCHEMA], f"{USER_SCHEMA}:userName": "bjensen", f"{USER_SCHEMA}:name": {"givenName": "B"}}
    assert validate(body) == user(name={"givenName": "B"})


@pytest.mark.parametrize("body", [[], "userName", 7, None])
def test_a_body_that_is_not_an_object_is_invalid_syntax(body: Any) -> None:
    with pytest.raises(InvalidSyntax):
        validate(body)


@ALL_CONTEXTS
def test_the_input_is_never_mutated(context: Context) -> None:
    body = {
        "schemas": [USER_SCHEMA, "urn:example:unknown"],
        "ID": "x",
        "USERNAME": "bjensen",
        "password": "secret",
        "title": None,
        "active": "True",
        "name": {"GIVENNAME": "Barbara", "familyName": None},
        "emails": [{"value": "a@example.com", "PRIMARY": "true"}, None],
        f"{ENTERPRISE}:department": "Tours",
        ENTERPRISE: {"employeeNumber": "701984"},
    }
    existing = user(displayName="Babs")
    existing_snapshot = copy.deepcopy(existing)
    validate(body, context, existing=existing)  # the helper compares the body with a snapshot
    assert existing == existing_snapshot


# -- a PATCH result re-checks only what the PATCH changed --------------------------------------


def test_a_patch_result_keeps_unchanged_stored_attributes_without_checking_them_again() -> None:
    # Stored under an earlier, laxer rule (a number in a string attribute): a PATCH of `active`
    # must not be refused for an attribute it did not touch.
    stored = {"schemas": [USER_SCHEMA], "userName": "bjensen", "title": 5, "active": True}
    patched = {**stored, "active": False}
    doc = validate(patched, Context.PATCH, existing=stored)
    assert doc["title"] == 5 and doc["active"] is False
    with pytest.raises(InvalidValue, match="title"):
        validate(patched, Context.REPLACE, existing=stored)  # a PUT sends everything: all is checked


def test_a_patch_result_checks_every_changed_attribute() -> None:
    stored = {"schemas": [USER_SCHEMA], "userName": "bjensen", "title": "Boss"}
    with pytest.raises(InvalidValue, match="title"):
        validate({**stored, "title": 6}, Context.PATCH, existing=stored)
    with pytest.raises(InvalidValue, match="nickName"):
        validate({**stored, "nickName": ["x"]}, Context.PATCH, existing=stored)  # added, not only changed
    with pytest.raises(InvalidValue, match="userName"):
        validate({**stored, "userName": None}, Context.PATCH, existing=stored)  # required still holds
