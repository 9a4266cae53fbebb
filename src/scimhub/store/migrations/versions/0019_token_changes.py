"""token_changes: one counter of changes to any token's validity, kept by triggers on tokens.

A server remembers the tokens it verified and, to honour a revocation made by another process
(the CLI, another instance), reread each remembered token's row every
SCIMHUB_TOKEN_RECHECK_SECONDS while its tenant was active: with thousands of tenants, a read per
tenant per burst of requests. Now it polls this one row as often, and rereads a token only when
the count moved. The triggers count, in the database itself, every UPDATE that sets
``revoked_at``, ``expires_at``, ``digest`` or ``tenant_id`` (not ``last_used_at``, written every
minute of use) and every DELETE of a token (a tenant's deletion included, through its ON DELETE
CASCADE), whichever code or SQL session makes it.

SQLite: a later migration that rebuilds ``tokens`` (``batch_alter_table``) drops its triggers and
must create them again (``tests/store/test_token_changes.py`` checks them at the head revision).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_BUMP = "UPDATE token_changes SET changes = changes + 1 WHERE id = 1"
_VALIDITY = "revoked_at, expires_at, digest, tenant_id"

_SQLITE = [
    f"CREATE TRIGGER tokens_changed_on_update AFTER UPDATE OF {_VALIDITY} ON tokens BEGIN {_BUMP}; END",
    f"CREATE TRIGGER tokens_changed_on_delete AFTER DELETE ON tokens BEGIN {_BUMP}; END",
]
# PostgreSQL: statement triggers (one count per statement, not per row: a tenant's deletion may
# remove many tokens at once).
_POSTGRES = [
    "CREATE FUNCTION scimhub_token_changed() RETURNS trigger LANGUAGE plpgsql AS"
    f" $$ BEGIN {_BUMP}; RETURN NULL; END $$",
    f"CREATE TRIGGER tokens_changed_on_update AFTER UPDATE OF {_VALIDITY} ON tokens"
    " FOR EACH STATEMENT EXECUTE FUNCTION scimhub_token_changed()",
    "CREATE TRIGGER tokens_changed_on_delete AFTER DELETE ON tokens"
    " FOR EACH STATEMENT EXECUTE FUNCTION scimhub_token_changed()",
    "CREATE TRIGGER tokens_changed_on_truncate AFTER TRUNCATE ON tokens"
    " FOR EACH STATEMENT EXECUTE FUNCTION scimhub_token_changed()",
]


def upgrade() -> None:
    op.create_table(
        "token_changes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("changes", sa.BigInteger(), nullable=False),
    )
    op.execute("INSERT INTO token_changes (id, changes) VALUES (1, 0)")
    for statement in _POSTGRES if op.get_bind().dialect.name == "postgresql" else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    on = " ON tokens" if postgres else ""  # PostgreSQL names the trigger's table; SQLite refuses it
    for name in ("update", "delete", "truncate") if postgres else ("update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS tokens_changed_on_{name}{on}")
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS scimhub_token_changed()")
    op.drop_table("token_changes")
