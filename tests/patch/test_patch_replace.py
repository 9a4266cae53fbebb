"""PATCH replace (RFC 7644 §3.5.2.3) on a stored user, including the Entra shapes of IDP_QUIRKS §2.5/2.6."""

from __future__ import annotations

from typing import Any

import pytest

from scimhub.errors import InvalidPath
from scimhub.errors import InvalidValue
from scimhub.errors import Mutability
from scimhub.errors import NoTarget
from scimhub.policy import Policy
from scimhub.schema.model import JsonDoc
from scimhub.schema.validate import Context
from scimhub.schema.validate import validate_resource
from tests.patch.support import BJENSEN
from tests.patch.support import COMMON
from tests.patch.support import ENTERPRISE
from tests.patch.support import STRICT
from tests.patch.support import USER
from tests.patch.support import changed
from tests.patch.support import in_enterprise
from tests.patch.support import patch
from tests.patch.support import patched

WORK_EMAIL = {"value": "bjensen@example.com", "type": "work", "primary": True}
HOME_EMAIL = {"value": "babs@jensen.org", "type": "home"}
WORK_ADDRESS, HOME_ADDRESS = BJENSEN["addresses"]
RFC_WORK_ADDRESS = {
    "type": "work",
    "streetAddress": "911 Universal City Plaza",
    "locality": "Hollywood",
    "region": "CA",
    "postalCode": "91608",
    "country": "US",
    "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
    "primary": True,
}


def replace(path: str | None, value: Any) -> dict[str, Any]:
    return {"op": "replace", "value": value} if path is None else {"op": "replace", "path": path, "value": value}


# RFC 7644 §3.5.2.3, the three examples on a User (the first, on members, is in test_patch_members).
RFC_EXAMPLES = [
    pytest.param(
        replace('addresses[type eq "work"]', RFC_WORK_ADDRESS),
        changed(BJENSEN, addresses=[RFC_WORK_ADDRESS, HOME_ADDRESS]),
        id="replace-the-work-address",
    ),
    pytest.param(
        replace('addresses[type eq "work"].streetAddress', "1010 Broadway Ave"),
        changed(BJENSEN, addresses=[{**WORK_ADDRESS, "streetAddress": "1010 Broadway Ave"}, HOME_ADDRESS]),
        id="replace-a-sub-attribute-of-the-work-address",
    ),
    pytest.param(
        replace(
            None,
            {
                "emails": [
                    {"value": "bjensen@example.com", "type": "work", "primary": True},
                    {"value": "babs@jensen.org", "type": "home"},
                ],
                "nickname": "Babs",
            },
        ),
        changed(BJENSEN, emails=[WORK_EMAIL, HOME_EMAIL], nickName="Babs"),
        id="replace-several-attributes-without-path",
    ),
]


@pytest.mark.parametrize(("operation", "expected"), RFC_EXAMPLES)
def test_rfc7644_replace_examples_give_the_documented_result(operation: dict[str, Any], expected: JsonDoc) -> None:
    assert patched(BJENSEN, operation) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param([{"value": "babs@example.org", "type": "other"}], id="array"),
        pytest.param({"value": "babs@example.org", "type": "other"}, id="single-object"),
    ],
)
def test_replace_on_a_multi_valued_attribute_replaces_every_value(value: Any) -> None:
    assert patched(BJENSEN, replace("emails", value))["emails"] == [{"value": "babs@example.org", "type": "other"}]


def test_replace_with_an_empty_array_leaves_the_attribute_without_values() -> None:
    emails = patched(BJENSEN, replace("emails", [])).get("emails", [])
    assert emails == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        pytest.param("displayName", "Babs", changed(BJENSEN, displayName="Babs"), id="single-value"),
        pytest.param("userName", "babs@example.com", changed(BJENSEN, userName="babs@example.com"), id="user-name"),
        pytest.param("nickName", "Babs", changed(BJENSEN, nickName="Babs"), id="absent-single-value"),
        pytest.param(
            "name.familyName",
            "updatedFamilyName",
            changed(BJENSEN, name={"familyName": "updatedFamilyName", "givenName": "Barbara"}),
            id="sub-attribute",
        ),
        pytest.param(
            "name",
            {"givenName": "Babs"},
            changed(BJENSEN, name={"familyName": "Jensen", "givenName": "Babs"}),
            id="complex-keeps-unspecified-sub-attributes",
        ),
        pytest.param(
            f"{ENTERPRISE}:department",
            "Tours",
            in_enterprise(BJENSEN, department="Tours"),
            id="extension-attribute",
        ),
        pytest.param(
            ENTERPRISE,
            {"department": "Tours"},
            in_enterprise(BJENSEN, department="Tours"),
            id="extension-container-keeps-other-attributes",
        ),
        pytest.param("title", None, BJENSEN, id="null-on-absent-attribute"),
        pytest.param("displayName", None, changed(BJENSEN, displayName=None), id="null-unassigns"),
    ],
)
def test_replace_sets_the_target(path: str, value: Any, expected: JsonDoc) -> None:
    assert patched(BJENSEN, replace(path, value)) == expected


