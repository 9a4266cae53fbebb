"""The test oracle: the interpreter ``scimhub.schema.validate`` replaced (main at df418ca), unchanged.

Production validates through a plan compiled per resource type (``schema.compiled``);
tests/schema/test_compiled.py checks on generated bodies that both give the same document, the
same ``ignored`` names and the same errors. Not imported by the server. What it did, as written then:

``validate_resource`` turns a client's JSON into the canonical stored document:
keys in their schema spelling, extension attributes under their URN, types checked,
nulls dropped (RFC 7643 §2.5: null is unassigned), readOnly input ignored,
immutable values kept, required values present. It is pure and never mutates input.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

import orjson

from scimhub.errors import InvalidSyntax
from scimhub.errors import InvalidValue
from scimhub.errors import Mutability as MutabilityError
from scimhub.limits import DEFAULT_LIMITS
from scimhub.policy import Policy
from scimhub.schema.model import Attribute
from scimhub.schema.model import AttrType
from scimhub.schema.model import JsonDoc
from scimhub.schema.model import Mutability
from scimhub.schema.model import ResourceType
from scimhub.schema.model import Returned
from scimhub.schema.model import Schema
from scimhub.schema.paths import find_schema
from scimhub.schema.paths import split_attr_name
from scimhub.schema.relations import members_attribute
from scimhub.schema.undeclared import UndeclaredName
from scimhub.schema.undeclared import classify
from scimhub.schema.undeclared import place
from scimhub.schema.undeclared import undeclared_urns


class Context(Enum):
    """What the document is: a create request, a full replace, or a PATCH result."""

    CREATE = "create"
    REPLACE = "replace"
    PATCH = "patch"


class _Missing:
    """Marker for 'unassigned' (null, empty list, empty complex)."""


MISSING = _Missing()


@dataclass(slots=True)  # not frozen: built per request, and a frozen __init__ costs 3x
class _Input:
    """How one request's values are read: what the document is, the IdP leniencies, the value cap."""

    context: Context
    policy: Policy
    max_values: int
    uncapped: Attribute | None  # Group.members: rows, not document values, capped per request instead
    ignored: list[str]  # unknown attribute names skipped under policy.ignore_unknown_attributes


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
    listed = body.get(_key(body, "schemas"))
    _check_schemas(listed, rtype, policy)
    members = members_attribute(rtype)
    rules = _Input(
        context,
        policy,
        max_values_per_attribute,
        rtype.schema.attribute(members) if members else None,
        [] if ignored is None else ignored,
    )
    doc: JsonDoc = {}
    # A PATCH result is the stored document with a few attributes changed: what is unchanged was
    # validated when it was stored (and is canonical), so only the changed attributes are checked.
    unchanged = existing if context is Context.PATCH and existing is not None else {}
    for key, value in body.items():
        if key in unchanged and key != "schemas" and unchanged[key] == value:
            doc[key] = value
        elif not _place(doc, key, value, rtype, common, rules):
            _keep_undeclared(doc, key, value, rtype, rules, listed or ())
    if existing is not None and context is not Context.CREATE:
        _check_immutable(doc, existing, rtype, common)
    _check_required(doc, rtype, common)
    check_string_lengths(doc, max_string_length)
    doc["schemas"] = [
        rtype.schema.id,
        *(s.id for s, _ in rtype.extensions if s.id in doc),
        *undeclared_urns(doc, rtype),
    ]
    _check_size(doc, unchanged or None, max_resource_bytes)
    return doc


OVERSIZE_SLACK = 1024  # bytes a PATCH may add to a document stored over the limit


def _check_size(doc: JsonDoc, before: JsonDoc | None, limit: int) -> None:
    """SCIMHUB_MAX_RESOURCE_BYTES on the canonical JSON. A document stored over the limit (before
    it existed, or under a larger one) still takes small PATCHes: it can be deactivated or trimmed."""
    size = len(orjson.dumps(doc))
    if size <= limit:
        return
    stored = len(orjson.dumps(before)) if before is not None else 0
    if stored <= limit or size > stored + OVERSIZE_SLACK:
        raise InvalidValue(f"The resource would be {size} bytes of JSON; at most {limit} are accepted.")


def check_value_count(name: str, count: int, limit: int) -> None:
    """No multi-valued attribute may hold more than ``limit`` values (SCIMHUB_MAX_VALUES_PER_ATTRIBUTE)."""
    if count > limit:
        raise InvalidValue(f"'{name}' has {count} values; at most {limit} are accepted in one attribute.")


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


def _check_schemas(schemas: Any, rtype: ResourceType, policy: Policy) -> None:
    """RFC 7643 §3: ``schemas`` names the core schema and any extension used."""
    if schemas is None:
        return  # tolerated: the resource type is known from the endpoint
    if not isinstance(schemas, list) or not all(isinstance(s, str) for s in schemas):
        raise InvalidValue("'schemas' must be an array of schema URIs.")
    known = {rtype.schema.id.casefold(), *(s.id.casefold() for s, _ in rtype.extensions)}
    if rtype.schema.id.casefold() not in {s.casefold() for s in schemas}:
        raise InvalidValue(f"'schemas' must contain {rtype.schema.id}.")
    unknown = [s for s in schemas if s.casefold() not in known]
    if unknown and not policy.ignore_unknown_schema_uris:
        raise InvalidValue(f"Unknown schema URI(s) for {rtype.name}: {', '.join(unknown)}.")


