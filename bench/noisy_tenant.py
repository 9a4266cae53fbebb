"""How long one tenant's hostile requests make another tenant wait (issue 22, item 2).

Usage: python -m bench.noisy_tenant [--db postgresql] [--postgres-url URL] [--rounds 3] [--probe write] [--only TEXT]
       [--collector]

``evil`` sends, one at a time, the worst requests the default limits allow on multi-valued
attributes and resource size, then 1,000 creates as one bulk request and as single POSTs on 8
connections, while ``acme`` reads a user every 5 ms (``--probe write``: renames it, so that it
also waits for the writer and its commit). Each line gives the hostile request's answer and time
(the longest of ``--rounds`` runs), and acme's waits while it ran (a request's time, or its pause
overrun because the event loop was held): the worst, p50 and p99 over all rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bench import postgres
from bench.asgi_hotpath import Caller
from scimhub.app import create_app
from scimhub.collector import tune_for_serving
from scimhub.limits import DEFAULT_LIMITS
from scimhub.protocol import tenants
from scimhub.settings import Settings
from scimhub.store.factory import open_store

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
CAP = DEFAULT_LIMITS.max_values_per_attribute
UNFOLDED = "e\u0301" * 32_000  # 64,000 characters not in NFC: the slowest string to fold


class Answering(Caller):
    """A Caller that also keeps the response body (to read a created id)."""

    async def answer(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        chunks: list[bytes] = []
        app = self.app

        async def capture(scope: Any, receive: Any, send: Any) -> None:
            async def keep(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.body":
                    chunks.append(message.get("body", b""))
                await send(message)

            await app(scope, receive, keep)

        self.app = capture
        try:
            status = await self(method, path, body=body)
        finally:
            self.app = app
        return status, b"".join(chunks)


def user(name: str, **attrs: Any) -> bytes:
    return orjson.dumps({"schemas": [USER], "userName": name, **attrs})


def patch(*operations: dict[str, Any]) -> bytes:
    return orjson.dumps({"schemas": [PATCH_OP], "Operations": list(operations)})


def emails(count: int, value: str = "") -> list[dict[str, str]]:
    return [{"value": f"e{i}@evil.example{value}", "type": "work"} for i in range(count)]


Hostile = Callable[[], Awaitable[tuple[int, bytes]]]


async def acme_worst_wait(
    acme: Caller, user_id: str, hostile: Awaitable[tuple[int, bytes]], probe: str = "read"
) -> tuple[int, float, list[float]]:
    """The hostile request's status and time, and acme's waits while it ran (acme reads its
    user, or with ``probe`` "write" renames it: a write also waits for the writer)."""
    stop = asyncio.Event()
    waits: list[float] = []
    titles = iter(range(1_000_000_000))

    async def poll() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            if probe == "write":
                body = patch({"op": "replace", "path": "title", "value": f"t{next(titles)}"})
                assert await acme("PATCH", f"/scim/v2/Users/{user_id}", body=body) in (200, 204)
            else:
                assert await acme("GET", f"/scim/v2/Users/{user_id}") == 200
            await asyncio.sleep(0.005)
            waits.append(time.perf_counter() - started - 0.005)

    poller = asyncio.create_task(poll())
    await asyncio.sleep(0.02)
    started = time.perf_counter()
    status, _ = await hostile
    elapsed = time.perf_counter() - started
    stop.set()
    await poller
    return status, elapsed, waits


async def scenarios(evil: Answering, round_: int) -> list[tuple[str, Hostile]]:
    """(label, a fresh hostile request) pairs; the users they need are created here."""

    async def created(body: bytes) -> str:
        status, answer = await evil.answer("POST", "/scim/v2/Users", body)
        assert status == 201, answer[:300]
        return str(orjson.loads(answer)["id"])

    def post(body: Callable[[], bytes]) -> Hostile:
        return lambda: evil.answer("POST", "/scim/v2/Users", body())

    def patch_of(user_id: str, *operations: dict[str, Any]) -> Hostile:
        body = patch(*operations)
        return lambda: evil.answer("PATCH", f"/scim/v2/Users/{user_id}", body)

    full = await created(user(f"full{round_}", emails=emails(CAP)))
    long_six = await created(user(f"long{round_}", emails=emails(6, UNFOLDED)))
    small = await created(user(f"small{round_}"))
    n = iter(range(round_ * 1000, (round_ + 1) * 1000))
    paths = [f'emails[value eq "e{i}@evil.example"].type' for i in range(1000)]
    retype = [{"op": "replace", "path": path, "value": "x"} for path in paths]
    two_comparisons = 'emails[value co "zzz" or type eq "work"].display'
    long_ten = emails(10, UNFOLDED)
    grow = {"phoneNumbers": [{"value": f"{i}-{UNFOLDED[:20_000]}", "type": "work"} for i in range(30)]}
    return [
        ("POST 30,000 emails (750 KB)", post(lambda: user("e30k", emails=emails(30_000)))),
        ("POST 4 MB of {} (depth check)", post(lambda: user("d", title=[{}] * 1_300_000))),
        ("POST 1,000 emails (the cap)", post(lambda: user(f"c{next(n)}", emails=emails(CAP)))),
        ("POST 10 emails of 64,000 chars not in NFC (~1 MB)", post(lambda: user(f"l{next(n)}", emails=long_ten))),
        ("PATCH add 1 email to 1,000", patch_of(full, {"op": "add", "path": "emails", "value": [{"value": "x"}]})),
        (
            "PATCH re-add 1,000 + 7 filters over 1,000",
            patch_of(full, {"op": "add", "path": "emails", "value": emails(CAP)}, *retype[:7]),
        ),
        ("PATCH 1,000 filters over 1,000", patch_of(full, *retype)),
        (
            "PATCH 1 filter over 6 values of 64,000 chars",
            patch_of(long_six, {"op": "replace", "path": two_comparisons, "value": "x"}),
        ),
        ("PATCH add 0.9 MB of phone numbers to a small user", patch_of(small, {"op": "add", "value": grow})),
        ("POST /Bulk of 1,000 creates", bulk_of(evil, [f"b{round_}-{i}" for i in range(1000)])),
        ("1,000 single POSTs, 8 at a time", singles_of(evil, [f"s{round_}-{i}" for i in range(1000)])),
    ]


def singles_of(evil: Answering, names: list[str]) -> Hostile:
    """The same creates as single requests on 8 connections (as an IdP's initial sync sends them)."""

    async def send() -> tuple[int, bytes]:
        bodies = iter([user(name) for name in names])

        async def connection() -> None:
            for body in bodies:
                assert await evil("POST", "/scim/v2/Users", body=body) == 201

        await asyncio.gather(*(connection() for _ in range(8)))
        return 201, b""

    return send


def bulk_of(evil: Answering, names: list[str]) -> Hostile:
    operations = [
        {"method": "POST", "path": "/Users", "bulkId": name, "data": orjson.loads(user(name))} for name in names
    ]
    body = orjson.dumps({"schemas": [BULK_REQUEST], "Operations": operations})
    return lambda: evil.answer("POST", "/scim/v2/Bulk", body)


async def measure(url: str, rounds: int, probe: str, only: str = "", collector: bool = False) -> None:
    settings = Settings(database_url=url, rate_limit="", log_level="WARNING", bulk_max_operations=1000)
    store = open_store(settings)
    await store.db.upgrade()
    callers = []
    for name in ("acme", "evil"):
        tenant = await tenants.create_tenant(store, name)
        _, token = await tenants.issue_token(store, tenant, None)
        callers.append(token)
    app = create_app(settings, store=store)
    if collector:
        tune_for_serving()  # as ``scimhub serve`` does: no full collection of a big heap mid-request
    acme, evil = Answering(app, callers[0]), Answering(app, callers[1])
    async with app.router.lifespan_context(app):
        _, answer = await acme.answer("POST", "/scim/v2/Users", user("bjensen"))
        acme_user = str(orjson.loads(answer)["id"])
        worst: dict[str, tuple[int, float, list[float]]] = {}
        for round_ in range(rounds):
            for label, hostile in await scenarios(evil, round_):
                if only not in label:
                    continue
                status, elapsed, waits = await acme_worst_wait(acme, acme_user, hostile(), probe)
                previous = worst.get(label, (status, 0.0, []))
                worst[label] = (status, max(previous[1], elapsed), previous[2] + waits)
        for label, (status, elapsed, waits) in worst.items():
            ordered = sorted(waits)
            p50, p99 = ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, len(ordered) * 99 // 100)]
            print(
                f"{label:52} {status}  {elapsed * 1000:6.0f} ms   acme waited {ordered[-1] * 1000:5.0f} ms"
                f" (p50 {p50 * 1000:.1f}, p99 {p99 * 1000:.1f} ms, {len(ordered)} {probe}s)"
            )


async def run(args: argparse.Namespace) -> None:
    if args.db == "postgresql":
        url = await postgres.create_database(args.postgres_url, "scimhub_noisy")
        try:
            await measure(url, args.rounds, args.probe, args.only, args.collector)
        finally:
            await postgres.drop_database(args.postgres_url, url)
    else:
        await measure(
            f"sqlite:///{Path(tempfile.mkdtemp()) / 'noisy.db'}", args.rounds, args.probe, args.only, args.collector
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-url", default=postgres.DEFAULT_SERVER)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--probe", choices=("read", "write"), default="read", help="acme reads or renames its user")
    parser.add_argument("--only", default="", help="run only the hostile requests whose label contains this")
    parser.add_argument("--collector", action="store_true", help="set the garbage collector as scimhub serve does")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
