"""Time the IdP setup page, its connection-check poll and an unknown link, next to a SCIM read.

    python -m bench.setup_page

In process (httpx2's ASGI transport, no sockets), on a temporary SQLite database with 200 users
provisioned over SCIM; 300 requests each, medians and p90 in milliseconds.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from datetime import UTC
from datetime import datetime

import httpx2

from scimhub.app import create_app
from scimhub.protocol import tenants
from scimhub.protocol.setup_links import SetupLinks
from scimhub.settings import Settings
from scimhub.store.factory import open_store

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ROUNDS = 300


async def _time(client: httpx2.AsyncClient, path: str, headers: dict[str, str] | None) -> tuple[int, list[float]]:
    times = []
    status = 0
    for _ in range(ROUNDS):
        start = time.perf_counter()
        status = (await client.get(path, headers=headers)).status_code
        times.append((time.perf_counter() - start) * 1000)
    return status, sorted(times)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite:///{tmp}/bench.db", rate_limit="")
        store = open_store(settings)
        await store.db.upgrade()
        app = create_app(settings, store=store)
        async with app.router.lifespan_context(app):
            tenant = await tenants.create_tenant(store, "acme")
            _record, secret = await tenants.issue_token(store, tenant, None)
            _link, link = await SetupLinks(store).create(tenant, now=datetime.now(UTC))
            scim = {"Authorization": f"Bearer {secret}", "User-Agent": "Okta SCIM Client 1.0.0"}
            transport = httpx2.ASGITransport(app=app)
            async with httpx2.AsyncClient(transport=transport, base_url="http://bench") as client:
                for i in range(200):
                    await client.post("/scim/v2/Users", json={"schemas": [USER], "userName": f"u{i}"}, headers=scim)
                cases = (
                    ("setup page", f"/setup/{link}?idp=okta", None),
                    ("connection check (status)", f"/setup/{link}/status", None),
                    ("unknown link", "/setup/" + "A" * 43, None),
                    ("SCIM GET /Users?count=1", "/scim/v2/Users?count=1", scim),
                )
                for name, path, headers in cases:
                    status, times = await _time(client, path, headers)
                    median, p90 = statistics.median(times), times[int(ROUNDS * 0.9)]
                    print(f"{name:28s} {status}  median {median:.2f} ms  p90 {p90:.2f} ms")


if __name__ == "__main__":
    asyncio.run(main())
