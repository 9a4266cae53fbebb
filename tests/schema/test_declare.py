"""Schema documents operators declare: canonical form, and each kind of bad document refused with
a message naming the problem."""

from __future__ import annotations

from typing import Any

import pytest

from scimhub.schema.declare import SchemaDocumentError
from scimhub.schema.declare import check_redeclaration
from scimhub.schema.declare import declare_schema
from scimhub.schema.registry import ENTERPRISE_USER_SCHEMA
from scimhub.schema.registry import USER_SCHEMA
from scimhub.schema.registry import default_registry
from scimhub.schema.registry import schema_from_json
from tests.extensions.support import ACME
from tests.extensions.support import acme_schema

BUILTIN = default_registry().builtin_urns()


def test_a_declared_document_is_made_canonical_and_builds_a_schema() -> None:
    document = declare_schema({"id": ACME, "attributes": [{"name": "costCenter", "type": "string"}]}, BUILTIN)

    assert document == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": ACME,
        "name": ACME,
        "description": "",
        "attributes": [
            {
                "name": "costCenter",
                "type": "string",
                "multiValued": False,
                "description": "",
                "required": False,
                "caseExact": False,
                "mutability": "readWrite",
                "returned": "default",
                "uniqueness": "none",
            }
        ],
    }
    schema = schema_from_json(document)
    assert schema.attribute("COSTCENTER") is not None
    assert declare_schema(document, BUILTIN) == document  # what /Schemas serves can be declared again


def _attr(**changes: Any) -> dict[str, Any]:
    return {"id": ACME, "attributes": [{"name": "a", "type": "string", **changes}]}


@pytest.mark.parametrize(
    ("data", "reserved", "message"),
    [
        ([], BUILTIN, "must be a JSON object"),
        ({"attributes": []}, BUILTIN, "needs an 'id'"),
        ({"id": "acme-user", "attributes": [{"name": "a", "type": "string"}]}, BUILTIN, "is not a URN"),
        ({"id": "urn:acme:has space", "attributes": [{"name": "a", "type": "string"}]}, BUILTIN, "is not a URN"),
        ({**_attr(), "id": USER_SCHEMA}, BUILTIN, f"collides with the schema {USER_SCHEMA}"),
        ({**_attr(), "id": ENTERPRISE_USER_SCHEMA.upper()}, BUILTIN, "collides with the schema"),
        ({**_attr(), "id": f"{USER_SCHEMA}:extra"}, BUILTIN, "would make attribute names ambiguous"),
        ({**_attr(), "id": "urn:acme:ext"}, ["urn:acme:ext:sub"], "would make attribute names ambiguous"),
        ({"id": ACME, "attributes": []}, BUILTIN, "non-empty array"),
        ({**_attr(), "extra": 1}, BUILTIN, "unknown key(s) 'extra'"),
        (_attr(type="text"), BUILTIN, f"'{ACME}:a': type 'text' is not one of string, boolean"),
        (_attr(type=None), BUILTIN, "type None is not one of"),
        (_attr(subAttributes=[{"name": "b", "type": "string"}]), BUILTIN, "has subAttributes but is of type string"),
        (_attr(type="complex"), BUILTIN, "is complex and needs a non-empty 'subAttributes'"),
        (
            _attr(type="complex", subAttributes=[{"name": "b", "type": "complex", "subAttributes": []}]),
            BUILTIN,
            "a sub-attribute cannot be complex",
        ),
        (_attr(name="9lives"), BUILTIN, "'name' must start with a letter"),
        (_attr(name="cost.center"), BUILTIN, "'name' must start with a letter"),
        (_attr(mutability="sometimes"), BUILTIN, "mutability 'sometimes' is not one of"),
        (_attr(returned="often"), BUILTIN, "returned 'often' is not one of"),
        (_attr(multiValued="yes"), BUILTIN, "multiValued must be true or false"),
        (_attr(uniqueness="server"), BUILTIN, "does not enforce uniqueness"),
        (_attr(canonicalValues="Gold"), BUILTIN, "canonicalValues must be an array"),
        (_attr(referenceTypes=["User"]), BUILTIN, "referenceTypes is only for attributes of type reference"),
        (_attr(typo=True), BUILTIN, "unknown key(s) 'typo'"),
        (
            {"id": ACME, "attributes": [{"name": "a", "type": "string"}, {"name": "A", "type": "integer"}]},
            BUILTIN,
            f"'{ACME}:A' is defined twice",
        ),
        (
            {"id": ACME, "attributes": [{"name": f"a{i}", "type": "string"} for i in range(101)]},
            BUILTIN,
            "at most 100 are allowed",
        ),
    ],
)
def test_a_bad_schema_document_is_refused_naming_the_problem(data: Any, reserved: list[str], message: str) -> None:
    with pytest.raises(SchemaDocumentError) as raised:
        declare_schema(data, reserved)

    assert message in str(raised.value)


def _doc(*attrs: dict[str, Any]) -> dict[str, Any]:
    return declare_schema({"id": ACME, "attributes": list(attrs)}, BUILTIN)


def test_a_redeclaration_may_add_attributes_and_change_presentation() -> None:
    old = declare_schema(acme_schema(), BUILTIN)
    new = acme_schema()
    new["attributes"].append({"name": "floor", "type": "integer"})
    new["attributes"][0]["description"] = "changed"
    new["attributes"][0]["returned"] = "request"

    check_redeclaration(old, declare_schema(new, BUILTIN))


@pytest.mark.parametrize(
    ("new", "message"),
    [
        (_doc({"name": "b", "type": "string"}), f"'{ACME}:a' is declared now and would be dropped"),
        (_doc({"name": "a", "type": "integer"}), "cannot change type from 'string' to 'integer'"),
        (_doc({"name": "a", "type": "string", "multiValued": True}), "cannot change multiValued"),
        (_doc({"name": "a", "type": "string", "caseExact": True}), "cannot change caseExact"),
        (_doc({"name": "a", "type": "string", "returned": "never"}), "cannot become returned 'never'"),
        (_doc({"name": "a", "type": "string", "mutability": "readOnly"}), "cannot become mutability 'readOnly'"),
    ],
)
def test_a_redeclaration_cannot_drop_or_reinterpret_stored_values(new: dict[str, Any], message: str) -> None:
    old = _doc({"name": "a", "type": "string"})

    with pytest.raises(SchemaDocumentError) as raised:
        check_redeclaration(old, new)

    assert message in str(raised.value)


def test_a_redeclaration_cannot_drop_a_sub_attribute() -> None:
    complex_ = {"name": "c", "type": "complex", "subAttributes": [{"name": "x", "type": "string"}]}
    old = _doc(complex_)
    new = _doc({**complex_, "subAttributes": [{"name": "y", "type": "string"}]})

    with pytest.raises(SchemaDocumentError) as raised:
        check_redeclaration(old, new)

    assert f"'{ACME}:c.x' is declared now and would be dropped" in str(raised.value)
