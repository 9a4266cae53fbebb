"""Validate an incoming resource body against its resource type (RFC 7643 §2, §7).

``validate_resource`` turns a client's JSON into the canonical stored document:
keys in their schema spelling, extension attributes under their URN, types checked,
nulls dropped (RFC 7643 §2.5: null is unassigned), readOnly input ignored,
immutable values kept, required values present. It is pure and never mutates input.
What each key denotes and how each attribute's values are checked is compiled once per
resource type (``schema.compiled``); this module runs one request through that plan.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import orjson

from scimhub.errors import InvalidSyntax
from scimhub.errors import InvalidValue
from scimhub.errors import Mutability as MutabilityError
from scimhub.limits import DEFAULT_LIMITS
from scimhub.policy import Policy
from scimhub.schema.compiled import MISSING
from scimhub.schema.compiled import ExtensionPlan
from scimhub.schema.compiled import ResourcePlan
from scimhub.schema.compiled import check_value_count as check_value_count
from scimhub.schema.compiled import plan_for
from scimhub.schema.model import JsonDoc
from scimhub.schema.model import ResourceType
from scimhub.schema.model import Schema
from scimhub.schema.undeclared import UndeclaredName
from scimhub.schema.undeclared import classify
from scimhub.schema.undeclared import place
from scimhub.schema.undeclared import undeclared_urns


class Context(Enum):
    """What the document is: a create request, a full replace, or a PATCH result."""

    CREATE = "create"
    REPLACE = "replace"
    PATCH = "patch"


def validate_resource(
    body: Any,
    rtype: ResourceType,
    common: Schema,
    context: Context,
    policy: Policy,
    existing: JsonDoc | None = None,
    max_string_length: int = DEFAULT_LIMITS.max_string_length,
    max_values_per_attribute: int = DEFAULT_LIMITS.max_values_per_attribute,
    max_resource_bytes: int = DEFAULT_LIMITS.max_resource_bytes,
    ignored: list[str] | None = None,
) -> JsonDoc:
    """Canonical document for ``body``; raises InvalidValue / Mutability / InvalidSyntax. The
    names of unknown attributes it ignores (``policy.ignore_unknown_attributes``) are appended to
    ``ignored``: the request log and the audit log list them."""
    if not isinstance(body, dict):
        raise InvalidSyntax("The request body must be a JSON object.")
    plan = plan_for(rtype, common)
    listed = body.get(_key(body, "schemas"))
    _check_schemas(listed, plan, policy)
    ignored = [] if ignored is None else ignored
    patch = context is Context.PATCH
    cap = max_values_per_attribute
    keys = plan.keys
    undeclared = plan.urn_named  # whether the document may hold undeclared extension containers
    doc: JsonDoc = {}
    # A PATCH result is the stored document with a few attributes changed: what is unchanged was
    # validated when it was stored (and is canonical), so only the changed attributes are checked.
    unchanged = existing if patch and existing is not None else {}
    for key, value in body.items():
        if key in unchanged and key != "schemas" and unchanged[key] == value:
            doc[key] = value
            undeclared = True
            continue
        found = keys.get(key) or plan.key(key)
        attr = found.attr
        if attr is not None:
            if attr.unreturned or (attr.read_only and not patch):
                if found.container is not None and not doc.setdefault(found.container, {}):
                    del doc[found.container]  # as placing nothing in it would leave it
                continue
            target = doc if found.container is None else doc.setdefault(found.container, {})
            coerced = attr.coerce(value, policy, attr.where, cap if attr.capped else None, ignored)
            if coerced is MISSING:
                target.pop(attr.name, None)
            else:
                target[attr.name] = coerced
            if found.container is not None and not target:  # a null URN-qualified extension attribute adds no container
                del doc[found.container]
        elif found.extension is not None:
            _place_extension(doc, found.extension, value, policy, patch, cap, ignored)
        elif not found.skip:
            _keep_undeclared(doc, key, value, rtype, policy, ignored, listed or ())
            undeclared = True
    if existing is not None and context is not Context.CREATE:
        _check_immutable(doc, existing, plan)
    _check_required(doc, plan)
    doc["schemas"] = [
        plan.core_id,
        *(urn for urn in plan.extension_ids if urn in doc),
        *(undeclared_urns(doc, rtype) if undeclared else ()),
    ]
    _check_lengths_and_size(doc, unchanged or None, max_string_length, max_resource_bytes)
    return doc


OVERSIZE_SLACK = 1024  # bytes a PATCH may add to a document stored over the limit


def _check_lengths_and_size(doc: JsonDoc, before: JsonDoc | None, max_string: int, max_bytes: int) -> None:
    """SCIMHUB_MAX_STRING_LENGTH on every string value, then SCIMHUB_MAX_RESOURCE_BYTES on the
    canonical JSON. No string of a document whose JSON is at most ``max_string`` bytes can be longer
    (a character is at least one byte), so the walk naming the offending value runs only past that."""
    try:
        size: int | None = len(orjson.dumps(doc))
    except orjson.JSONEncodeError:
        size = None  # refused below, after the string lengths, as ever
    if size is None or size > max_string:
        schemas = doc.pop("schemas")  # last, and never checked: the server wrote it
        check_string_lengths(doc, max_string)
        doc["schemas"] = schemas
    if size is None:
        orjson.dumps(doc)
    _check_size(doc, size or 0, before, max_bytes)


def _check_size(doc: JsonDoc, size: int, before: JsonDoc | None, limit: int) -> None:
    """A document stored over the limit (before it existed, or under a larger one) still takes
    small PATCHes: it can be deactivated or trimmed."""
    if size <= limit:
        return
    stored = len(orjson.dumps(before)) if before is not None else 0
    if stored <= limit or size > stored + OVERSIZE_SLACK:
        raise InvalidValue(f"The resource would be {size} bytes of JSON; at most {limit} are accepted.")


def check_string_lengths(value: Any, limit: int, where: str = "") -> None:
    """No string value may exceed ``limit`` characters (SCIMHUB_MAX_STRING_LENGTH)."""
    if isinstance(value, str):
        if len(value) > limit:
            raise InvalidValue(f"'{where}' is longer than the limit of {limit} characters.")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_string_lengths(item, limit, f"{where}.{key}" if where else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_string_lengths(item, limit, f"{where}[{i}]")


def _key(body: dict[str, Any], name: str) -> str:
    for key in body:
        if key.casefold() == name:
            return key
    return name


def _check_schemas(schemas: Any, plan: ResourcePlan, policy: Policy) -> None:
    """RFC 7643 §3: ``schemas`` names the core schema and any extension used."""
    if schemas is None:
        return  # tolerated: the resource type is known from the endpoint
    if not isinstance(schemas, list) or not all(isinstance(s, str) for s in schemas):
        raise InvalidValue("'schemas' must be an array of schema URIs.")
    if plan.core_id in schemas and plan.known_ids.issuperset(schemas):
        return  # the usual list: the URNs as the schemas spell them
    folded = [s.casefold() for s in schemas]
    if plan.core_folded not in folded:
        raise InvalidValue(f"'schemas' must contain {plan.core_id}.")
    unknown = [s for s, f in zip(schemas, folded, strict=True) if f not in plan.known_folded]
    if unknown and not policy.ignore_unknown_schema_uris:
        raise InvalidValue(f"Unknown schema URI(s) for {plan.rtype.name}: {', '.join(unknown)}.")


def _keep_undeclared(
    doc: JsonDoc, key: str, value: Any, rtype: ResourceType, policy: Policy, ignored: list[str], listed: Any
) -> None:
    """A key no schema knows: undeclared extension data is kept as sent; anything else is ignored
    (RFC 7644 §3.3, and listed in ``ignored``) or, for a strict tenant, refused naming it."""
    name = classify(rtype, key, value, doc, listed if isinstance(listed, list) else ())
    if name is not None and policy.keep_undeclared_extensions:
        if value is not None:
            place(doc, name, value)
        return
    if not policy.ignore_unknown_attributes:
        undeclared = f"extension {name.urn}, which this tenant has not declared," if name is not None else None
        raise InvalidValue(f"Unknown {undeclared or f'attribute {key!r}'} for resource type {rtype.name}.")
    ignored.append(key)


def _place_extension(
    doc: JsonDoc, extension: ExtensionPlan, value: Any, policy: Policy, patch: bool, cap: int, ignored: list[str]
) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise InvalidValue(f"'{extension.id}' must be a JSON object of extension attributes.")
    container: JsonDoc = doc.setdefault(extension.id, {})
    for key, sub_value in value.items():
        attr = extension.attribute(key)
        if attr is None and policy.keep_undeclared_extensions:
            if sub_value is not None:  # kept as sent, like an undeclared extension's data
                place(doc, UndeclaredName(extension.id, key), sub_value)
            continue
        if attr is None:
            if not policy.ignore_unknown_attributes:
                raise InvalidValue(f"Unknown attribute '{key}' in extension {extension.id}.")
            ignored.append(f"{extension.id}:{key}")
            continue
        if attr.unreturned or (attr.read_only and not patch):
            continue
        coerced = attr.coerce(sub_value, policy, attr.where, cap if attr.capped else None, ignored)
        if coerced is MISSING:
            container.pop(attr.name, None)
        else:
            container[attr.name] = coerced
    if not container:
        del doc[extension.id]


def _check_required(doc: JsonDoc, plan: ResourcePlan) -> None:
    for name in plan.required:
        value = doc.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):  # RFC 7643 §4.1: a non-empty userName
            raise InvalidValue(f"'{name}' is required for {plan.rtype.name} and must not be empty.")
    for urn, ext_required, names in plan.required_extensions:
        container = doc.get(urn, {})
        if ext_required and not container:
            raise InvalidValue(f"Extension {urn} is required for {plan.rtype.name}.")
        if container:
            for name in names:
                if name not in container:
                    raise InvalidValue(f"'{urn}:{name}' is required.")


def _check_immutable(doc: JsonDoc, existing: JsonDoc, plan: ResourcePlan) -> None:
    """RFC 7643 §7 immutable: may be set once, never changed afterwards."""
    containers = [
        (urn, reattach, names, *((doc, existing) if urn is None else (doc.get(urn, {}), existing.get(urn, {}))))
        for urn, reattach, names in plan.immutable
    ]
    for urn, reattach, names, target, before in containers:
        for name in names:
            if name not in before:
                continue
            if name not in target:
                target[name] = before[name]  # omitted on replace: the value stays as set
                if reattach and urn is not None:
                    doc[urn] = target
            elif target[name] != before[name]:
                raise MutabilityError(f"'{name}' is immutable and cannot be changed.")
