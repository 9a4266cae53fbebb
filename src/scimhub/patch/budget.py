"""What a PATCH may spend on multi-valued attributes (SCIMHUB_MAX_PATCH_COMPARISONS).

Operations (1,000) x values (1,000) x filter comparisons (129) x string length (65,536) are each
capped, but their product is minutes of CPU on the event loop (and, on SQLite, the writer). So
each operation counts its work before doing it, and the PATCH is refused once the total passes
the limit. A unit is one comparison, ~1 µs; a [filter] comparison also pays for the characters it
folds: NFC and casefold of a string not in NFC cost ~45 ns a character, ~32 characters a unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scimhub.errors import InvalidValue
from scimhub.filter.bind import BAnd
from scimhub.filter.bind import BCompare
from scimhub.filter.bind import BNot
from scimhub.filter.bind import BOr
from scimhub.filter.bind import Bound

CHARS_PER_COMPARISON = 32


class Budget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.spent = 0

    def spend(self, comparisons: int, key: str) -> None:
        """Count work about to be done at ``key``; refuse the PATCH if it passes the limit."""
        self.spent += comparisons
        if self.spent > self.limit:
            raise InvalidValue(
                f"This PATCH would make more than {self.limit} value comparisons "
                f"(reached at '{key}'); send its operations in several requests."
            )


def filter_cost(node: Bound, items: Sequence[Any]) -> int:
    """Units to match ``node`` against each of ``items`` (filter.evaluate folds both sides of
    every string comparison, the value's and the literal's, each time)."""
    comparisons, literal_chars = _weight(node)
    return sum(comparisons + (comparisons * _chars(item) + literal_chars) // CHARS_PER_COMPARISON for item in items)


def _weight(node: Bound) -> tuple[int, int]:
    """(comparisons, characters of their string literals) of one evaluation of ``node``."""
    if isinstance(node, BAnd | BOr):
        left, right = _weight(node.left), _weight(node.right)
        return left[0] + right[0], left[1] + right[1]
    if isinstance(node, BNot):
        return _weight(node.expr)
    if isinstance(node, BCompare) and isinstance(node.value, str):
        return 1, len(node.value)
    return 1, 0


def _chars(item: Any) -> int:
    """Characters a comparison may fold in one value: its strings (sub-attributes of a complex one)."""
    if isinstance(item, str):
        return len(item)
    if isinstance(item, dict):
        return sum(len(value) for value in item.values() if isinstance(value, str))
    return 0
