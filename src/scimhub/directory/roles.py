"""Roles from groups (pure: no I/O): which of a tenant's rules give a user which roles.

A rule names an IdP group (its ``displayName``, compared case-insensitively; its ``id``; or its
``externalId``, compared exactly) or a value of the user's SCIM ``roles`` (how Entra sends app
roles; compared case-insensitively), and gives one of the application's role names. Membership
is direct: a group inside a named group does not pass the role on to its members.

Mode ``all``: a user has the role of every rule that applies. Mode ``highest``: the role of the
applying rule with the highest priority (ties: the role name first in sort order). A user no
rule applies to has the tenant's default role, or none when it has no default.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from enum import StrEnum
from typing import Any

from scimhub.schema.compare import fold

MAX_ROLE_LENGTH = 200
MAX_PRIORITY = 1_000_000


class RuleKind(StrEnum):
    GROUP = "group"  # the group's displayName, case-insensitively
    GROUP_ID = "group_id"
    GROUP_EXTERNAL_ID = "group_external_id"
    SCIM_ROLE = "scim_role"  # a value of the user's SCIM `roles`


class Mode(StrEnum):
    ALL = "all"
    HIGHEST = "highest"


GROUP_KINDS = frozenset({RuleKind.GROUP, RuleKind.GROUP_ID, RuleKind.GROUP_EXTERNAL_ID})


def rule_key(kind: RuleKind, value: str) -> str:
    """What a rule's value is compared as: the comparison key of the attribute it names
    (displayName and roles.value are not caseExact; id and externalId are)."""
    if kind in (RuleKind.GROUP, RuleKind.SCIM_ROLE):
        return fold(value)
    return unicodedata.normalize("NFC", value)


def check_role(role: str) -> str:
    role = role.strip()
    if not role or len(role) > MAX_ROLE_LENGTH or not role.isprintable():
        raise ValueError(f"A role name is 1 to {MAX_ROLE_LENGTH} printable characters; got {role!r}.")
    return role


def check_priority(priority: int) -> int:
    if not -MAX_PRIORITY <= priority <= MAX_PRIORITY:
        raise ValueError(f"A priority is between -{MAX_PRIORITY} and {MAX_PRIORITY}; got {priority}.")
    return priority


def check_mode(mode: str) -> Mode:
    try:
        return Mode(mode.strip().lower())
    except ValueError:
        raise ValueError(f"role.mode is 'all' or 'highest'; got {mode!r}.") from None


@dataclass(frozen=True, slots=True)
class RoleRule:
    id: str
    role: str
    kind: RuleKind
    value: str
    priority: int = 0
    created_at: str = ""

    @property
    def key(self) -> str:
        return rule_key(self.kind, self.value)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "role": self.role, "kind": self.kind.value, "value": self.value} | {
            "priority": self.priority,
            "createdAt": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class GroupFacts:
    """What rules compare of a group: its id and the keys of its displayName and externalId."""

    id: str
    display_key: str | None
    external_key: str | None

    @classmethod
    def of(cls, id: str, doc: Mapping[str, Any]) -> GroupFacts:
        name, external = doc.get("displayName"), doc.get("externalId")
        return cls(
            id,
            fold(name) if isinstance(name, str) else None,
            unicodedata.normalize("NFC", external) if isinstance(external, str) else None,
        )


@dataclass(frozen=True, slots=True)
class RuleSet:
    """A tenant's rules, mode and default at one ``version`` of its role state."""

    version: int
    rules: tuple[RoleRule, ...] = ()
    mode: Mode = Mode.ALL
    default: str | None = None
    _by_key: dict[tuple[RuleKind, str], tuple[RoleRule, ...]] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        index: dict[tuple[RuleKind, str], list[RoleRule]] = {}
        for rule in self.rules:
            index.setdefault((rule.kind, rule.key), []).append(rule)
        self._by_key.update({k: tuple(v) for k, v in index.items()})

    @property
    def empty(self) -> bool:
        """No rule and no default: nobody has a role."""
        return not self.rules and self.default is None

    @property
    def has_scim_rules(self) -> bool:
        return any(r.kind is RuleKind.SCIM_ROLE for r in self.rules)

    def keys(self, kind: RuleKind) -> list[str]:
        return sorted({k for (c, k) in self._by_key if c is kind})

    def group_rules(self, group: GroupFacts) -> tuple[RoleRule, ...]:
        found: tuple[RoleRule, ...] = self._by_key.get((RuleKind.GROUP_ID, group.id), ())
        if group.display_key is not None:
            found += self._by_key.get((RuleKind.GROUP, group.display_key), ())
        if group.external_key is not None:
            found += self._by_key.get((RuleKind.GROUP_EXTERNAL_ID, group.external_key), ())
        return found

    def names(self, group: GroupFacts) -> bool:
        """Whether any rule names this group (a member change of any other group decides nothing)."""
        return bool(self.group_rules(group))

    def scim_role_rules(self, values: Iterable[str]) -> tuple[RoleRule, ...]:
        found: tuple[RoleRule, ...] = ()
        for key in dict.fromkeys(fold(v) for v in values):
            found += self._by_key.get((RuleKind.SCIM_ROLE, key), ())
        return found

    def roles(self, groups: Iterable[GroupFacts], scim_roles: Iterable[str]) -> list[str]:
        """A user's effective roles (sorted) from the groups it is directly in and its SCIM roles."""
        applying = [r for g in groups for r in self.group_rules(g)]
        applying += self.scim_role_rules(scim_roles)
        if not applying:
            return [self.default] if self.default is not None else []
        if self.mode is Mode.HIGHEST:
            return [min(applying, key=lambda r: (-r.priority, r.role)).role]
        return sorted({r.role for r in applying})


@dataclass(frozen=True, slots=True)
class RoleChange:
    """A user whose effective roles changed in a write: the ``user.roles_changed`` event's data."""

    user_id: str
    user_name: str | None
    before: tuple[str, ...]
    after: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.user_id, "userName": self.user_name, "before": list(self.before), "after": list(self.after)}


@dataclass(frozen=True, slots=True)
class JobStatus:
    """The recompute after a rule change: users gone through, roles changed, finished or not."""

    version: int
    done: int
    changed: int
    started_at: str
    finished_at: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "usersDone": self.done,
            "usersChanged": self.changed,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "finished": self.finished_at is not None,
        }


def scim_role_values(doc: Mapping[str, Any] | None) -> list[str]:
    """The values of a user's SCIM ``roles`` (RFC 7643 §4.1.2), in order."""
    roles = doc.get("roles") if doc else None
    if not isinstance(roles, list):
        return []
    return [r["value"] for r in roles if isinstance(r, dict) and isinstance(r.get("value"), str)]
