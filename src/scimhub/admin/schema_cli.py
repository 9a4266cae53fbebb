"""``scimhub schema``: a tenant's extension schemas (custom attributes its IdP sends).

The store and the protocol operations are imported inside the commands (admin/common.py says why).
"""

from __future__ import annotations

from typing import IO
from typing import TYPE_CHECKING
from typing import Any

import click
import orjson

from scimhub.admin.common import open_store
from scimhub.admin.common import run
from scimhub.protocol import tenants as tenant_ops
from scimhub.protocol.tenant_config import CACHE_SECONDS
from scimhub.schema.declare import RESOURCE_TYPES
from scimhub.schema.declare import SchemaDocumentError
from scimhub.schema.learn import LEARN_LIMIT
from scimhub.settings import Settings

if TYPE_CHECKING:
    from scimhub.protocol.tenant_schemas import Settle
    from scimhub.store.schemas_sql import TenantSchemaStore
    from scimhub.store.sql import SqlStore

_PICKUP = "Servers use the change within 10 seconds."


def _settle(seconds: float = CACHE_SECONDS) -> Settle:
    """Wait until every server rereads the declaration: the tenant config cache's time, plus a second."""
    from scimhub.protocol.tenant_schemas import settle_for

    settle = settle_for(seconds)

    async def wait() -> None:
        if seconds > 0:
            click.echo(f"Waiting {seconds + 1:g} s for every server to reread the declaration ...", err=True)
        await settle()

    return wait


def _open() -> tuple[SqlStore, TenantSchemaStore]:
    from scimhub.store.schemas_sql import TenantSchemaStore

    store = open_store(Settings.from_env())
    return store, TenantSchemaStore(store.db)


def _run(coro: Any) -> Any:
    try:
        return run(coro)
    except (SchemaDocumentError, LookupError) as exc:
        raise click.ClickException(str(exc)) from None


# How long servers cache a tenant's declarations; tests, whose servers start after each change, say 0.
_settle_option = click.option("--settle-seconds", type=click.FloatRange(min=0), default=CACHE_SECONDS, hidden=True)


@click.group()
def schema() -> None:
    """Extension schemas per tenant (RFC 7643 §7 documents, as /Schemas serves them)."""


@schema.command("add")
@click.argument("tenant_name", metavar="TENANT")
@click.argument("file", type=click.File("rb"))
@click.option(
    "--resource-type", type=click.Choice(RESOURCE_TYPES), default="User", show_default=True, help="What it extends."
)
@click.option("--required", is_flag=True, help="Every resource of the type must carry the extension.")
@click.option("--index", "indexes", multiple=True, metavar="NAME", help="Index this string attribute for eq filters.")
@_settle_option
def schema_add(
    tenant_name: str,
    file: IO[bytes],
    resource_type: str,
    required: bool,
    indexes: tuple[str, ...],
    settle_seconds: float,
) -> None:
    """Declare the extension schema in FILE (JSON; - for stdin) for TENANT, or update its
    declaration (attributes may be added, none dropped or retyped)."""
    try:
        data = orjson.loads(file.read())
    except orjson.JSONDecodeError as exc:
        raise click.ClickException(f"{file.name} is not JSON: {exc}.") from None
    from scimhub.protocol import tenant_schemas as ops

    store, schemas = _open()

    async def add() -> tuple[Any, bool]:
        found = await tenant_ops.require_tenant(store, tenant_name)
        return await ops.add_schema(schemas, found.id, data, resource_type, required=required)

    declared, replaced = _run(add())
    verb = "Updated" if replaced else "Declared"
    click.echo(f"{verb} {declared.urn} ({declared.resource_type}) for tenant {tenant_name}. {_PICKUP}")
    for name in indexes:
        _index(tenant_name, declared.urn, name, settle_seconds)


def _index(tenant_name: str, urn: str, name: str, settle_seconds: float) -> None:
    from scimhub.protocol import tenant_schemas as ops

    store, schemas = _open()

    async def index() -> tuple[Any, int]:
        found = await tenant_ops.require_tenant(store, tenant_name)
        return await ops.add_index(schemas, found.id, urn, name, _settle(settle_seconds))

    _declared, count = _run(index())
    click.echo(f"Indexed {urn}:{name} ({count} resources hold a value); eq filters on it use the index.")


@schema.command("list")
@click.argument("tenant_name", metavar="TENANT")
def schema_list(tenant_name: str) -> None:
    """List TENANT's extension schemas: URN, resource type, required, attributes, indexed."""
    from scimhub.protocol import tenant_schemas as ops

    store, schemas = _open()

    async def rows() -> list[Any]:
        found = await tenant_ops.require_tenant(store, tenant_name)
        return await schemas.declared(found.id)

    click.echo("id\tresource_type\trequired\tattributes\tindexed")
    for declared in _run(rows()):
        line = ops.summary(declared)
        click.echo(
            f"{line['id']}\t{line['resourceType']}\t{'yes' if line['required'] else 'no'}\t"
            f"{','.join(line['attributes'])}\t{','.join(line['indexed']) or '-'}"
        )


@schema.command("show")
@click.argument("tenant_name", metavar="TENANT")
@click.argument("urn")
def schema_show(tenant_name: str, urn: str) -> None:
    """Print the schema document of URN (edit it and `schema add` it again to change it)."""
    from scimhub.protocol import tenant_schemas as ops

    store, schemas = _open()

    async def show() -> Any:
        found = await tenant_ops.require_tenant(store, tenant_name)
        return await ops.find_schema(schemas, found.id, urn)

    click.echo(orjson.dumps(_run(show()).document, option=orjson.OPT_INDENT_2).decode())


