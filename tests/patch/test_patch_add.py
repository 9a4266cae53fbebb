"""PATCH add (RFC 7644 §3.5.2.1) on a stored user, including the Entra shapes of IDP_QUIRKS §2.5."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from scimhub.errors import InvalidFilter
from scimhub.errors import InvalidPath
from scimhub.errors import InvalidValue
from scimhub.errors import Mutability
from scimhub.errors import NoTarget
from scimhub.patch.apply import apply_patch
from scimhub.patch.model import parse_patch_request
from scimhub.policy import Policy
from scimhub.schema.model import JsonDoc
from scimhub.schema.registry import USER_SCHEMA
from tests.patch.support import BJENSEN
from tests.patch.support import COMMON
from tests.patch.support import ENTERPRISE
from tests.patch.support import MANAGER_ID
from tests.patch.support import STRICT
from tests.patch.support import USER
from tests.patch.support import changed
from tests.patch.support import in_enterprise
from tests.patch.support import patch
from tests.patch.support import patched
from tests.patch.support import request

WORK_EMAIL = {"value": "bjensen@example.com", "type": "work", "primary": True}
HOME_EMAIL = {"value": "babs@jensen.org", "type": "home"}
OTHER_EMAIL = {"value": "babs@example.org", "type": "other"}
WORK_PHONE = {"value": "555-555-5555", "type": "work"}
# RFC 7644 §3.5.2.1 patches a user that has only a work email.
WORK_EMAIL_ONLY = changed(BJENSEN, emails=[WORK_EMAIL])


def add(path: str | None, value: Any) -> dict[str, Any]:
    return {"op": "add", "value": value} if path is None else {"op": "add", "path": path, "value": value}


def test_rfc7644_add_without_path_appends_the_email_and_sets_the_nickname() -> None:
    """RFC 7644 §3.5.2.1, second example (the first, on members, is in test_patch_members)."""
    operation = add(None, {"emails": [{"value": "babs@jensen.org", "type": "home"}], "nickname": "Babs"})
    assert patched(WORK_EMAIL_ONLY, operation) == changed(
        WORK_EMAIL_ONLY, emails=[WORK_EMAIL, HOME_EMAIL], nickName="Babs"
    )


@pytest.mark.parametrize(
    "value",
    [
        pytest.param([OTHER_EMAIL], id="array"),
        pytest.param(OTHER_EMAIL, id="single-object"),
    ],
)
def test_add_to_a_multi_valued_attribute_appends(value: Any) -> None:
    assert patched(BJENSEN, add("emails", value))["emails"] == [WORK_EMAIL, HOME_EMAIL, OTHER_EMAIL]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param([HOME_EMAIL], id="existing"),
        pytest.param([HOME_EMAIL, OTHER_EMAIL], id="existing-and-new"),
        pytest.param([WORK_EMAIL, HOME_EMAIL, OTHER_EMAIL], id="all-existing-and-new"),
    ],
)
def test_add_never_duplicates_an_equal_value(value: list[JsonDoc]) -> None:
    """RFC 7644 §3.5.2.1: a value already present is not added again."""
    assert (
        patched(BJENSEN, add("emails", value))["emails"]
        == [WORK_EMAIL, HOME_EMAIL, OTHER_EMAIL][: 2 + (OTHER_EMAIL in value)]
    )


def test_add_of_the_same_value_twice_in_one_request_adds_it_once() -> None:
    assert patched(BJENSEN, add("emails", [OTHER_EMAIL, OTHER_EMAIL]))["emails"] == [
        WORK_EMAIL,
        HOME_EMAIL,
        OTHER_EMAIL,
    ]


def test_add_to_an_absent_multi_valued_attribute_creates_it() -> None:
    ims = [{"value": "babs", "type": "xmpp"}]
    assert patched(BJENSEN, add("ims", ims)) == changed(BJENSEN, ims=ims)


def test_a_new_primary_value_clears_the_other_primaries() -> None:
    """RFC 7644 §3.5.2: setting primary true on one value makes the others false."""
    new = {**OTHER_EMAIL, "primary": True}
    assert patched(BJENSEN, add("emails", [new]))["emails"] == [{**WORK_EMAIL, "primary": False}, HOME_EMAIL, new]


def test_of_several_new_primary_values_the_last_one_wins() -> None:
    first, second = {**OTHER_EMAIL, "primary": True}, {"value": "b@example.org", "primary": True}
    assert patched(BJENSEN, add("emails", [first, second]))["emails"] == [
        {**WORK_EMAIL, "primary": False},
        HOME_EMAIL,
        {**first, "primary": False},
        second,
    ]


@pytest.mark.parametrize("text", ["True", "true"])
def test_an_entra_string_primary_also_clears_the_other_primaries(text: str) -> None:
    """Validation will turn "True" into true (policy.string_booleans): it must win alone."""
    operation = {"op": "Add", "path": 'emails[type eq "home"].primary', "value": text}
    assert patched(BJENSEN, operation)["emails"] == [{**WORK_EMAIL, "primary": False}, {**HOME_EMAIL, "primary": text}]


def test_clearing_a_primary_does_not_edit_the_request() -> None:
    operations = parse_patch_request(request(add("emails", [{**OTHER_EMAIL, "primary": True}, WORK_EMAIL])))
    snapshot = copy.deepcopy(operations)
    apply_patch(BJENSEN, operations, USER, COMMON, Policy())
    assert operations == snapshot


def test_a_new_primary_through_a_value_path_clears_the_other_primaries() -> None:
    operation = add('emails[type eq "home"].primary', True)
    assert patched(BJENSEN, operation)["emails"] == [
        {**WORK_EMAIL, "primary": False},
        {**HOME_EMAIL, "primary": True},
    ]


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        pytest.param("nickName", "Babs", changed(BJENSEN, nickName="Babs"), id="absent-single-value"),
        pytest.param("displayName", "Babs", changed(BJENSEN, displayName="Babs"), id="existing-single-value"),
        pytest.param("NICKNAME", "Babs", changed(BJENSEN, nickName="Babs"), id="any-case"),
        pytest.param(f"{USER_SCHEMA}:nickName", "Babs", changed(BJENSEN, nickName="Babs"), id="urn-qualified"),
        pytest.param("active", False, changed(BJENSEN, active=False), id="boolean"),
        pytest.param(
            "name.middleName",
            "Jane",
            changed(BJENSEN, name={"familyName": "Jensen", "givenName": "Barbara", "middleName": "Jane"}),
            id="sub-attribute",
        ),
        pytest.param(
            "name",
            {"givenName": "Babs", "honorificPrefix": "Ms."},
            changed(BJENSEN, name={"familyName": "Jensen", "givenName": "Babs", "honorificPrefix": "Ms."}),
            id="complex-merges-sub-attributes",
        ),
        pytest.param(
            f"{ENTERPRISE}:costCenter",
            "4130",
            in_enterprise(BJENSEN, costCenter="4130"),
            id="extension-attribute",
        ),
        pytest.param(
            f"{ENTERPRISE.upper()}:COSTCENTER",
            "4130",
            in_enterprise(BJENSEN, costCenter="4130"),
            id="extension-attribute-any-case",
        ),
        pytest.param(
            ENTERPRISE,
            {"costCenter": "4130", "department": "Tours"},
            in_enterprise(BJENSEN, costCenter="4130", department="Tours"),
            id="extension-container-merges",
        ),
    ],
)
def test_add_sets_the_target(path: str, value: Any, expected: JsonDoc) -> None:
    assert patched(BJENSEN, add(path, value)) == expected


def test_add_to_an_absent_extension_creates_its_container() -> None:
    bare = changed(BJENSEN, **{ENTERPRISE: None})
    assert patched(bare, add(f"{ENTERPRISE}:department", "Tours")) == in_enterprise(bare, department="Tours")


@pytest.mark.parametrize("path", [f"{ENTERPRISE}:manager", f"{ENTERPRISE}:Manager"])
def test_entra_sets_the_manager_as_a_bare_id_string(path: str) -> None:
    """IDP_QUIRKS §2.5: Entra adds the URN manager path with a string value, not {value: …}."""
    bare = changed(BJENSEN, **{ENTERPRISE: None})
    assert patched(bare, add(path, "manager-2")) == in_enterprise(bare, manager={"value": "manager-2"})


def test_the_manager_can_also_be_added_as_an_object() -> None:
    operation = add(f"{ENTERPRISE}:manager", {"value": "manager-2"})
    assert patched(BJENSEN, operation) == in_enterprise(BJENSEN, manager={"value": "manager-2"})


def test_entra_pathless_add_with_dotted_and_urn_keys_sets_each_attribute() -> None:
    """IDP_QUIRKS §2.5: with aadOptscim062020 Entra batches single attributes under dotted and URN keys."""
    operation = add(
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


def test_pathless_add_merges_an_extension_container() -> None:
    operation = add(None, {ENTERPRISE: {"costCenter": "4130"}, "nickName": "Babs"})
    assert patched(BJENSEN, operation) == in_enterprise(changed(BJENSEN, nickName="Babs"), costCenter="4130")


def test_pathless_add_skips_read_only_attributes() -> None:
    """Okta repeats the readOnly id in path-less values: there is nothing to change."""
    operation = add(None, {"id": "2819c223", "meta": {"version": 'W/"1"'}, "nickName": "Babs"})
    assert patched(BJENSEN, operation) == changed(BJENSEN, nickName="Babs")


def test_pathless_add_ignores_unknown_attributes_by_default() -> None:
    assert patched(BJENSEN, add(None, {"favouriteColour": "green", "nickName": "Babs"})) == changed(
        BJENSEN, nickName="Babs"
    )


def test_pathless_add_rejects_unknown_attributes_when_strict() -> None:
    with pytest.raises(InvalidValue, match="favouriteColour"):
        patch(BJENSEN, add(None, {"favouriteColour": "green"}), policy=STRICT)


@pytest.mark.parametrize("op", ["add", "Add"])
def test_entra_adds_to_an_unmatched_value_path_by_creating_the_element(op: str) -> None:
    """IDP_QUIRKS §2.5: Entra adds phoneNumbers[type eq "mobile"].value before such a number exists."""
    operation = {"op": op, "path": 'phoneNumbers[type eq "mobile"].value', "value": "555-555-4444"}
    assert patched(BJENSEN, operation)["phoneNumbers"] == [WORK_PHONE, {"type": "mobile", "value": "555-555-4444"}]


def test_an_unmatched_value_path_with_several_equalities_builds_the_element_from_all_of_them() -> None:
    operation = add('phoneNumbers[type eq "mobile" and display eq "cell"].value', "555-555-4444")
    assert patched(BJENSEN, operation)["phoneNumbers"] == [
        WORK_PHONE,
        {"type": "mobile", "display": "cell", "value": "555-555-4444"},
    ]


def test_an_unmatched_value_path_into_an_absent_attribute_creates_it() -> None:
    operation = add('ims[type eq "xmpp"].value', "babs@jabber.org")
    assert patched(BJENSEN, operation)["ims"] == [{"type": "xmpp", "value": "babs@jabber.org"}]


def test_an_unmatched_value_path_is_no_target_when_strict() -> None:
    with pytest.raises(NoTarget):
        patch(BJENSEN, add('phoneNumbers[type eq "mobile"].value', "555-555-4444"), policy=STRICT)


@pytest.mark.parametrize(
    "path",
    [
        'phoneNumbers[value sw "999"].type',
        'phoneNumbers[type eq "mobile" or type eq "cell"].value',
        'phoneNumbers[not (type eq "work")].value',
    ],
)
def test_an_unmatched_value_path_that_is_not_only_equalities_is_no_target(path: str) -> None:
    with pytest.raises(NoTarget):
        patch(BJENSEN, add(path, "555-555-4444"))


def test_add_to_a_matched_value_path_sets_the_sub_attribute_of_each_match() -> None:
    operation = add('emails[type eq "work"].display', "Work")
    assert patched(BJENSEN, operation)["emails"] == [{**WORK_EMAIL, "display": "Work"}, HOME_EMAIL]


def test_add_of_an_object_to_a_matched_value_path_merges_it() -> None:
    operation = add('emails[type eq "home"]', {"display": "Home"})
    assert patched(BJENSEN, operation)["emails"] == [WORK_EMAIL, {**HOME_EMAIL, "display": "Home"}]


@pytest.mark.parametrize(
    "path",
    [
        "id",
        "ID",
        "meta",
        "meta.lastModified",
        "groups",
        'groups[value eq "g1"].display',
        f"{ENTERPRISE}:manager.displayName",
    ],
)
def test_add_to_a_read_only_attribute_is_a_mutability_error(path: str) -> None:
    with pytest.raises(Mutability):
        patch(BJENSEN, add(path, "x"))


@pytest.mark.parametrize(
    "path",
    [
        "nope",
        "name.nope",
        "userName.value",
        f"{USER_SCHEMA}:nope",
        f"{ENTERPRISE}:manager.nope",
        'emails[type eq "work"].nope',
        'name[givenName eq "Barbara"]',
        "members",
    ],
)
def test_add_to_an_unknown_path_is_invalid_path(path: str) -> None:
    with pytest.raises(InvalidPath):
        patch(BJENSEN, add(path, "x"))


@pytest.mark.parametrize(
    "path", ["urn:example:params:scim:schemas:extension:acme:2.0:User:department", f"{ENTERPRISE}:nope"]
)
def test_a_path_to_undeclared_extension_data_is_invalid_when_it_is_not_kept(path: str) -> None:
    """With policy.keep_undeclared_extensions on (the default) it sets the value: tests/extensions."""
    with pytest.raises(InvalidPath):
        patch(BJENSEN, add(path, "x"), policy=Policy(keep_undeclared_extensions=False))


@pytest.mark.parametrize("path", ['emails[nope eq "x"].value', "emails[type gt true].value", 'emails[primary co "x"]'])
def test_an_unusable_filter_in_a_value_path_is_invalid_filter(path: str) -> None:
    """RFC 7644 Table 9 lists invalidFilter for PATCH path filters (§3.5.2)."""
    with pytest.raises(InvalidFilter):
        patch(BJENSEN, add(path, "x"))


@pytest.mark.parametrize("path", ['emails[type eq "work"', "emails[]", "name..givenName", "emails]"])
def test_a_malformed_path_is_invalid_path(path: str) -> None:
    with pytest.raises(InvalidPath):
        patch(BJENSEN, add(path, "x"))


def test_add_does_not_mutate_the_input_document() -> None:
    """The helper compares the input with a snapshot; this one adds to every kind of target."""
    patch(
        BJENSEN,
        add("emails", [{**OTHER_EMAIL, "primary": True}]),
        add('emails[type eq "home"].display', "Home"),
        add("name", {"givenName": "Babs"}),
        add(f"{ENTERPRISE}:manager", "manager-2"),
        add(ENTERPRISE, {"costCenter": "4130"}),
        add('phoneNumbers[type eq "mobile"].value', "555-555-4444"),
    )
    assert BJENSEN[ENTERPRISE]["manager"] == {"value": MANAGER_ID}
