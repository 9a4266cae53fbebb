"""PATCH on Group.members: operations come back as MemberOp values, in order; the doc never holds members.

Membership is relational (``protocol.relations``): the store applies the MemberOps to its rows.
The RFC 7644 §3.5.2 group examples, then the Okta and Entra shapes of IDP_QUIRKS §1.6 and §2.7.
"""

from __future__ import annotations

from typing import Any

import pytest

from scimhub.errors import InvalidPath
from scimhub.errors import InvalidValue
from scimhub.errors import Mutability
from scimhub.patch.apply import MemberOp
from scimhub.patch.apply import PatchResult
from scimhub.policy import Policy
from tests.patch.support import GROUP
from tests.patch.support import STRICT
from tests.patch.support import TOUR_GUIDES
from tests.patch.support import changed
from tests.patch.support import patch

BABS = {
    "display": "Babs Jensen",
    "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
    "value": "2819c223-7f76-453a-919d-413861904646",
}
BABS_ABBREVIATED = {
    "display": "Babs Jensen",
    "$ref": "https://example.com/v2/Users/2819c223...413861904646",
    "value": "2819c223...413861904646",
}
JAMES_ABBREVIATED = {
    "display": "James Smith",
    "$ref": "https://example.com/v2/Users/08e1d05d...473d93df9210",
    "value": "08e1d05d...473d93df9210",
}
JAMES = {
    "display": "James Smith",
    "$ref": "https://example.com/v2/Users/08e1d05d...473d93df9210",
    "value": "08e1d05d-121c-4561-8b96-473d93df9210",
}


def patch_group(*operations: dict[str, Any], policy: Policy | None = None) -> PatchResult:
    result = patch(TOUR_GUIDES, *operations, rtype=GROUP, policy=policy)
    assert "members" not in result.doc
    return result


def member_ops(*operations: dict[str, Any], policy: Policy | None = None) -> tuple[MemberOp, ...]:
    """The MemberOps of a PATCH that changes nothing else."""
    result = patch_group(*operations, policy=policy)
    assert result.doc == TOUR_GUIDES
    return result.members


RFC_EXAMPLES = [
    pytest.param(
        [{"op": "add", "path": "members", "value": [BABS]}],
        (MemberOp("add", (BABS,)),),
        id="3.5.2.1-add-a-member",
    ),
    pytest.param(
        [{"op": "remove", "path": 'members[value eq "2819c223-7f76-...413861904646"]'}],
        (MemberOp("remove", ids=("2819c223-7f76-...413861904646",)),),
        id="3.5.2.2-remove-a-member",
    ),
    pytest.param(
        [{"op": "remove", "path": "members"}],
        (MemberOp("remove", ids=None),),
        id="3.5.2.2-remove-all-members",
    ),
    pytest.param(
        [{"op": "remove", "path": "members"}, {"op": "add", "path": "members", "value": [BABS, JAMES]}],
        (MemberOp("remove", ids=None), MemberOp("add", (BABS, JAMES))),
        id="3.5.2.2-remove-all-then-add",
    ),
    pytest.param(
        [{"op": "replace", "path": "members", "value": [BABS_ABBREVIATED, JAMES_ABBREVIATED]}],
        (MemberOp("replace", (BABS_ABBREVIATED, JAMES_ABBREVIATED)),),
        id="3.5.2.3-replace-all-members",
    ),
]


@pytest.mark.parametrize(("operations", "expected"), RFC_EXAMPLES)
def test_rfc7644_group_examples_become_member_operations(
    operations: list[dict[str, Any]], expected: tuple[MemberOp, ...]
) -> None:
    assert member_ops(*operations) == expected


def test_okta_membership_delta_keeps_remove_before_add() -> None:
    """IDP_QUIRKS §1.6: Okta removes by filter, then adds, in one PATCH."""
    operations = [
        {"op": "remove", "path": 'members[value eq "u-1"]'},
        {"op": "add", "path": "members", "value": [{"value": "u-2", "display": "ann@example.com"}]},
    ]
    assert member_ops(*operations) == (
        MemberOp("remove", ids=("u-1",)),
        MemberOp("add", ({"value": "u-2", "display": "ann@example.com"},)),
    )


def test_okta_rename_with_a_read_only_id_changes_only_the_display_name() -> None:
    """IDP_QUIRKS §1.6: Okta's rename repeats the group id in a path-less replace."""
    result = patch_group({"op": "replace", "value": {"id": "g-1", "displayName": "Guides"}})
    assert result.doc == changed(TOUR_GUIDES, displayName="Guides")
    assert result.members == ()


def test_okta_full_push_in_a_pathless_replace_replaces_the_members() -> None:
    operation = {"op": "replace", "value": {"id": "g-1", "displayName": "Guides", "members": [{"value": "u-1"}]}}
    result = patch_group(operation)
    assert result.doc == changed(TOUR_GUIDES, displayName="Guides")
    assert result.members == (MemberOp("replace", ({"value": "u-1"},)),)


def test_okta_full_push_with_a_member_path_replaces_the_members() -> None:
    operation = {"op": "replace", "path": "members", "value": [{"value": "u-1"}, {"value": "u-2"}]}
    assert member_ops(operation) == (MemberOp("replace", ({"value": "u-1"}, {"value": "u-2"})),)


