"""Bind a parsed filter to a resource type (RFC 7644 §3.4.2.2).

Every attribute path is resolved against the schema, and every operator is checked
against the attribute's type, before anything runs: an unknown attribute or a
comparison that makes no sense (``gt`` on a boolean, ``co`` on a complex attribute)
is ``invalidFilter`` here, never a silent empty result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from scimhub.errors import InvalidFilter
from scimhub.filter import ast
from scimhub.filter.ast import CompareOp
from scimhub.filter.ast import Value
from scimhub.policy import Policy
from scimhub.schema.model import Attribute
from scimhub.schema.model import AttrType
from scimhub.schema.model import ResourceType
from scimhub.schema.model import Schema
from scimhub.schema.paths import BoundPath
from scimhub.schema.paths import resolve


@dataclass(frozen=True, slots=True)
class BCompare:
    path: BoundPath
    op: CompareOp
    value: Value


@dataclass(frozen=True, slots=True)
class BPresent:
    path: BoundPath


@dataclass(frozen=True, slots=True)
class BAnd:
    left: Bound
    right: Bound


@dataclass(frozen=True, slots=True)
class BOr:
    left: Bound
    right: Bound


@dataclass(frozen=True, slots=True)
class BNot:
    expr: Bound


@dataclass(frozen=True, slots=True)
class BValuePath:
    """``attr[filter]``: ``filter`` paths are sub-attributes of ``path.attribute``."""

    path: BoundPath
    filter: Bound


@dataclass(frozen=True, slots=True)
class BFalse:
    """A comparison on an attribute the resource type does not have: it matches nothing
    (RFC 7644 §3.4.2.1, filters at the server root across resource types)."""


Bound: TypeAlias = BCompare | BPresent | BAnd | BOr | BNot | BValuePath | BFalse


class _UnknownAttribute(Exception):
    pass


_ORDERING = {CompareOp.GT, CompareOp.GE, CompareOp.LT, CompareOp.LE}
_SUBSTRING = {CompareOp.CO, CompareOp.SW, CompareOp.EW}
_ALLOWED: dict[AttrType, set[CompareOp]] = {
    AttrType.STRING: set(CompareOp),
    AttrType.REFERENCE: set(CompareOp),
    AttrType.DATETIME: {CompareOp.EQ, CompareOp.NE, *_ORDERING},
    AttrType.INTEGER: {CompareOp.EQ, CompareOp.NE, *_ORDERING},
    AttrType.DECIMAL: {CompareOp.EQ, CompareOp.NE, *_ORDERING},
    AttrType.BOOLEAN: {CompareOp.EQ, CompareOp.NE},
    AttrType.BINARY: {CompareOp.EQ, CompareOp.NE},
    AttrType.COMPLEX: set(),
}


class _Binder:
    def __init__(
        self, rtype: ResourceType, common: Schema, text: str, policy: Policy, unknown_is_false: bool = False
    ) -> None:
        self.rtype = rtype
        self.common = common
        self.text = text
        self.policy = policy
        self.unknown_is_false = unknown_is_false
        self._folded = text.casefold()
        self._cursor = 0  # paths are bound in textual order: each search starts after the last
        self._position = -1

    def bind(self, node: ast.Filter, parent: BoundPath | None = None) -> Bound:
        if isinstance(node, ast.And | ast.Or | ast.Not) or not self.unknown_is_false:
            return self._bind(node, parent)
        try:
            return self._bind(node, parent)
        except _UnknownAttribute:
            return BFalse()

    def _bind(self, node: ast.Filter, parent: BoundPath | None = None) -> Bound:
        if isinstance(node, ast.And):
            return BAnd(self.bind(node.left, parent), self.bind(node.right, parent))
        if isinstance(node, ast.Or):
            return BOr(self.bind(node.left, parent), self.bind(node.right, parent))
        if isinstance(node, ast.Not):
            return BNot(self.bind(node.expr, parent))
        if isinstance(node, ast.ValuePath):
            return self._value_path(node, parent)
        if isinstance(node, ast.Present):
            return BPresent(self._path(node.path, parent, implicit_value=False))
        return self._compare(node, parent)

    def _value_path(self, node: ast.ValuePath, parent: BoundPath | None) -> BValuePath:
        if parent is not None:
            raise self._error(node.path, "value paths cannot be nested")
        path = self._path(node.path, None, implicit_value=False)
        if not path.attribute.is_complex or path.sub is not None:
            raise self._error(node.path, "[...] filters apply to complex attributes only")
        return BValuePath(path, self.bind(node.filter, path))

    def _compare(self, node: ast.Compare, parent: BoundPath | None) -> BCompare:
        path = self._path(node.path, parent, implicit_value=True)
        leaf = path.leaf
        if node.op not in _ALLOWED[leaf.type]:
            raise self._error(
                node.path, f"operator '{node.op}' is not valid for {leaf.type.value} attribute '{path.key}'"
            )
        return BCompare(path, node.op, self._value(leaf, node, path))

    def _value(self, leaf: Attribute, node: ast.Compare, path: BoundPath) -> Value:
        value = node.value
        if value is None:
            return None
        kind = leaf.type
        if kind is AttrType.BOOLEAN:
            if isinstance(value, str) and self.policy.string_booleans and value.casefold() in ("true", "false"):
                return value.casefold() == "true"
            if isinstance(value, bool):
                return value
        elif kind in (AttrType.INTEGER, AttrType.DECIMAL):
            if isinstance(value, int | float) and not isinstance(value, bool):
                return value
        elif isinstance(value, str):
            if "\x00" in value:  # no stored value holds one (schema.compiled's string checks refuse it)
                raise self._error(node.path, "a value must not contain the NUL character (U+0000)")
            return value
        raise self._error(
            node.path, f"value {ast.render_value(value)} does not fit {kind.value} attribute '{path.key}'"
        )

    def _locate(self, path: ast.AttrPath) -> None:
        found = self._folded.find(str(path).casefold(), self._cursor)
        self._position = found
        if found >= 0:
            self._cursor = found + len(str(path))

    def _path(self, path: ast.AttrPath, parent: BoundPath | None, *, implicit_value: bool) -> BoundPath:
        self._locate(path)
        if parent is not None:
            if path.uri is not None or path.sub_attr is not None:
                raise self._error(path, "inside [...] use sub-attribute names")
            sub = parent.attribute.sub_attribute(path.attr)
            if sub is None:
                raise self._error(path, f"unknown sub-attribute of '{parent.key}'")
            return BoundPath(parent.attribute, sub, parent.extension)
        bound = resolve(self.rtype, self.common, path.uri, path.attr, path.sub_attr)
        if bound is None:
            if self.unknown_is_false:
                raise _UnknownAttribute
            raise self._error(path, f"unknown attribute for resource type {self.rtype.name}")
        if implicit_value and bound.sub is None and bound.attribute.is_complex:
            # RFC 7644 §3.4.2.2: `emails co "example.com"` compares the value sub-attribute.
            value = bound.attribute.sub_attribute("value")
            if value is None:
                raise self._error(path, "a complex attribute needs a sub-attribute to compare")
            return BoundPath(bound.attribute, value, bound.extension)
        return bound

    def _error(self, path: ast.AttrPath, message: str) -> InvalidFilter:
        # 0-based, like the parser's syntax errors.
        where = f" at position {self._position}" if self._position >= 0 else ""
        return InvalidFilter(f"Invalid filter{where}: '{path}': {message}.")


def bind_filter(
    node: ast.Filter,
    rtype: ResourceType,
    common: Schema,
    text: str = "",
    policy: Policy | None = None,
    *,
    unknown_is_false: bool = False,
) -> Bound:
    """Resolve paths and type-check operators; raises InvalidFilter (RFC 7644 §3.4.2.2).

    With ``unknown_is_false`` an attribute the type lacks makes its comparison false instead
    (RFC 7644 §3.4.2.1, for queries at the server root).
    """
    return _Binder(rtype, common, text, policy or Policy(), unknown_is_false).bind(node)


def bind_value_filter(
    node: ast.Filter,
    parent: BoundPath,
    rtype: ResourceType,
    common: Schema,
    text: str = "",
    policy: Policy | None = None,
) -> Bound:
    """Bind the filter inside ``attr[...]`` (paths are sub-attributes of ``parent``)."""
    return _Binder(rtype, common, text, policy or Policy()).bind(node, parent)