def test_entra_replaces_a_work_email_through_a_value_path() -> None:
    """IDP_QUIRKS §2.5: the multi-valued update of the Entra tutorial."""
    operations = [
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "updatedEmail@microsoft.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
    ]
    assert patched(BJENSEN, *operations) == changed(
        BJENSEN,
        emails=[{**WORK_EMAIL, "value": "updatedEmail@microsoft.com"}, HOME_EMAIL],
        name={"familyName": "updatedFamilyName", "givenName": "Barbara"},
    )


def test_entra_replace_on_an_unmatched_value_path_creates_the_element() -> None:
    operation = {"op": "Replace", "path": 'phoneNumbers[type eq "mobile"].value', "value": "555-555-4444"}
    assert patched(BJENSEN, operation)["phoneNumbers"] == [
        *BJENSEN["phoneNumbers"],
        {"type": "mobile", "value": "555-555-4444"},
    ]


def test_replace_on_an_unmatched_value_path_is_no_target_when_strict() -> None:
    """RFC 7644 §3.5.2.3: a valuePath filter that matches nothing is noTarget."""
    with pytest.raises(NoTarget):
        patch(BJENSEN, replace('phoneNumbers[type eq "mobile"].value', "555-555-4444"), policy=STRICT)


def test_entra_pathless_replace_with_dotted_and_urn_keys_sets_each_attribute() -> None:
    """IDP_QUIRKS §2.5, the aadOptscim062020 example."""
    operation = replace(
        None,
        {
            "displayName": "Bjfe",
            "name.givenName": "Kkom",
            "name.familyName": "Unua",
            f"{ENTERPRISE}:employeeNumber": "Aklq",
        },
    )
    expected = changed(BJENSEN, displayName="Bjfe", name={"familyName": "Unua", "givenName": "Kkom"})
    assert patched(BJENSEN, operation) == in_enterprise(expected, employeeNumber="Aklq")


@pytest.mark.parametrize("op", ["replace", "Replace"])
def test_entra_changes_the_manager_with_a_bare_id_string(op: str) -> None:
    operation = {"op": op, "path": f"{ENTERPRISE}:manager", "value": "manager-2"}
    assert patched(BJENSEN, operation) == in_enterprise(BJENSEN, manager={"value": "manager-2"})


def test_entra_removes_the_manager_by_replacing_it_with_an_empty_string() -> None:
    """IDP_QUIRKS §2.5: removing the manager is a replace with ""."""
    operation = {"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": ""}
    assert patched(BJENSEN, operation) == in_enterprise(BJENSEN, manager=None)


def test_clearing_the_last_extension_attribute_drops_the_extension_container() -> None:
    only_manager = in_enterprise(BJENSEN, employeeNumber=None, department=None)
    operation = replace(f"{ENTERPRISE}:manager", "")
    assert patched(only_manager, operation) == changed(BJENSEN, **{ENTERPRISE: None})


def test_clearing_a_manager_that_was_never_set_changes_nothing() -> None:
    no_extension = changed(BJENSEN, **{ENTERPRISE: None})
    assert patched(no_extension, replace(f"{ENTERPRISE}:manager", "")) == no_extension


@pytest.mark.parametrize(
    ("path", "emails"),
    [
        pytest.param('emails[type eq "home"]', [WORK_EMAIL], id="matching-values"),
        pytest.param(
            'emails[type eq "work"].primary',
            [{"value": "bjensen@example.com", "type": "work"}, HOME_EMAIL],
            id="sub-attribute",
        ),
        pytest.param('emails[type eq "other"].value', [WORK_EMAIL, HOME_EMAIL], id="no-match-creates-nothing"),
    ],
)
def test_replacing_a_value_path_with_null_unassigns_it(path: str, emails: list[JsonDoc]) -> None:
    """RFC 7643 §2.5: null is unassigned; Entra's null-update test sends it (IDP_QUIRKS §2.5)."""
    assert patched(BJENSEN, replace(path, None))["emails"] == emails


