"""Limits on input, each documented in the README and answered with a clear SCIM error."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class InputLimits:
    max_string_length: int = 65_536  # characters in any one string value (400 invalidValue)
    max_members_per_request: int = 50_000  # members named in one POST/PUT/PATCH (400 invalidValue)
    max_patch_operations: int = 1_000  # Operations in one PATCH (400 invalidValue)
    max_filter_length: int = 4_096  # characters in a filter (400 invalidFilter)
    max_filter_depth: int = 32  # nesting of ( ), not ( ) and [ ] in a filter (400 invalidFilter)


DEFAULT_LIMITS = InputLimits()
