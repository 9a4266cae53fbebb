"""The deprovisioning guard's rules (pure: no I/O).

A misconfigured IdP (an assignment removed from "Everyone", a changed scoping filter, a new
source for ``active``) deactivates every user within minutes. The guard counts a tenant's
deprovisionings (``user.deactivated``, ``user.deleted``) in a window; the one that takes the count
above the threshold holds the tenant's event stream from its seq on (see scimhub.safety.hold).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from scimhub.events.model import EventType
from scimhub.timestamps import format_instant

THRESHOLD_KEY = "guard.deprovision_threshold"
WINDOW_KEY = "guard.window"
DEFAULT_WINDOW_SECONDS = 3600.0
DEPROVISIONS = frozenset({EventType.USER_DEACTIVATED.value, EventType.USER_DELETED.value})

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+)\s*([smhd]?)")


@dataclass(frozen=True, slots=True)
class Threshold:
    """At most ``count`` deprovisionings, or at most ``percent`` % of the active users."""

    count: int | None = None
    percent: float | None = None

    def limit(self, active_users: int) -> int:
        """The most deprovisionings a window may hold (a percentage of 0 users allows none)."""
        if self.count is not None:
            return self.count
        return math.floor((self.percent or 0.0) * active_users / 100)

    def __str__(self) -> str:
        return str(self.count) if self.count is not None else f"{self.percent:g}%"


def parse_threshold(value: str) -> Threshold:
    """``25`` (a count) or ``10%`` (of the tenant's active users); ValueError otherwise."""
    text = value.strip()
    try:
        if text.endswith("%"):
            percent = float(text[:-1])
            if math.isfinite(percent) and 0 < percent <= 100:
                return Threshold(percent=percent)
        elif int(text) >= 0:
            return Threshold(count=int(text))
    except ValueError:
        pass
    raise ValueError(f"{THRESHOLD_KEY} takes a count such as 50 or a percentage such as 10%, not {value!r}.")


def parse_window(value: str) -> float:
    """A duration in seconds: ``3600``, ``90s``, ``30m``, ``1h``, ``2d``; ValueError otherwise."""
    match = _DURATION.fullmatch(value.strip().lower())
    seconds = int(match[1]) * _UNITS[match[2] or "s"] if match else 0
    if seconds <= 0:
        raise ValueError(f"{WINDOW_KEY} takes a duration such as 1h, 30m or 900s, not {value!r}.")
    return float(seconds)


def format_window(seconds: float) -> str:
    for unit in ("d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{int(seconds)}s"


@dataclass(frozen=True, slots=True)
class GuardRule:
    threshold: Threshold
    window_seconds: float = DEFAULT_WINDOW_SECONDS

    def describe(self) -> str:
        return f"more than {self.threshold} deprovisionings within {format_window(self.window_seconds)}"


def rule_from(threshold: str | None, window: str | None, default_window: float) -> GuardRule | None:
    """The rule in force from stored values (None: the guard is off; ``off`` turns a default off)."""
    if not threshold or threshold == "off":
        return None
    return GuardRule(parse_threshold(threshold), parse_window(window) if window else default_window)


@dataclass(frozen=True, slots=True)
class Window:
    """The guard's counter: when the current window began, the deprovisionings in it, the active
    users when it began (percentage thresholds), and the count of the window just before it."""

    start: str | None
    count: int
    base: int | None
    previous: int = 0


def advance(window: Window, now: str, seconds: float) -> Window:
    """The window ``now`` falls in. Windows follow each other back to back from the first one, so
    the one before the current is known: a burst across a boundary is still counted (below)."""
    if window.start is None:
        return Window(now, 0, None)
    start = datetime.fromisoformat(window.start)
    periods = math.floor((datetime.fromisoformat(now) - start).total_seconds() / seconds)
    if periods <= 0:
        return window
    begun = format_instant(start + timedelta(seconds=periods * seconds))
    return Window(begun, 0, None, window.count if periods == 1 else 0)


def carried(window: Window, now: str, seconds: float) -> float:
    """The previous window's count weighted by how much of it a sliding window ending now still
    covers (the estimate rate limiters use): 9 deactivations in the last minute of one window and
    9 in the first minute of the next are ~18 within an hour, not 9."""
    if not window.previous or window.start is None:
        return 0.0
    elapsed = (datetime.fromisoformat(now) - datetime.fromisoformat(window.start)).total_seconds()
    return window.previous * max(0.0, 1.0 - elapsed / seconds)


def crossing(rule: GuardRule, window: Window, deprovisions: int, active_users: int, carry: float = 0.0) -> int | None:
    """Of ``deprovisions`` new ones (in seq order), the index of the first that takes the window's
    count (with ``carry`` from the window before) above the threshold; None when they all fit."""
    limit = rule.threshold.limit(active_users)
    index = max(0, math.floor(limit - carry - window.count))  # the first i with carry + count + i + 1 > limit
    return index if index < deprovisions else None
