"""The pure rules (scimhub.directory.roles): matching, modes, priorities, default."""

from __future__ import annotations

import pytest

from scimhub.directory.roles import GroupFacts
from scimhub.directory.roles import Mode
from scimhub.directory.roles import RoleRule
from scimhub.directory.roles import RuleKind
from scimhub.directory.roles import RuleSet
from scimhub.directory.roles import check_mode
from scimhub.directory.roles import check_priority
from scimhub.directory.roles import check_role
from scimhub.directory.roles import scim_role_values

ADMINS = GroupFacts.of("g1", {"displayName": "Admins", "externalId": "EXT-1"})
STAFF = GroupFacts.of("g2", {"displayName": "Staff"})


def _rules(*rules: RoleRule, mode: Mode = Mode.ALL, default: str | None = None) -> RuleSet:
    return RuleSet(1, rules, mode, default)


def test_each_kind_matches_what_it_names() -> None:
    rules = _rules(
        RoleRule(
            "1", "by-name", RuleKind.GROUP, "\uff21\uff24\uff2d\uff29\uff2e\uff33"
        ),  # fullwidth ADMINS: the same name
        RoleRule("2", "by-id", RuleKind.GROUP_ID, "g1"),
        RoleRule("3", "by-external-id", RuleKind.GROUP_EXTERNAL_ID, "EXT-1"),
        RoleRule("4", "by-scim-role", RuleKind.SCIM_ROLE, "Content.Editor"),
        RoleRule("5", "not-exact", RuleKind.GROUP_EXTERNAL_ID, "ext-1"),  # externalId is caseExact
    )

    assert rules.roles([ADMINS], []) == ["by-external-id", "by-id", "by-name"]
    assert rules.roles([STAFF], ["content.editor"]) == ["by-scim-role"]
    assert rules.names(ADMINS) and not rules.names(STAFF)
    assert rules.has_scim_rules


def test_highest_takes_the_top_priority_then_the_first_name() -> None:
    rules = _rules(
        RoleRule("1", "member", RuleKind.GROUP, "Staff", priority=1),
        RoleRule("2", "owner", RuleKind.GROUP, "Admins", priority=10),
        RoleRule("3", "admin", RuleKind.GROUP_ID, "g1", priority=10),
        mode=Mode.HIGHEST,
    )

    assert rules.roles([STAFF, ADMINS], []) == ["admin"]  # 10 ties: admin sorts before owner
    assert rules.roles([STAFF], []) == ["member"]


def test_the_default_only_when_no_rule_applies() -> None:
    rules = _rules(RoleRule("1", "admin", RuleKind.GROUP, "Admins"), default="viewer")

    assert rules.roles([], []) == ["viewer"]
    assert rules.roles([ADMINS], []) == ["admin"]
    assert not rules.empty and _rules().empty


def test_scim_role_values_ignore_malformed_entries() -> None:
    doc = {"roles": [{"value": "a"}, {"display": "no value"}, "b", {"value": 3}, {"value": "c"}]}

    assert scim_role_values(doc) == ["a", "c"]
    assert scim_role_values({"roles": "a"}) == [] == scim_role_values(None)


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (check_role, ""),
        (check_role, "x" * 201),
        (check_role, "tab\there"),
        (check_mode, "most"),
        (check_priority, 10**7),
    ],
)
def test_checks_refuse(check: object, value: object) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        check(value)  # type: ignore[operator]
