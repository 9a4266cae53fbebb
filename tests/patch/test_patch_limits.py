"""What one PATCH may cost: values per attribute (max_values_per_attribute) after every operation,
and value comparisons in all (max_patch_comparisons), each refused with 400 invalidValue."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest

from scimhub.errors import InvalidValue
from scimhub.limits import DEFAULT_LIMITS
from scimhub.limits import InputLimits
from scimhub.patch.apply import PatchResult
from scimhub.patch.apply import apply_patch
from scimhub.patch.model import parse_patch_request
from scimhub.policy import Policy
from scimhub.schema.model import JsonDoc
from tests.patch.support import BJENSEN
from tests.patch.support import COMMON
from tests.patch.support import GROUP
from tests.patch.support import TOUR_GUIDES
from tests.patch.support import USER
from tests.patch.support import changed
from tests.patch.support import request

WORK_EMAIL, HOME_EMAIL = BJENSEN["emails"]
OTHER_EMAIL = {"value": "babs@example.org", "type": "other"}
NEW_EMAIL = {"value": "new@example.org"}


def limited(doc: JsonDoc, *operations: dict[str, Any], values: int = 1000, comparisons: int = 25_000) -> PatchResult:
    limits = InputLimits(max_values_per_attribute=values, max_patch_comparisons=comparisons)
    snapshot = copy.deepcopy(doc)
    try:
        return apply_patch(doc, parse_patch_request(request(*operations)), USER, COMMON, Policy(), limits)
    finally:
        assert doc == snapshot


def too_many_values(count: int, cap: int) -> str:
    return f"'emails' has {count} values; at most {cap} are accepted in one attribute."


def too_many_comparisons(limit: int, key: str) -> str:
    return (
        f"This PATCH would make more than {limit} value comparisons (reached at '{key}'); "
        "send its operations in several requests."
    )


# -- values per attribute --------------------------------------------------------------------------
def test_an_add_may_fill_an_attribute_up_to_the_cap() -> None:
    result = limited(BJENSEN, {"op": "add", "path": "emails", "value": [OTHER_EMAIL]}, values=3)

    assert result.doc["emails"] == [WORK_EMAIL, HOME_EMAIL, OTHER_EMAIL]


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param({"op": "add", "path": "emails", "value": [OTHER_EMAIL, NEW_EMAIL]}, id="add"),
        pytest.param({"op": "add", "value": {"emails": [OTHER_EMAIL, NEW_EMAIL]}}, id="pathless-add"),
        pytest.param({"op": "replace", "path": "emails", "value": [WORK_EMAIL, HOME_EMAIL, OTHER_EMAIL, NEW_EMAIL]}),
        pytest.param({"op": "Replace", "value": {"EMAILS": [WORK_EMAIL, HOME_EMAIL, OTHER_EMAIL, NEW_EMAIL]}}),
    ],
)
def test_a_patch_taking_an_attribute_past_the_cap_is_refused(operation: dict[str, Any]) -> None:
    with pytest.raises(InvalidValue) as refused:
        limited(BJENSEN, operation, values=3)

    assert refused.value.detail == too_many_values(4, 3)


def test_a_value_already_there_does_not_count_twice() -> None:
    result = limited(BJENSEN, {"op": "add", "path": "emails", "value": [HOME_EMAIL, WORK_EMAIL]}, values=2)

    assert result.doc == BJENSEN


def test_an_entra_value_path_creating_a_value_past_the_cap_is_refused() -> None:
    """IDP_QUIRKS: ``emails[type eq "other"].value`` creates the element when none matches."""
    operation = {"op": "add", "path": 'emails[type eq "other"].value', "value": "x@example.org"}

    assert limited(BJENSEN, operation, values=3).doc["emails"][-1] == {"type": "other", "value": "x@example.org"}
    with pytest.raises(InvalidValue) as refused:
        limited(BJENSEN, operation, values=2)
    assert refused.value.detail == too_many_values(3, 2)


def test_the_cap_holds_after_every_operation_not_only_at_the_end() -> None:
    """Otherwise one operation could add 40,000 values for the next ones to walk."""
    grow = {"op": "add", "path": "emails", "value": [OTHER_EMAIL, NEW_EMAIL]}
    shrink = {"op": "remove", "path": 'emails[type eq "other"]'}

    with pytest.raises(InvalidValue) as refused:
        limited(BJENSEN, grow, shrink, values=3)

    assert refused.value.detail == too_many_values(4, 3)


def test_group_members_are_not_capped_as_values() -> None:
    """Members are rows (their own per-request cap), never values of the document."""
    members = [{"value": f"id-{i}"} for i in range(5)]
    operation = {"op": "add", "path": "members", "value": members}
    limits = InputLimits(max_values_per_attribute=2)

    result = apply_patch(TOUR_GUIDES, parse_patch_request(request(operation)), GROUP, COMMON, Policy(), limits)

    assert [len(op.members) for op in result.members] == [5]


# -- comparisons -----------------------------------------------------------------------------------
# BJENSEN has 2 emails (23 and 19 characters of strings). Each operation's cost: the values it
# examines, each times the comparisons of its [filter] (plus the characters they fold, 32 a unit,
# and one for the dedupe after a filtered set), plus the values it brings.
COSTS = [
    pytest.param({"op": "add", "path": "emails", "value": [OTHER_EMAIL]}, "emails", 2 + 1, id="add"),
    pytest.param({"op": "replace", "path": "emails", "value": [OTHER_EMAIL]}, "emails", 1, id="replace-all"),
    pytest.param(
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "w@example.org"},
        "emails.value",
        2 * (1 + 1),
        id="filtered-set",
    ),
    pytest.param(
        {"op": "replace", "path": 'emails[type eq "work" or not (value pr)].display', "value": "W"},
        "emails.display",
        (2 + (2 * 23 + 4) // 32) + (2 + (2 * 19 + 4) // 32) + 2,
        id="filtered-set-two-comparisons",
    ),
    pytest.param({"op": "remove", "path": 'emails[type eq "home"]'}, "emails", 2, id="filtered-remove"),
    pytest.param({"op": "remove", "path": "emails", "value": [HOME_EMAIL]}, "emails", 2 + 1, id="remove-by-value"),
    pytest.param({"op": "replace", "path": "emails.display", "value": "E"}, "emails.display", 2, id="sub-attribute"),
    pytest.param({"op": "remove", "path": "emails.display"}, "emails.display", 2, id="remove-sub-attribute"),
]


@pytest.mark.parametrize(("operation", "key", "cost"), COSTS)
def test_each_operation_counts_the_comparisons_it_makes(operation: dict[str, Any], key: str, cost: int) -> None:
    limited(BJENSEN, operation, comparisons=cost)
    with pytest.raises(InvalidValue) as refused:
        limited(BJENSEN, operation, comparisons=cost - 1)

    assert refused.value.detail == too_many_comparisons(cost - 1, key)


def test_a_filter_pays_for_the_characters_it_folds() -> None:
    """Folding a 64,000-character string not in NFC takes ~3 ms: 1,000 of those are not 1,000 units."""
    long = changed(BJENSEN, emails=[{"value": "e\u0301" * 1600, "type": "work"}, HOME_EMAIL])
    literal = "x" * 320
    operation = {"op": "remove", "path": f'emails[value eq "{literal}"]'}
    cost = (1 + (3204 + 320) // 32) + (1 + (19 + 320) // 32)

    limited(long, operation, comparisons=cost)
    with pytest.raises(InvalidValue):
        limited(long, operation, comparisons=cost - 1)


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "remove", "path": "emails"},
        {"op": "replace", "path": "title", "value": "Tour Guide"},
        {"op": "replace", "value": {"active": False, "displayName": "Babs"}},
    ],
)
def test_operations_that_walk_no_values_cost_nothing(operation: dict[str, Any]) -> None:
    limited(BJENSEN, operation, comparisons=0)


def test_the_comparisons_of_all_operations_add_up() -> None:
    adds = [{"op": "add", "path": "emails", "value": [{"value": f"n{i}@example.org"}]} for i in range(3)]

    assert len(limited(BJENSEN, *adds, comparisons=3 + 4 + 5).doc["emails"]) == 5
    with pytest.raises(InvalidValue) as refused:
        limited(BJENSEN, *adds, comparisons=3 + 4 + 5 - 1)
    assert refused.value.detail == too_many_comparisons(11, "emails")


# -- the defaults keep the worst PATCH cheap -------------------------------------------------------
FULL = changed(BJENSEN, emails=[{"value": f"e{i}@example.org", "type": "work"} for i in range(1000)])


def test_the_default_comparison_limit_stops_many_filters_over_a_full_attribute_early() -> None:
    """1,000 filtered operations over 1,000 values took 13 s; the default limit refuses it at the 13th."""
    operations = [
        {"op": "replace", "path": f'emails[value eq "e{i}@example.org"].type', "value": "home"} for i in range(1000)
    ]
    started = time.perf_counter()
    with pytest.raises(InvalidValue) as refused:
        apply_patch(FULL, parse_patch_request(request(*operations)), USER, COMMON, Policy())
    elapsed = time.perf_counter() - started

    assert refused.value.detail == too_many_comparisons(DEFAULT_LIMITS.max_patch_comparisons, "emails.type")
    assert elapsed < 0.5, f"{elapsed:.2f} s"


def test_a_patch_on_an_attribute_at_the_default_cap_is_cheap() -> None:
    full = changed(FULL, emails=FULL["emails"][:-1])
    operations = [
        {"op": "add", "path": "emails", "value": [{"value": "new@example.org", "type": "home"}]},
        {"op": "replace", "path": 'emails[value eq "e5@example.org"].type', "value": "other"},
        {"op": "remove", "path": "emails", "value": [{"value": "e7@example.org", "type": "work"}]},
    ]
    started = time.perf_counter()
    result = apply_patch(full, parse_patch_request(request(*operations)), USER, COMMON, Policy())
    elapsed = time.perf_counter() - started

    assert len(result.doc["emails"]) == 999
    assert result.doc["emails"][5] == {"value": "e5@example.org", "type": "other"}
    assert elapsed < 0.5, f"{elapsed:.2f} s"
