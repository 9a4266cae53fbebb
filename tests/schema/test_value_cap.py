"""max_values_per_attribute in validate_resource: every multi-valued attribute but Group.members,
on create, replace and PATCH results, counted before any of its values is read."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from scimhub.errors import InvalidValue
from scimhub.policy import Policy
from scimhub.schema.model import JsonDoc
from scimhub.schema.model import ResourceType
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
EXT = "urn:example:params:scim:schemas:extension:tags:2.0:User"
TAGGED = dataclasses.replace(
    USER,
    extensions=(
        *USER.extensions,
        (
            schema_from_json(
                {"id": EXT, "name": "Tags", "attributes": [{"name": "tags", "type": "string", "multiValued": True}]}
            ),
            False,
        ),
    ),
)
CAP = 3


def validate(
    body: JsonDoc, context: Context = Context.CREATE, existing: JsonDoc | None = None, rtype: ResourceType = TAGGED
) -> JsonDoc:
    return validate_resource(body, rtype, COMMON, context, Policy(), existing, max_values_per_attribute=CAP)


def emails(count: int) -> list[dict[str, Any]]:
    return [{"value": f"e{i}@example.com"} for i in range(count)]


def user(**attributes: Any) -> JsonDoc:
    return {"schemas": [USER_SCHEMA], "userName": "bjensen", **attributes}


@pytest.mark.parametrize("context", list(Context))
def test_an_attribute_may_hold_up_to_the_cap(context: Context) -> None:
    assert validate(user(emails=emails(CAP)), context, existing=user())["emails"] == emails(CAP)


@pytest.mark.parametrize("context", list(Context))
def test_one_value_more_is_refused_naming_the_attribute(context: Context) -> None:
    with pytest.raises(InvalidValue) as refused:
        validate(user(emails=emails(CAP + 1)), context, existing=user())

    assert refused.value.detail == "'emails' has 4 values; at most 3 are accepted in one attribute."
    assert refused.value.scim_type == "invalidValue"


def test_extension_attributes_are_capped_too() -> None:
    for body in (user(**{EXT: {"tags": ["a", "b", "c", "d"]}}), user(**{f"{EXT}:tags": ["a", "b", "c", "d"]})):
        with pytest.raises(InvalidValue) as refused:
            validate({**body, "schemas": [USER_SCHEMA, EXT]})
        assert refused.value.detail == f"'{EXT}:tags' has 4 values; at most 3 are accepted in one attribute."


def test_values_are_counted_before_any_is_read() -> None:
    """A 4 MB body holds ~300,000 tiny values: refused on its length, not after typing each."""
    with pytest.raises(InvalidValue) as refused:
        validate(user(emails=[42] * 100_000))

    assert refused.value.detail == "'emails' has 100000 values; at most 3 are accepted in one attribute."


def test_group_members_have_their_own_cap_not_this_one() -> None:
    members = [{"value": f"id-{i}"} for i in range(CAP + 2)]

    doc = validate({"schemas": [GROUP_SCHEMA], "displayName": "Staff", "members": members}, rtype=GROUP)

    assert doc["members"] == members


def test_a_read_only_attribute_is_ignored_not_counted() -> None:
    groups = [{"value": f"id-{i}"} for i in range(CAP + 2)]

    assert "groups" not in validate(user(groups=groups))


def test_a_stored_attribute_over_the_cap_survives_a_patch_that_leaves_it_alone() -> None:
    """Documents stored before the cap existed: only a write that changes the attribute must obey it."""
    stored = validate_resource(user(emails=emails(CAP + 2)), USER, COMMON, Context.CREATE, Policy())

    assert validate({**stored, "title": "Guide"}, Context.PATCH, existing=stored)["emails"] == emails(CAP + 2)
    with pytest.raises(InvalidValue):
        validate({**stored, "emails": emails(CAP + 1)}, Context.PATCH, existing=stored)
