"""Equality of JSON values in linear time, for the multi-valued attributes a PATCH edits.

``x in list`` made dedupe and removal by value quadratic (30,000 emails: 10 s). Here each value
is hashed once by a key that is equal exactly when the values are ``==`` (so the results are
those of the quadratic code: case-variant strings stay distinct, ``1 == 1.0 == True`` as in
Python): objects compare as the set of their members, arrays in order, scalars as themselves.
"""

from __future__ import annotations

from collections.abc import Hashable
from collections.abc import Iterable
from typing import Any


def equality_key(value: Any) -> Hashable:
    """A hashable key with ``equality_key(a) == equality_key(b)`` exactly when ``a == b``."""
    if isinstance(value, dict):
        # Keys of one object are distinct, so equal pair sets mean equal objects.
        try:
            return frozenset(value.items())  # all scalars (the usual {"value", "type", "primary"}): C speed
        except TypeError:  # an object or array inside
            return frozenset((name, equality_key(item)) for name, item in value.items())
    if isinstance(value, list):
        try:
            flat = tuple(value)
            hash(flat)
            return flat
        except TypeError:
            return tuple(equality_key(item) for item in value)
    scalar: Hashable = value  # str, int, float, bool, None: hashed as Python compares them
    return scalar


def unique(items: Iterable[Any]) -> list[Any]:
    """Equal values once, the first one kept (RFC 7644 §3.5.2.1: adding a value already there is no change)."""
    seen: dict[Hashable, Any] = {}
    for item in items:
        seen.setdefault(equality_key(item), item)
    return list(seen.values())


def without(items: Iterable[Any], unwanted: Iterable[Any]) -> list[Any]:
    """``items`` but the values equal to one of ``unwanted``, in order."""
    gone = {equality_key(value) for value in unwanted}
    return [item for item in items if equality_key(item) not in gone]
