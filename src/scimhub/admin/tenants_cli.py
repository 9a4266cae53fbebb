"""``scimhub tenant``: create, list, rename, delete, set, show."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from scimhub.admin.common import open_store
from scimhub.admin.common import run
from scimhub.admin.roles_cli import ROLE_SETTINGS
from scimhub.admin.roles_cli import set_role_setting
from scimhub.protocol import tenants as tenant_ops
from scimhub.protocol.tenant_config import POLICY_PREFIX
from scimhub.protocol.tenant_config import RATE_LIMIT_KEY
from scimhub.protocol.tenant_config import check_setting
from scimhub.protocol.tenant_config import setting_keys
from scimhub.safety.guard import format_window
from scimhub.settings import Settings

if TYPE_CHECKING:
    from scimhub.store.base import Tenant
    from scimhub.store.sql import SqlStore

TENANT_SETTING = "tenant setting"
BUILT_IN = "built-in default"
# Progress on stderr every this many transactions of a deletion (a big tenant takes minutes).
PROGRESS_EVERY = 100
# How long a server holds SCIM requests in its request log before writing them (FLUSH_EVERY in
# http/request_log.py, not imported: it would load Starlette).
REQUEST_LOG_FLUSH_SECONDS = 1.0


@click.group()
def tenant() -> None:
    """Tenants: one per customer directory."""


def _valid_name(name: str, param: str) -> str:
    try:
        return tenant_ops.check_tenant_name(name)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=param) from None


@tenant.command("create")
@click.argument("name")
def tenant_create(name: str) -> None:
    """Create tenant NAME: 1 to 63 characters, lower-case letters a-z, digits 0-9, '.', '_' and
    '-', starting with a letter or digit (it appears in commands and admin API paths)."""
    _valid_name(name, "NAME")  # before the database is opened: a refused name creates nothing
    created = run(tenant_ops.create_tenant(open_store(Settings.from_env()), name))
    click.echo(f"Created tenant {created.name} ({created.id}).")
    click.echo(f"Issue a token for it with: {tenant_ops.command('token', 'issue', created.name)}")


@tenant.command("list")
def tenant_list() -> None:
    """List tenants: id, name, created, and sync state (see `scimhub tenant status`)."""
    from scimhub.admin.safety_cli import tenant_states

    settings = Settings.from_env()
    store = open_store(settings)
    found = run(store.list_tenants())
    states = run(tenant_states(store, settings, [t.id for t in found]))
    click.echo("id\tname\tcreated\tstate")
    for t in found:
        click.echo(f"{t.id}\t{t.name}\t{t.created_at}\t{states[t.id]}")
    for t in found:
        if not tenant_ops.is_tenant_name(t.name):
            rename = tenant_ops.command("tenant", "rename", t.name, "NEW_NAME")
            click.echo(f"Tenant {t.name!r} predates the tenant name rule; give it a valid name: {rename}", err=True)


@tenant.command("rename")
@click.argument("name")
@click.argument("new_name")
def tenant_rename(name: str, new_name: str) -> None:
    """Rename tenant NAME to NEW_NAME (NAME may be one that predates the name rule).

    Only the name changes: tokens, data, settings and webhooks stay with the tenant. The admin
    API and the CLI address it by NEW_NAME from now on.
    """
    _valid_name(new_name, "NEW_NAME")
    renamed = run(tenant_ops.rename_tenant(open_store(Settings.from_env()), name, new_name))
    click.echo(f"Renamed tenant {name!r} to {renamed.name!r} ({renamed.id}).")


@tenant.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--force", is_flag=True, help="Delete even while deliveries are pending or the stream is held (they are lost)."
)
def tenant_delete(name: str, yes: bool, force: bool) -> None:
    """Delete tenant NAME and everything stored for it, its audit log included.

    Refused while the tenant's event stream is held (deprovisioning guard or pause) or a webhook
    of the tenant has undelivered events or a delivery in flight, unless --force. Its tokens are
    deleted first (servers refuse them within SCIMHUB_TOKEN_RECHECK_SECONDS), then its data,
    1,000 rows a transaction with a pause after each; what requests already let in wrote
    meanwhile is swept up after that interval (plus a second, the request log's).
    """
    settings = Settings.from_env()
    store = open_store(settings)
    found = run(tenant_ops.require_tenant(store, name))
    if not force:
        _refuse_if_held(store, found)
        run(tenant_ops.check_deliveries(store, found))
    if not yes:
        click.confirm(
            f"Delete tenant {found.name!r} ({found.id}, created {found.created_at}) with its users, groups, "
            "tokens, settings, webhooks, events, audit log and request log? This cannot be undone",
            abort=True,
        )
    # Servers (with this environment) refuse its tokens within their recheck interval and write
    # what they logged of its last requests within the flush interval: then a last sweep.
    grace = settings.token_recheck_seconds + (REQUEST_LOG_FLUSH_SECONDS if settings.request_log_size > 0 else 0.0)
    deletion = run(tenant_ops.delete_tenant(store, found, force=force, grace=grace, progress=_progress()))
    removed = ", ".join(f"{count} {table}" for table, count in deletion.removed.items()) or "no other rows"
    click.echo(f"Deleted tenant {found.name} ({found.id}): {removed}; {deletion.transactions} transactions.")


def _refuse_if_held(store: SqlStore, found: Tenant) -> None:
    """A held stream is an operator's decision still to make (release or resume): deleting the
    tenant would make it for them and drop what was held."""
    from scimhub.safety.hold import HoldKind
    from scimhub.store.holds_sql import HoldStore

    hold = run(HoldStore(store.db).hold(found.id))
    if hold is None:
        return
    lift = "release" if hold.kind == HoldKind.GUARD else "resume"
    raise click.ClickException(
        f"Tenant {found.name!r} has its event stream held since seq {hold.from_seq} ({hold.kind.value}: "
        f"{hold.reason}). Review it with {tenant_ops.command('tenant', 'held', found.name)}, lift it with "
        f"{tenant_ops.command('tenant', lift, found.name)}, or delete anyway with "
        f"{tenant_ops.command('tenant', 'delete', found.name, '--force')}"
    )


def _progress() -> Callable[[str, int], None]:
    """A line on stderr every PROGRESS_EVERY transactions of a deletion."""
    done = 0

    def progress(table: str, _count: int) -> None:
        nonlocal done
        done += 1
        if done % PROGRESS_EVERY == 0:
            click.echo(f"... {done} transactions, now deleting from {table}", err=True)

    return progress


@tenant.command("set")
@click.argument("name")
@click.argument("key", metavar="KEY")
@click.argument("value", metavar="VALUE")
def tenant_set(name: str, key: str, value: str) -> None:
    """Set KEY to VALUE for tenant NAME (VALUE "default" removes the override).

    Keys: policy.<switch> (on/off; see the README's IdP leniency table), rate_limit
    (e.g. 1200/minute, or off), guard.deprovision_threshold (a count such as 50, a percentage
    of the active users such as 10%, or off) and guard.window (e.g. 1h, 30m). Servers pick
    changes up within 10 seconds. role.mode (all or highest) and role.default (a role, or none)
    apply at once and recompute every user's roles (scimhub role list).
    """
    if key in ROLE_SETTINGS:  # roles from groups: a change recomputes every user's roles
        set_role_setting(name, key, value)
        return
    store = open_store(Settings.from_env())
    stored = None
    if value != "default":
        try:
            stored = check_setting(key, value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="KEY/VALUE") from None
    elif key not in setting_keys():
        raise click.BadParameter(f"Unknown tenant setting {key!r}; known: {', '.join(setting_keys())}.")

    async def apply() -> None:
        found = await tenant_ops.require_tenant(store, name)
        await store.set_tenant_setting(found.id, key, stored)

    run(apply())
    click.echo(f"{name}: {key} = {stored if stored is not None else 'default'}")


@tenant.command("show")
@click.argument("name")
def tenant_show(name: str) -> None:
    """Show tenant NAME's settings: the value in force and where it comes from.

    Sources: "tenant setting" (scimhub tenant set), "server environment (SCIMHUB_…)" or
    "built-in default". The environment is this shell's: run it with the server's SCIMHUB_* variables.
    """
    settings = Settings.from_env()
    store = open_store(settings)

    async def overrides() -> dict[str, str]:
        return await store.tenant_settings((await tenant_ops.require_tenant(store, name)).id)

    rows = effective_settings(settings, run(overrides()))
    click.echo("key\tvalue\tsource")
    for key, value, source in rows:
        click.echo(f"{key}\t{value}\t{source}")


def effective_settings(settings: Settings, overrides: dict[str, str]) -> list[tuple[str, str, str]]:
    """(key, value in force, source) for every tenant setting, in setting_keys() order."""
    rows = []
    for key in setting_keys():
        if key == RATE_LIMIT_KEY:
            rows.append((key, *_rate_limit(settings, overrides.get(key))))
        elif key in overrides:
            rows.append((key, overrides[key], TENANT_SETTING))
        elif key in SAFETY_DEFAULTS:
            variable, default = SAFETY_DEFAULTS[key]
            rows.append((key, default(settings), _from_env(variable)))
        else:
            switch = getattr(settings.policy, key.removeprefix(POLICY_PREFIX))
            rows.append((key, "on" if switch else "off", _from_env("SCIMHUB_STRICT_RFC")))
    return rows


# Tenant settings whose server-wide default is an environment variable of their own.
SAFETY_DEFAULTS: dict[str, tuple[str, Callable[[Settings], str]]] = {
    "guard.deprovision_threshold": (
        "SCIMHUB_GUARD_DEPROVISION_THRESHOLD",
        lambda s: s.guard_deprovision_threshold or "off",
    ),
    "guard.window": ("SCIMHUB_GUARD_WINDOW_SECONDS", lambda s: format_window(s.guard_window_seconds)),
    "users.inactive": ("", lambda s: "keep"),  # no server-wide setting: built in
}


def _rate_limit(settings: Settings, override: str | None) -> tuple[str, str]:
    if not settings.rate_limit:  # no limiter on the server: a tenant's limit has nothing to apply to
        unused = f"; the tenant setting {override} applies only when it is set" if override else ""
        return "off", f"server environment (SCIMHUB_RATE_LIMIT is empty{unused})"
    if override is not None:
        return override, TENANT_SETTING
    return settings.rate_limit, _from_env("SCIMHUB_RATE_LIMIT")


def _from_env(variable: str) -> str:
    return f"server environment ({variable})" if variable in os.environ else BUILT_IN
