"""Run Alembic migrations programmatically (``scimhub db upgrade`` and start-up).

One history serves SQLite and PostgreSQL; on PostgreSQL these run inside ``run_sync`` on an
asyncpg connection (SQLAlchemy's greenlet bridge), so no second driver is needed.

Alembic (and the Mako and Pygments it imports) is imported only to migrate: every CLI command
checks that the schema is current, and importing Alembic for that cost more than the command.
The check reads ``alembic_version`` and compares it with the head of the history, found by
reading the revision files' ``revision``/``down_revision`` lines (a test pins it to Alembic's).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection
from sqlalchemy import Engine
from sqlalchemy import text

if TYPE_CHECKING:
    from alembic.config import Config

VERSIONS = Path(__file__).parent / "migrations" / "versions"
_REVISION = re.compile(r'^(down_revision|revision) = (?:"([^"]+)"|None)$', re.MULTILINE)


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "scimhub.store:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> list[str]:
    """Migrate the database to the newest revision; the revisions applied, oldest first."""
    with engine.begin() as conn:
        return upgrade_on(conn, engine.url.render_as_string(hide_password=False))


def upgrade_on(conn: Connection, url: str) -> list[str]:
    from alembic import command

    before = current_revision(conn)
    config = alembic_config(url)
    config.attributes["connection"] = conn
    command.upgrade(config, "head")
    return revisions_between(before, current_revision(conn))


def revisions_between(start: str | None, end: str | None) -> list[str]:
    """The revisions after ``start`` up to ``end`` (both on the history's one line), oldest first."""
    parents = _history()
    found: list[str] = []
    revision = end
    while revision is not None and revision != start:
        found.append(revision)
        revision = parents[revision]
    return found[::-1]


@cache
def _revisions() -> dict[str, tuple[str | None, str]]:
    """Each revision's parent and title (its docstring's first line), read from the revision files."""
    found: dict[str, tuple[str | None, str]] = {}
    for path in VERSIONS.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        fields = {m.group(1): m.group(2) for m in _REVISION.finditer(source)}
        if fields.get("revision") is not None:
            title = source.removeprefix('"""').split("\n", 1)[0].strip()
            found[str(fields["revision"])] = (fields.get("down_revision"), title)
    return found


def _history() -> dict[str, str | None]:
    return {revision: parent for revision, (parent, _) in _revisions().items()}


def describe(revision: str) -> str:
    """The revision's title, e.g. "Initial schema: tenants, tokens, resources, …"."""
    return _revisions()[revision][1]


@cache
def head_revision() -> str | None:
    parents = _history()
    heads = set(parents) - set(parents.values())
    if len(heads) > 1:
        raise RuntimeError(f"The migration history has several heads: {sorted(heads)}")
    return next(iter(heads), None)


def current_revision(conn: Connection) -> str | None:
    """The database's revision (None before the first migration), as Alembic records it."""
    if not conn.dialect.has_table(conn, "alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def is_current(engine: Engine) -> bool:
    """Whether the database is at the newest revision (readiness)."""
    with engine.connect() as conn:
        return is_current_on(conn)


def is_current_on(conn: Connection) -> bool:
    return current_revision(conn) == head_revision()
