"""PatchOp request messages (RFC 7644 §3.5.2), parsed into plain operations."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from scimhub.errors import InvalidSyntax
from scimhub.errors import InvalidValue
from scimhub.errors import NoTarget
from scimhub.limits import DEFAULT_LIMITS

PATCH_OP_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MAX_OPERATIONS = DEFAULT_LIMITS.max_patch_operations


class OpName(StrEnum):
    ADD = "add"
    REPLACE = "replace"
    REMOVE = "remove"


@dataclass(frozen=True, slots=True)
class PatchOperation:
    op: OpName
    path: str | None
    value: Any
    index: int  # position in Operations, for error details


def _get(body: dict[str, Any], name: str) -> Any:
    for key, value in body.items():
        if key.casefold() == name:
            return value
    return None


def parse_patch_request(body: Any, max_operations: int = MAX_OPERATIONS) -> list[PatchOperation]:
    """Validate the PatchOp envelope; op names are case-insensitive (Entra sends ``Replace``)."""
    if not isinstance(body, dict):
        raise InvalidSyntax("A PATCH body must be a PatchOp JSON object.")
    schemas = _get(body, "schemas")
    if schemas is not None and (not isinstance(schemas, list) or PATCH_OP_SCHEMA not in schemas):
        raise InvalidValue(f"'schemas' of a PATCH request must contain {PATCH_OP_SCHEMA}.")
    operations = _get(body, "operations")
    if not isinstance(operations, list) or not operations:
        raise InvalidValue("'Operations' must be a non-empty array of operations.")
    if len(operations) > max_operations:
        raise InvalidValue(f"At most {max_operations} operations are accepted in one PATCH request.")
    return [_operation(op, i) for i, op in enumerate(operations)]


def _operation(raw: Any, index: int) -> PatchOperation:
    if not isinstance(raw, dict):
        raise InvalidSyntax(f"Operations[{index}] must be a JSON object.")
    name = _get(raw, "op")
    if not isinstance(name, str) or name.casefold() not in OpName.__members__.values():
        raise InvalidValue(f"Operations[{index}].op must be add, replace or remove; got {name!r}.")
    path = _get(raw, "path")
    if path is not None and (not isinstance(path, str) or not path.strip()):
        raise InvalidValue(f"Operations[{index}].path must be a non-empty string.")
    op = OpName(name.casefold())
    value = _get(raw, "value")
    if op is not OpName.REMOVE and not any(key.casefold() == "value" for key in raw):
        # An explicit null stays accepted: Entra clears attributes with "value": null.
        raise InvalidValue(f"Operations[{index}]: {op} needs a value member (RFC 7644 §3.5.2.1, §3.5.2.3).")
    if op is OpName.REMOVE and path is None:
        raise NoTarget(f"Operations[{index}]: remove needs a path (RFC 7644 §3.5.2.2).")
    if op is not OpName.REMOVE and path is None and not isinstance(value, dict):
        raise InvalidValue(f"Operations[{index}]: without a path the value must be an object of attributes.")
    return PatchOperation(op, path.strip() if path else None, value, index)
