"""``scimhub role``: map a tenant's IdP groups (and SCIM ``roles`` values) to the app's roles.

``scimhub tenant set TENANT role.mode all|highest`` and ``role.default ROLE|none`` come here too
(``set_role_setting``). A change recomputes every user of the tenant, a batch a transaction: the
command runs it to the end and says so (``--no-wait`` leaves it to the servers, which pick it up
within a second; ``scimhub role list`` shows how far it is).

The store and the protocol operations are imported inside the commands (admin/common.py says why).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from scimhub.admin.common import open_store
from scimhub.admin.common import run
from scimhub.protocol import tenants as tenant_ops
from scimhub.settings import Settings

if TYPE_CHECKING:
    from scimhub.directory.roles import JobStatus
    from scimhub.protocol.roles import RoleService

ROLE_SETTINGS = ("role.mode", "role.default")
_KINDS = (
    ("group", "displayName of an IdP group (case-insensitive)"),
    ("group_id", "id of an IdP group"),
    ("group_external_id", "externalId of an IdP group"),
    ("scim_role", "a value of the user's SCIM roles (Entra app roles)"),
)


def _service() -> RoleService:
    from scimhub.protocol.roles import RoleService
    from scimhub.store.roles_sql import RoleStore

    store = open_store(Settings.from_env())
    return RoleService(store, RoleStore(store.db))


def _kind_options(command: Callable[..., None]) -> Callable[..., None]:
    for kind, text in reversed(_KINDS):
        flag = "--" + kind.replace("_", "-")
        command = click.option(flag, kind, metavar="VALUE", help=f"The rule names the {text}.")(command)
    return command


def _one_kind(values: dict[str, str | None], required: bool) -> tuple[str, str] | None:
    given = [(k, v) for k, v in values.items() if v is not None]
    if len(given) > 1 or (required and not given):
        flags = ", ".join("--" + k.replace("_", "-") for k, _ in _KINDS)
        raise click.UsageError(f"Give {'exactly' if required else 'at most'} one of {flags}.")
    return given[0] if given else None


def _finish(service: RoleService, tenant_id: str, job: JobStatus, wait: bool) -> None:
    if not wait:
        click.echo(f"Recomputing roles (version {job.version}): the servers finish it; see scimhub role list.")
        return

    def progress(status: JobStatus) -> None:
        click.echo(f"... {status.done} users recomputed, {status.changed} changed", err=True)

    done = run(service.finish(tenant_id, progress))
    if done is not None:
        click.echo(f"Roles recomputed (version {done.version}): {done.done} users, {done.changed} changed. Finished.")


_wait_option = click.option(
    "--wait/--no-wait", default=True, show_default=True, help="Recompute every user's roles before returning."
)


@click.group()
def role() -> None:
    """Roles from groups: rules mapping IdP groups and SCIM roles to the app's role names."""


@role.command("map")
@click.argument("tenant_name", metavar="TENANT")
@click.argument("role_name", metavar="ROLE")
@_kind_options
@click.option("--priority", type=int, default=0, show_default=True, help="Higher wins in role.mode highest.")
@_wait_option
def role_map(tenant_name: str, role_name: str, priority: int, wait: bool, **kinds: str | None) -> None:
    """Give ROLE to the users a group or SCIM role value names (one of the options)."""
    kind, value = _one_kind(kinds, required=True) or ("", "")
    service = _service()

    async def add() -> tuple[str, str, JobStatus]:
        tenant = await tenant_ops.require_tenant(service.store, tenant_name)
        rule, job = await service.map(tenant.id, role_name, kind, value, priority)
        return tenant.id, rule.id, job

    tenant_id, rule_id, job = run(add())
    click.echo(
        f"{tenant_name}: rule {rule_id}: {kind.replace('_', '-')} {value!r} -> {role_name} (priority {priority})"
    )
    _finish(service, tenant_id, job, wait)


@role.command("unmap")
@click.argument("tenant_name", metavar="TENANT")
@click.argument("role_name", metavar="ROLE", required=False)
@_kind_options
@click.option("--rule", "rule_id", metavar="ID", help="Remove the rule with this id (scimhub role list).")
@_wait_option
def role_unmap(tenant_name: str, role_name: str | None, rule_id: str | None, wait: bool, **kinds: str | None) -> None:
    """Remove the rules giving ROLE (only those naming the option's group or value, if one is
    given), or the rule --rule ID."""
    if (role_name is None) == (rule_id is None):
        raise click.UsageError("Give ROLE (with at most one of the rule options) or --rule ID.")
    chosen = _one_kind(kinds, required=False)
    service = _service()

    async def remove() -> tuple[str, list[str], JobStatus]:
        tenant = await tenant_ops.require_tenant(service.store, tenant_name)
        kind, value = chosen if chosen else (None, None)
        removed, job = await service.unmap(tenant.id, rule_id, role_name, kind, value)
        return tenant.id, removed, job

    tenant_id, removed, job = run(remove())
    click.echo(f"{tenant_name}: removed {len(removed)} rule(s): {', '.join(removed)}")
    _finish(service, tenant_id, job, wait)


@role.command("list")
@click.argument("tenant_name", metavar="TENANT")
def role_list(tenant_name: str) -> None:
    """Show the rules, role.mode, role.default and the recompute's progress."""
    service = _service()

    async def read() -> object:
        tenant = await tenant_ops.require_tenant(service.store, tenant_name)
        return await service.overview(tenant.id)

    from scimhub.protocol.roles import RoleOverview

    overview = run(read())
    assert isinstance(overview, RoleOverview)
    click.echo(f"role.mode: {overview.mode.value}")
    click.echo(f"role.default: {overview.default if overview.default is not None else '(none)'}")
    click.echo("id\trole\tkind\tvalue\tpriority")
    for rule in overview.rules:
        click.echo(f"{rule.id}\t{rule.role}\t{rule.kind.value}\t{rule.value}\t{rule.priority}")
    job = overview.recompute
    if job is None:
        click.echo("recompute: none yet")
    elif job.finished_at is not None:
        click.echo(f"recompute: finished at {job.finished_at} ({job.done} users, {job.changed} changed)")
    else:
        click.echo(f"recompute: running since {job.started_at} ({job.done} users so far, {job.changed} changed)")


def set_role_setting(tenant_name: str, key: str, value: str, wait: bool = True) -> None:
    """``scimhub tenant set TENANT role.mode|role.default VALUE`` (``default``: back to the built-in
    default, mode ``all`` and no default role; role.default ``none`` too)."""
    service = _service()
    reset = value == "default" or (key == "role.default" and value.lower() == "none")

    async def apply() -> tuple[str, JobStatus]:
        tenant = await tenant_ops.require_tenant(service.store, tenant_name)
        if key == "role.mode":
            job = await service.configure(tenant.id, mode="all" if reset else value)
        else:
            job = await service.configure(tenant.id, default=None if reset else value, set_default=True)
        return tenant.id, job

    tenant_id, job = run(apply())
    shown = ("all" if key == "role.mode" else "none") if reset else value
    click.echo(f"{tenant_name}: {key} = {shown}")
    _finish(service, tenant_id, job, wait)