def test_replace_with_an_empty_array_empties_the_group() -> None:
    assert member_ops({"op": "replace", "path": "members", "value": []}) == (MemberOp("replace", ()),)


def test_entra_adds_members_with_a_null_ref() -> None:
    """IDP_QUIRKS §2.7: Entra sends ``"$ref": null``."""
    operation = {"op": "Add", "path": "members", "value": [{"$ref": None, "value": "u-1"}, {"value": "u-2"}]}
    assert member_ops(operation) == (MemberOp("add", ({"$ref": None, "value": "u-1"}, {"value": "u-2"})),)


def test_add_of_a_single_member_object_adds_that_member() -> None:
    assert member_ops({"op": "add", "path": "members", "value": {"value": "u-1"}}) == (
        MemberOp("add", ({"value": "u-1"},)),
    )


@pytest.mark.parametrize("op", ["Remove", "remove"])
def test_entra_remove_with_a_value_array_removes_exactly_those_members(op: str) -> None:
    """IDP_QUIRKS §2.7: the ids are in ``value``, not in the path; remove only those."""
    operation = {"op": op, "path": "members", "value": [{"$ref": None, "value": "u-1"}, {"value": "u-2"}]}
    assert member_ops(operation) == (MemberOp("remove", ids=("u-1", "u-2")),)


def test_a_remove_with_a_value_array_removes_every_member_when_strict() -> None:
    """RFC 7644 §3.5.2.2: without a filter, remove unassigns the whole attribute."""
    operation = {"op": "Remove", "path": "members", "value": [{"value": "u-1"}]}
    assert member_ops(operation, policy=STRICT) == (MemberOp("remove", ids=None),)


@pytest.mark.parametrize(
    ("path", "ids"),
    [
        ('members[value eq "u-1"]', ("u-1",)),
        ('MEMBERS[VALUE EQ "u-1"]', ("u-1",)),
        ('members[value eq "u-1" or value eq "u-2"]', ("u-1", "u-2")),
        ('members[value eq "u-1" or value eq "u-2" or value eq "u-3"]', ("u-1", "u-2", "u-3")),
    ],
)
def test_remove_by_value_filter_removes_the_named_members(path: str, ids: tuple[str, ...]) -> None:
    assert member_ops({"op": "remove", "path": path}) == (MemberOp("remove", ids=ids),)


@pytest.mark.parametrize(
    "path",
    [
        'members[display eq "Babs Jensen"]',
        'members[value ne "u-1"]',
        'members[value sw "u-"]',
        'members[value eq "u-1" and type eq "User"]',
        "members[value pr]",
    ],
)
def test_remove_by_any_other_filter_is_invalid_path(path: str) -> None:
    with pytest.raises(InvalidPath):
        patch_group({"op": "remove", "path": path})


@pytest.mark.parametrize("op", ["add", "replace"])
def test_add_or_replace_through_a_filter_is_invalid_path(op: str) -> None:
    with pytest.raises(InvalidPath):
        patch_group({"op": op, "path": 'members[value eq "u-1"]', "value": {"value": "u-1"}})


@pytest.mark.parametrize("op", ["add", "replace", "remove"])
@pytest.mark.parametrize("path", ["members.value", "members.display", 'members[value eq "u-1"].display'])
def test_member_sub_attributes_cannot_be_targeted(op: str, path: str) -> None:
    with pytest.raises(InvalidPath):
        patch_group({"op": op, "path": path, "value": "x"})


@pytest.mark.parametrize(
    "value", [["u-1"], "u-1", [{"value": "u-1"}, "u-2"], [["u-1"]]], ids=["ids", "id", "mixed", "nested"]
)
def test_members_must_be_objects(value: Any) -> None:
    with pytest.raises(InvalidValue, match="member"):
        patch_group({"op": "add", "path": "members", "value": value})


@pytest.mark.parametrize("value", [[{"display": "Babs"}], [{"value": 7}], [{"value": "u-1"}, "u-2"]])
def test_a_remove_value_array_needs_a_value_in_every_entry(value: Any) -> None:
    with pytest.raises(InvalidValue, match="value"):
        patch_group({"op": "Remove", "path": "members", "value": value})


def test_member_changes_and_attribute_changes_are_returned_together() -> None:
    result = patch_group(
        {"op": "Replace", "path": "displayName", "value": "Guides"},
        {"op": "Add", "path": "members", "value": [{"value": "u-1"}]},
        {"op": "Remove", "path": "members", "value": [{"value": "u-2"}]},
        {"op": "replace", "path": "members", "value": [{"value": "u-3"}]},
    )
    assert result.doc == changed(TOUR_GUIDES, displayName="Guides")
    assert result.members == (
        MemberOp("add", ({"value": "u-1"},)),
        MemberOp("remove", ids=("u-2",)),
        MemberOp("replace", ({"value": "u-3"},)),
    )


def test_a_group_patch_on_read_only_attributes_is_a_mutability_error() -> None:
    with pytest.raises(Mutability):
        patch_group({"op": "replace", "path": "meta.lastModified", "value": "2011-05-13T04:42:34Z"})
