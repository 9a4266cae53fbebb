"""Python's cyclic garbage collector, set for a served process (``scimhub serve`` only: a host
app that mounts scimhub keeps its own settings).

A request allocates thousands of objects that live until it answers (a bulk request of 1,000
creates holds each parsed operation, resource and event), so at CPython's default threshold
(a collection every 700 net allocations) the young collections keep promoting them, and full
collections walk every object the process holds: 9 % of a bulk request's CPU, and full pauses
of ~40 ms (bench/README.md, "Bulk, round 4"). Nearly all of them are freed by reference
counting, not by the collector, so collecting young objects less often frees nothing later.
"""

from __future__ import annotations

import gc

# Young collections every 10,000 net allocations (a request's objects mostly die before one
# runs), a middle one every 20 of those and the full one every 100 middle ones (CPython also
# waits until the objects promoted since the last full one are a quarter of those it holds).
THRESHOLDS = (10_000, 20, 100)


def tune_for_serving() -> None:
    """Set the thresholds, and move what start-up built (modules, schemas, compiled statements,
    the app) out of the collector's reach: it lives as long as the process, and a full collection
    would walk it every time."""
    gc.set_threshold(*THRESHOLDS)
    gc.collect()
    gc.freeze()
