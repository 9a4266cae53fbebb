"""A run of creates in one unit of work (a bulk request's consecutive POSTs): the rows inserted
one statement each, their index keys, counter change and audit entries one statement a run, and
the userNames already taken found with one read first, so that a conflict the run could have
seen fails one operation instead of the whole run.

Part of ``SqlUnitOfWork`` (``SqlUnitOfWork.batch``); the statements are the single create's
(``fast_writes``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from scimhub.store import fast_writes as fw
from scimhub.store.base import IndexKeys
from scimhub.store.database import Tx
from scimhub.store.index_plan import KEY_COLUMNS
from scimhub.store.tables import resources

_USER_NAME = KEY_COLUMNS["userName"]


def user_name_key(keys: IndexKeys) -> str | None:
    """The userName comparison key a resource's row will hold (None: it has no userName)."""
    return keys.columns.get(_USER_NAME)


class BatchWrites:
    """The run-of-creates statements of one write transaction of one tenant."""

    def __init__(self, tx: Tx, tenant_id: str, pks: dict[str, int]) -> None:
        self._tx = tx
        self._tenant_id = tenant_id
        self._pks = pks  # the unit of work's id -> pk map: later statements of it know the rows

    async def taken_user_names(self, resource_type: str, keys: Sequence[str]) -> set[str]:
        """Which of these userName comparison keys a resource of the tenant already holds (one
        statement: an index probe per key)."""
        if not keys:
            return set()
        column = resources.c[_USER_NAME]
        stmt = select(column).where(
            resources.c.tenant_id == self._tenant_id,
            resources.c.resource_type == resource_type,
            column.in_(list(dict.fromkeys(keys))),
        )
        return {key for (key,) in (await self._tx.execute(stmt)).all()}

    async def insert(self, resource_type: str, rows: Sequence[tuple[dict[str, Any], list[tuple[str, str]]]]) -> None:
        """Insert resource rows with their resource_values (path, key) pairs, in order, and count
        them; a unique violation propagates (the unit of work fails whole)."""
        values: list[dict[str, Any]] = []
        for row, pairs in rows:
            pk = (await self._tx.rows(fw.INSERT_RESOURCE, **row))[0][0]
            self._pks[row["id"]] = pk
            values += ({"resource_pk": pk, "tenant_id": self._tenant_id, "path": p, "value_key": k} for p, k in pairs)
        if values:
            await self._tx.run_many(fw.INSERT_VALUE, values)
        await self._tx.rows(
            fw.COUNT,
            tenant_id=self._tenant_id,
            resource_type=resource_type,
            count=len(rows),
            delta=len(rows),
            deleted=0,
        )
