"""The IdP-shaped scenarios a-f, each run with the same request mix against scimhub and the floor.

A scenario is a list of measured rows; each row is one block of requests between two
readings of the server's CPU time and memory (scenario g is those readings).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import quote

import orjson

from bench import payloads
from bench.client import Client
from bench.client import Connection
from bench.client import Limits
from bench.client import Recorder
from bench.client import Reply
from bench.client import Req
from bench.client import RoundRobin
from bench.client import Validator
from bench.client import call
from bench.client import run_batch
from bench.procstat import PostgresCpu
from bench.procstat import PostgresSnapshot
from bench.procstat import machine_busy_seconds
from bench.procstat import own_cpu_seconds
from bench.procstat import postgres_cpu_between
from bench.procstat import postgres_snapshot
from bench.servers import HOST
from bench.servers import Server

PAGE = 100  # count of an import-walk page
BATCH = 100  # members per group-fill PATCH
EXCLUDE_MEMBERS = "?excludedAttributes=members"
# scimhub answers a Group PATCH 204 without attributes (RFC 7644 §3.5.2); the other servers 200.
GROUP_PATCH_OK = (200, 204)


@dataclass(frozen=True, slots=True)
class Plan:
    """Sizes and bounds of one run at ``size`` users."""

    size: int
    a_http: int  # users created over HTTP in scenario a (the rest are seeded directly)
    a_concurrency: int = 8
    concurrency: int = 1  # connections of the b, d, e-list and f rows (independent requests)
    lookups: int = 1000  # existence checks, each for existing and for missing users
    deprovision: int = 1000  # users deactivated, each IdP style
    singles: int = 100  # one-member adds (and as many removes) per group
    list_requests: int = 500  # GET /Groups?excludedAttributes=members
    big_gets: int = 10  # GET of the big group
    updates: int = 1000  # PUTs, and as many DELETEs
    row_seconds: float = 180.0  # time bound of one row
    walk_seconds: float = 300.0  # time bound of the cursor walk
    index_walk_seconds: float = 300.0  # time bound of the startIndex walk (OFFSET: quadratic in N)
    fill_seconds: float = 600.0  # time bound of the big group's fill
    part: tuple[int, int] = (0, 1)  # (round, rounds): this round's share of an interleaved row's requests

    def share(self, items: list[Any]) -> list[Any]:
        """This round's contiguous share of a row's requests (all of them without rounds)."""
        turn, rounds = self.part
        return items[len(items) * turn // rounds : len(items) * (turn + 1) // rounds]

    @property
    def per_style(self) -> int:
        """Users per d/f block; d uses [100, 100+2k), f uses [size-2k, size): they never overlap."""
        return max(0, min(self.deprovision, self.updates, (self.size - 100) // 4))


@dataclass
class World:
    """One server under test and what the harness knows of its data."""

    server: Server
    token: str
    user_ids: list[str]  # id of user i (payloads.user_name(i)); "" while unknown
    groups: dict[str, str] = field(default_factory=dict)
    # the database server's processes (PostgreSQL on this machine), or None (SQLite: in-process)
    database: DatabaseProbe | None = None

    def connect(self) -> Client:
        """A client of the server: with several processes, requests go to each in turn."""
        conns = [Connection(HOST, port, self.token) for port in self.server.ports]
        return conns[0] if len(conns) == 1 else RoundRobin(conns)


@dataclass(frozen=True, slots=True)
class DatabaseProbe:
    """CPU of the PostgreSQL server's processes for one database, between two snapshots."""

    name: str

    def snapshot(self) -> PostgresSnapshot:
        return postgres_snapshot(self.name)

    def between(self, before: PostgresSnapshot, after: PostgresSnapshot) -> PostgresCpu:
        return postgres_cpu_between(before, after)