def _place(doc: JsonDoc, key: str, value: Any, rtype: ResourceType, common: Schema, rules: _Input) -> bool:
    """Store one key of the body; False when no schema of ``rtype`` knows it."""
    if key.casefold() == "schemas":
        return True
    extension = find_schema(rtype, key)
    if extension is not None and extension is not rtype.schema:
        _place_extension(doc, extension, value, rules)
        return True
    uri, name, sub = split_attr_name(key)
    schema = rtype.schema if uri is None else find_schema(rtype, uri)
    attr = None
    if schema is not None and sub is None:
        attr = (common.attribute(name) if schema is rtype.schema else None) or schema.attribute(name)
    if attr is None or schema is None:
        return False
    target = doc if schema is rtype.schema else doc.setdefault(schema.id, {})
    _store(target, attr, value, rules, None if target is doc else f"{schema.id}:{attr.name}")
    if target is not doc and not target:  # a null URN-qualified extension attribute adds no container
        del doc[schema.id]
    return True


def _keep_undeclared(doc: JsonDoc, key: str, value: Any, rtype: ResourceType, rules: _Input, listed: Any) -> None:
    """A key no schema knows: undeclared extension data is kept as sent; anything else is ignored
    (RFC 7644 §3.3, and listed in ``rules.ignored``) or, for a strict tenant, refused naming it."""
    name = classify(rtype, key, value, doc, listed if isinstance(listed, list) else ())
    if name is not None and rules.policy.keep_undeclared_extensions:
        if value is not None:
            place(doc, name, value)
        return
    if not rules.policy.ignore_unknown_attributes:
        undeclared = f"extension {name.urn}, which this tenant has not declared," if name is not None else None
        raise InvalidValue(f"Unknown {undeclared or f'attribute {key!r}'} for resource type {rtype.name}.")
    rules.ignored.append(key)


def _place_extension(doc: JsonDoc, schema: Schema, value: Any, rules: _Input) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise InvalidValue(f"'{schema.id}' must be a JSON object of extension attributes.")
    container: JsonDoc = doc.setdefault(schema.id, {})
    for key, sub_value in value.items():
        attr = schema.attribute(key)
        if attr is None and rules.policy.keep_undeclared_extensions:
            if sub_value is not None:  # kept as sent, like an undeclared extension's data
                place(doc, UndeclaredName(schema.id, key), sub_value)
            continue
        if attr is None:
            if not rules.policy.ignore_unknown_attributes:
                raise InvalidValue(f"Unknown attribute '{key}' in extension {schema.id}.")
            rules.ignored.append(f"{schema.id}:{key}")
            continue
        _store(container, attr, sub_value, rules, f"{schema.id}:{attr.name}")
    if not container:
        del doc[schema.id]


def _store(target: JsonDoc, attr: Attribute, value: Any, rules: _Input, where: str | None = None) -> None:
    if _ignored_on_input(attr, rules.context):
        return
    cap = None if attr is rules.uncapped else rules.max_values
    coerced = coerce_value(attr, value, rules.policy, where or attr.name, cap, rules.ignored)
    if coerced is MISSING:
        target.pop(attr.name, None)
    else:
        target[attr.name] = coerced


def _ignored_on_input(attr: Attribute, context: Context) -> bool:
    # RFC 7644 §3.3/§3.5.1: readOnly values sent by clients are ignored. Attributes that can
    # never be returned (password) are not persisted at all: nothing may read them back.
    if attr.returned is Returned.NEVER:
        return True
    return attr.mutability is Mutability.READ_ONLY and context is not Context.PATCH


def coerce_value(
    attr: Attribute,
    value: Any,
    policy: Policy,
    where: str,
    max_values: int | None = None,
    ignored: list[str] | None = None,
) -> Any:
    """Type-check one attribute value; MISSING for null/empty (RFC 7643 §2.5). A multi-valued one
    is counted before its values are read (a 4 MB body holds ~300,000 tiny ones). Unknown
    sub-attributes skipped under ``policy.ignore_unknown_attributes`` are named in ``ignored``."""
    ignored = [] if ignored is None else ignored
    if value is None:
        return MISSING
    if not attr.multi_valued:
        if isinstance(value, list):
            raise InvalidValue(f"'{where}' is single-valued; got an array.")
        return _coerce_single(attr, value, policy, where, ignored)
    if not isinstance(value, list):
        raise InvalidValue(f"'{where}' is multi-valued and must be an array.")
    if max_values is not None:
        check_value_count(where, len(value), max_values)
    items = [_coerce_single(attr, item, policy, f"{where}[{i}]", ignored) for i, item in enumerate(value)]
    kept = [item for item in items if item is not MISSING]
    return kept if kept else MISSING


