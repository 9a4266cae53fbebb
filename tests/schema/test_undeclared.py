"""Which names address undeclared extension data, and how it is set and removed (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from scimhub.errors import InvalidValue
from scimhub.schema.registry import ENTERPRISE_USER_SCHEMA
from scimhub.schema.registry import USER_SCHEMA
from scimhub.schema.registry import default_registry
from scimhub.schema.undeclared import UndeclaredName
from scimhub.schema.undeclared import classify
from scimhub.schema.undeclared import place
from scimhub.schema.undeclared import remove

USER = default_registry().resource_type("User")
EXT = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"


@pytest.mark.parametrize(
    ("name", "value", "doc", "listed", "expected"),
    [
        (EXT, {"a": 1}, {}, (), UndeclaredName(EXT)),
        (EXT, "x", {}, [EXT], UndeclaredName(EXT)),  # listed in schemas: the container, whatever the value
        (f"{EXT}:costCenter", "42", {}, (), UndeclaredName(EXT, "costCenter")),
        (f"{EXT}:manager.value", "1", {}, (), UndeclaredName(EXT, "manager", "value")),
        (f"{EXT.upper()}:x", 1, {EXT: {}}, (), UndeclaredName(EXT, "x")),  # the stored spelling is kept
        (f"{EXT}:address", {"city": "X"}, {EXT: {}}, (), UndeclaredName(EXT, "address")),
        ("userName", "x", {}, (), None),
        (f"{USER_SCHEMA}:nickName", "x", {}, (), None),
        (f"{ENTERPRISE_USER_SCHEMA}:costCenter", "x", {}, (), None),
        (ENTERPRISE_USER_SCHEMA, {"a": 1}, {}, (), None),
        (f"{ENTERPRISE_USER_SCHEMA}:manager:x", 1, {}, (), None),  # under a known URN: not undeclared
    ],
)
def test_classify(name: str, value: Any, doc: dict[str, Any], listed: Any, expected: UndeclaredName | None) -> None:
    assert classify(USER, name, value, doc, listed) == expected


def test_place_and_remove() -> None:
    doc: dict[str, Any] = {}

    place(doc, UndeclaredName(EXT), {"a": "1", "b": None, "tags": ["x"]})
    place(doc, UndeclaredName(EXT, "tags"), ["x", "y"], add=True)
    place(doc, UndeclaredName(EXT, "addr", "city"), "Paris")
    remove(doc, UndeclaredName(EXT, "a"))
    assert doc == {EXT: {"tags": ["x", "y"], "addr": {"city": "Paris"}}}

    remove(doc, UndeclaredName(EXT, "addr", "city"))
    remove(doc, UndeclaredName(EXT, "tags"))
    assert doc == {}  # an empty container is not kept


def test_place_refuses_what_cannot_be_stored() -> None:
    with pytest.raises(InvalidValue, match="NUL"):
        place({}, UndeclaredName(EXT), {"k\u0000": "v"})
    with pytest.raises(InvalidValue, match="must be a JSON object"):
        place({}, UndeclaredName(EXT), ["a"])
