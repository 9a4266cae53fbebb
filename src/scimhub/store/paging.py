"""Result order and keyset conditions (RFC 7644 §3.4.2.3 sorting, RFC 9865 cursors).

Order: the sort key (unassigned values last when ascending, first when descending, as
RFC 7644 §3.4.2.3 says), then ``pk`` so that ties are stable. A cursor names the boundary
row by (sort value, pk), so every page costs one index range scan however deep it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_
from sqlalchemy import case
from sqlalchemy import false
from sqlalchemy import literal
from sqlalchemy import or_
from sqlalchemy.sql import ColumnElement

from scimhub.store.base import Keyset
from scimhub.store.base import SortValue
from scimhub.store.tables import resources


@dataclass(frozen=True, slots=True)
class Ordering:
    sort: ColumnElement[Any] | None
    descending: bool
    # A sort key that is never NULL (a required attribute's key column) needs no null-ordering
    # term, so the (tenant, type, key) index provides the order and a page is a range scan.
    nullable: bool = True

    def terms(self) -> list[ColumnElement[Any]]:
        if self.sort is None:
            return [resources.c.pk]
        if not self.nullable:
            return [self.sort, resources.c.pk]
        return [case((self.sort.is_(None), 1), else_=0), self.sort, resources.c.pk]

    def order_by(self, *, reverse: bool = False) -> list[ColumnElement[Any]]:
        desc = self.descending != reverse
        return [t.desc() if desc else t.asc() for t in self.terms()]

    def values(self, key: Keyset) -> list[SortValue]:
        if self.sort is None:
            return [key.pk]
        if not self.nullable:
            return [key.value, key.pk]
        return [1 if key.value is None else 0, key.value, key.pk]

    def beyond(self, key: Keyset) -> ColumnElement[bool]:
        """Rows strictly after ``key`` in this order (before it when ``key.before``)."""
        forward = self.descending == key.before  # True: compare with >, False: with <
        terms, values = self.terms(), self.values(key)
        disjuncts = []
        prefix: list[ColumnElement[bool]] = []
        for term, value in zip(terms, values, strict=True):
            if term is self.sort and value is None:
                continue  # in the unassigned tail every sort value is NULL: only pk decides
            step = term > literal(value) if forward else term < literal(value)
            disjuncts.append(and_(*prefix, step) if prefix else step)
            prefix.append(term == literal(value))
        return or_(*disjuncts) if disjuncts else false()
