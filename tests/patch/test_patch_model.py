"""parse_patch_request: the PatchOp envelope of RFC 7644 §3.5.2, before anything is applied."""

from __future__ import annotations

from typing import Any

import pytest

from scimhub.errors import InvalidSyntax
from scimhub.errors import InvalidValue
from scimhub.errors import NoTarget
from scimhub.patch.model import MAX_OPERATIONS
from scimhub.patch.model import PATCH_OP_SCHEMA
from scimhub.patch.model import OpName
from scimhub.patch.model import PatchOperation
from scimhub.patch.model import parse_patch_request

ADD_NICKNAME = {"op": "add", "path": "nickName", "value": "Babs"}


def parse_one(operation: dict[str, Any]) -> PatchOperation:
    (parsed,) = parse_patch_request({"schemas": [PATCH_OP_SCHEMA], "Operations": [operation]})
    return parsed


@pytest.mark.parametrize(
    ("name", "op"),
    [
        ("add", OpName.ADD),
        ("Add", OpName.ADD),
        ("ADD", OpName.ADD),
        ("replace", OpName.REPLACE),
        ("Replace", OpName.REPLACE),
        ("remove", OpName.REMOVE),
        ("Remove", OpName.REMOVE),
        ("REMOVE", OpName.REMOVE),
    ],
)
def test_op_names_are_case_insensitive(name: str, op: OpName) -> None:
    """Entra sends ``Add``, ``Replace`` and ``Remove``."""
    assert parse_one({"op": name, "path": "nickName", "value": "Babs"}).op is op


def test_operations_are_kept_in_order_with_their_index() -> None:
    body = {
        "schemas": [PATCH_OP_SCHEMA],
        "Operations": [
            {"op": "remove", "path": 'members[value eq "u1"]'},
            {"op": "add", "path": "members", "value": [{"value": "u2"}]},
            {"op": "replace", "value": {"displayName": "Tour Guides"}},
        ],
    }
    assert parse_patch_request(body) == [
        PatchOperation(OpName.REMOVE, 'members[value eq "u1"]', None, 0),
        PatchOperation(OpName.ADD, "members", [{"value": "u2"}], 1),
        PatchOperation(OpName.REPLACE, None, {"displayName": "Tour Guides"}, 2),
    ]


def test_member_names_of_the_envelope_are_case_insensitive() -> None:
    body = {"SCHEMAS": [PATCH_OP_SCHEMA], "operations": [{"OP": "Add", "PATH": "nickName", "VALUE": "Babs"}]}
    assert parse_patch_request(body) == [PatchOperation(OpName.ADD, "nickName", "Babs", 0)]


def test_a_body_without_schemas_is_tolerated() -> None:
    assert parse_patch_request({"Operations": [ADD_NICKNAME]}) == [PatchOperation(OpName.ADD, "nickName", "Babs", 0)]


def test_the_path_is_stripped() -> None:
    assert parse_one({"op": "add", "path": "  nickName ", "value": "Babs"}).path == "nickName"


@pytest.mark.parametrize("body", [[ADD_NICKNAME], "Operations", None, 7])
def test_a_body_that_is_not_an_object_is_invalid_syntax(body: Any) -> None:
    with pytest.raises(InvalidSyntax):
        parse_patch_request(body)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"schemas": [PATCH_OP_SCHEMA]}, id="missing"),
        pytest.param({"schemas": [PATCH_OP_SCHEMA], "Operations": None}, id="null"),
        pytest.param({"schemas": [PATCH_OP_SCHEMA], "Operations": []}, id="empty"),
        pytest.param({"schemas": [PATCH_OP_SCHEMA], "Operations": ADD_NICKNAME}, id="object"),
        pytest.param({"schemas": [PATCH_OP_SCHEMA], "Operations": "add"}, id="string"),
    ],
)
def test_operations_must_be_a_non_empty_array(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidValue, match="'Operations'"):
        parse_patch_request(body)


def test_too_many_operations_are_invalid_value() -> None:
    body = {"schemas": [PATCH_OP_SCHEMA], "Operations": [ADD_NICKNAME] * (MAX_OPERATIONS + 1)}
    with pytest.raises(InvalidValue, match="At most"):
        parse_patch_request(body)


@pytest.mark.parametrize("operation", ["add", ["add"], None, 1])
def test_an_operation_that_is_not_an_object_is_invalid_syntax(operation: Any) -> None:
    with pytest.raises(InvalidSyntax, match=r"Operations\[0\]"):
        parse_patch_request({"schemas": [PATCH_OP_SCHEMA], "Operations": [operation]})


@pytest.mark.parametrize("name", ["delete", "copy", "move", "test", "", None, 1, ["add"]])
def test_an_unknown_op_is_invalid_value(name: Any) -> None:
    with pytest.raises(InvalidValue, match=r"Operations\[0\]\.op"):
        parse_one({"op": name, "path": "nickName", "value": "Babs"})


def test_a_missing_op_is_invalid_value() -> None:
    with pytest.raises(InvalidValue, match=r"Operations\[0\]\.op"):
        parse_one({"path": "nickName", "value": "Babs"})


@pytest.mark.parametrize("path", ["", "   ", 7, ["nickName"]])
def test_a_path_must_be_a_non_empty_string(path: Any) -> None:
    with pytest.raises(InvalidValue, match=r"Operations\[0\]\.path"):
        parse_one({"op": "add", "path": path, "value": "Babs"})


@pytest.mark.parametrize("operation", [{"op": "remove"}, {"op": "Remove", "value": [{"value": "u1"}]}])
def test_remove_without_a_path_is_no_target(operation: dict[str, Any]) -> None:
    """RFC 7644 §3.5.2.2: if "path" is unspecified, the operation fails with noTarget."""
    with pytest.raises(NoTarget):
        parse_one(operation)


@pytest.mark.parametrize("op", ["add", "replace"])
@pytest.mark.parametrize("value", ["Babs", ["Babs"], None, 7, True])
def test_without_a_path_the_value_must_be_an_object(op: str, value: Any) -> None:
    """RFC 7644 §3.5.2.1/3: with no path, the value is a set of attributes to add or replace."""
    with pytest.raises(InvalidValue, match="without a path"):
        parse_one({"op": op, "value": value})


@pytest.mark.parametrize(
    "schemas",
    [
        pytest.param(["urn:ietf:params:scim:schemas:core:2.0:User"], id="resource-schema"),
        pytest.param(["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], id="other-message"),
        pytest.param([], id="empty"),
        pytest.param(PATCH_OP_SCHEMA, id="not-an-array"),
    ],
)
def test_schemas_without_the_patch_op_urn_are_invalid_value(schemas: Any) -> None:
    with pytest.raises(InvalidValue, match="'schemas'"):
        parse_patch_request({"schemas": schemas, "Operations": [ADD_NICKNAME]})


@pytest.mark.parametrize("op", ["add", "Replace"])
@pytest.mark.parametrize("path", ["nickName", None])
def test_add_and_replace_without_a_value_member_are_invalid(op: str, path: str | None) -> None:
    """RFC 7644 §3.5.2.1 and §3.5.2.3: the operation MUST contain a "value" member."""
    operation = {"op": op} if path is None else {"op": op, "path": path}
    with pytest.raises(InvalidValue, match=r"Operations\[0\]: .* needs a value member"):
        parse_one(operation)


def test_an_explicit_null_value_is_a_value() -> None:
    """Entra clears an attribute with ``{"op":"Replace","path":…,"value":null}``."""
    assert parse_one({"op": "Replace", "path": "nickName", "value": None}).value is None
