"""max_resource_bytes in validate_resource: the canonical JSON of a created, replaced or PATCHed
resource; a PATCH may keep a stored document as large as it was, never make it larger."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from scimhub.errors import InvalidValue
from scimhub.policy import Policy
from scimhub.schema.model import JsonDoc
from scimhub.schema.registry import USER_SCHEMA
from scimhub.schema.registry import default_registry
from scimhub.schema.validate import OVERSIZE_SLACK
from scimhub.schema.validate import Context
from scimhub.schema.validate import validate_resource

REGISTRY = default_registry()
USER = REGISTRY.resource_type("User")
COMMON = REGISTRY.common
LIMIT = 200


def validate(body: JsonDoc, context: Context = Context.CREATE, existing: JsonDoc | None = None) -> JsonDoc:
    return validate_resource(body, USER, COMMON, context, Policy(), existing, max_resource_bytes=LIMIT)


def user(**attributes: Any) -> JsonDoc:
    return {"schemas": [USER_SCHEMA], "userName": "bjensen", **attributes}


def padded(size: int) -> JsonDoc:
    """A user whose canonical JSON is exactly ``size`` bytes."""
    doc = user(title="")
    doc["title"] = "x" * (size - len(orjson.dumps(doc)))
    assert len(orjson.dumps(doc)) == size
    return doc


@pytest.mark.parametrize("context", list(Context))
def test_a_resource_may_be_as_large_as_the_limit(context: Context) -> None:
    assert validate(padded(LIMIT), context, existing=user()) == padded(LIMIT)


@pytest.mark.parametrize("context", list(Context))
def test_one_byte_more_is_refused(context: Context) -> None:
    with pytest.raises(InvalidValue) as refused:
        validate(padded(LIMIT + 1), context, existing=user())

    assert refused.value.detail == f"The resource would be {LIMIT + 1} bytes of JSON; at most {LIMIT} are accepted."


def test_the_canonical_document_is_measured_not_the_body() -> None:
    """Ignored input (readOnly, unknown attributes under the lenient policy) takes no room."""
    body = {**padded(LIMIT), "id": "x" * 500, "meta": {"created": "2026-01-01T00:00:00Z"}}

    assert validate(body) == padded(LIMIT)


def test_a_document_stored_over_the_limit_still_takes_small_patches() -> None:
    """A user stored before the limit (or under a larger one) can still be deactivated or trimmed."""
    stored = padded(LIMIT + 50)

    assert validate({**stored, "active": False}, Context.PATCH, existing=stored)["active"] is False
    assert validate({**stored, "title": "short"}, Context.PATCH, existing=stored)["title"] == "short"
    grown = {**stored, "nickName": "x" * (OVERSIZE_SLACK - len(',"nickName":""'))}
    assert validate(grown, Context.PATCH, existing=stored) == grown
    with pytest.raises(InvalidValue):
        validate({**grown, "nickName": grown["nickName"] + "x"}, Context.PATCH, existing=stored)


def test_a_patch_may_not_take_a_document_under_the_limit_over_it() -> None:
    stored = padded(LIMIT - 10)

    with pytest.raises(InvalidValue) as refused:
        validate({**stored, "nickName": "Babs"}, Context.PATCH, existing=stored)

    assert refused.value.detail.startswith(f"The resource would be {LIMIT + 8} bytes of JSON")
