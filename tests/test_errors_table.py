"""Every ScimError class → (HTTP status, scimType), pinned (RFC 7644 §3.12 Tables 8 and 9, RFC 9865).

A mapper mix-up of the kind found in other SCIM servers (the wrong scimType for a status) fails here at once, and a new
error class fails ``test_the_table_lists_every_error_class`` until it is added to the table.
scim2-models' exception classes serve as an independent oracle for the scimType values.
"""

from __future__ import annotations

import inspect

import pytest
from scim2_models import Error
from scim2_models import SCIMException

from scimhub import errors
from scimhub.errors import ERROR_SCHEMA
from scimhub.errors import ScimError

TABLE: dict[type[ScimError], tuple[int, str | None]] = {
    errors.BadRequest: (400, None),
    errors.InvalidFilter: (400, "invalidFilter"),
    errors.TooMany: (400, "tooMany"),
    errors.Mutability: (400, "mutability"),
    errors.InvalidSyntax: (400, "invalidSyntax"),
    errors.InvalidPath: (400, "invalidPath"),
    errors.NoTarget: (400, "noTarget"),
    errors.InvalidValue: (400, "invalidValue"),
    errors.InvalidVersion: (400, "invalidVers"),
    errors.Sensitive: (400, "sensitive"),
    errors.InvalidCursor: (400, "invalidCursor"),
    errors.ExpiredCursor: (400, "expiredCursor"),
    errors.InvalidCount: (400, "invalidCount"),
    errors.Unauthorized: (401, None),
    errors.Forbidden: (403, None),
    errors.NotFound: (404, None),
    errors.MethodNotAllowed: (405, None),
    errors.Conflict: (409, None),
    errors.Uniqueness: (409, "uniqueness"),
    errors.PreconditionFailed: (412, None),
    errors.Busy: (503, None),
    errors.PayloadTooLarge: (413, None),
    errors.UriTooLong: (414, None),
    errors.UnsupportedMediaType: (415, None),
    errors.TooManyRequests: (429, None),
    errors.InternalError: (500, None),
    errors.NotImplementedYet: (501, None),
}
ROWS = [pytest.param(cls, status, scim_type, id=cls.__name__) for cls, (status, scim_type) in TABLE.items()]


def error_classes() -> set[type[ScimError]]:
    return {
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, ScimError) and cls is not ScimError and cls.__module__ == errors.__name__
    }


def test_the_table_lists_every_error_class() -> None:
    assert error_classes() == set(TABLE)


@pytest.mark.parametrize(("cls", "status", "scim_type"), ROWS)
def test_each_error_class_has_its_status_and_scim_type(
    cls: type[ScimError], status: int, scim_type: str | None
) -> None:
    assert (cls.status, cls.scim_type) == (status, scim_type)


@pytest.mark.parametrize(("cls", "status", "scim_type"), [row for row in ROWS if row.values[2] is not None])
def test_scim_types_agree_with_scim2_models(cls: type[ScimError], status: int, scim_type: str) -> None:
    oracle = SCIMException.from_error(Error(scim_type=scim_type))
    assert type(oracle) is not SCIMException, f"scim2-models knows no scimType {scim_type!r}"
    assert (oracle.status, oracle.scim_type) == (status, scim_type)


@pytest.mark.parametrize(("cls", "status", "scim_type"), ROWS)
def test_to_body_is_an_rfc7644_error_with_the_status_as_a_string(
    cls: type[ScimError], status: int, scim_type: str | None
) -> None:
    body = cls("Something specific went wrong.").to_body()
    expected = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": "Something specific went wrong."}
    if scim_type is not None:
        expected["scimType"] = scim_type
    assert body == expected
    parsed = Error.model_validate(body)
    assert (parsed.status, parsed.scim_type) == (status, scim_type)


@pytest.mark.parametrize(("cls", "status", "scim_type"), ROWS)
def test_an_error_without_detail_carries_its_default_detail(
    cls: type[ScimError], status: int, scim_type: str | None
) -> None:
    error = cls()
    assert error.detail == cls.default_detail
    assert error.detail
    assert str(error) == error.detail
    assert error.to_body()["detail"] == cls.default_detail


def test_unauthorized_carries_a_bearer_challenge() -> None:
    """RFC 6750 §3: every 401 carries WWW-Authenticate: Bearer."""
    assert errors.Unauthorized().headers == {"WWW-Authenticate": 'Bearer realm="scimhub", error="invalid_token"'}
    assert errors.Unauthorized(error="").headers == {"WWW-Authenticate": 'Bearer realm="scimhub"'}


def test_every_error_is_caught_as_a_scim_error() -> None:
    assert all(issubclass(cls, ScimError) and issubclass(cls, Exception) for cls in TABLE)
    assert issubclass(errors.Uniqueness, errors.Conflict)
