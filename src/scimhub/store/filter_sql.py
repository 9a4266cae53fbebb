"""Bound filter → SQLAlchemy boolean expression on ``resources`` (RFC 7644 §3.4.2.2).

Bound parameters only. Equality on the attributes of the index plan is an index probe
(key columns, or ``pk IN (…resource_values…)`` for multi-valued ones); everything else reads
the JSON document through the dialect. Every atom is false, never NULL, for absent values,
so ``not (…)`` agrees with ``filter.evaluate.matches`` (the in-memory oracle).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_
from sqlalchemy import exists
from sqlalchemy import false
from sqlalchemy import literal
from sqlalchemy import not_
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import true
from sqlalchemy.sql import ColumnElement

from scimhub.errors import InvalidFilter
from scimhub.filter.ast import CompareOp
from scimhub.filter.bind import BAnd
from scimhub.filter.bind import BCompare
from scimhub.filter.bind import BFalse
from scimhub.filter.bind import BNot
from scimhub.filter.bind import BOr
from scimhub.filter.bind import Bound
from scimhub.filter.bind import BPresent
from scimhub.filter.bind import BValuePath
from scimhub.schema.compare import comparison_key
from scimhub.schema.model import Attribute
from scimhub.schema.model import AttrType
from scimhub.schema.registry import COMMON_SCHEMA
from scimhub.schema.relations import MEMBER_OF_ATTRIBUTE
from scimhub.schema.relations import MEMBERS_ATTRIBUTE
from scimhub.store.dialects import JsonDialect
from scimhub.store.dialects import PathKey
from scimhub.store.index_plan import KEYED_TYPES
from scimhub.store.index_plan import META_COLUMNS
from scimhub.store.index_plan import is_multi_value_key
from scimhub.store.index_plan import key_column
from scimhub.store.index_plan import value_index_path
from scimhub.store.tables import group_members
from scimhub.store.tables import resource_values
from scimhub.store.tables import resources
from scimhub.timestamps import normalise_instant


@dataclass(frozen=True, slots=True)
class FilterCompiler:
    dialect: JsonDialect
    tenant_id: str
    resource_type: str

    def compile(self, node: Bound) -> ColumnElement[bool]:
        if isinstance(node, BAnd):
            return and_(self.compile(node.left), self.compile(node.right))
        if isinstance(node, BOr):
            return or_(self.compile(node.left), self.compile(node.right))
        if isinstance(node, BNot):
            return not_(self.compile(node.expr))
        if isinstance(node, BFalse):
            return false()
        relational = self._relational(node)
        if relational is not None:
            return relational
        if isinstance(node, BValuePath):
            return self._value_path(node)
        return self._atom(node)

    # -- Group.members / User.groups live in group_members ----------------------
    def _relational(self, node: Bound) -> ColumnElement[bool] | None:
        if not isinstance(node, BCompare | BPresent | BValuePath) or node.path.extension is not None:
            return None
        name = node.path.attribute.name
        if name == MEMBERS_ATTRIBUTE.get(self.resource_type):
            this, other_side = group_members.c.group_pk, group_members.c.member_pk
        elif name == MEMBER_OF_ATTRIBUTE.get(self.resource_type):
            this, other_side = group_members.c.member_pk, group_members.c.group_pk
        else:
            return None
        other = resources.alias("related")
        columns: dict[str, ColumnElement[Any]] = {
            "value": other.c.id,
            "display": self.dialect.fold(other.c.display),  # raw text: fold like the compared key
            "type": self.dialect.fold(group_members.c.member_type)
            if name == MEMBERS_ATTRIBUTE.get(self.resource_type)
            else literal("direct"),
        }
        condition = (
            true()
            if isinstance(node, BPresent) and node.path.sub is None
            else (self._member_condition(node.filter if isinstance(node, BValuePath) else node, columns))
        )
        # pk IN (…): driven by the related row's (tenant_id, id) index and group_members' indexes.
        return resources.c.pk.in_(
            select(this)
            .select_from(group_members.join(other, other.c.pk == other_side))
            .where(other.c.tenant_id == self.tenant_id, condition)
        )

    def _member_condition(self, node: Bound, columns: dict[str, ColumnElement[Any]]) -> ColumnElement[bool]:
        if isinstance(node, BAnd):
            return and_(self._member_condition(node.left, columns), self._member_condition(node.right, columns))
        if isinstance(node, BOr):
            return or_(self._member_condition(node.left, columns), self._member_condition(node.right, columns))
        if isinstance(node, BNot):
            return not_(self._member_condition(node.expr, columns))
        if isinstance(node, BFalse):
            return false()
        sub = node.path.sub if not isinstance(node, BValuePath) else None
        if sub is None or sub.name not in columns:
            raise InvalidFilter(f"Filtering memberships supports {', '.join(columns)} only.")
        return _compare_column(self.dialect, node, columns[sub.name])  # type: ignore[arg-type]

    # -- atoms on the resource ---------------------------------------------------
    def _atom(self, node: BCompare | BPresent) -> ColumnElement[bool]:
        path = node.path
        column = key_column(path)
        if column is not None:
            return _compare_column(self.dialect, node, resources.c[column])
        if path.attribute.schema == COMMON_SCHEMA:
            return self._common(node)
        if isinstance(node, BCompare) and node.op is CompareOp.EQ and is_multi_value_key(path):
            # A value is an index probe; `emails eq null` ("no email") reads the document.
            return self._json_atom(node) if node.value is None else self._indexed_multi_eq(node)
        return self._json_atom(node)

    def _common(self, node: BCompare | BPresent) -> ColumnElement[bool]:
        path = node.path
        if path.sub is not None and path.sub.name in META_COLUMNS:
            column = resources.c[META_COLUMNS[path.sub.name]]
            if isinstance(node, BPresent):
                return true()
            return _compare_instant(node, column)
        if path.sub is not None and path.sub.name == "resourceType":
            return _compare_constant(node, self.resource_type)
        if not path.attribute.is_complex:  # kept in the document like any attribute (`schemas`)
            return self._json_atom(node)
        raise InvalidFilter(f"Filtering on '{path.key}' is not supported.")

    def _indexed_multi_eq(self, node: BCompare) -> ColumnElement[bool]:
        if not isinstance(node.value, str):
            return false()
        key = comparison_key(node.path.leaf, node.value)
        # pk IN (index probe): the planner starts from resource_values, whatever the tenant size.
        matching = select(resource_values.c.resource_pk).where(
            resource_values.c.tenant_id == self.tenant_id,
            resource_values.c.path == value_index_path(node.path),
            resource_values.c.value_key == key,
        )
        return resources.c.pk.in_(matching)

    def _json_atom(self, node: BCompare | BPresent) -> ColumnElement[bool]:
        path, d = node.path, self.dialect
        if isinstance(node, BCompare) and node.value is None:
            # `x eq null` is "x is unassigned", `x ne null` is "x has a value" (RFC 7643 §2.5).
            present = self._json_atom(BPresent(path))
            return not_(present) if node.op is CompareOp.EQ else present if node.op is CompareOp.NE else false()
        prefix: list[PathKey] = [path.extension] if path.extension else []
        doc = d.document
        attr = path.attribute
        keys = [*prefix, attr.name, *([path.sub.name] if path.sub else [])]
        probe = self._probe(node, keys)
        if attr.multi_valued:
            elements = d.elements(doc, [*prefix, attr.name])
            value = d.scalar(elements.c.value) if path.sub is None else d.extract(elements.c.value, [path.sub.name])
            test = _value_test(d, node, value)
            if isinstance(node, BPresent) and path.sub is None and attr.is_complex:
                test = _node_present(d, elements.c.value, [], attr)
            found = exists(select(literal(1)).select_from(elements).where(test))
            return found if probe is None else and_(probe, found)
        if isinstance(node, BPresent):
            return _present(d, doc, keys, path.leaf)
        test = _value_test(d, node, d.extract(doc, keys))
        return test if probe is None else and_(probe, test)

    def _probe(self, node: BCompare | BPresent, keys: list[PathKey]) -> ColumnElement[bool] | None:
        """`attr eq "string"` as an index probe, where the database has one (PostgreSQL's GIN)."""
        if not (isinstance(node, BCompare) and node.op is CompareOp.EQ and isinstance(node.value, str)):
            return None
        if node.path.leaf.type not in KEYED_TYPES:
            return None
        key = comparison_key(node.path.leaf, node.value)
        return self.dialect.containment(keys, node.path.attribute.multi_valued, key)

    # -- valuePath: attr[filter] ------------------------------------------------
    def _value_path(self, node: BValuePath) -> ColumnElement[bool]:
        d, path = self.dialect, node.path
        prefix: list[PathKey] = [path.extension] if path.extension else []
        doc = d.document
        if not path.attribute.multi_valued:
            element = d.node(doc, [*prefix, path.attribute.name])
            # An unassigned complex value has no element to match, not even `name[not (…)]`.
            matched = and_(element.is_not(None), self._element(node.filter, element))
        else:
            elements = d.elements(doc, [*prefix, path.attribute.name])
            inner = self._element(node.filter, elements.c.value)
            matched = exists(select(literal(1)).select_from(elements).where(inner))
        probe = self._conjunct_probe(node.filter)
        return matched if probe is None else and_(probe, matched)

    def _conjunct_probe(self, node: Bound) -> ColumnElement[bool] | None:
        """An index probe that ``[…]`` implies (Entra's `emails[type eq "work"].value eq "x"`), so
        that no row is read without it: an `eq` among its `and`-ed comparisons that an index
        answers, the indexed values (`emails.value`) first: `type eq "work"` matches nearly all."""
        conjuncts = [c for c in _conjuncts(node) if isinstance(c, BCompare) and _is_string_eq(c)]
        for conjunct in conjuncts:
            if is_multi_value_key(conjunct.path):
                return self._indexed_multi_eq(conjunct)
        for conjunct in conjuncts:
            path = conjunct.path
            prefix: list[PathKey] = [path.extension] if path.extension else []
            probe = self._probe(conjunct, [*prefix, path.attribute.name, *([path.sub.name] if path.sub else [])])
            if probe is not None:
                return probe
        return None

    def _element(self, node: Bound, element: ColumnElement[Any]) -> ColumnElement[bool]:
        if isinstance(node, BAnd):
            return and_(self._element(node.left, element), self._element(node.right, element))
        if isinstance(node, BOr):
            return or_(self._element(node.left, element), self._element(node.right, element))
        if isinstance(node, BNot):
            return not_(self._element(node.expr, element))
        if isinstance(node, BFalse):
            return false()
        if isinstance(node, BValuePath) or node.path.sub is None:
            raise InvalidFilter("Inside [...] compare sub-attributes of the attribute.")
        if isinstance(node, BPresent):
            return _present(self.dialect, element, [node.path.sub.name], node.path.sub)
        return _value_test(self.dialect, node, self.dialect.extract(element, [node.path.sub.name]))


def _conjuncts(node: Bound) -> list[Bound]:
    return [*_conjuncts(node.left), *_conjuncts(node.right)] if isinstance(node, BAnd) else [node]


def _is_string_eq(node: BCompare) -> bool:
    return node.op is CompareOp.EQ and isinstance(node.value, str)


def compile_filter(node: Bound, tenant_id: str, resource_type: str, dialect: JsonDialect) -> ColumnElement[bool]:
    """SQL condition equivalent to ``filter.evaluate.matches``."""
    return FilterCompiler(dialect, tenant_id, resource_type).compile(node)


def needs_scan(node: Bound, resource_type: str, dialect: JsonDialect) -> bool:
    """Whether the SQL of ``node`` may read rows that no index selects. Index probes: ``eq`` on a
    key column or an indexed multi-valued value, a member's ``value``, and (where the database
    has one: PostgreSQL's GIN) ``eq`` on a string of the document. Such a query runs off the event
    loop under the query deadline; everything else is a probe and stays on it."""
    if isinstance(node, BFalse):
        return False
    if isinstance(node, BAnd):  # the planner starts from the probed side
        return needs_scan(node.left, resource_type, dialect) and needs_scan(node.right, resource_type, dialect)
    if isinstance(node, BOr):
        return needs_scan(node.left, resource_type, dialect) or needs_scan(node.right, resource_type, dialect)
    if _is_relational(node, resource_type):
        return _member_scan(node.filter if isinstance(node, BValuePath) else node)
    if isinstance(node, BNot):
        return True  # reads every row the probe leaves out
    if isinstance(node, BValuePath):  # a probe when FilterCompiler._conjunct_probe finds one
        return not any(_is_probe(conjunct, dialect) for conjunct in _conjuncts(node.filter))
    return not _is_probe(node, dialect)


def _is_relational(node: Bound, resource_type: str) -> bool:
    if not isinstance(node, BCompare | BPresent | BValuePath) or node.path.extension is not None:
        return False
    return node.path.attribute.name in (MEMBERS_ATTRIBUTE.get(resource_type), MEMBER_OF_ATTRIBUTE.get(resource_type))


def _member_scan(node: Bound) -> bool:
    """A membership condition is a probe when it compares the related resource's id (``value``)."""
    if isinstance(node, BFalse):
        return False
    if isinstance(node, BAnd):
        return _member_scan(node.left) and _member_scan(node.right)
    if isinstance(node, BOr):
        return _member_scan(node.left) or _member_scan(node.right)
    if not isinstance(node, BCompare) or node.op is not CompareOp.EQ or not isinstance(node.value, str):
        return True
    return node.path.sub is None or node.path.sub.name != "value"


def _is_probe(node: Bound, dialect: JsonDialect) -> bool:
    if not (isinstance(node, BCompare) and node.op is CompareOp.EQ and isinstance(node.value, str)):
        return False
    path = node.path
    if key_column(path) is not None or is_multi_value_key(path):
        return True
    if path.attribute.schema == COMMON_SCHEMA or path.leaf.type not in KEYED_TYPES:
        return False
    prefix: list[PathKey] = [path.extension] if path.extension else []
    keys = [*prefix, path.attribute.name, *([path.sub.name] if path.sub else [])]
    key = comparison_key(path.leaf, node.value)
    return dialect.containment(keys, path.attribute.multi_valued, key) is not None


# -- comparisons -------------------------------------------------------------------
def _present(d: JsonDialect, base: ColumnElement[Any], keys: list[PathKey], leaf: Attribute) -> ColumnElement[bool]:
    """RFC 7644 §3.4.2.2 ``pr``: a non-empty value (null, "", [] and {} are absent)."""
    kind = d.json_type(base, keys)
    value = d.extract(base, keys)
    guard = kind.is_not(None)  # absent: FALSE, never NULL (so `not (x pr)` holds)
    if leaf.multi_valued:
        return and_(guard, kind == "array", d.array_length(base, keys) > 0)
    if leaf.type is AttrType.COMPLEX:
        return _node_present(d, base, keys, leaf)
    if leaf.type in _TEXT_TYPES:
        return and_(guard, kind == d.string_type, value != "")
    return and_(guard, kind != "null")


def _node_present(
    d: JsonDialect, base: ColumnElement[Any], keys: list[PathKey], attr: Attribute
) -> ColumnElement[bool]:
    """A complex value is present when one of its sub-attributes is: ``{"givenName": ""}`` is not."""
    subs = [_present(d, base, [*keys, sub.name], sub) for sub in attr.sub_attributes]
    return or_(false(), *subs)


_TEXT_TYPES = (AttrType.STRING, AttrType.REFERENCE, AttrType.BINARY, AttrType.DATETIME)


def _value_test(d: JsonDialect, node: BCompare | BPresent, value: ColumnElement[Any]) -> ColumnElement[bool]:
    """One comparison on a JSON scalar (an element of a multi-valued attribute, or a value)."""
    leaf = node.path.leaf
    if isinstance(node, BPresent):
        return and_(value.is_not(None), value != "") if leaf.type in _TEXT_TYPES else value.is_not(None)
    if node.value is None:
        return _null_compare(node, value)
    if leaf.type is AttrType.BOOLEAN:
        return _ordered(node.op, value, d.boolean(bool(node.value)))
    if leaf.type in (AttrType.INTEGER, AttrType.DECIMAL):
        return _ordered(node.op, d.number(value), literal(node.value))
    if leaf.type is AttrType.DATETIME:
        return _ordered(node.op, d.instant(value), d.instant(literal(str(node.value))))
    key = comparison_key(leaf, str(node.value))
    return _string_op(d, node.op, d.key(value, leaf.case_exact), key)


def _null_compare(node: BCompare, value: ColumnElement[Any]) -> ColumnElement[bool]:
    # `x eq null` is "x is unassigned" and `x ne null` is "x has a value" (RFC 7643 §2.5).
    if node.op is CompareOp.EQ:
        return value.is_(None)
    if node.op is CompareOp.NE:
        return value.is_not(None)
    return false()


def _ordered(op: CompareOp, left: ColumnElement[Any], right: ColumnElement[Any]) -> ColumnElement[bool]:
    guard = left.is_not(None)
    if op is CompareOp.EQ:
        return and_(guard, left == right)
    if op is CompareOp.NE:
        return and_(guard, left != right)
    if op is CompareOp.GT:
        return and_(guard, left > right)
    if op is CompareOp.GE:
        return and_(guard, left >= right)
    if op is CompareOp.LT:
        return and_(guard, left < right)
    if op is CompareOp.LE:
        return and_(guard, left <= right)
    return false()


def _string_op(d: JsonDialect, op: CompareOp, left: ColumnElement[Any], key: str) -> ColumnElement[bool]:
    guard = left.is_not(None)
    if op is CompareOp.CO:
        return and_(guard, d.contains(left, key))
    if op is CompareOp.SW:
        return and_(guard, d.starts_with(left, key))
    if op is CompareOp.EW:
        return and_(guard, d.ends_with(left, key)) if key else guard
    return _ordered(op, left, literal(key))


def _compare_column(d: JsonDialect, node: BCompare | BPresent, column: ColumnElement[Any]) -> ColumnElement[bool]:
    """Key columns already hold comparison keys: compare them with the value's key."""
    if isinstance(node, BPresent):
        return and_(column.is_not(None), column != "")
    if node.value is None:
        # As on the document (`_json_atom`): "" is unassigned too, so `x eq null` holds for it.
        present = and_(column.is_not(None), column != "")
        return not_(present) if node.op is CompareOp.EQ else present if node.op is CompareOp.NE else false()
    if not isinstance(node.value, str):
        return false()
    return _string_op(d, node.op, column, comparison_key(node.path.leaf, node.value))


def _compare_instant(node: BCompare, column: ColumnElement[Any]) -> ColumnElement[bool]:
    if node.value is None:
        return _null_compare(node, column)
    try:
        value = normalise_instant(str(node.value))
    except (ValueError, OverflowError):
        raise InvalidFilter(f"'{node.path.key}' needs an xsd:dateTime value, got {node.value!r}.") from None
    return _ordered(node.op, column, literal(value))


def _compare_constant(node: BCompare | BPresent, constant: str) -> ColumnElement[bool]:
    if isinstance(node, BPresent):
        return true()
    matched = node.op is CompareOp.EQ and isinstance(node.value, str) and node.value.casefold() == constant.casefold()
    return true() if matched else false()
