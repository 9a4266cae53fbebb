"""Roles from groups, stored: the rules (``role_rules``), each user's effective roles
(``user_roles``), the tenant's rule version, mode and default (``role_state``) and the recompute
that follows a change of the rules (``role_jobs``). The rules themselves are pure
(``scimhub.directory.roles``)."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import select

from scimhub.store.database import Tx
from scimhub.store.tables import user_roles

_T = TypeVar("_T")
CHUNK = 500  # pks per IN (...) list


def chunks(items: Sequence[_T], size: int = CHUNK) -> Iterable[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def roles_of_users(tx: Tx, tenant_id: str, user_pks: Sequence[int]) -> dict[int, list[str]]:
    """Each user's effective roles (sorted), by pk; a user without roles is left out."""
    found: dict[int, list[str]] = {}
    for chunk in chunks(list(dict.fromkeys(user_pks))):
        stmt = (
            select(user_roles.c.user_pk, user_roles.c.role)
            .where(user_roles.c.tenant_id == tenant_id, user_roles.c.user_pk.in_(chunk))
            .order_by(user_roles.c.user_pk, user_roles.c.role)
        )
        for pk, role in await tx.execute(stmt):
            found.setdefault(pk, []).append(role)
    return found
