"""A run of creates in one unit of work (a bulk request's consecutive POSTs): the rows inserted
one statement each, their index keys, counter change and audit entries one statement a run; and
the userNames already taken, found with one read before the unit of work (outside the writer),
so that a conflict the run could have seen fails one operation instead of the whole run.

Part of ``SqlUnitOfWork`` (``SqlUnitOfWork.batch``); the statements are the single create's
(``fast_writes``).
"""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import select

from scimhub.store import fast_writes as fw
from scimhub.store.database import Rows
from scimhub.store.database import Tx
from scimhub.store.index_plan import KEY_COLUMNS
from scimhub.store.prepared import Prepared
from scimhub.store.prepared import prepare
from scimhub.store.tables import resources

_USER_NAME = KEY_COLUMNS["userName"]
# A lookup names 2, 4, 8, 16 or 32 userNames (fewer repeat the last): a few statement texts, each
# prepared once, and a run's lookup no wider than it needs (SQLite sorts the IN list it is given:
# 32 slots for a run of 3 cost ~35 µs more than 4).
_SLOT_SIZES = (2, 4, 8, 16, 32)
_KEY_NAMES = tuple(f"k{i}" for i in range(_SLOT_SIZES[-1]))


def _taken(slots: int) -> Prepared:
    return prepare(
        select(resources.c[_USER_NAME]).where(
            resources.c.tenant_id == bindparam("tenant"),
            resources.c.resource_type == bindparam("rtype"),
            resources.c[_USER_NAME].in_([bindparam(n) for n in _KEY_NAMES[:slots]]),
        )
    )


TAKEN = {slots: _taken(slots) for slots in _SLOT_SIZES}


async def taken_user_names(
    read: Callable[..., Awaitable[Rows]], tenant_id: str, resource_type: str, keys: Sequence[str]
) -> set[str]:
    """Which of these userName comparison keys a resource of the tenant already holds, by
    ``read`` (a prepared read: ``Database.peek``): a statement a 32 keys, an index probe a key."""
    unique = list(dict.fromkeys(keys))
    taken: set[str] = set()
    widest = _SLOT_SIZES[-1]
    for start in range(0, len(unique), widest):
        chunk = unique[start : start + widest]
        slots = next(size for size in _SLOT_SIZES if size >= len(chunk))
        chunk += chunk[-1:] * (slots - len(chunk))
        named = dict(zip(_KEY_NAMES, chunk, strict=False))
        rows = await read(TAKEN[slots], tenant=tenant_id, rtype=resource_type, **named)
        taken.update(key for (key,) in rows)
    return taken


class BatchWrites:
    """The run-of-creates statements of one write transaction of one tenant."""

    def __init__(self, tx: Tx, tenant_id: str, pks: dict[str, int]) -> None:
        self._tx = tx
        self._tenant_id = tenant_id
        self._pks = pks  # the unit of work's id -> pk map: later statements of it know the rows

    async def insert(self, resource_type: str, rows: Sequence[tuple[dict[str, Any], list[tuple[str, str]]]]) -> None:
        """Insert resource rows with their resource_values (path, key) pairs, in order, and count
        them; a unique violation propagates (the unit of work fails whole)."""
        values: list[dict[str, Any]] = []
        for row, pairs in rows:
            pk = await self._tx.insert(fw.INSERT_RESOURCE, **row)
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
