"""SCIM errors: one class per RFC 7644 §3.12 Table 9 ``scimType`` or bare status.

Raise them anywhere in the core; ``scimhub.http.errors`` renders them in one place.

* ScimError
  + BadRequest (400, no scimType)
    - InvalidFilter, TooMany, Uniqueness(409), Mutability, InvalidSyntax, InvalidPath,
      NoTarget, InvalidValue, InvalidVersion, Sensitive, InvalidCursor, ExpiredCursor, InvalidCount
  + Unauthorized (401)
  + Forbidden (403)
  + NotFound (404)
  + MethodNotAllowed (405)
  + Conflict (409)
  + PreconditionFailed (412)
  + PayloadTooLarge (413)
  + UriTooLong (414)
  + TooManyRequests (429)
  + InternalError (500)
  + NotImplementedYet (501)
"""

from __future__ import annotations

from typing import Any
from typing import ClassVar

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(Exception):
    """Base of every SCIM error; ``status`` and ``scim_type`` are class data."""

    status: ClassVar[int] = 400
    scim_type: ClassVar[str | None] = None
    default_detail: ClassVar[str] = "The request is not valid."

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None) -> None:
        self.detail = detail or self.default_detail
        self.headers = headers or {}
        super().__init__(self.detail)

    def to_body(self) -> dict[str, Any]:
        """RFC 7644 §3.12 error body; ``status`` is a string."""
        body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(self.status), "detail": self.detail}
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


class BadRequest(ScimError):
    status = 400


class InvalidFilter(BadRequest):
    scim_type = "invalidFilter"
    default_detail = "The specified filter syntax is invalid or the attribute and comparison are not supported."


class TooMany(BadRequest):
    scim_type = "tooMany"
    default_detail = "The query would return too many results."


class Mutability(BadRequest):
    scim_type = "mutability"
    default_detail = "The attempted modification is not compatible with the attribute's mutability."


class InvalidSyntax(BadRequest):
    scim_type = "invalidSyntax"
    default_detail = "The request body message structure was invalid."


class InvalidPath(BadRequest):
    scim_type = "invalidPath"
    default_detail = "The path attribute was invalid or malformed."


class NoTarget(BadRequest):
    scim_type = "noTarget"
    default_detail = "The specified path did not yield an attribute or value that could be operated on."


class InvalidValue(BadRequest):
    scim_type = "invalidValue"
    default_detail = "A required value was missing, or the value specified was not compatible."


class InvalidVersion(BadRequest):
    scim_type = "invalidVers"
    default_detail = "The specified SCIM protocol version is not supported."


class Sensitive(BadRequest):
    scim_type = "sensitive"
    default_detail = "The request cannot be completed because of sensitive information in the request URI."


class InvalidCursor(BadRequest):
    """RFC 9865 §2.1."""

    scim_type = "invalidCursor"
    default_detail = "The cursor value is invalid."


class ExpiredCursor(BadRequest):
    """RFC 9865 §2.1."""

    scim_type = "expiredCursor"
    default_detail = "The cursor has expired; restart the query without a cursor value."


class InvalidCount(BadRequest):
    """RFC 9865 §2.1."""

    scim_type = "invalidCount"
    default_detail = "The count must equal the count of the query's first page."


class Unauthorized(ScimError):
    status = 401
    default_detail = "Authorization failure: a valid bearer token is required."

    def __init__(self, detail: str | None = None, *, error: str = "invalid_token") -> None:
        # RFC 6750 §3: every 401 carries a Bearer challenge.
        challenge = f'Bearer realm="scimhub", error="{error}"' if error else 'Bearer realm="scimhub"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class Forbidden(ScimError):
    status = 403
    default_detail = "The operation is not permitted."


class NotFound(ScimError):
    status = 404
    default_detail = "The specified resource was not found."


class MethodNotAllowed(ScimError):
    status = 405
    default_detail = "The HTTP method is not allowed on this endpoint."


class Conflict(ScimError):
    status = 409
    default_detail = "The request conflicts with the current state of the resource."


class Uniqueness(Conflict):
    scim_type = "uniqueness"
    default_detail = "One or more of the attribute values are already in use or are reserved."


class PreconditionFailed(ScimError):
    status = 412
    default_detail = "The resource has changed on the server (version mismatch)."


class PayloadTooLarge(ScimError):
    status = 413
    default_detail = "The request body is larger than the server accepts."


class UriTooLong(ScimError):
    """RFC 9110 §15.5.15: the request URL is longer than the server accepts."""

    status = 414
    default_detail = "The request URL is longer than the server accepts."


class UnsupportedMediaType(ScimError):
    status = 415
    default_detail = "The request body must be application/scim+json or application/json."


class TooManyRequests(ScimError):
    status = 429
    default_detail = "Too many requests; retry later."


class Busy(ScimError):
    """The database gave up on the transaction to break a lock cycle with another writer; nothing
    was written. The server retries a few times before answering this."""

    status = 503
    default_detail = "The write collided with concurrent writes and was not applied; retry it."


class InternalError(ScimError):
    status = 500
    default_detail = "An internal error occurred. It has been logged."


class NotImplementedYet(ScimError):
    status = 501
    default_detail = "The requested operation is not supported by this server."
