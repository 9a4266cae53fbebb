"""A run of creates in one unit of work (a bulk request's consecutive POSTs): the rows inserted
one statement each on SQLite (in-process) and up to ten a statement on PostgreSQL (a round trip
each), their index keys and counter change one statement a run.

A create whose userName a resource already holds (an earlier create of the run included) is not
inserted (ON CONFLICT DO NOTHING on the userName's unique index) and is reported, so that it
fails its operation alone, as the single POST's 409 would, instead of the whole run; the unique
index decides, as the unit of work sees it, so no lookup before the run is needed.

Part of ``SqlUnitOfWork`` (``SqlUnitOfWork.batch``); the statements are the single create's
(``fast_writes``) but for that conflict clause.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scimhub.store import fast_writes as fw
from scimhub.store.database import Tx


class BatchWrites:
    """The run-of-creates statements of one write transaction of one tenant."""

    def __init__(self, tx: Tx, tenant_id: str, pks: dict[str, int], together: bool = False) -> None:
        self._tx = tx
        self._tenant_id = tenant_id
        self._pks = pks  # the unit of work's id -> pk map: later statements of it know the rows
        self._together = together  # PostgreSQL: rows in one statement a chunk (fast_writes.TOGETHER)

    async def insert(
        self, resource_type: str, rows: Sequence[tuple[dict[str, Any], list[tuple[str, str]]]]
    ) -> list[str]:
        """Insert resource rows with their resource_values (path, key) pairs, in order, and count
        them; the ids of those not inserted because their userName is taken. Any other unique
        violation propagates (the unit of work fails whole)."""
        pks = await (self._inserted_together(rows) if self._together else self._inserted(rows))
        values: list[dict[str, Any]] = []
        taken: list[str] = []
        for row, pairs in rows:
            pk = pks.get(row["id"])
            if pk is None:
                taken.append(row["id"])
                continue
            self._pks[row["id"]] = pk
            values += ({"resource_pk": pk, "tenant_id": self._tenant_id, "path": p, "value_key": k} for p, k in pairs)
        if values:
            await self._tx.run_many(fw.INSERT_VALUE, values)
        if inserted := len(rows) - len(taken):
            await self._tx.rows(
                fw.COUNT,
                tenant_id=self._tenant_id,
                resource_type=resource_type,
                count=inserted,
                delta=inserted,
                deleted=0,
            )
        return taken

    async def _inserted(self, rows: Sequence[tuple[dict[str, Any], Any]]) -> dict[str, int]:
        """One INSERT a row, in order: id -> pk of those inserted."""
        pks: dict[str, int] = {}
        for row, _ in rows:
            pk = await self._tx.insert_or_skip(fw.INSERT_RESOURCE_UNLESS_TAKEN, **row)
            if pk is not None:
                pks[row["id"]] = pk
        return pks

    async def _inserted_together(self, rows: Sequence[tuple[dict[str, Any], Any]]) -> dict[str, int]:
        """Up to ``fw.TOGETHER`` rows a statement, in order (a later row whose userName an earlier
        one of the same statement took is left out, as it would be alone): id -> pk."""
        pks: dict[str, int] = {}
        for start in range(0, len(rows), fw.TOGETHER):
            chunk = rows[start : start + fw.TOGETHER]
            params = {f"{name}_{i}": value for i, (row, _) in enumerate(chunk) for name, value in row.items()}
            found = await self._tx.rows(fw.insert_resources_unless_taken(len(chunk)), **params)
            pks.update((id, pk) for id, pk in found)
        return pks