@dataclass
class Row:
    scenario: str
    row: str
    label: str
    server: str
    requests: int
    wall_s: float
    p50_ms: float | None
    p99_ms: float | None
    cpu_s: float
    hwm_kb: int
    rss_kb: int
    statuses: dict[str, int]
    unexpected: int
    first_error: str | None
    stopped: str | None
    extra: dict[str, Any] = field(default_factory=dict)
    db_cpu_s: float | None = None  # the database server's CPU time (PostgreSQL), None if in-process
    db_other_cpu_s: float | None = None  # the database server's CPU time for other clients
    latencies: list[float] = field(default_factory=list)  # seconds, each request's (not in the JSON)

    @property
    def db_cpu_us(self) -> float | None:
        return self.db_cpu_s / self.requests * 1e6 if self.requests and self.db_cpu_s is not None else None

    @property
    def total_cpu_us(self) -> float | None:
        """Server plus database server CPU per request."""
        return (self.cpu_s + (self.db_cpu_s or 0.0)) / self.requests * 1e6 if self.requests else None

    @property
    def rps(self) -> float | None:
        return self.requests / self.wall_s if self.wall_s > 0 and self.requests else None

    @property
    def cpu_us(self) -> float | None:
        return self.cpu_s / self.requests * 1e6 if self.requests else None

    def to_json(self) -> dict[str, Any]:
        data = dict(vars(self))
        del data["latencies"]
        data.update(rps=self.rps, cpu_us_per_request=self.cpu_us)
        data.update(db_cpu_us_per_request=self.db_cpu_us, total_cpu_us_per_request=self.total_cpu_us)
        data["requests_per_cpu_second"] = self.requests / self.cpu_s if self.cpu_s > 0 else None
        return data


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile, in milliseconds."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))] * 1000


def _median_ms(values: list[float]) -> float | None:
    return statistics.median(values) * 1000 if values else None


async def measure(
    world: World,
    scenario: str,
    row: str,
    label: str,
    limits: Limits,
    body: Callable[[Recorder], Awaitable[Any]],
    validate: Validator | None = None,
) -> Row:
    """Run ``body`` between two readings of the server's (and database server's) CPU time; memory after."""
    rec = Recorder(limits, validate=validate)
    db_before = world.database.snapshot() if world.database else None
    busy_before, client_before = machine_busy_seconds(), own_cpu_seconds()
    cpu_before = await world.server.settled_cpu_seconds()
    extra = await body(rec)
    rec.finish()
    cpu = await world.server.settled_cpu_seconds() - cpu_before  # with the background work it set off
    db = world.database.between(db_before, world.database.snapshot()) if world.database and db_before else None
    busy, client = machine_busy_seconds() - busy_before, own_cpu_seconds() - client_before
    mem = world.server.memory()
    extra = extra if isinstance(extra, dict) else {}
    # What else ran on the machine meanwhile (other users' processes; ticks make it ±0.02 s):
    extra["other_cpu_s"] = round(busy - cpu - client - (db.mine if db else 0.0), 3)
    return Row(
        scenario,
        row,
        label,
        world.server.name,
        len(rec.latencies),
        rec.wall,
        percentile(rec.latencies, 0.50),
        percentile(rec.latencies, 0.99),
        cpu,
        mem.hwm_kb,
        mem.rss_kb,
        {str(k): v for k, v in sorted(rec.statuses.items())},
        rec.unexpected,
        rec.first_error,
        rec.stopped if rec.stopped == "time" else None,
        extra,
        db.mine if db else None,
        db.others if db else None,
        rec.latencies,
    )