def test_replacing_several_matched_values_with_one_value_keeps_it_once() -> None:
    two_work = changed(BJENSEN, emails=[WORK_EMAIL, {"value": "b@example.com", "type": "work"}, HOME_EMAIL])
    operation = replace('emails[type eq "work"]', {"value": "w@example.com", "type": "work", "primary": True})
    assert patched(two_work, operation)["emails"] == [
        {"value": "w@example.com", "type": "work", "primary": True},
        HOME_EMAIL,
    ]


def test_a_value_path_replace_with_primary_true_clears_the_other_primaries() -> None:
    operation = replace('emails[type eq "home"].primary', True)
    assert patched(BJENSEN, operation)["emails"] == [{**WORK_EMAIL, "primary": False}, {**HOME_EMAIL, "primary": True}]


def test_replacing_a_whole_element_with_a_primary_one_clears_the_other_primaries() -> None:
    """RFC 7644 §3.5.2: a value whose primary becomes true makes the others false."""
    home = {**HOME_ADDRESS, "primary": True}
    operation = replace('addresses[type eq "home"]', home)
    assert patched(BJENSEN, operation)["addresses"] == [{**WORK_ADDRESS, "primary": False}, home]


def test_a_primary_element_created_for_an_unmatched_value_path_clears_the_other_primaries() -> None:
    operation = replace('emails[type eq "other"]', {"value": "babs@example.org", "primary": True})
    assert patched(BJENSEN, operation)["emails"] == [
        {**WORK_EMAIL, "primary": False},
        HOME_EMAIL,
        {"type": "other", "value": "babs@example.org", "primary": True},
    ]


@pytest.mark.parametrize(("text", "active"), [("False", False), ("True", True), ("false", False)])
def test_entra_string_booleans_become_booleans_once_validated(text: str, active: bool) -> None:
    """IDP_QUIRKS §2.6: Entra disables with "False"; validation turns it into a boolean."""
    doc = patched(BJENSEN, {"op": "Replace", "path": "active", "value": text})
    assert validate_resource(doc, USER, COMMON, Context.PATCH, Policy(), BJENSEN)["active"] is active


def test_string_booleans_fail_validation_when_strict() -> None:
    doc = patched(BJENSEN, replace("active", "False"), policy=STRICT)
    with pytest.raises(InvalidValue, match="'active'"):
        validate_resource(doc, USER, COMMON, Context.PATCH, STRICT, BJENSEN)


@pytest.mark.parametrize(
    "path",
    ["id", "meta", "meta.version", "groups", "GROUPS", f"{ENTERPRISE}:manager.displayName", "schemas"],
)
def test_replace_on_a_read_only_attribute_is_a_mutability_error(path: str) -> None:
    with pytest.raises(Mutability):
        patch(BJENSEN, replace(path, "x"))


@pytest.mark.parametrize("path", ["nope", "name.nope", "displayName.value"])
def test_replace_on_an_unknown_path_is_invalid_path(path: str) -> None:
    with pytest.raises(InvalidPath):
        patch(BJENSEN, replace(path, "x"))


def test_replace_of_an_attribute_the_enterprise_extension_lacks_is_invalid_when_not_kept() -> None:
    """With policy.keep_undeclared_extensions on (the default) it sets the value: tests/extensions."""
    with pytest.raises(InvalidPath):
        patch(BJENSEN, replace(f"{ENTERPRISE}:nope", "x"), policy=Policy(keep_undeclared_extensions=False))


def test_pathless_replace_rejects_unknown_attributes_when_strict() -> None:
    with pytest.raises(InvalidValue, match="nickname_"):
        patch(BJENSEN, replace(None, {"nickname_": "Babs"}), policy=STRICT)


def test_replace_does_not_mutate_the_input_document() -> None:
    """The helper compares the input with a snapshot; this one replaces every kind of target."""
    patch(
        BJENSEN,
        replace('addresses[type eq "home"]', {**HOME_ADDRESS, "primary": True}),
        replace('emails[type eq "work"].value', "updatedEmail@microsoft.com"),
        replace("name", {"givenName": "Babs"}),
        replace(f"{ENTERPRISE}:manager", ""),
        replace(ENTERPRISE, {"department": "Tours"}),
        replace("emails", []),
    )
