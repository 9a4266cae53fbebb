"""Attributes that live in the group_members table instead of the JSON document.

RFC 7643 §4.2 ``Group.members`` is stored one row per member (adding one member to a
group of a million is one row); RFC 7643 §4.1 ``User.groups`` is readOnly and derived
from the same rows. This is the one place that names them.
"""

from __future__ import annotations

from scimhub.schema.model import ResourceType

MEMBERS_ATTRIBUTE = {"Group": "members"}
MEMBER_OF_ATTRIBUTE = {"User": "groups"}


def members_attribute(rtype: ResourceType) -> str | None:
    return MEMBERS_ATTRIBUTE.get(rtype.id)


def member_of_attribute(rtype: ResourceType) -> str | None:
    return MEMBER_OF_ATTRIBUTE.get(rtype.id)


_RELATION_ATTRIBUTE = {**MEMBERS_ATTRIBUTE, **MEMBER_OF_ATTRIBUTE}


def relation_attribute(rtype: ResourceType) -> str | None:
    """``members`` or ``groups``, whichever ``rtype`` has."""
    return _RELATION_ATTRIBUTE.get(rtype.id)