def merge(rounds: list[Row]) -> Row:
    """One row of an interleaved scenario from its rounds: requests, time and CPU summed,
    percentiles over every request of every round, memory as after the last round."""
    last = rounds[-1]
    latencies = [t for r in rounds for t in r.latencies]
    statuses: dict[str, int] = {}
    for r in rounds:
        for status, n in r.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
    extra = dict(last.extra)
    extra["other_cpu_s"] = round(sum(float(r.extra.get("other_cpu_s", 0.0)) for r in rounds), 3)
    extra["rounds"] = len(rounds)
    db = [r.db_cpu_s for r in rounds]
    db_other = [r.db_other_cpu_s for r in rounds]
    return Row(
        last.scenario,
        last.row,
        last.label,
        last.server,
        sum(r.requests for r in rounds),
        sum(r.wall_s for r in rounds),
        percentile(latencies, 0.50),
        percentile(latencies, 0.99),
        sum(r.cpu_s for r in rounds),
        max(r.hwm_kb for r in rounds),
        last.rss_kb,
        dict(sorted(statuses.items())),
        sum(r.unexpected for r in rounds),
        next((r.first_error for r in rounds if r.first_error), None),
        next((r.stopped for r in rounds if r.stopped), None),
        extra,
        None if None in db else sum(x for x in db if x is not None),
        None if None in db_other else sum(x for x in db_other if x is not None),
        latencies,
    )


async def batch_row(
    world: World,
    plan: Plan,
    ident: tuple[str, str, str],
    requests: list[Req],
    concurrency: int = 1,
    validate: Validator | None = None,
) -> Row:
    scenario, row, label = ident
    requests = plan.share(requests)
    limits = Limits(len(requests), plan.row_seconds / plan.part[1])

    async def body(rec: Recorder) -> None:
        await run_batch(world.connect, requests, rec, concurrency)

    return await measure(world, scenario, row, label, limits, body, validate)


def _concurrency(plan: Plan) -> str:
    return f", concurrency {plan.concurrency}" if plan.concurrency > 1 else ""


def _dumps(doc: Any) -> bytes:
    return orjson.dumps(doc)


# -- a: initial sync ------------------------------------------------------------------------
def create_requests(users: list[int]) -> Iterator[Req]:
    return (Req("POST", "/Users", _dumps(payloads.create_user(i)), (201,), i) for i in users)


def _keep_id(world: World) -> Callable[[Req, Reply], None]:
    def keep(req: Req, reply: Reply) -> None:
        if reply.status == 201:
            world.user_ids[req.key] = orjson.loads(reply.body)["id"]

    return keep


async def initial_sync(plan: Plan, world: World) -> list[Row]:
    users = plan.share(list(range(plan.size - plan.a_http, plan.size)))
    limits = Limits(len(users), max(plan.row_seconds, 1800.0))

    async def body(rec: Recorder) -> None:
        await run_batch(world.connect, create_requests(users), rec, plan.a_concurrency, _keep_id(world))

    label = f"POST /Users, Okta+Entra shapes, concurrency {plan.a_concurrency}"
    return [await measure(world, "a", "a.post", label, limits, body)]


# -- b: existence checks --------------------------------------------------------------------
def _expect_total(expected: int) -> Validator:
    marker = f'"totalResults":{expected},'.encode()

    def check(req: Req, reply: Reply) -> str | None:
        return None if marker in reply.body else f"expected totalResults {expected}"

    return check


async def existence_checks(plan: Plan, world: World) -> list[Row]:
    picked = random.Random(plan.size).sample(range(plan.size), min(plan.lookups, plan.size))
    hits = [Req("GET", payloads.filter_eq_path(payloads.user_name(i))) for i in picked]
    misses = [Req("GET", payloads.filter_eq_path(payloads.missing_user_name(i))) for i in range(plan.lookups)]
    label = 'GET /Users?filter=userName eq "…"' + _concurrency(plan)
    c = plan.concurrency
    return [
        await batch_row(world, plan, ("b", "b.hit", f"{label} (existing)"), hits, c, _expect_total(1)),
        await batch_row(world, plan, ("b", "b.miss", f"{label} (missing)"), misses, c, _expect_total(0)),
    ]


# -- c: import walk -------------------------------------------------------------------------
def _walk_extra(rec: Recorder, complete: bool) -> dict[str, Any]:
    head, tail = rec.latencies[:10], rec.latencies[-10:]
    first, last = _median_ms(head), _median_ms(tail)
    return {
        "pages": len(rec.latencies),
        "complete": complete,
        "first_pages_p50_ms": first,
        "last_pages_p50_ms": last,
        "last_over_first": last / first if first and last else None,
    }


