"""A resource type's validation plan, compiled once per (resource type, common schema).

``validate_resource`` used to resolve every JSON key of every request against the schemas
(casefolding, ``find_schema``, ``split_attr_name``, attribute lookups) and to interpret each
attribute's characteristics while checking its value. A ``ResourcePlan`` does that work once:
each attribute becomes an ``AttrPlan`` (its type check chosen ahead, its sub-attributes' plans
built), and each key spelling a client sends is resolved once and remembered (memos are bounded:
keys are client data). Registries are data and change per tenant (``tenant_registry`` builds one
per set of declarations, with new ``ResourceType`` objects), so plans are cached by the identity
of the resource type and common schema they were compiled from: a new extension is a new plan.

Pure: no I/O. Messages are those of the interpreter this replaced, byte for byte
(tests/schema/reference_validate.py keeps it as the oracle of tests/schema/test_compiled.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from typing import Final

from scimhub.errors import InvalidValue
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


class _Missing:
    """Marker for 'unassigned' (null, empty list, empty complex)."""


MISSING: Final = _Missing()
_UNSEEN: Final = object()  # a key not resolved yet (None is remembered: a name nothing declares)
MEMO_LIMIT = 1024  # key spellings remembered per table; beyond it (a client inventing names) resolved each time


def check_value_count(name: str, count: int, limit: int) -> None:
    """No multi-valued attribute may hold more than ``limit`` values (SCIMHUB_MAX_VALUES_PER_ATTRIBUTE)."""
    if count > limit:
        raise InvalidValue(f"'{name}' has {count} values; at most {limit} are accepted in one attribute.")


class _Refused(Exception):
    """A simple value failed its type check. The check does not know where the value is; the
    caller does, and names it (so paths are built only for a refused value)."""

    def __init__(self, tail: str) -> None:
        super().__init__(tail)
        self.tail = tail


SimpleCheck = Callable[[Any, Policy], Any]


def _boolean(value: Any, policy: Policy) -> Any:
    if isinstance(value, bool):
        return value
    if policy.string_booleans and isinstance(value, str) and value.casefold() in ("true", "false"):
        return value.casefold() == "true"
    raise _Refused(" must be a boolean (true or false).")


def _integer(value: Any, policy: Policy) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Refused(" must be an integer.")
    return value


def _decimal(value: Any, policy: Policy) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Refused(" must be a number.")
    return value


_NUL = " must not contain the NUL character (U+0000)."
_DATETIME = " must be an xsd:dateTime such as 2008-01-23T04:56:22Z."


def _string_check(kind: AttrType) -> SimpleCheck:
    """string, binary, reference and dateTime: a string (RFC 7643 §2.3), never holding U+0000."""
    noun = "a string" if kind is AttrType.STRING else f"a string ({kind.value})"
    wrong_type = f" must be {noun}."

    def check(value: Any, policy: Policy) -> Any:
        if not isinstance(value, str):
            raise _Refused(wrong_type)
        if "\x00" in value:
            # JSON allows U+0000, but PostgreSQL text and jsonb cannot store it and no directory
            # attribute means it: refused on every database alike.
            raise _Refused(_NUL)
        return value

    def check_datetime(value: Any, policy: Policy) -> Any:
        check(value, policy)
        _check_datetime(value)
        return value

    return check_datetime if kind is AttrType.DATETIME else check


def _check_datetime(value: str) -> None:
    """RFC 7643 §2.3.5: xsd:dateTime, e.g. 2008-01-23T04:56:22Z."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _Refused(_DATETIME) from None
    if parsed.tzinfo is None and "T" not in value:
        raise _Refused(_DATETIME)


def _simple_check(kind: AttrType) -> SimpleCheck:
    if kind is AttrType.BOOLEAN:
        return _boolean
    if kind is AttrType.INTEGER:
        return _integer
    if kind is AttrType.DECIMAL:
        return _decimal
    return _string_check(kind)


