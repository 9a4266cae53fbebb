"""IdP-shaped request bodies and URLs (Okta and Microsoft Entra ID), from tests/idp/IDP_QUIRKS.md.

Pure functions of an index, so the load generator, the direct seeder and the floor all
produce the same users without sharing state.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTRA_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

Json = dict[str, Any]

_GIVEN = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Niklaus")
_FAMILY = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton", "Wirth")


def user_name(i: int) -> str:
    return f"bench.user{i:07d}@example.com"


def missing_user_name(i: int) -> str:
    """A userName no user has; the floor answers an empty list when it sees 'missing'."""
    return f"missing.user{i:07d}@example.com"


def _names(i: int) -> tuple[str, str]:
    return _GIVEN[i % len(_GIVEN)], f"{_FAMILY[(i // len(_GIVEN)) % len(_FAMILY)]}{i}"


def okta_create(i: int) -> Json:
    """Okta's POST /Users (O-REF): core schema only, random password, groups: []."""
    given, family = _names(i)
    return {
        "schemas": [CORE_USER],
        "userName": user_name(i),
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": True, "value": user_name(i), "type": "work"}],
        "displayName": f"{given} {family}",
        "locale": "en-US",
        "externalId": f"00u{i:017d}",
        "groups": [],
        "password": f"Rnd!{i:08d}xY",
        "active": True,
    }


def entra_create(i: int) -> Json:
    """Entra's POST /Users (E-TUT): core + enterprise extension, meta.resourceType, roles: []."""
    given, family = _names(i)
    return {
        "schemas": [CORE_USER, ENTERPRISE_USER],
        "externalId": f"5f2b1c3e-0000-4000-8000-{i:012d}",
        "userName": user_name(i),
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": user_name(i)}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": f"{given} {family}", "familyName": family, "givenName": given},
        "displayName": f"{given} {family}",
        "title": "Engineer",
        "roles": [],
        ENTERPRISE_USER: {
            "employeeNumber": str(i),
            "department": f"Department {i % 40}",
            "costCenter": f"CC-{i % 200}",
            "organization": "Example Corp",
        },
    }


def create_user(i: int) -> Json:
    """Alternate the two IdPs' create shapes: even Okta, odd Entra."""
    return okta_create(i) if i % 2 == 0 else entra_create(i)


def okta_put(i: int, id: str) -> Json:
    """Okta's profile update (O-REF 1.5): the whole user, with a changed family name."""
    given, family = _names(i)
    return {
        "schemas": [CORE_USER],
        "id": id,
        "userName": user_name(i),
        "name": {"givenName": given, "middleName": "Q", "familyName": f"{family}-renamed"},
        "emails": [{"primary": True, "value": user_name(i), "type": "work", "display": user_name(i)}],
        "displayName": f"{given} {family}-renamed",
        "active": True,
        "groups": [],
        "meta": {"resourceType": "User"},
    }


def entra_deactivate() -> Json:
    """Entra's default deactivation: PascalCase op, path, the string "False" (E-KI)."""
    return {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}


def okta_deactivate() -> Json:
    """Okta's deactivation: lowercase op, no path, value object (O-REF 1.5)."""
    return {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}


def entra_group_create(name: str, i: int) -> Json:
    """Entra's POST /Groups (E-TUT): Microsoft schema URN, externalId, no members."""
    return {
        "schemas": [CORE_GROUP, ENTRA_GROUP],
        "externalId": f"9a0c7d2e-0000-4000-8000-{i:012d}",
        "displayName": name,
        "meta": {"resourceType": "Group"},
    }


def entra_add_members(ids: list[str]) -> Json:
    """Entra's member add: 'Add' on path members with a value array ("$ref": null)."""
    return {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": i} for i in ids]}],
    }


def okta_remove_member(id: str) -> Json:
    """Okta's membership delta remove: a value filter in the path (O-REF 1.6)."""
    return {"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": f'members[value eq "{id}"]'}]}


def filter_eq_path(name: str) -> str:
    """Okta's existence check URL (spaces %20, '@' %40, startIndex and count)."""
    expression = quote('userName eq "' + name + '"', safe="")
    return f"/Users?filter={expression}&startIndex=1&count=100"
