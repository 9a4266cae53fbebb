"""Console page latency on a large tenant: every directory page is one cursor page, whatever
the tenant's size.

Runs the real app in-process (httpx2 ASGI transport: sessions, CSRF, search, templates; no
network) on an existing database, signs in to the console and times each page. Seed the
database first with bench.seed (users, their events and audit rows, as POST /Users makes them):

    scimhub db upgrade && scimhub tenant create bench
    python -m bench.seed --database-url sqlite:///big.db --base-url http://127.0.0.1:8000/scim/v2 \\
        --count 1000000 --ids-out ids.txt
    python -m bench.console_pages --database-url sqlite:///big.db --tenant bench --runs 20
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time

import httpx2

from scimhub.app import create_app
from scimhub.settings import Settings

ADMIN_TOKEN = "bench-console-admin-token-0123456789abcdef"  # noqa: S105 (the in-process app of this run only)
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_NEXT = re.compile(r'href="([^"]+)">Next page</a>')
USER_NAME = "bench.user0500000%40example.com"  # bench.payloads.user_name(500000)
# A filter no index answers: a scan of the tenant, stopped at SCIMHUB_QUERY_TIMEOUT_SECONDS (the
# page then shows the error, 400); timed over the runs that finished.
SCAN = "filter userName sw (a scan; 10 users)"
_USER = re.compile(r'href="(/console/t/[^/]+/users/[^"]+)"')


async def _timed(
    client: httpx2.AsyncClient, url: str, runs: int, may_stop: bool = False
) -> tuple[float, float, int, httpx2.Response]:
    """Median and max ms of the runs answered 200, and how many were stopped (400) instead."""
    times, stopped = [], 0
    response = await client.get(url)  # warm-up (template compile, caches)
    for _ in range(runs):
        started = time.perf_counter()
        response = await client.get(url)
        elapsed = (time.perf_counter() - started) * 1000
        if may_stop and response.status_code == 400:
            stopped += 1
            continue
        assert response.status_code == 200, (url, response.status_code, response.text[:300])
        times.append(elapsed)
    if not times:
        return float("nan"), float("nan"), stopped, response
    return statistics.median(times), max(times), stopped, response


async def run(args: argparse.Namespace) -> None:
    settings = Settings(database_url=args.database_url, admin_token=ADMIN_TOKEN, rate_limit="", worker_enabled=False)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://bench") as client:
            form = (await client.get("/console/sign-in")).text
            csrf = _CSRF.search(form)
            assert csrf is not None
            signed = await client.post("/console/sign-in", data={"csrf": csrf.group(1), "token": ADMIN_TOKEN})
            assert signed.status_code == 303
            base = f"/console/t/{args.tenant}"
            pages = [
                ("tenants", "/console/"),
                ("directory, first page (50 users)", f"{base}/directory"),
            ]
            *_times, first = await _timed(client, f"{base}/directory", 1)
            found = _NEXT.search(first.text)
            assert found is not None
            pages.append(("directory, next cursor page", found.group(1).replace("&amp;", "&")))
            pages += [
                ("filter userName eq (one user)", f"{base}/directory?filter=userName+eq+%22{USER_NAME}%22"),
                ("filter userName eq (no user)", f"{base}/directory?filter=userName+eq+%22nobody%40example.com%22"),
                ("groups", f"{base}/directory?kind=groups"),
                (SCAN, f"{base}/directory?filter=userName+sw+%22bench.user000001%22"),
            ]
            user = _USER.search(first.text)
            assert user is not None
            pages += [
                ("a user (attributes, groups, events, audit)", user.group(1)),
                ("events (latest page)", f"{base}/events"),
                ("requests", f"{base}/requests"),
                ("tokens", f"{base}/tokens"),
                ("settings", f"{base}/settings"),
            ]
            print(f"| page ({args.runs} runs) | median ms | max ms | stopped at the deadline |")
            print("|---|---:|---:|---:|")
            for label, url in pages:
                median, worst, stopped, _response = await _timed(client, url, args.runs, may_stop=label == SCAN)
                print(f"| {label} | {median:.1f} | {worst:.1f} | {stopped} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--tenant", default="bench")
    parser.add_argument("--runs", type=int, default=20)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
