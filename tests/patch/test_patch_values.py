"""Linear dedupe and removal of multi-valued values (patch/values.py): the same results as the
quadratic ``x in list`` code they replaced, on every input; and linear on large ones."""

from __future__ import annotations

import copy
import time
from typing import Any
from unittest import mock

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from scimhub.errors import ScimError
from scimhub.patch import apply
from scimhub.patch.apply import apply_patch
from scimhub.patch.values import equality_key
from scimhub.patch.values import unique
from scimhub.patch.values import without
from scimhub.policy import Policy
from tests.patch.support import BJENSEN
from tests.patch.support import COMMON
from tests.patch.support import STRICT
from tests.patch.support import USER
from tests.patch.test_patch_properties import operations
from tests.patch.test_patch_properties import parsed


def quadratic_unique(items: list[Any]) -> list[Any]:
    """The code before: equal values once, the first one kept."""
    out: list[Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def quadratic_without(items: list[Any], unwanted: list[Any]) -> list[Any]:
    return [v for v in items if v not in unwanted]


# JSON values with the equalities that trip hashing: 1 == 1.0 == True, 0 == False, case variants
# of one string (distinct: equality is exact), key order, nested objects and arrays.
scalars = st.sampled_from([None, True, False, 0, 1, 1.0, 0.0, -0.0, 2, "a", "A", "", "work", "Work"])
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["value", "type", "primary"]), inner),
    max_leaves=8,
)
elements = st.dictionaries(st.sampled_from(["value", "type", "primary", "display"]), json_values, max_size=4)
lists_of_values = st.lists(elements | json_values, max_size=8)


@settings(max_examples=200, deadline=None)
@given(a=json_values, b=json_values)
def test_equality_keys_are_equal_exactly_when_the_values_are(a: Any, b: Any) -> None:
    assert (equality_key(a) == equality_key(b)) == (a == b)
    if a == b:
        assert hash(equality_key(a)) == hash(equality_key(b))


@settings(max_examples=200, deadline=None)
@given(items=lists_of_values)
def test_unique_keeps_what_the_quadratic_dedupe_kept(items: list[Any]) -> None:
    result = unique(items)

    assert result == quadratic_unique(items)
    assert [type(v) for v in result] == [type(v) for v in quadratic_unique(items)]  # the first one kept


@settings(max_examples=200, deadline=None)
@given(items=lists_of_values, unwanted=lists_of_values)
def test_without_removes_what_the_quadratic_removal_removed(items: list[Any], unwanted: list[Any]) -> None:
    assert without(items, unwanted) == quadratic_without(items, unwanted)


def _outcome(ops: list[dict[str, Any]], policy: Policy) -> Any:
    try:
        result = apply_patch(copy.deepcopy(BJENSEN), parsed(ops), USER, COMMON, policy)
    except ScimError as exc:
        return (type(exc), exc.detail)
    return result.doc


@settings(max_examples=300, deadline=None)
@given(ops=st.lists(operations(), min_size=1, max_size=6), strict=st.booleans())
def test_a_patch_gives_what_it_gave_with_the_quadratic_code(ops: list[dict[str, Any]], strict: bool) -> None:
    """Every kind of operation on every kind of target: same document, or same error."""
    policy = STRICT if strict else Policy()
    linear = _outcome(ops, policy)
    with mock.patch.object(apply, "unique", quadratic_unique), mock.patch.object(apply, "without", quadratic_without):
        quadratic = _outcome(ops, policy)

    assert linear == quadratic


def test_dedupe_and_removal_are_linear() -> None:
    """40,000 distinct values: ~10^9 comparisons for ``x in list`` (minutes), ~40 ms hashed."""
    items = [{"value": f"user{i}@example.com", "type": "work", "primary": False} for i in range(40_000)]

    started = time.perf_counter()
    deduped = unique([*items, *items])
    kept = without(items, items[::2])
    elapsed = time.perf_counter() - started

    assert deduped == items
    assert kept == items[1::2]
    assert elapsed < 2.0, f"{elapsed:.2f} s"
