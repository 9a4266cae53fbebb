"""Bulk requests (RFC 7644 §3.7): the BulkRequest envelope, bulkId references and the order they
impose, and each operation run as the single request it stands for.

Pure except for ``BulkRunner``, which reaches storage only through ``ResourceService``. Each
operation is one unit of work with its own events and audit entry, exactly as if it had been sent
alone; the runner lets consecutive ones share a commit and acknowledges nothing (no response)
before every operation it reports is durable.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from scimhub.errors import Conflict
from scimhub.errors import InternalError
from scimhub.errors import InvalidSyntax
from scimhub.errors import InvalidValue
from scimhub.errors import PayloadTooLarge
from scimhub.errors import ScimError
from scimhub.events.model import Event
from scimhub.protocol.bulk_creates import RUN_SIZE
from scimhub.protocol.bulk_creates import Create
from scimhub.protocol.bulk_creates import Fallback
from scimhub.protocol.bulk_creates import create_run
from scimhub.protocol.context import RequestContext
from scimhub.protocol.etag import etag
from scimhub.protocol.render import location
from scimhub.protocol.resources import Deferred
from scimhub.protocol.resources import ResourceResult
from scimhub.protocol.resources import ResourceService
from scimhub.schema.model import JsonDoc
from scimhub.schema.model import ResourceType
from scimhub.schema.relations import members_attribute

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
REFERENCE = "bulkId:"  # RFC 7644 §3.7.2: "bulkId:qwerty" stands for the id created as "qwerty"
_REFERENCE_JSON = b'"bulkId:'  # a JSON string value starting with it
# Operation member names as the RFC spells them; any other spelling is matched case-insensitively.
_CANONICAL = ("method", "path", "bulkId", "version", "data")
_NAMES = {name.casefold(): name for name in _CANONICAL}
_SPELT = frozenset(_CANONICAL)
METHODS = ("POST", "PUT", "PATCH", "DELETE")
log = logging.getLogger("scimhub.bulk")

# Charges one operation against the caller's rate limits: None when allowed, else the error.
Charge = Callable[[], Awaitable[ScimError | None]]


class TooManyOperations(PayloadTooLarge):
    """RFC 7644 §3.7.4: more operations than maxOperations is a 413 naming the limit."""

    scim_type = "tooMany"


@dataclass(frozen=True, slots=True)
class BulkOperation:
    index: int  # position in Operations
    method: str  # upper case; "" when missing or unknown (then ``error`` says so)
    path: str
    bulk_id: str | None
    version: str | None  # the If-Match of the operation
    # The data object as JSON text, parsed when the operation runs: as objects, a thousand
    # operations' documents would be traversed by every garbage collection while the bulk runs
    # (on PostgreSQL a 1,000-create bulk cost more per user than single POSTs).
    data: bytes | None
    refs: frozenset[str]  # the bulkIds its path and data reference
    error: ScimError | None = None  # malformed on its own: it fails alone


@dataclass(frozen=True, slots=True)
class BulkRequest:
    operations: list[BulkOperation]
    fail_on_errors: int | None  # stop after this many errors (None: never)


# -- parsing -----------------------------------------------------------------------------------
def _get(body: dict[str, Any], name: str) -> Any:
    for key, value in body.items():
        if key.casefold() == name:
            return value
    return None


def parse_bulk_request(body: Any, max_operations: int) -> BulkRequest:
    """Validate the envelope (a bad one fails the whole request); an operation that is malformed
    on its own carries its error and fails alone (RFC 7644 §3.7.3: as many changes as possible)."""
    if not isinstance(body, dict):
        raise InvalidSyntax("A bulk request body must be a BulkRequest JSON object.")
    schemas = _get(body, "schemas")
    if schemas is not None and (not isinstance(schemas, list) or BULK_REQUEST not in schemas):
        raise InvalidValue(f"'schemas' of a bulk request must contain {BULK_REQUEST}.")
    operations = _get(body, "operations")
    if not isinstance(operations, list) or not operations:
        raise InvalidValue("'Operations' must be a non-empty array of operations.")
    if len(operations) > max_operations:
        raise TooManyOperations(
            f"The bulk request has {len(operations)} operations; maxOperations is {max_operations}."
        )
    fail_on_errors = _get(body, "failonerrors")
    if fail_on_errors is not None and (
        isinstance(fail_on_errors, bool) or not isinstance(fail_on_errors, int) or fail_on_errors < 1
    ):
        raise InvalidValue(f"'failOnErrors' must be an integer of at least 1; got {fail_on_errors!r}.")
    # Parsing allocates a few objects per operation while the whole body is alive: the collector,
    # left on, traverses the body again and again (12% of a 1,000-create bulk). Nothing awaits here.
    collecting = gc.isenabled()
    gc.disable()
    try:
        parsed = [_operation(raw, i) for i, raw in enumerate(operations)]
    finally:
        if collecting:
            gc.enable()
    return BulkRequest(_unique_bulk_ids(parsed), fail_on_errors)


def _operation(raw: Any, index: int) -> BulkOperation:
    if not isinstance(raw, dict):
        return BulkOperation(
            index, "", "", None, None, None, frozenset(), InvalidSyntax(f"{_at(index)} must be an object.")
        )
    fields: dict[str, Any] = raw if raw.keys() <= _SPELT else {_name(k): v for k, v in raw.items()}
    method, path, bulk_id, version, data = (fields.get(n) for n in _CANONICAL)
    text = orjson.dumps(data) if isinstance(data, dict) else None
    op = BulkOperation(
        index,
        method.upper() if isinstance(method, str) else "",
        path if isinstance(path, str) else "",
        bulk_id if isinstance(bulk_id, str) else None,
        version if isinstance(version, str) else None,
        text,
        _references(path, data, text),
    )
    error = _malformed(op, fields, index)
    return dataclasses.replace(op, error=error) if error else op


def _name(key: Any) -> Any:
    """A member name as the RFC spells it, whatever its case."""
    return _NAMES.get(key.casefold(), key) if isinstance(key, str) else key


def _malformed(op: BulkOperation, fields: dict[str, Any], index: int) -> ScimError | None:
    at = _at(index)
    if op.method not in METHODS:
        return InvalidValue(f"{at}.method must be one of {', '.join(METHODS)}; got {fields.get('method')!r}.")
    if not op.path.startswith("/"):
        return InvalidValue(f"{at}.path must be a resource path such as /Users or /Users/{{id}}.")
    bulk_id = fields.get("bulkId")
    if bulk_id is not None and (not isinstance(bulk_id, str) or not bulk_id or REFERENCE in bulk_id):
        return InvalidValue(f"{at}.bulkId must be a non-empty string without 'bulkId:'.")
    if op.method == "POST" and op.bulk_id is None:
        return InvalidValue(f"{at}: a POST needs a bulkId (RFC 7644 §3.7).")
    if fields.get("version") is not None and op.version is None:
        return InvalidValue(f"{at}.version must be a string (an ETag).")
    if op.method != "DELETE" and op.data is None:
        return InvalidValue(f"{at}: a {op.method} needs a data object.")
    return None


def _unique_bulk_ids(operations: list[BulkOperation]) -> list[BulkOperation]:
    """A bulkId names one POST of the request; a later POST reusing it fails."""
    first: dict[str, int] = {}
    out = []
    for op in operations:
        if op.error is None and op.method == "POST" and op.bulk_id is not None:
            seen = first.setdefault(op.bulk_id, op.index)
            if seen != op.index:
                error = InvalidValue(f"{_at(op.index)}: bulkId {op.bulk_id!r} is already used by {_at(seen)}.")
                op = dataclasses.replace(op, error=error)
        out.append(op)
    return out


def _at(index: int) -> str:
    return f"Operations[{index}]"


def _references(path: Any, data: Any, text: bytes | None) -> frozenset[str]:
    """bulkIds named anywhere a value can reference a resource: any string value of the data that
    is a whole "bulkId:…" (members, an enterprise manager, extension references, PATCH values),
    and an id segment of the path."""
    found: set[str] = set()
    if isinstance(path, str) and REFERENCE in path:
        found.update(s[len(REFERENCE) :] for s in path.split("/") if s.startswith(REFERENCE))
    if text is None or _REFERENCE_JSON not in text:  # nearly every operation: no walk (in C)
        return frozenset(found)
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if value.startswith(REFERENCE):
                found.add(value[len(REFERENCE) :])
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return frozenset(found)


def _substitute(value: Any, ids: dict[str, str]) -> Any:
    """``value`` with every "bulkId:x" string replaced by the id created as x (all known)."""
    if isinstance(value, str):
        return ids[value[len(REFERENCE) :]] if value.startswith(REFERENCE) else value
    if isinstance(value, dict):
        return {k: _substitute(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, ids) for v in value]
    return value


# -- order -------------------------------------------------------------------------------------
def plan(operations: Sequence[BulkOperation]) -> tuple[list[int], set[int]]:
    """The processing order and the operations on a reference cycle.

    Request order, except that an operation comes after the POSTs whose bulkIds it references,
    wherever they are in the request (RFC 7644 §3.7.2). An operation on a cycle of references
    (a group whose member is a group that has it as a member, RFC 7644 §3.7.1) cannot come after
    its own dependency: it is in ``circular`` and is answered 409."""
    defined = {op.bulk_id: op.index for op in operations if op.error is None and op.method == "POST"}
    deps = [[defined[r] for r in sorted(op.refs) if r in defined] for op in operations]
    state = [0] * len(operations)  # 0: not seen, 1: on the path being walked, 2: placed
    order: list[int] = []
    circular: set[int] = set()
    for root in range(len(operations)):
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, iter(deps[root]))]
        while stack:  # depth-first without recursion: a chain of references may be 1,000 long
            node, pending = stack[-1]
            for dep in pending:
                if state[dep] == 0:
                    state[dep] = 1
                    stack.append((dep, iter(deps[dep])))
                    break
                if state[dep] == 1:  # back to an operation on the path: a cycle
                    walked = [n for n, _ in stack]
                    circular.update(walked[walked.index(dep) :])
            else:
                stack.pop()
                state[node] = 2
                order.append(node)
    return order, circular


# -- running -----------------------------------------------------------------------------------
@dataclass(slots=True)
class _Outcome:
    op: BulkOperation
    status: int = 0
    location: str | None = None
    version: int | None = None
    error: ScimError | None = None
    commits: tuple[int, int] = (0, 0)  # its slice of the deferred commits
    events: tuple[int, int] = (0, 0)  # its slice of the held events

    def to_json(self) -> JsonDoc:
        out: JsonDoc = {"method": self.op.method}
        if self.op.bulk_id is not None:
            out["bulkId"] = self.op.bulk_id
        if self.location is not None:
            out["location"] = self.location
        if self.version is not None and self.error is None:
            out["version"] = etag(self.version)
        out["status"] = str(self.status)
        if self.error is not None:
            out["response"] = self.error.to_body()
        return out


class BulkRunner:
    """Runs one BulkRequest for one caller: each operation through ``ResourceService`` as the
    single request it stands for (its own method and path in the audit log)."""

    def __init__(
        self, service: ResourceService, ctx: RequestContext, request: BulkRequest, charge: Charge | None = None
    ) -> None:
        self.service = service
        self.ctx = ctx
        self.request = request
        self.charge = charge
        # The SCIM root as the caller's path shows it: audit paths are those of single requests.
        self.prefix = ctx.path.rsplit("/", 1)[0]
        self.created: dict[str, str] = {}  # bulkId -> id
        self._contexts: dict[tuple[str, str], RequestContext] = {}
        # The caller's resource types: its tenant's declared extensions validate bulk data too.
        self.endpoints = {t.endpoint.strip("/").casefold(): t for t in ctx.registry.resource_types.values()}

    async def run(self) -> JsonDoc:
        order, circular = plan(self.request.operations)
        outcomes: dict[int, _Outcome] = {}
        errors = 0
        limit = self.request.fail_on_errors
        with self.service.deferring() as deferred:
            position = 0
            while position < len(order) and (limit is None or errors < limit):
                run = self._creates_from(order, position, circular)
                if run is not None:  # consecutive creates: one unit of work (bulk_creates)
                    errors += await self._run_creates(run, outcomes, deferred, errors)
                    position += len(run[1])
                else:
                    index = order[position]
                    outcome = outcomes[index] = _Outcome(self.request.operations[index])
                    errors += await self._run_counted(outcome, index in circular, deferred)
                    position += 1
                await asyncio.sleep(0)  # other requests' units run between two of ours
        await self._durable(list(outcomes.values()), deferred.commits, deferred.events)
        reported = [outcomes[i].to_json() for i in sorted(outcomes)]
        return {"schemas": [BULK_RESPONSE], "Operations": reported}

    async def _run_counted(self, outcome: _Outcome, circular: bool, deferred: Deferred, charged: bool = False) -> int:
        """Run one operation as its single request; 1 if it failed."""
        before = (len(deferred.commits), len(deferred.events))
        await self._run(outcome, circular, charged)
        outcome.commits = (before[0], len(deferred.commits))
        outcome.events = (before[1], len(deferred.events))
        return outcome.error is not None

    def _creates_from(
        self, order: list[int], position: int, circular: set[int]
    ) -> tuple[ResourceType, list[int]] | None:
        """The creates that can share a unit of work from ``position`` on: POSTs of one resource
        type without members (a group's members are resolved and locked row by row), each
        referencing only resources created before the run; None when fewer than two."""
        rtype: ResourceType | None = None
        run: list[int] = []
        for index in order[position : position + RUN_SIZE]:
            op = self.request.operations[index]
            if op.error is not None or op.method != "POST" or index in circular:
                break
            if not op.refs <= self.created.keys():
                break
            found = self.endpoints.get(op.path.strip("/").casefold())
            if found is None or members_attribute(found) is not None or (rtype is not None and found is not rtype):
                break
            rtype = found
            run.append(index)
        return (rtype, run) if rtype is not None and len(run) > 1 else None

    async def _run_creates(
        self, run: tuple[ResourceType, list[int]], outcomes: dict[int, _Outcome], deferred: Deferred, errors: int
    ) -> int:
        """Run consecutive creates as one unit of work; the number that failed."""
        rtype, indices = run
        creates: list[Create] = []
        for index in indices:
            op = self.request.operations[index]
            outcomes[index] = _Outcome(op)
            ids = {r: self.created[r] for r in op.refs}
            data = orjson.loads(op.data) if op.data is not None else None
            create = Create(self._context(op.method, op.path), _substitute(data, ids) if ids else data)
            if self.charge is not None:
                create.error = await self.charge()
            creates.append(create)
        limit = self.request.fail_on_errors
        left = None if limit is None else limit - errors
        before = (len(deferred.commits), len(deferred.events))
        try:
            done = await create_run(self.service, rtype, creates, left)
        except Fallback as exc:
            log.log(
                logging.INFO if exc.expected else logging.WARNING,
                "bulk: a run of %d creates is run one by one: %s",
                len(creates),
                exc,
            )
            return await self._one_by_one(indices, creates, outcomes, deferred, errors)
        failed = 0
        for index, create in zip(indices[:done], creates, strict=False):
            outcome = outcomes[index]
            outcome.commits = (before[0], len(deferred.commits))
            if create.stored is None:
                assert create.error is not None
                outcome.status, outcome.error = create.error.status, create.error
                failed += 1
                continue
            assert outcome.op.bulk_id is not None
            self.created[outcome.op.bulk_id] = create.stored.id
            outcome.status, outcome.version = 201, create.stored.version
            outcome.location = location(self.ctx.base_url, rtype, create.stored.id)
            first = len(deferred.events)
            await self.service._committed(create.events)
            outcome.events = (first, len(deferred.events))
        for index in indices[done:]:  # failOnErrors stopped the run before them
            del outcomes[index]
        return failed

    async def _one_by_one(
        self, indices: list[int], creates: list[Create], outcomes: dict[int, _Outcome], deferred: Deferred, errors: int
    ) -> int:
        """The run's creates as single requests (already charged against the rate limits)."""
        limit = self.request.fail_on_errors
        failed = 0
        for position, (index, create) in enumerate(zip(indices, creates, strict=True)):
            if limit is not None and errors + failed >= limit:
                for rest in indices[position:]:
                    del outcomes[rest]
                break
            outcome = outcomes[index]
            if create.error is not None and not create.audited:  # refused by the rate limit
                outcome.status, outcome.error = create.error.status, create.error
                failed += 1
                continue
            failed += await self._run_counted(outcome, False, deferred, charged=True)
        return failed

    async def _run(self, outcome: _Outcome, circular: bool, charged: bool = False) -> None:
        op = outcome.op
        try:
            if op.error is not None:
                raise op.error
            if circular:
                raise Conflict(
                    f"{_at(op.index)} is on a cycle of bulkId references; send it without the reference "
                    "and add the reference with a later operation (RFC 7644 §3.7.1)."
                )
            self._check_references(op)
            ids = {r: self.created[r] for r in op.refs}
            path = "/".join(_substitute(segment, ids) for segment in op.path.split("/"))
            rtype, id = self._target(op, path)
            outcome.location = location(self.ctx.base_url, rtype, id) if id else None
            if not charged and self.charge is not None and (refused := await self.charge()) is not None:
                raise refused
            ctx = self._context(op.method, path)
            data = None if op.data is None else orjson.loads(op.data)
            await self._call(outcome, ctx, rtype, id, _substitute(data, ids) if ids else data)
        except ScimError as exc:
            outcome.status, outcome.error = exc.status, exc
        except Exception as exc:  # one operation's failure is its own; the others go on
            log.exception("bulk operation %s failed", _at(op.index), exc_info=exc)
            outcome.status, outcome.error = 500, InternalError()

    def _context(self, method: str, path: str) -> RequestContext:
        """The operation's context: the single request's method and path (for its audit entry)."""
        key = (method, path)
        ctx = self._contexts.get(key)
        if ctx is None:  # POST /Users again and again: one context
            ctx = self._contexts[key] = dataclasses.replace(self.ctx, method=method, path=self.prefix + path)
        return ctx

    def _check_references(self, op: BulkOperation) -> None:
        for ref in sorted(op.refs):
            if ref in self.created:
                continue
            if any(o.bulk_id == ref and o.method == "POST" for o in self.request.operations):
                raise Conflict(f"{_at(op.index)} references bulkId {ref!r}, whose POST failed.")
            raise InvalidValue(f"{_at(op.index)} references bulkId {ref!r}, which no POST of this request creates.")

    def _target(self, op: BulkOperation, path: str) -> tuple[ResourceType, str | None]:
        """The resource type (and id) ``path`` names: /Users for a POST, /Users/{id} otherwise."""
        parts = path.strip("/").split("/")
        rtype = self.endpoints.get(parts[0].casefold())
        wanted = 1 if op.method == "POST" else 2
        if rtype is None or len(parts) != wanted or not all(parts):
            shape = "/{endpoint}" if op.method == "POST" else "/{endpoint}/{id}"
            raise InvalidValue(f"{_at(op.index)}.path {op.path!r} is not a {op.method} path ({shape}).")
        return rtype, parts[1] if wanted == 2 else None

    async def _call(
        self, outcome: _Outcome, ctx: RequestContext, rtype: ResourceType, id: str | None, data: Any
    ) -> None:
        op, service = outcome.op, self.service
        result: ResourceResult | None = None
        if op.method == "POST":
            result = await service.create(ctx, rtype, data, None)
            outcome.status = 201
            assert op.bulk_id is not None
            self.created[op.bulk_id] = result.location.rsplit("/", 1)[1]
        elif op.method == "PUT":
            assert id is not None
            result = await service.replace(ctx, rtype, id, data, None, op.version)
            outcome.status = 200
        elif op.method == "PATCH":
            assert id is not None
            result = await service.patch(ctx, rtype, id, data, None, op.version)
            outcome.status = result.status
        else:
            assert id is not None
            await service.delete(ctx, rtype, id, op.version)
            outcome.status = 204
        if result is not None:
            outcome.location, outcome.version = result.location, result.version

    async def _durable(
        self, outcomes: list[_Outcome], commits: Sequence[Awaitable[None]], events: list[list[Event]]
    ) -> None:
        """Wait until every reported operation is durable; one whose commit failed is reported as
        failed. Then, in processing order, what single requests do after their commit."""
        results = await asyncio.gather(*commits, return_exceptions=True)
        durable: list[Event] = []
        for outcome in outcomes:
            start, end = outcome.commits
            if any(isinstance(r, BaseException) for r in results[start:end]) and outcome.error is None:
                log.error("bulk operation %s was not committed: %s", _at(outcome.op.index), results[start:end])
                outcome.status, outcome.error, outcome.version = 500, InternalError(), None
                if outcome.op.method == "POST":
                    outcome.location = None
                continue
            for batch in events[outcome.events[0] : outcome.events[1]]:
                durable += batch
        # One announcement for all: it wakes the delivery workers and runs the in-process hooks,
        # which read the tenant's outbox from their offsets (each write's events alike, in order).
        await self.service.committed(durable)