class AttrPlan:
    """One attribute, compiled: how its values are checked and where it is named in messages."""

    __slots__ = (
        "_by_id",
        "_subs",
        "attr",
        "capped",
        "multi_valued",
        "name",
        "read_only",
        "required_subs",
        "simple",
        "unreturned",
        "where",
    )

    def __init__(self, attr: Attribute, where: str, capped: bool) -> None:
        self.attr = attr
        self.name = attr.name
        self.where = where  # its name in messages when it is a top-level attribute
        self.multi_valued = attr.multi_valued
        self.capped = capped  # Group.members is not: rows, not document values, capped per request instead
        # RFC 7644 §3.3/§3.5.1: readOnly input is ignored (except in a PATCH result; a readOnly
        # sub-attribute always); what can never be returned (password) is not persisted at all.
        self.read_only = attr.mutability is Mutability.READ_ONLY
        self.unreturned = attr.returned is Returned.NEVER
        self.simple: SimpleCheck | None = None if attr.type is AttrType.COMPLEX else _simple_check(attr.type)
        self.required_subs = tuple(sub.name for sub in attr.sub_attributes if sub.required)
        self._by_id = {id(sub): AttrPlan(sub, sub.name, True) for sub in attr.sub_attributes}
        self._subs: dict[str, AttrPlan | None] = {}  # key as sent -> its sub-attribute's plan

    def sub(self, key: str) -> AttrPlan | None:
        """The sub-attribute ``key`` names, case-insensitively (RFC 7643 §2.1)."""
        found = self._subs.get(key, _UNSEEN)
        if found is _UNSEEN:
            sub = self.attr.sub_attribute(key)
            found = None if sub is None else self._by_id[id(sub)]
            if len(self._subs) < MEMO_LIMIT:
                self._subs[key] = found
        return found  # type: ignore[return-value]

    def coerce(self, value: Any, policy: Policy, where: str, cap: int | None, ignored: list[str]) -> Any:
        """Type-check one attribute value; MISSING for null/empty (RFC 7643 §2.5). A multi-valued one
        is counted before its values are read (a 4 MB body holds ~300,000 tiny ones). Unknown
        sub-attributes skipped under ``policy.ignore_unknown_attributes`` are named in ``ignored``."""
        if value is None:
            return MISSING
        if not self.multi_valued:
            if isinstance(value, list):
                raise InvalidValue(f"'{where}' is single-valued; got an array.")
            if self.simple is None:
                return self.complex(value, policy, where, ignored)
            try:
                return self.simple(value, policy)
            except _Refused as refused:
                raise InvalidValue(f"'{where}'{refused.tail}") from None
        if not isinstance(value, list):
            raise InvalidValue(f"'{where}' is multi-valued and must be an array.")
        if cap is not None:
            check_value_count(where, len(value), cap)
        kept = []
        simple = self.simple
        for i, item in enumerate(value):
            if item is None:
                continue
            if simple is not None:
                try:
                    kept.append(simple(item, policy))
                except _Refused as refused:
                    raise InvalidValue(f"'{where}[{i}]'{refused.tail}") from None
                continue
            coerced = self.complex(item, policy, f"{where}[{i}]", ignored)
            if coerced is not MISSING:
                kept.append(coerced)
        return kept if kept else MISSING

    def complex(self, value: Any, policy: Policy, where: str, ignored: list[str]) -> Any:
        if not isinstance(value, dict):
            raise InvalidValue(f"'{where}' must be a JSON object.")
        out: JsonDoc = {}
        for key, sub_value in value.items():
            sub = self.sub(key)
            if sub is None:
                if not policy.ignore_unknown_attributes:
                    raise InvalidValue(f"Unknown sub-attribute '{key}' of '{where}'.")
                ignored.append(f"{where}.{key}")
                continue
            if sub.read_only or sub_value is None:
                continue  # RFC 7644 §3.3: readOnly values sent by clients are ignored (manager.displayName)
            simple = sub.simple
            if simple is None:
                coerced = sub.complex(sub_value, policy, f"{where}.{sub.name}", ignored)
                if coerced is not MISSING:
                    out[sub.name] = coerced
                continue
            try:
                out[sub.name] = simple(sub_value, policy)
            except _Refused as refused:
                raise InvalidValue(f"'{where}.{sub.name}'{refused.tail}") from None
        if out:
            for name in self.required_subs:
                if name not in out:
                    raise InvalidValue(f"'{where}.{name}' is required.")
            return out
        return MISSING


class ExtensionPlan:
    """An extension schema of the resource type: its attributes' plans, by the keys clients send."""

    __slots__ = ("_attrs", "_by_id", "id", "schema")

    def __init__(self, schema: Schema, uncapped: Attribute | None) -> None:
        self.schema = schema
        self.id = schema.id
        self._by_id = {id(a): AttrPlan(a, f"{schema.id}:{a.name}", a is not uncapped) for a in schema.attributes}
        self._attrs: dict[str, AttrPlan | None] = {}

    def attribute(self, key: str) -> AttrPlan | None:
        found = self._attrs.get(key, _UNSEEN)
        if found is _UNSEEN:
            attr = self.schema.attribute(key)
            found = None if attr is None else self._by_id[id(attr)]
            if len(self._attrs) < MEMO_LIMIT:
                self._attrs[key] = found
        return found  # type: ignore[return-value]

    def plan_of(self, attr: Attribute) -> AttrPlan:
        return self._by_id[id(attr)]


