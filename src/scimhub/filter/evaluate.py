"""Evaluate a bound filter against a document in memory (RFC 7644 §3.4.2.2).

Used for PATCH valuePath selection and as the oracle the SQL compiler is tested
against. A multi-valued attribute matches when any element matches; string
comparison goes through ``comparison_key`` (caseExact from the schema).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
from scimhub.schema.model import JsonDoc
from scimhub.schema.paths import BoundPath


def matches(node: Bound, doc: JsonDoc) -> bool:
    """Whether the resource document ``doc`` satisfies ``node``."""
    if isinstance(node, BFalse):
        return False
    if isinstance(node, BAnd):
        return matches(node.left, doc) and matches(node.right, doc)
    if isinstance(node, BOr):
        return matches(node.left, doc) or matches(node.right, doc)
    if isinstance(node, BNot):
        return not matches(node.expr, doc)
    if isinstance(node, BValuePath):
        return any(element_matches(node.filter, e) for e in _elements(node.path, doc))
    if isinstance(node, BPresent):
        return any(_present(v) for v in leaf_values(node.path, doc))
    if node.value is None:
        # `x eq null` is "x is unassigned", `x ne null` is "x has a value" (RFC 7643 §2.5).
        present = any(_present(v) for v in leaf_values(node.path, doc))
        return (not present) if node.op is CompareOp.EQ else (present and node.op is CompareOp.NE)
    return any(compare(node, v) for v in leaf_values(node.path, doc))


def element_matches(node: Bound, element: Any) -> bool:
    """Whether one element of a complex attribute satisfies a valuePath filter."""
    if isinstance(node, BFalse):
        return False
    if isinstance(node, BAnd):
        return element_matches(node.left, element) and element_matches(node.right, element)
    if isinstance(node, BOr):
        return element_matches(node.left, element) or element_matches(node.right, element)
    if isinstance(node, BNot):
        return not element_matches(node.expr, element)
    if not isinstance(element, dict) or isinstance(node, BValuePath):
        return False
    sub = node.path.sub
    value = element.get(sub.name) if sub is not None else None
    if isinstance(node, BPresent):
        return _present(value)
    return compare(node, value)


def _container(path: BoundPath, doc: JsonDoc) -> JsonDoc:
    if path.extension is None:
        return doc
    found = doc.get(path.extension)
    return found if isinstance(found, dict) else {}


def _elements(path: BoundPath, doc: JsonDoc) -> list[Any]:
    top = _container(path, doc).get(path.attribute.name)
    if top is None:
        return []
    return top if isinstance(top, list) else [top]


def leaf_values(path: BoundPath, doc: JsonDoc) -> list[Any]:
    """All values a path reaches (one per element for multi-valued attributes)."""
    elements = _elements(path, doc)
    if path.sub is None:
        return elements
    name = path.sub.name
    return [e.get(name) for e in elements if isinstance(e, dict)]


def _present(value: Any) -> bool:
    """RFC 7644 §3.4.2.2 ``pr``: a non-empty value; a complex value needs a non-empty node
    (``{"givenName": ""}`` is as absent as ``{}``), a multi-valued one a present element."""
    if isinstance(value, dict):
        return any(_present(v) for v in value.values())
    if isinstance(value, list):
        return any(_present(v) for v in value)
    return value is not None and value != ""


def compare(node: BCompare, actual: Any) -> bool:
    """One comparison of RFC 7644 §3.4.2.2 Table 3 on one value."""
    expected = node.value
    if expected is None:
        # `x eq null` is "x is unassigned", `x ne null` is "x has a value" (RFC 7643 §2.5).
        return actual is None if node.op is CompareOp.EQ else (node.op is CompareOp.NE and actual is not None)
    if actual is None:
        # An unassigned value matches no comparison, `ne` included: as for a missing top-level
        # attribute here, and as in the SQL compiler.
        return False
    leaf = node.path.leaf
    try:
        left, right = _operands(leaf, actual, expected)
    except (TypeError, ValueError):
        return False
    return _apply(node.op, left, right)


def _operands(leaf: Attribute, actual: Any, expected: Any) -> tuple[Any, Any]:
    if leaf.type is AttrType.DATETIME:
        return _instant(actual), _instant(expected)
    if isinstance(actual, str) and isinstance(expected, str):
        return comparison_key(leaf, actual), comparison_key(leaf, expected)
    if isinstance(actual, bool) != isinstance(expected, bool):
        raise TypeError("boolean compared with non-boolean")
    if isinstance(actual, str) != isinstance(expected, str):
        raise TypeError("string compared with non-string")
    return actual, expected


def _instant(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError("dateTime must be a string")
    return datetime.fromisoformat(value)


def _apply(op: CompareOp, left: Any, right: Any) -> bool:
    if op is CompareOp.EQ:
        return bool(left == right)
    if op is CompareOp.NE:
        return bool(left != right)
    if op is CompareOp.CO:
        return isinstance(left, str) and right in left
    if op is CompareOp.SW:
        return isinstance(left, str) and left.startswith(right)
    if op is CompareOp.EW:
        return isinstance(left, str) and left.endswith(right)
    if op is CompareOp.GT:
        return bool(left > right)
    if op is CompareOp.GE:
        return bool(left >= right)
    if op is CompareOp.LT:
        return bool(left < right)
    return bool(left <= right)