async def _walk(world: World, rec: Recorder, first_path: str, next_path: Callable[[dict[str, Any]], str | None]) -> Any:
    conn = world.connect()
    await conn.open()
    rec.started = time.perf_counter()
    path: str | None = first_path
    complete = False
    try:
        while path is not None and not rec.over():
            reply = await call(conn, rec, Req("GET", path))
            if reply.status != 200:
                break
            path = next_path(orjson.loads(reply.body))
            complete = path is None
    finally:
        await conn.close()
    return _walk_extra(rec, complete)


def _next_index(page: dict[str, Any]) -> str | None:
    following = page["startIndex"] + page["itemsPerPage"]
    if page["itemsPerPage"] == 0 or following > page["totalResults"]:
        return None
    return f"/Users?startIndex={following}&count={PAGE}"


def _next_cursor(page: dict[str, Any]) -> str | None:
    cursor = page.get("nextCursor")
    return None if not cursor else f"/Users?count={PAGE}&cursor={quote(cursor, safe='')}"


async def import_walk(plan: Plan, world: World) -> list[Row]:
    rows = []
    for row, label, first, follow, seconds in (
        (
            "c.index",
            f"GET /Users?startIndex=…&count={PAGE}, every page",
            f"/Users?startIndex=1&count={PAGE}",
            _next_index,
            plan.index_walk_seconds,
        ),
        (
            "c.cursor",
            f"GET /Users?count={PAGE}&cursor=…, every page",
            f"/Users?count={PAGE}&cursor=",
            _next_cursor,
            plan.walk_seconds,
        ),
    ):

        async def body(rec: Recorder, first: str = first, follow: Callable[..., str | None] = follow) -> Any:
            return await _walk(world, rec, first, follow)

        rows.append(await measure(world, "c", row, label, Limits(plan.size // PAGE + 2, seconds), body))
    return rows


# -- d: deprovisioning ----------------------------------------------------------------------
async def deprovisioning(plan: Plan, world: World) -> list[Row]:
    k = plan.per_style
    styles = (("d.entra", "Entra", payloads.entra_deactivate()), ("d.okta", "Okta", payloads.okta_deactivate()))
    rows = []
    for n, (row, who, doc) in enumerate(styles):
        body = _dumps(doc)
        users = world.user_ids[100 + n * k : 100 + (n + 1) * k]
        requests = [Req("PATCH", f"/Users/{uid}", body) for uid in users]
        label = f"PATCH /Users/{{id}} active=false, {who} style{_concurrency(plan)}"
        rows.append(await batch_row(world, plan, ("d", row, label), requests, plan.concurrency))
    return rows


# -- e: groups --------------------------------------------------------------------------------
async def _create_group(world: World, role: str, n: int) -> str:
    conn = world.connect()
    try:
        reply = await conn.request("POST", "/Groups", _dumps(payloads.entra_group_create(f"bench {role} group", n)))
    finally:
        await conn.close()
    if reply.status != 201:
        raise RuntimeError(f"POST /Groups on {world.server.name}: {reply.status} {reply.body[:300]!r}")
    gid: str = orjson.loads(reply.body)["id"]
    world.groups[role] = gid
    return gid


def _fill_requests(gid: str, ids: list[str], query: str = "") -> list[Req]:
    return [
        Req("PATCH", f"/Groups/{gid}{query}", _dumps(payloads.entra_add_members(ids[i : i + BATCH])), ok=GROUP_PATCH_OK)
        for i in range(0, len(ids), BATCH)
    ]


async def _fill(world: World, plan: Plan, gid: str, ids: list[str]) -> Row:
    requests = _fill_requests(gid, ids)
    limits = Limits(len(requests), plan.fill_seconds)

    async def body(rec: Recorder) -> Any:
        await run_batch(world.connect, requests, rec)
        return {"members": min(len(ids), len(rec.latencies) * BATCH)}

    label = f"PATCH /Groups/{{id}} add {BATCH} members (Entra), fill to {len(ids):,}"
    return await measure(world, "e", "e.fill", label, limits, body)


def _single_requests(gid: str, ids: list[str], kind: str, query: str) -> list[Req]:
    path = f"/Groups/{gid}{query}"
    if kind == "add":
        return [Req("PATCH", path, _dumps(payloads.entra_add_members([uid])), ok=GROUP_PATCH_OK) for uid in ids]
    return [Req("PATCH", path, _dumps(payloads.okta_remove_member(uid)), ok=GROUP_PATCH_OK) for uid in ids]


async def _singles(world: World, plan: Plan, role: str, size: int, order: tuple[str, str]) -> list[Row]:
    """One-member changes on a group: remove then re-add members (big), or add then remove (small)."""
    gid = world.groups[role]
    ids = world.user_ids[:size] if role == "big" else world.user_ids[100 : 100 + plan.singles]
    ids = ids[: plan.singles]
    rows = []
    for query, suffix in (("", ""), (EXCLUDE_MEMBERS, "+excl")):
        for kind in order:
            style = "Entra add" if kind == "add" else "Okta remove"
            label = f"PATCH {size:,}-member group: {style} 1 member{' ?excludedAttributes=members' if query else ''}"
            requests = _single_requests(gid, ids, kind, query)
            rows.append(await batch_row(world, plan, ("e", f"e.{kind}1.{role}{suffix}", label), requests))
    return rows


async def groups(plan: Plan, world: World) -> list[Row]:
    size = len([i for i in world.user_ids if i])
    big, small = await _create_group(world, "big", 1), await _create_group(world, "small", 2)
    small_fill = _fill_requests(small, world.user_ids[:100])
    await run_batch(world.connect, small_fill, Recorder(Limits(len(small_fill), plan.row_seconds)))
    fill = await _fill(world, plan, big, [i for i in world.user_ids if i][:size])
    members = int(fill.extra["members"])
    rows = [fill]
    rows += await _singles(world, plan, "big", members, ("remove", "add"))
    rows += await _singles(world, plan, "small", 100, ("add", "remove"))
    listing = [Req("GET", f"/Groups{EXCLUDE_MEMBERS}")] * plan.list_requests
    label = f"GET /Groups?excludedAttributes=members (with a {members:,}-member group){_concurrency(plan)}"
    rows.append(await batch_row(world, plan, ("e", "e.list", label), listing, plan.concurrency))
    gets = [Req("GET", f"/Groups/{big}")] * plan.big_gets
    rows.append(
        await batch_row(world, plan, ("e", "e.get_big", f"GET /Groups/{{id}} of the {members:,}-member group"), gets)
    )
    return rows


# -- f: PUT and DELETE ----------------------------------------------------------------------
async def put_and_delete(plan: Plan, world: World) -> list[Row]:
    k = plan.per_style
    put_range = range(plan.size - 2 * k, plan.size - k)
    puts = [
        Req("PUT", f"/Users/{world.user_ids[i]}", _dumps(payloads.okta_put(i, world.user_ids[i]))) for i in put_range
    ]
    deletes = [Req("DELETE", f"/Users/{world.user_ids[i]}", None, (204,)) for i in range(plan.size - k, plan.size)]
    c, suffix = plan.concurrency, _concurrency(plan)
    return [
        await batch_row(world, plan, ("f", "f.put", f"PUT /Users/{{id}} (Okta profile update){suffix}"), puts, c),
        await batch_row(world, plan, ("f", "f.delete", f"DELETE /Users/{{id}}{suffix}"), deletes, c),
    ]


# Scenarios whose rows split into rounds (a share of the users or requests each): c walks the
# directory page by page and e builds its groups once, so they run whole.
INTERLEAVED = "abdf"

SCENARIOS: dict[str, Callable[[Plan, World], Awaitable[list[Row]]]] = {
    "a": initial_sync,
    "b": existence_checks,
    "c": import_walk,
    "d": deprovisioning,
    "e": groups,
    "f": put_and_delete,
}
