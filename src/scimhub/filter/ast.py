"""Syntax tree of SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (RFC 7644 §3.5.2).

The tree is syntactic: attribute paths are kept as written and are bound to a schema later.
Nodes are immutable and hashable, so parsed filters can be cached and compared. ``str(node)``
renders canonical filter text that :func:`scimhub.filter.parser.parse_filter` reads back to an
equal tree.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar
from typing import TypeAlias

Value: TypeAlias = str | int | float | bool | None
"""A comparison value: the JSON scalars of RFC 7644 §3.4.2.2 ``compValue``."""

# Binding strength used to decide where rendering needs parentheses.
_OR = 1
_AND = 2
_ATOM = 3


class CompareOp(StrEnum):
    """The attribute operators of RFC 7644 §3.4.2.2, Table 3 (``pr`` is :class:`Present`)."""

    EQ = "eq"
    NE = "ne"
    CO = "co"
    SW = "sw"
    EW = "ew"
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"


@dataclass(frozen=True, slots=True)
class AttrPath:
    """An ``attrPath`` as written: ``[URI ":"] ATTRNAME *1subAttr`` (RFC 7644 §3.4.2.2)."""

    uri: str | None
    attr: str
    sub_attr: str | None = None

    def __str__(self) -> str:
        name = self.attr if self.sub_attr is None else f"{self.attr}.{self.sub_attr}"
        return name if self.uri is None else f"{self.uri}:{name}"


@dataclass(frozen=True, slots=True)
class Compare:
    """``attrPath SP compareOp SP compValue``."""

    path: AttrPath
    op: CompareOp
    value: Value
    precedence: ClassVar[int] = _ATOM

    def __str__(self) -> str:
        return f"{self.path} {self.op} {render_value(self.value)}"


@dataclass(frozen=True, slots=True)
class Present:
    """``attrPath SP "pr"``."""

    path: AttrPath
    precedence: ClassVar[int] = _ATOM

    def __str__(self) -> str:
        return f"{self.path} pr"


@dataclass(frozen=True, slots=True)
class Not:
    """``"not" "(" FILTER ")"``."""

    expr: Filter
    precedence: ClassVar[int] = _ATOM

    def __str__(self) -> str:
        return f"not ({self.expr})"


@dataclass(frozen=True, slots=True)
class ValuePath:
    """``attrPath "[" valFilter "]"``: paths inside ``filter`` are relative to ``path``."""

    path: AttrPath
    filter: Filter
    precedence: ClassVar[int] = _ATOM

    def __str__(self) -> str:
        return f"{self.path}[{self.filter}]"


@dataclass(frozen=True, slots=True)
class _Logical:
    """A binary logical expression; chains are left-associative, as the parser builds them."""

    left: Filter
    right: Filter
    keyword: ClassVar[str]
    precedence: ClassVar[int]

    def __str__(self) -> str:
        # Iterative over the left spine: a 4 KiB filter can chain hundreds of terms, which
        # would otherwise recurse once per term.
        rights = [self.right]
        node = self.left
        while isinstance(node, type(self)):
            rights.append(node.right)
            node = node.left
        parts = [_operand(node, self.precedence, right=False)]
        parts.extend(_operand(right, self.precedence, right=True) for right in reversed(rights))
        return f" {self.keyword} ".join(parts)


@dataclass(frozen=True, slots=True)
class And(_Logical):
    """``FILTER SP "and" SP FILTER``."""

    keyword: ClassVar[str] = "and"
    precedence: ClassVar[int] = _AND


@dataclass(frozen=True, slots=True)
class Or(_Logical):
    """``FILTER SP "or" SP FILTER``."""

    keyword: ClassVar[str] = "or"
    precedence: ClassVar[int] = _OR


Filter: TypeAlias = Compare | Present | And | Or | Not | ValuePath
"""Any node of a parsed filter."""


@dataclass(frozen=True, slots=True)
class PatchPath:
    """A PATCH ``path``: ``attrPath / valuePath [subAttr]`` (RFC 7644 §3.5.2).

    ``attr`` carries a sub-attribute only when there is no ``filter``; after a filter the
    sub-attribute is ``sub_attr``, as in ``emails[type eq "work"].value``.
    """

    attr: AttrPath
    filter: Filter | None = None
    sub_attr: str | None = None

    def __str__(self) -> str:
        text = str(self.attr)
        if self.filter is not None:
            text = f"{text}[{self.filter}]"
        return text if self.sub_attr is None else f"{text}.{self.sub_attr}"


PathExpr: TypeAlias = PatchPath
"""What :func:`scimhub.filter.parser.parse_path` returns."""


def render_value(value: Value) -> str:
    """Render a comparison value as the JSON literal RFC 7644 §3.4.2.2 expects."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value!r} has no JSON representation")
    # repr() of a float is the shortest text that reads back to the same float.
    return repr(value)


def _operand(node: Filter, precedence: int, *, right: bool) -> str:
    binds_weaker = node.precedence < precedence or (right and node.precedence == precedence)
    return f"({node})" if binds_weaker else str(node)
