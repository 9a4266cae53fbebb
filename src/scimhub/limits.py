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
    # Values one multi-valued attribute may hold (Group.members excepted: they are rows, capped per
    # request above). Directories send a handful of emails or roles; 1,000 keeps a PATCH that walks
    # every value of an attribute in the low milliseconds (400 invalidValue).
    max_values_per_attribute: int = 1_000
    # Value comparisons one PATCH may make: each value an operation examines (dedupe, sub-attribute,
    # removal) counts 1, times the comparisons of its [filter]. Bounds ops x values x filter size,
    # which the caps above allow up to 10^8 of (minutes of CPU); ~1 µs each (400 invalidValue).
    max_patch_comparisons: int = 25_000
    # Bytes of a resource's JSON (id, meta and Group members aside). A PATCH adds to a resource and
    # no body limit stops the next: every later read and write of it costs in proportion (a 28 MB
    # user took 1.7 s to PATCH). Real users and groups are a few KB (400 invalidValue).
    max_resource_bytes: int = 1_048_576


DEFAULT_LIMITS = InputLimits()
