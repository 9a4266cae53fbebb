"""``scimhub tenant held/release/pause/resume/status``: the deprovisioning guard's hold and sync health.

Registered on the ``tenant`` group by admin/cli.py. The event store is imported inside the
commands: other commands must not pay for it (see admin/common.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

import click
import orjson

from scimhub.admin.common import open_store
from scimhub.admin.common import run
from scimhub.protocol import tenants as tenant_ops
from scimhub.settings import Settings
from scimhub.timestamps import utc_now

if TYPE_CHECKING:
    from scimhub.safety.health import Thresholds
    from scimhub.safety.hold import Hold
    from scimhub.safety.hold import HoldKind
    from scimhub.store.holds_sql import HoldStore
    from scimhub.store.sql import SqlStore


def _holds() -> tuple[SqlStore, HoldStore]:
    from scimhub.store.holds_sql import HoldStore

    store = open_store(Settings.from_env())
    return store, HoldStore(store.db)


def _describe(hold: Hold) -> str:
    how = "by the deprovisioning guard" if hold.kind.value == "guard" else "paused by hand"
    return f"held from seq {hold.from_seq} since {hold.since} ({how}): {hold.reason}"


@click.command("held")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per held event.")
@click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True)
def tenant_held(name: str, as_json: bool, limit: int) -> None:
    """List the events held back from tenant NAME's webhooks, hooks and feed: who would be
    deactivated or deleted, by which token, when (and reactivations, when the IdP reverses)."""
    store, holds = _holds()

    async def listing() -> tuple[Hold | None, list[dict[str, object]]]:
        found = await tenant_ops.require_tenant(store, name)
        hold = await holds.hold(found.id)
        held = await holds.held_events(found.id, limit) if hold is not None else []
        return hold, [h.to_json() for h in held]

    hold, held = run(listing())
    if hold is None:
        click.echo(f"{name}: not held; every event is delivered.")
        return
    click.echo(f"{name}: {_describe(hold)}", err=as_json)
    if as_json:
        for row in held:
            click.echo(orjson.dumps(row).decode())
        return
    click.echo("seq\ttype\tresource\tdisplay\ttoken\toccurred")
    for row in held:
        cells = [row["seq"], row["type"], row["resourceId"], row["display"], row["tokenId"], row["occurredAt"]]
        click.echo("\t".join("" if c is None else str(c) for c in cells))
    click.echo(f"{len(held)} held events. Deliver them in order with: {tenant_ops.command('tenant', 'release', name)}")


def _lift(name: str, kind: HoldKind | None) -> Hold | None:
    store, holds = _holds()

    async def lift() -> Hold | None:
        found = await tenant_ops.require_tenant(store, name)
        return await holds.release(found.id, utc_now(), kind)

    return run(lift())


@click.command("release")
@click.argument("name")
def tenant_release(name: str) -> None:
    """Lift tenant NAME's hold: everything held is delivered, in order, and the guard's window
    starts again. Review the events first with `scimhub tenant held NAME`."""
    lifted = _lift(name, None)
    if lifted is None:
        click.echo(f"{name}: not held; nothing to release.")
        return
    click.echo(f"{name}: released (was {_describe(lifted)}); servers deliver the held events within seconds.")


@click.command("pause")
@click.argument("name")
@click.option("--reason", default="paused by an operator", show_default=True)
def tenant_pause(name: str, reason: str) -> None:
    """Hold tenant NAME's event stream by hand (e.g. for a planned IdP migration): SCIM writes
    still commit; webhooks, hooks and the feed stop after the last event committed now."""
    store, holds = _holds()

    async def pause() -> tuple[Hold, bool]:
        found = await tenant_ops.require_tenant(store, name)
        return await holds.pause(found.id, utc_now(), reason)

    hold, new = run(pause())
    if new:
        click.echo(f"{name}: paused; {_describe(hold)}. Resume with: {tenant_ops.command('tenant', 'resume', name)}")
    else:
        click.echo(f"{name}: already {_describe(hold)}.")


@click.command("resume")
@click.argument("name")
def tenant_resume(name: str) -> None:
    """Lift a pause of tenant NAME (a hold of the guard is lifted with `release`, after review)."""
    from scimhub.safety.hold import HoldKind

    lifted = _lift(name, HoldKind.PAUSE)
    if lifted is not None:
        click.echo(f"{name}: resumed (was {_describe(lifted)}).")
        return
    store, holds = _holds()
    hold = run(_hold_of(store, holds, name))
    if hold is None:
        click.echo(f"{name}: not paused; nothing to resume.")
        return
    release = tenant_ops.command("tenant", "release", name)
    raise click.ClickException(
        f"{name} is {_describe(hold)}. Review it with `scimhub tenant held {name}`, then: {release}"
    )


async def _hold_of(store: SqlStore, holds: HoldStore, name: str) -> Hold | None:
    return await holds.hold((await tenant_ops.require_tenant(store, name)).id)


def _thresholds(settings: Settings) -> Thresholds:
    from scimhub.safety.health import Thresholds

    return Thresholds(settings.status_idle_seconds, settings.status_failing_error_rate)


@click.command("status")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="The status as one JSON object (as the admin API gives it).")
def tenant_status(name: str, as_json: bool) -> None:
    """Sync health of tenant NAME: its state (never_connected, connected, idle, failing, held,
    paused), the IdP calling it, its traffic and errors, expiring tokens and webhook backlog.

    Servers write their traffic counters once a second; the thresholds are this shell's
    SCIMHUB_STATUS_* variables."""
    from scimhub.safety.health import status_json
    from scimhub.store.activity_sql import ActivityStore
    from scimhub.store.events_sql import EventStore

    settings = Settings.from_env()
    store = open_store(settings)

    async def gather() -> dict[str, Any]:
        found = await tenant_ops.require_tenant(store, name)
        now = utc_now()
        facts = await ActivityStore(store.db).facts(found, now, EventStore.of(store))
        return status_json(facts, now, _thresholds(settings))

    status = run(gather())
    if as_json:
        click.echo(orjson.dumps(status).decode())
        return
    for label, value in _status_lines(status):
        click.echo(f"{label:<22}{value}")


def _status_lines(status: dict[str, Any]) -> list[tuple[str, str]]:
    idp = status["idp"]
    day = status["last24h"]
    top = day["topError"]
    held = status["held"]
    tokens = ", ".join(f"{t['prefix']}… ({t['id']}) {t['expiresAt']}" for t in status["tokensExpiringSoon"])
    return [
        ("state", status["state"]),
        ("idp", f"{idp['name'] or '-'} (User-Agent: {idp['userAgent'] or '-'})"),
        ("first request", status["firstRequestAt"] or "-"),
        ("last request", status["lastRequestAt"] or "-"),
        ("users", f"{status['users']['active']} active, {status['users']['inactive']} inactive"),
        ("groups", str(status["groups"])),
        ("last 24 hours", f"{day['requests']} requests, {day['errors']} errors"),
        ("most frequent error", "-" if top is None else f"{top['error']} ({top['count']} times)"),
        (
            "held",
            "-"
            if held is None
            else f"from seq {held['fromSeq']} since {held['since']} ({held['kind']}): {held['reason']}",
        ),
        ("tokens expiring", tokens or "-"),
        ("webhooks", f"backlog {status['webhooks']['backlog']}, dead letters {status['webhooks']['deadLetters']}"),
    ]


async def tenant_states(store: SqlStore, settings: Settings, tenant_ids: list[str]) -> dict[str, str]:
    """Each tenant's sync state, for `scimhub tenant list`."""
    from scimhub.store.activity_sql import ActivityStore
    from scimhub.store.holds_sql import HoldStore

    states = await ActivityStore(store.db).states(tenant_ids, utc_now(), _thresholds(settings), HoldStore(store.db))
    return {t: s.value for t, s in states.items()}


def register(group: click.Group) -> None:
    for command in (tenant_held, tenant_release, tenant_pause, tenant_resume, tenant_status):
        group.add_command(command)