@schema.command("remove")
@click.argument("tenant_name", metavar="TENANT")
@click.argument("urn")
@_settle_option
def schema_remove(tenant_name: str, urn: str, settle_seconds: float) -> None:
    """Forget the declaration of URN. Stored values stay in the resources and are still returned
    (as undeclared data); its indexes are dropped once no server uses them."""
    from scimhub.protocol import tenant_schemas as ops

    store, schemas = _open()

    async def remove() -> Any:
        found = await tenant_ops.require_tenant(store, tenant_name)
        return await ops.remove_schema(schemas, found.id, urn, _settle(settle_seconds))

    removed = _run(remove())
    click.echo(f"Removed the declaration of {removed.urn} from tenant {tenant_name}; stored values are kept. {_PICKUP}")


@schema.command("learned")
@click.argument("tenant_name", metavar="TENANT")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=LEARN_LIMIT,
    show_default=True,
    help="Newest resources read per type.",
)
def schema_learned(tenant_name: str, limit: int) -> None:
    """List the undeclared extension URNs TENANT's IdP has sent (kept as sent), each attribute with
    the RFC 7643 types every value seen can be given, most specific first."""
    from scimhub.protocol import tenant_schemas as ops

    store, schemas = _open()

    async def learned() -> list[Any]:
        found = await tenant_ops.require_tenant(store, tenant_name)
        return await ops.learned_schemas(schemas, found.id, limit)

    found = _run(learned())
    if not found:
        click.echo(f"No undeclared extension data in tenant {tenant_name}'s latest {limit} resources of each type.")
    for seen in found:
        click.echo(f"{seen.urn}\t{seen.resource_type}\t{seen.resources} resources")
        for attr in seen.ordered():
            kinds = " | ".join(attr.candidates) or "no single type (mixed values)"
            shape = "multi-valued " if attr.multi_valued else ""
            click.echo(f"  {attr.name}\t{shape}{kinds}\tseen {attr.seen} times")


@schema.command("adopt")
@click.argument("tenant_name", metavar="TENANT")
@click.argument("urn")
@click.option("--resource-type", type=click.Choice(RESOURCE_TYPES), default=None, help="When both types carry URN.")
@click.option("--print", "print_only", is_flag=True, help="Print the schema document instead of declaring it.")
def schema_adopt(tenant_name: str, urn: str, resource_type: str | None, print_only: bool) -> None:
    """Declare URN from what TENANT's IdP sent under it (see `schema learned`), each attribute with
    its most specific type. With --print, write the document out to edit and `schema add` instead."""
    from scimhub.protocol import tenant_schemas as ops

    store, schemas = _open()

    async def adopt() -> tuple[Any, str]:
        found = await tenant_ops.require_tenant(store, tenant_name)
        return await ops.adopt_schema(schemas, found.id, urn, resource_type, declare=not print_only)

    document, rtype = _run(adopt())
    if print_only:
        click.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
        return
    names = ", ".join(f"{a['name']} ({a['type']}{'[]' if a['multiValued'] else ''})" for a in document["attributes"])
    click.echo(f"Declared {document['id']} ({rtype}) for tenant {tenant_name}: {names}. {_PICKUP}")


@schema.command("index")
@click.argument("tenant_name", metavar="TENANT")
@click.argument("urn")
@click.argument("name")
@_settle_option
def schema_index(tenant_name: str, urn: str, name: str, settle_seconds: float) -> None:
    """Index NAME, a string attribute of URN, so `URN:NAME eq "…"` filters are an index probe.
    Waits until every server maintains the index, then indexes the stored values (safe live)."""
    _index(tenant_name, urn, name, settle_seconds)


@schema.command("unindex")
@click.argument("tenant_name", metavar="TENANT")
@click.argument("urn")
@click.argument("name")
@_settle_option
def schema_unindex(tenant_name: str, urn: str, name: str, settle_seconds: float) -> None:
    """Drop the index of NAME: filters stop using it, then its rows are deleted (values stay)."""
    from scimhub.protocol import tenant_schemas as ops

    store, schemas = _open()

    async def unindex() -> Any:
        found = await tenant_ops.require_tenant(store, tenant_name)
        return await ops.drop_index(schemas, found.id, urn, name, _settle(settle_seconds))

    _run(unindex())
    click.echo(f"Dropped the index of {urn}:{name}; its values are kept.")


@schema.command("purge")
@click.argument("tenant_name", metavar="TENANT")
@click.argument("urn")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def schema_purge(tenant_name: str, urn: str, yes: bool) -> None:
    """Delete the data stored under URN, which must not be declared (a removed declaration's
    values, or what the IdP sent unasked), from every resource of TENANT. Each resource changes
    like a PATCH remove: its version moves and an *.updated event says what went."""
    if not yes:
        click.confirm(f"Delete every value stored under {urn} in tenant {tenant_name}?", abort=True)
    from scimhub.protocol import tenant_schemas as ops

    store, schemas = _open()

    async def purge() -> int:
        found = await tenant_ops.require_tenant(store, tenant_name)
        return await ops.purge_undeclared(store, schemas, found.id, urn)

    click.echo(f"Deleted the data under {urn} from {_run(purge())} resources of tenant {tenant_name}.")
