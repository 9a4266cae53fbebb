"""Fewer indexes on the append-only tables every write inserts into.

- events.id: server-made UUIDs, never looked up; the unique index cost a write to a random page
  per event.
- events.occurred_at and audit_log.occurred_at: served only retention, which now walks the
  primary keys in write order (``EventStore.purge``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_events_occurred_at", table_name="events")
    op.drop_index("ix_audit_log_occurred_at", table_name="audit_log")
    with op.batch_alter_table("events") as batch:  # SQLite: the table is rebuilt without it
        batch.drop_constraint("uq_events_id", type_="unique")


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.create_unique_constraint("uq_events_id", ["id"])
    op.create_index("ix_audit_log_occurred_at", "audit_log", ["occurred_at"])
    op.create_index("ix_events_occurred_at", "events", ["occurred_at"])
