"""``quick_eq`` binds exactly what the parser and binder make, or declines (issue 21)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from scimhub.errors import InvalidFilter
from scimhub.filter.bind import bind_filter
from scimhub.filter.parser import parse_filter
from scimhub.filter.quick import quick_eq
from scimhub.policy import Policy
from scimhub.schema.registry import default_registry

REGISTRY = default_registry()
POLICY = Policy()
NAMES = [
    "userName",
    "USERNAME",
    "externalId",
    "displayName",
    "emails",
    "emails.value",
    "name.familyName",
    "title",
    "id",
    "members.value",
    "meta.created",
    "nickName",
    "active",
    "unknownAttr",
    "name",
    "x.y",
]


def _full(text: str, rtype_id: str) -> object:
    rtype = REGISTRY.resource_type(rtype_id)
    try:
        return bind_filter(parse_filter(text), rtype, REGISTRY.common, text, POLICY)
    except InvalidFilter as exc:
        return exc


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(NAMES),
    op=st.sampled_from(["eq", "EQ", "Eq", "ne", "co"]),
    value=st.text(max_size=12),
    before=st.sampled_from(["", " ", "\t"]),
    rtype_id=st.sampled_from(["User", "Group"]),
)
def test_quick_eq_is_the_full_binding_or_declines(name: str, op: str, value: str, before: str, rtype_id: str) -> None:
    text = f'{before}{name} {op} "{value}"'
    quick = quick_eq(text, REGISTRY.resource_type(rtype_id), REGISTRY.common, POLICY)
    if quick is not None:
        assert quick == _full(text, rtype_id)


@pytest.mark.parametrize(
    ("text", "rtype_id"),
    [
        ('userName eq "bjensen@example.com"', "User"),
        ('  userName   EQ "Babs Jensen" ', "User"),
        ('externalId eq "00u1"', "User"),
        ('emails.value eq "b@example.com"', "User"),
        ('emails eq "b@example.com"', "User"),
        ('name.familyName eq "Jensen"', "User"),
        ('displayName eq "Staff"', "Group"),
        ('members.value eq "2819c223"', "Group"),
        ('userName eq ""', "User"),
    ],
)
def test_the_existence_checks_take_the_quick_path(text: str, rtype_id: str) -> None:
    quick = quick_eq(text, REGISTRY.resource_type(rtype_id), REGISTRY.common, POLICY)

    assert quick is not None
    assert quick == _full(text, rtype_id)


@pytest.mark.parametrize(
    ("text", "rtype_id"),
    [
        ('active eq "true"', "User"),  # a boolean: the binder decides (string_booleans)
        ('unknownAttr eq "x"', "User"),  # an error: the full path words it
        ('userName eq "a\\"b"', "User"),  # an escape
        ('userName eq "a\\u0041"', "User"),
        ('userName eq "x" and active eq true', "User"),
        ('userName ne "x"', "User"),
        ("userName eq 1", "User"),
        ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"', "User"),
        ('userName eq "x\x00"', "User"),
        ('emails[type eq "work"]', "User"),
        ('userName eq "x', "User"),
    ],
)
def test_other_filters_take_the_full_path(text: str, rtype_id: str) -> None:
    assert quick_eq(text, REGISTRY.resource_type(rtype_id), REGISTRY.common, POLICY) is None
