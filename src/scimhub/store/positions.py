"""Where the pages of a startIndex walk ended, so that the next page is a range scan, not an OFFSET.

IdPs import a directory page by page (startIndex=1, 101, 201, …). OFFSET k steps over k index
entries, so a walk over N resources costs O(N²/count); remembering the pk that ended each page
served makes page k+1 ``pk > that LIMIT count`` whatever its depth.

A remembered end holds while no resource of the type was deleted (``resource_counts.removed``
is part of the key): resources are created with ever larger pks, at the end of the creation
order, so nothing else moves a position. On PostgreSQL a create that commits after a later one
(pks come from a sequence) can land before a remembered end and be left out of the rest of the
walk, as a create after the walk would be; OFFSET paging would show another row twice instead.
RFC 7644 §3.4.2.4 promises no consistency across pages under concurrent changes either way.

Per process and bounded: a walk that hops between instances pages with OFFSET, correct as well.
"""

from __future__ import annotations

from collections import OrderedDict

# (tenant id, resource type, removed counter) of the list a position belongs to.
Place = tuple[str, str, int]


class PagePositions:
    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._ends: OrderedDict[tuple[Place, int], int] = OrderedDict()

    def end_before(self, place: Place, start_index: int) -> int | None:
        """The pk of row ``start_index - 1`` of the list, if a page ending there was served."""
        key = (place, start_index)
        pk = self._ends.get(key)
        if pk is not None:
            self._ends.move_to_end(key)
        return pk

    def remember(self, place: Place, next_start: int, pk: int) -> None:
        """Row ``next_start - 1`` of the list has ``pk``."""
        self._ends[(place, next_start)] = pk
        self._ends.move_to_end((place, next_start))
        while len(self._ends) > self.capacity:
            self._ends.popitem(last=False)
