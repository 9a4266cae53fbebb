"""``scimhub role map/list/unmap`` and ``scimhub tenant set role.mode|role.default``."""

from __future__ import annotations

import pytest

from scimhub.store.sql import SqlStore
from tests.cli.support import Cli
from tests.conftest import TenantAccess
from tests.events.support import create_group
from tests.events.support import create_user
from tests.roles.support import role_events
from tests.roles.support import roles_of

pytestmark = pytest.mark.anyio


async def test_map_recomputes_and_says_when_it_has_finished(
    cli: Cli, app: object, store: SqlStore, acme: TenantAccess
) -> None:
    users = [await create_user(acme.client, f"user{i}") for i in range(3)]
    await create_group(acme.client, "Admins", users[:2])

    out = cli.ok("role", "map", "acme", "admin", "--group", "admins", "--priority", "5")

    assert out[0].startswith("acme: rule ") and out[0].endswith("group 'admins' -> admin (priority 5)")
    assert out[-1] == "Roles recomputed (version 1): 3 users, 2 changed. Finished."
    assert await roles_of(store, acme.tenant_id, *users) == {users[0]: ["admin"], users[1]: ["admin"], users[2]: []}
    assert len(await role_events(app)) == 2
    listed = cli.ok("role", "list", "acme")
    assert listed[:3] == ["role.mode: all", "role.default: (none)", "id\trole\tkind\tvalue\tpriority"]
    assert listed[3].split("\t")[1:] == ["admin", "group", "admins", "5"]
    assert listed[4].startswith("recompute: finished at ") and listed[4].endswith("(3 users, 2 changed)")


async def test_tenant_set_role_settings_and_unmap(cli: Cli, store: SqlStore, acme: TenantAccess) -> None:
    a, b = await create_user(acme.client, "a"), await create_user(acme.client, "b")
    await create_group(acme.client, "Admins", [a])
    cli.ok("role", "map", "acme", "admin", "--group", "Admins", "--priority", "9")
    cli.ok("role", "map", "acme", "user", "--scim-role", "User")

    assert cli.ok("tenant", "set", "acme", "role.default", "guest")[0] == "acme: role.default = guest"
    assert cli.ok("tenant", "set", "acme", "role.mode", "highest")[0] == "acme: role.mode = highest"
    assert await roles_of(store, acme.tenant_id, a, b) == {a: ["admin"], b: ["guest"]}

    out = cli.ok("role", "unmap", "acme", "admin", "--group", "ADMINS")
    assert out[0].startswith("acme: removed 1 rule(s): ")
    assert await roles_of(store, acme.tenant_id, a, b) == {a: ["guest"], b: ["guest"]}
    cli.ok("tenant", "set", "acme", "role.default", "none")
    assert await roles_of(store, acme.tenant_id, a, b) == {a: [], b: []}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("role", "map", "acme", "admin"), "Give exactly one of --group"),
        (("role", "map", "acme", "admin", "--group", "A", "--scim-role", "B"), "Give exactly one of --group"),
        (("role", "map", "nobody", "admin", "--group", "A"), "No tenant named 'nobody'"),
        (("role", "map", "acme", " ", "--group", "A"), "A role name is 1 to 200"),
        (("role", "unmap", "acme", "admin"), "No such role rule"),
        (("role", "unmap", "acme"), "Give ROLE"),
        (("tenant", "set", "acme", "role.mode", "most"), "'all' or 'highest'"),
    ],
)
async def test_bad_commands_change_nothing(cli: Cli, acme: TenantAccess, args: tuple[str, ...], message: str) -> None:
    before = cli.ok("role", "list", "acme")

    result = cli(*args)

    assert result.exit_code != 0
    assert message in result.output
    assert cli.ok("role", "list", "acme") == before
