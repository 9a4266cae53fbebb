"""scimhub behind PgBouncer in transaction mode (SCIMHUB_DATABASE_PGBOUNCER=true): every
transaction may land on another server connection, so no prepared statement may outlive one.

Runs in the PostgreSQL pass of the suite (``.ci/run`` installs Debian's pgbouncer for it); skipped,
saying so, where the pgbouncer binary is not installed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from scimhub.app import create_app
from scimhub.protocol import tenants
from scimhub.settings import Settings
from scimhub.store.factory import open_store
from tests import databases
from tests.http.scim_checks import client_for
from tests.http.scim_checks import patch_body
from tests.http.scim_checks import user_body

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not databases.on_postgres(), reason="PostgreSQL only: runs in the suite's PostgreSQL pass"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pgbouncer_binary() -> str | None:
    """Debian installs it in /usr/sbin, which a non-root PATH may leave out."""
    found = shutil.which("pgbouncer")
    if found is None and os.path.exists("/usr/sbin/pgbouncer"):
        found = "/usr/sbin/pgbouncer"
    return found


@pytest.fixture
def bouncer(postgres_database: str) -> Iterator[str]:
    """PgBouncer (transaction mode, 2 server connections) in front of the session's database."""
    binary = pgbouncer_binary()
    if binary is None:
        pytest.skip("pgbouncer is not installed here (apt-get install pgbouncer; .ci/run installs it)")
    target = make_url(postgres_database)
    port = _free_port()
    # pgbouncer refuses to run as root and drops to the postgres user, who must read its files.
    config = Path(tempfile.mkdtemp(prefix="scimhub-pgbouncer-"))
    config.chmod(0o755)
    (config / "users.txt").write_text('"postgres" ""\n')
    ini = config / "pgbouncer.ini"
    ini.write_text(
        f"[databases]\nscim = host=127.0.0.1 port={target.port or 5432} dbname={target.database}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nauth_type = trust\n"
        f"auth_file = {config / 'users.txt'}\npool_mode = transaction\ndefault_pool_size = 2\n"
        "unix_socket_dir =\n"
    )
    for path in config.iterdir():
        path.chmod(0o644)
    argv = [binary, str(ini)] if os.geteuid() else [binary, "-u", "postgres", str(ini)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, (proc.stderr.read() if proc.stderr else b"").decode()
                assert time.monotonic() < deadline, "pgbouncer did not start"
                time.sleep(0.1)
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/scim"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()
        shutil.rmtree(config)


async def test_concurrent_scim_traffic_through_pgbouncer_in_transaction_mode(bouncer: str) -> None:
    settings = Settings(database_url=bouncer, database_pgbouncer=True, rate_limit="", database_pool_size=4)
    store = open_store(settings)
    try:
        tenant = await tenants.create_tenant(store, "bounced")
        _, token = await tenants.issue_token(store, tenant, None)
        async with client_for(create_app(settings, store=store), token) as client:
            # More concurrent transactions than PgBouncer has server connections, each statement
            # shape repeated: a cached prepared statement would be missing or duplicated.
            created = await asyncio.gather(*(client.post("/Users", json=user_body(f"u{i}")) for i in range(24)))
            assert [r.status_code for r in created] == [201] * 24, [r.text for r in created if r.status_code != 201]
            ids = [r.json()["id"] for r in created]
            deactivate = patch_body({"op": "replace", "path": "active", "value": False})
            patched = await asyncio.gather(*(client.patch(f"/Users/{i}", json=deactivate) for i in ids))
            assert {r.status_code for r in patched} == {200}
            found = await asyncio.gather(
                *(client.get("/Users", params={"filter": f'userName eq "u{i}"'}) for i in range(24))
            )
            assert [r.json()["totalResults"] for r in found] == [1] * 24
            listed = await client.get("/Users", params={"filter": "active eq false", "count": "100"})
            assert listed.json()["totalResults"] == 24
    finally:
        await store.close()