class Key:
    """What one top-level JSON key denotes: ``schemas`` (``skip``), an extension's object
    (``extension``), an attribute (``attr``, in the container ``container`` or at the top), or
    nothing the resource type declares (all None)."""

    __slots__ = ("attr", "container", "extension", "skip")

    def __init__(
        self,
        skip: bool = False,
        extension: ExtensionPlan | None = None,
        attr: AttrPlan | None = None,
        container: str | None = None,
    ) -> None:
        self.skip = skip
        self.extension = extension
        self.attr = attr
        self.container = container


_SCHEMAS_KEY = Key(skip=True)
_UNKNOWN_KEY = Key()


class ResourcePlan:
    """``rtype`` compiled: key resolution, the required and immutable attributes, ``schemas``."""

    def __init__(self, rtype: ResourceType, common: Schema) -> None:
        self.rtype = rtype
        self.common = common
        core = rtype.schema
        members = members_attribute(rtype)
        uncapped = core.attribute(members) if members else None
        self.core_id = core.id
        self.core_folded = core.id.casefold()
        self.known_folded = frozenset({self.core_folded, *(s.id.casefold() for s, _ in rtype.extensions)})
        self.extension_ids = tuple(s.id for s, _ in rtype.extensions)
        self._core = {id(a): AttrPlan(a, a.name, a is not uncapped) for a in (*common.attributes, *core.attributes)}
        self._extensions = {id(s): ExtensionPlan(s, uncapped) for s, _ in rtype.extensions}
        self.keys: dict[str, Key] = {}  # read directly by validate_resource; filled by key()
        self.known_ids = frozenset((core.id, *self.extension_ids))
        # Whether a top-level attribute's name could pass for an undeclared URN (none does in
        # practice): then the document is always searched for undeclared containers.
        self.urn_named = any(a.name[:4].casefold() == "urn:" for a in (*common.attributes, *core.attributes))
        # RFC 7643 §4.1: a required value must be present and not blank; readOnly ones are the server's.
        writable = [a for a in core.attributes if a.mutability is not Mutability.READ_ONLY]
        self.required = tuple(a.name for a in writable if a.required)
        self.required_extensions = tuple(
            (s.id, required, tuple(a.name for a in s.attributes if a.required)) for s, required in rtype.extensions
        )
        # Immutable attributes by container: None for the top level (common, then core), else an
        # extension's URN; and whether a value put back into that container re-attaches it.
        containers: list[tuple[Schema, str | None]] = [(common, None), (core, None)]
        containers += [(s, s.id) for s, _ in rtype.extensions]
        self.immutable = tuple(
            (key, s.id != core.id and s.id != common.id, names)
            for s, key in containers
            if (names := tuple(a.name for a in s.attributes if a.mutability is Mutability.IMMUTABLE))
        )

    def key(self, key: str) -> Key:
        """What ``key`` denotes, resolved as RFC 7644 §3.10 attribute notation (remembered)."""
        found = self.keys.get(key)
        if found is None:
            found = self._resolve(key)
            if len(self.keys) < MEMO_LIMIT:
                self.keys[key] = found
        return found

    def _resolve(self, key: str) -> Key:
        if key.casefold() == "schemas":
            return _SCHEMAS_KEY
        rtype = self.rtype
        extension = find_schema(rtype, key)
        if extension is not None and extension is not rtype.schema:
            return Key(extension=self._extensions[id(extension)])
        uri, name, sub = split_attr_name(key)
        schema = rtype.schema if uri is None else find_schema(rtype, uri)
        attr = None
        if schema is not None and sub is None:
            attr = (self.common.attribute(name) if schema is rtype.schema else None) or schema.attribute(name)
        if attr is None or schema is None:
            return _UNKNOWN_KEY
        if schema is rtype.schema:
            return Key(attr=self._core[id(attr)])
        return Key(attr=self._extensions[id(schema)].plan_of(attr), container=schema.id)


_PLANS: dict[int, tuple[ResourceType, Schema, ResourcePlan]] = {}
MAX_PLANS = 4096  # two resource types for each of the 1024 tenant registries kept, and room


def plan_for(rtype: ResourceType, common: Schema) -> ResourcePlan:
    """The plan of ``rtype``, compiled on first use. Keyed by identity (the entry holds both
    objects, so an id cannot be reused while it is cached): a registry built for a tenant's new
    declarations has new resource types, hence a new plan."""
    found = _PLANS.get(id(rtype))
    if found is not None and found[0] is rtype and found[1] is common:
        return found[2]
    plan = ResourcePlan(rtype, common)
    if len(_PLANS) >= MAX_PLANS:
        _PLANS.pop(next(iter(_PLANS)), None)
    _PLANS[id(rtype)] = (rtype, common, plan)
    return plan