def _coerce_single(attr: Attribute, value: Any, policy: Policy, where: str, ignored: list[str]) -> Any:
    if value is None:
        return MISSING
    if attr.type is AttrType.COMPLEX:
        return _coerce_complex(attr, value, policy, where, ignored)
    return coerce_simple(attr, value, policy, where)


def _coerce_complex(attr: Attribute, value: Any, policy: Policy, where: str, ignored: list[str]) -> Any:
    if not isinstance(value, dict):
        raise InvalidValue(f"'{where}' must be a JSON object.")
    out: JsonDoc = {}
    for key, sub_value in value.items():
        sub = attr.sub_attribute(key)
        if sub is None:
            if not policy.ignore_unknown_attributes:
                raise InvalidValue(f"Unknown sub-attribute '{key}' of '{where}'.")
            ignored.append(f"{where}.{key}")
            continue
        if sub.mutability is Mutability.READ_ONLY:
            continue  # RFC 7644 §3.3: readOnly values sent by clients are ignored (manager.displayName)
        coerced = _coerce_single(sub, sub_value, policy, f"{where}.{sub.name}", ignored)
        if coerced is not MISSING:
            out[sub.name] = coerced
    for sub in attr.sub_attributes:
        if sub.required and sub.name not in out and out:
            raise InvalidValue(f"'{where}.{sub.name}' is required.")
    return out if out else MISSING


def coerce_simple(attr: Attribute, value: Any, policy: Policy, where: str) -> Any:
    """Check a simple (non-complex) value against the attribute type (RFC 7643 §2.3)."""
    kind = attr.type
    if kind is AttrType.BOOLEAN:
        return _coerce_boolean(value, policy, where)
    if kind is AttrType.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidValue(f"'{where}' must be an integer.")
        return value
    if kind is AttrType.DECIMAL:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidValue(f"'{where}' must be a number.")
        return value
    if not isinstance(value, str):
        noun = "a string" if kind is AttrType.STRING else f"a string ({kind.value})"
        raise InvalidValue(f"'{where}' must be {noun}.")
    if "\x00" in value:
        # JSON allows U+0000, but PostgreSQL text and jsonb cannot store it and no directory
        # attribute means it: refused on every database alike.
        raise InvalidValue(f"'{where}' must not contain the NUL character (U+0000).")
    if kind is AttrType.DATETIME:
        _check_datetime(value, where)
    return value


def _coerce_boolean(value: Any, policy: Policy, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if policy.string_booleans and isinstance(value, str) and value.casefold() in ("true", "false"):
        return value.casefold() == "true"
    raise InvalidValue(f"'{where}' must be a boolean (true or false).")


def _check_datetime(value: str, where: str) -> None:
    """RFC 7643 §2.3.5: xsd:dateTime, e.g. 2008-01-23T04:56:22Z."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidValue(f"'{where}' must be an xsd:dateTime such as 2008-01-23T04:56:22Z.") from None
    if parsed.tzinfo is None and "T" not in value:
        raise InvalidValue(f"'{where}' must be an xsd:dateTime such as 2008-01-23T04:56:22Z.")


def _check_required(doc: JsonDoc, rtype: ResourceType, common: Schema) -> None:
    for attr in rtype.schema.attributes:
        if attr.required and attr.mutability is not Mutability.READ_ONLY and _blank(doc.get(attr.name)):
            raise InvalidValue(f"'{attr.name}' is required for {rtype.name} and must not be empty.")
    for schema, ext_required in rtype.extensions:
        container = doc.get(schema.id, {})
        if ext_required and not container:
            raise InvalidValue(f"Extension {schema.id} is required for {rtype.name}.")
        for attr in schema.attributes:
            if container and attr.required and attr.name not in container:
                raise InvalidValue(f"'{schema.id}:{attr.name}' is required.")


def _blank(value: Any) -> bool:
    """Absent, or a string of only whitespace (RFC 7643 §4.1: a non-empty userName)."""
    return value is None or (isinstance(value, str) and not value.strip())


def _check_immutable(doc: JsonDoc, existing: JsonDoc, rtype: ResourceType, common: Schema) -> None:
    """RFC 7643 §7 immutable: may be set once, never changed afterwards."""
    for schema, target, before in _containers(doc, existing, rtype, common):
        for attr in schema.attributes:
            if attr.mutability is not Mutability.IMMUTABLE or attr.name not in before:
                continue
            if attr.name not in target:
                target[attr.name] = before[attr.name]  # omitted on replace: the value stays as set
                if schema.id != rtype.schema.id and schema.id != common.id:
                    doc[schema.id] = target
            elif target[attr.name] != before[attr.name]:
                raise MutabilityError(f"'{attr.name}' is immutable and cannot be changed.")


def _containers(
    doc: JsonDoc, existing: JsonDoc, rtype: ResourceType, common: Schema
) -> list[tuple[Schema, JsonDoc, JsonDoc]]:
    pairs = [(common, doc, existing), (rtype.schema, doc, existing)]
    pairs += [(s, doc.get(s.id, {}), existing.get(s.id, {})) for s, _ in rtype.extensions]
    return pairs
